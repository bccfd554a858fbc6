package main

// These tests run the built module in a real server, loaded as
// config/av.yaml says, over the WebSocket protocol; two pion/webrtc
// peers negotiate through it.

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	parlor "github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

// exampleFile is config/av.yaml.
func exampleFile(t testing.TB) *parlor.Config {
	t.Helper()
	c, err := parlor.Load(filepath.Join(testenv.ModuleRoot(t), "config", "av.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The example configuration holds the defaults, under keys the module
// knows, and rooms with audio and video.
func TestExampleConfig(t *testing.T) {
	c := exampleFile(t)
	spec, ok := c.Plugins.Load["av"]
	if !ok {
		t.Fatalf("config/av.yaml loads %+v", c.Plugins.Load)
	}
	raw, _ := json.Marshal(spec.Config)
	got, err := parseConfig(sdk.Config{Raw: raw})
	if err != nil {
		t.Fatalf("config/av.yaml: %v", err)
	}
	want := defaults()
	if got.Mode != want.Mode || got.MaxParticipants != want.MaxParticipants || got.MaxSignalBytes != want.MaxSignalBytes ||
		got.SignalsPerSecond != want.SignalsPerSecond || got.SignalsBurst != want.SignalsBurst || got.TTL != want.TTL ||
		got.SweepInterval != want.SweepInterval || got.UDP != want.UDP || got.PublicIP != "" || len(got.STUN)+len(got.TURN) != 0 || got.TURNSecret != "" {
		t.Errorf("config/av.yaml says %+v, the defaults are %+v", got, want)
	}
	if len(c.Rooms) < 2 || !c.Rooms[0].Audio || !c.Rooms[0].Video || !c.Rooms[1].Audio || c.Rooms[1].Video {
		t.Errorf("rooms %+v: want a room with audio and video and one with audio only", c.Rooms)
	}
}

// serverConfig is a server with the built module loaded as the example
// says (with cfg over its config), a Lobby with audio and video, a room
// without, a moderated Stage with audio and an audio-only Radio.
func serverConfig(t testing.TB, cfg map[string]any) *parlor.Config {
	t.Helper()
	c := servertest.Config(t)
	c.Plugins.Load = exampleFile(t).Plugins.Load
	spec := c.Plugins.Load["av"]
	spec.Path = testenv.GoBuild(t, "./plugins/av", "parlor-plugin-av")
	for k, v := range cfg {
		spec.Config[k] = v
	}
	c.Plugins.Load["av"] = spec
	c.Rooms = []parlor.Room{
		{ID: 1, Name: "Lobby", Member: true, Open: true, Max: 50, Audio: true, Video: true, Owner: "mia"},
		{ID: 2, Name: "Plain", Member: true, Open: true, Max: 50},
		{ID: 3, Name: "Stage", Member: true, Open: true, Max: 50, PassAllMessage: true, Audio: true, Video: true, Speaker: "sam"},
		{ID: 4, Name: "Radio", Member: true, Open: true, Max: 50, Audio: true},
	}
	return c
}

// ask sends a command and returns the data of its result, failing
// the test on an error.
func ask(t *testing.T, c *servertest.Client, id string, frame map[string]any) map[string]any {
	t.Helper()
	frame["id"] = id
	c.Send(frame)
	for {
		ev := c.Next()
		if ev["id"] != id {
			continue
		}
		if ev["type"] != "result" {
			t.Fatalf("%s: %v", frame["type"], ev)
		}
		d, _ := ev["data"].(map[string]any)
		return d
	}
}

// refusedWith sends a command that must be refused with code.
func refusedWith(t *testing.T, c *servertest.Client, id, code string, frame map[string]any) string {
	t.Helper()
	frame["id"] = id
	c.Send(frame)
	for {
		ev := c.Next()
		if ev["id"] != id {
			continue
		}
		if ev["type"] != "error" || ev["code"] != code {
			t.Fatalf("%s: got %v, want an error %s", frame["type"], ev, code)
		}
		msg, _ := ev["message"].(string)
		return msg
	}
}

func participantNames(d map[string]any) string {
	ps, _ := d["participants"].([]any)
	var out []string
	for _, p := range ps {
		m, _ := p.(map[string]any)
		n, _ := m["name"].(string)
		out = append(out, n)
	}
	return strings.Join(out, ",")
}

func login(t *testing.T, base, name string, room int) *servertest.Client {
	t.Helper()
	c := servertest.DialURL(t, base, nil)
	c.Login(name, "")
	c.Join(room, "")
	return c
}

// peer is a pion peer connection of a chat user, whose local ICE
// candidates wait in cands to be signalled.
type peer struct {
	name  string
	pc    *webrtc.PeerConnection
	cands chan webrtc.ICECandidateInit
	// early are remote candidates that came before the remote
	// description.
	early []webrtc.ICECandidateInit
}

func newPeer(t *testing.T, name string) *peer {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0) // no mDNS
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	p := &peer{name: name, pc: pc, cands: make(chan webrtc.ICECandidateInit, 64)}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			p.cands <- c.ToJSON()
		}
	})
	return p
}

