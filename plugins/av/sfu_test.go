package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parlorchat/parlor/internal/servertest"
)

// sfuClient is a pion participant of an SFU call: it publishes one audio
// track, answers the module's offers and reports the first packet of
// every track it receives.
type sfuClient struct {
	name string
	ws   *servertest.Client
	pc   *webrtc.PeerConnection
	// got receives "receiver<-publisher" for the first packet of each
	// forwarded track.
	got   chan<- string
	errs  chan<- error
	mu    sync.Mutex
	early []webrtc.ICECandidateInit
}

func (c *sfuClient) write(v any) {
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Conn().Write(ctx, websocket.MessageText, b); err != nil {
		c.errs <- fmt.Errorf("%s: write: %w", c.name, err)
	}
}

func newSFUClient(t *testing.T, base, name string, room int, got chan<- string, errs chan<- error) *sfuClient {
	t.Helper()
	ws := login(t, base, name, room)
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	c := &sfuClient{name: name, ws: ws, pc: pc, got: got, errs: errs}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	go func() { // 20 ms of "sound" at a time
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: []byte{0xf8, 0xff, 0xfe}})
		}
	}()
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil {
			c.write(map[string]any{"type": "av.signal", "id": "c", "room": room, "candidate": cand.ToJSON()})
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		from := tr.StreamID()
		if _, _, err := tr.ReadRTP(); err != nil {
			return
		}
		got <- name + "<-" + from
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				if ctx.Err() == nil {
					got <- name + "-x-" + from
				}
				return
			}
		}
	})
	go c.loop(ctx, room)
	return c
}

// loop answers the module's signals.
func (c *sfuClient) loop(ctx context.Context, room int) {
	for {
		var ev map[string]any
		select {
		case <-ctx.Done():
			return
		case e, ok := <-c.ws.Events():
			if !ok {
				return
			}
			ev = e
		}
		switch ev["type"] {
		case "error":
			c.errs <- fmt.Errorf("%s: %v", c.name, ev)
		case "av.signal":
			raw, _ := json.Marshal(ev["data"])
			var se signalEvent
			if err := json.Unmarshal(raw, &se); err != nil || se.From != "" {
				c.errs <- fmt.Errorf("%s: signal %s", c.name, raw)
				continue
			}
			if err := c.apply(room, se); err != nil {
				c.errs <- fmt.Errorf("%s: %w", c.name, err)
			}
		}
	}
}

func (c *sfuClient) apply(room int, se signalEvent) error {
	if se.Description != nil {
		if se.Description.Type != "offer" {
			return fmt.Errorf("the module sent a %s", se.Description.Type)
		}
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: se.Description.SDP}); err != nil {
			return err
		}
		c.mu.Lock()
		early := c.early
		c.early = nil
		c.mu.Unlock()
		for _, cand := range early {
			if err := c.pc.AddICECandidate(cand); err != nil {
				return err
			}
		}
		answer, err := c.pc.CreateAnswer(nil)
		if err != nil {
			return err
		}
		if err := c.pc.SetLocalDescription(answer); err != nil {
			return err
		}
		c.write(map[string]any{"type": "av.signal", "id": "a", "room": room, "description": description{Type: "answer", SDP: answer.SDP}})
		return nil
	}
	var cand webrtc.ICECandidateInit
	if err := json.Unmarshal(se.Candidate, &cand); err != nil {
		return err
	}
	if c.pc.RemoteDescription() == nil {
		c.mu.Lock()
		c.early = append(c.early, cand)
		c.mu.Unlock()
		return nil
	}
	return c.pc.AddICECandidate(cand)
}

// TestSFU: in mode sfu, six pion participants join one call over the
// real server; the module makes every offer, over one UDP port, and each
// participant receives the five others' tracks. One leaves: the others
// are offered again without its track, and the call goes on.
func TestSFU(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, map[string]any{"mode": "sfu", "udp": "127.0.0.1:0", "max_participants": 6}))
	base := servertest.URL(srv)
	got := make(chan string, 100)
	errs := make(chan error, 100)
	names := []string{"ann", "ben", "cat", "dan", "eve", "fay"}
	var clients []*sfuClient
	for i, n := range names {
		c := newSFUClient(t, base, n, 4, got, errs)
		c.write(map[string]any{"type": "av.join", "id": fmt.Sprint("j", i)})
		clients = append(clients, c)
	}
	seen := map[string]bool{}
	deadline := time.After(60 * time.Second)
	for len(seen) < 30 {
		select {
		case g := <-got:
			seen[g] = true
		case err := <-errs:
			t.Fatal(err)
		case <-deadline:
			var have []string
			for k := range seen {
				have = append(have, k)
			}
			sort.Strings(have)
			t.Fatalf("after 60 s, %d of 30 streams: %s", len(seen), strings.Join(have, " "))
		}
	}
	for _, r := range names {
		for _, p := range names {
			if seen[r+"<-"+p] != (r != p) {
				t.Errorf("%s receiving %s: %v", r, p, seen[r+"<-"+p])
			}
		}
	}
	for _, c := range clients {
		if st := c.pc.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
			t.Errorf("%s: %s", c.name, st)
		}
	}
	// fay leaves: the module stops forwarding her track to the five
	// others (their tracks of her end), and they stay connected.
	clients[5].write(map[string]any{"type": "av.leave", "id": "bye"})
	ended := map[string]bool{}
	for len(ended) < 5 {
		select {
		case g := <-got:
			if strings.HasSuffix(g, "-x-fay") {
				ended[g] = true
			} else if strings.Contains(g, "-x-") && !strings.HasPrefix(g, "fay-x-") {
				t.Fatalf("a track ended that should not: %s", g)
			}
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(20 * time.Second):
			t.Fatalf("fay's track ended for %d of 5: %v", len(ended), ended)
		}
	}
	for _, c := range clients[:5] {
		if st := c.pc.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
			t.Errorf("%s after fay left: %s", c.name, st)
		}
	}
}