// handle applies a relayed av.signal to the peer; an offer is answered
// through c.
func (p *peer) handle(t *testing.T, c *servertest.Client, ev map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(ev["data"])
	var se signalEvent
	if err := json.Unmarshal(raw, &se); err != nil {
		t.Fatalf("%s: av.signal %s: %v", p.name, raw, err)
	}
	if se.Description != nil {
		typ := webrtc.SDPTypeOffer
		if se.Description.Type == "answer" {
			typ = webrtc.SDPTypeAnswer
		}
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: se.Description.SDP}); err != nil {
			t.Fatalf("%s: remote description: %v", p.name, err)
		}
		for _, c := range p.early {
			if err := p.pc.AddICECandidate(c); err != nil {
				t.Fatalf("%s: candidate: %v", p.name, err)
			}
		}
		p.early = nil
		if typ == webrtc.SDPTypeOffer {
			answer, err := p.pc.CreateAnswer(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.pc.SetLocalDescription(answer); err != nil {
				t.Fatal(err)
			}
			c.Send(map[string]any{"type": "av.signal", "id": "answer", "room": ev["room"], "to": se.From, "description": description{Type: "answer", SDP: answer.SDP}})
		}
		return
	}
	var cand webrtc.ICECandidateInit
	if err := json.Unmarshal(se.Candidate, &cand); err != nil {
		t.Fatalf("%s: candidate %s: %v", p.name, se.Candidate, err)
	}
	if p.pc.RemoteDescription() == nil {
		p.early = append(p.early, cand)
		return
	}
	if err := p.pc.AddICECandidate(cand); err != nil {
		t.Fatalf("%s: candidate: %v", p.name, err)
	}
}

// TestPionPeers: two pion peers log in over the WebSocket, join the
// Lobby's call, negotiate through av.signal only (offer, answer, trickled
// candidates) and exchange a message on a data channel.
func TestPionPeers(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, nil))
	base := servertest.URL(srv)
	alice := login(t, base, "alice", 1)
	bob := login(t, base, "bob", 1)
	if exts, _ := json.Marshal(alice.Hello()["extensions"]); !strings.Contains(string(exts), `"url":"/plugins/av/main.js"`) {
		t.Errorf("hello extensions %s", exts)
	}
	ra := ask(t, alice, "j1", map[string]any{"type": "av.join"})
	rb := ask(t, bob, "j2", map[string]any{"type": "av.join"})
	if participantNames(rb) != "alice,bob" || rb["call"] != ra["call"] || rb["publish"] != true || rb["video"] != true {
		t.Fatalf("bob's join %v (alice's %v)", rb, ra)
	}
	if ev := alice.Want("av.joined"); ev["module"] != "av" || ev["room"] != 1.0 {
		t.Fatalf("alice got %v", ev)
	}

	pa, pb := newPeer(t, "alice"), newPeer(t, "bob")
	got := make(chan string, 2)
	pa.pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			got <- "alice got " + string(m.Data)
			_ = dc.SendText("hello bob")
		})
	})
	dc, err := pb.pc.CreateDataChannel("chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.OnOpen(func() { _ = dc.SendText("hello alice") })
	dc.OnMessage(func(m webrtc.DataChannelMessage) { got <- "bob got " + string(m.Data) })
	offer, err := pb.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pb.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	bob.Send(map[string]any{"type": "av.signal", "id": "offer", "to": "alice", "description": description{Type: "offer", SDP: offer.SDP}})

	// The test's goroutine is the only one that writes and reads the
	// connections: it forwards local candidates and relayed signals.
	var msgs []string
	deadline := time.After(20 * time.Second)
	for len(msgs) < 2 {
		select {
		case c := <-pa.cands:
			alice.Send(map[string]any{"type": "av.signal", "id": "c", "to": "bob", "candidate": c})
		case c := <-pb.cands:
			bob.Send(map[string]any{"type": "av.signal", "id": "c", "to": "alice", "candidate": c})
		case ev := <-alice.Events():
			if ev["type"] == "av.signal" {
				pa.handle(t, alice, ev)
			} else if ev["type"] == "error" {
				t.Fatalf("alice: %v", ev)
			}
		case ev := <-bob.Events():
			if ev["type"] == "av.signal" {
				pb.handle(t, bob, ev)
			} else if ev["type"] == "error" {
				t.Fatalf("bob: %v", ev)
			}
		case m := <-got:
			msgs = append(msgs, m)
		case <-deadline:
			t.Fatalf("no data channel messages (%q); alice %s, bob %s", msgs, pa.pc.ConnectionState(), pb.pc.ConnectionState())
		}
	}
	if strings.Join(msgs, "; ") != "alice got hello alice; bob got hello bob" {
		t.Errorf("messages %q", msgs)
	}
}

// TestServerRefusals: a full call, a member of another room, a muted
// member (the core refuses; av.state stays open to them), a room without
// calls, a listener in a moderated room.
func TestServerRefusals(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, map[string]any{"max_participants": 2}))
	base := servertest.URL(srv)
	alice := login(t, base, "alice", 1)
	bob := login(t, base, "bob", 1)
	carol := login(t, base, "carol", 1)
	ask(t, alice, "1", map[string]any{"type": "av.join"})
	ask(t, bob, "2", map[string]any{"type": "av.join"})
	if msg := refusedWith(t, carol, "3", "call_full", map[string]any{"type": "av.join"}); !strings.Contains(msg, "full") {
		t.Errorf("call_full says %q", msg)
	}
	dave := login(t, base, "dave", 2)
	refusedWith(t, dave, "4", "not_in_room", map[string]any{"type": "av.join", "room": 1})
	refusedWith(t, dave, "5", "no_call", map[string]any{"type": "av.join"})
	// dave cannot signal into the call either.
	refusedWith(t, dave, "6", "not_in_room", map[string]any{"type": "av.signal", "room": 1, "to": "alice", "candidate": map[string]any{"candidate": ""}})

	if _, err := srv.HostAPI("test").Sanctions().Add(context.Background(), sdk.Sanction{Kind: sdk.SanctionMute, User: "carol", Room: 1, Reason: "test", Source: "manual"}); err != nil {
		t.Fatal(err)
	}
	ask(t, bob, "7", map[string]any{"type": "av.leave"})
	carol.Send(map[string]any{"type": "av.join", "id": "8"})
	carol.WantError("muted")
	if d := ask(t, carol, "9", map[string]any{"type": "av.state"}); participantNames(d) != "alice" {
		t.Errorf("carol's state %v", d)
	}

	lou := login(t, base, "lou", 3)
	if d := ask(t, lou, "10", map[string]any{"type": "av.join"}); d["publish"] != false {
		t.Errorf("a user in the moderated Stage publishes: %v", d)
	}
	sam := login(t, base, "sam", 3)
	if d := ask(t, sam, "11", map[string]any{"type": "av.join"}); d["publish"] != true {
		t.Errorf("the Stage's speaker does not publish: %v", d)
	}
	refusedWith(t, lou, "12", "not_allowed", map[string]any{"type": "av.signal", "to": "sam", "description": description{Type: "offer", SDP: offerAV}})
}

// TestServerDisconnect: a participant whose connection drops, or who
// goes to another room, leaves the call for everyone within seconds.
func TestServerDisconnect(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, nil))
	base := servertest.URL(srv)
	alice := login(t, base, "alice", 1)
	bob := login(t, base, "bob", 1)
	carol := login(t, base, "carol", 1)
	for i, c := range []*servertest.Client{alice, bob, carol} {
		ask(t, c, string(rune('a'+i)), map[string]any{"type": "av.join"})
	}
	start := time.Now()
	_ = bob.Conn().CloseNow()
	ev := alice.WantMatch("av.left", func(ev map[string]any) bool {
		d, _ := ev["data"].(map[string]any)
		return d["user"] == "bob"
	})
	if d, _ := ev["data"].(map[string]any); participantNames(d) != "alice,carol" || time.Since(start) > 4*time.Second {
		t.Fatalf("after %s: %v", time.Since(start), ev)
	}
	carol.Join(2, "")
	ev = alice.WantMatch("av.left", func(ev map[string]any) bool {
		d, _ := ev["data"].(map[string]any)
		return d["user"] == "carol"
	})
	if d, _ := ev["data"].(map[string]any); participantNames(d) != "alice" {
		t.Fatalf("carol left: %v", ev)
	}
	refusedWith(t, alice, "x", "not_in_call", map[string]any{"type": "av.signal", "to": "carol", "candidate": map[string]any{"candidate": ""}})
}

func modulePID(srv *server.Server) int {
	for _, st := range srv.Plugins().Status() {
		if st.Name == "av" && st.Running {
			return st.PID
		}
	}
	return 0
}

// TestServerModuleRestart: a killed module is restarted by the server;
// the members of the call are told it ended, and can join again.
func TestServerModuleRestart(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, nil))
	base := servertest.URL(srv)
	alice := login(t, base, "alice", 1)
	bob := login(t, base, "bob", 1)
	first := ask(t, alice, "1", map[string]any{"type": "av.join"})
	ask(t, bob, "2", map[string]any{"type": "av.join"})
	pid := modulePID(srv)
	if pid == 0 {
		t.Fatal("the module is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*servertest.Client{alice, bob} {
		ev := c.WantMatch("av.ended", func(ev map[string]any) bool { return true })
		if d, _ := ev["data"].(map[string]any); d["reason"] != "restarted" {
			t.Fatalf("ended %v", ev)
		}
	}
	again := ask(t, alice, "3", map[string]any{"type": "av.join"})
	if participantNames(again) != "alice" || again["call"] == first["call"] {
		t.Fatalf("after the restart %v", again)
	}
}
