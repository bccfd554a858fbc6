package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

var (
	alice = who{"alice", sdk.RoleUser, 1}
	bob   = who{"bob", sdk.RoleUser, 1}
	carol = who{"carol", sdk.RoleUser, 1}
	dave  = who{"dave", sdk.RoleUser, 1}
	erin  = who{"erin", sdk.RoleUser, 1}
)

const offerAV = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n"

const offerData = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"

const offerListen = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\n" +
	"m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n"

func TestManifest(t *testing.T) {
	a := start(t, nil, nil)
	caps := a.h.Capabilities()
	if strings.Join(caps.Commands, ",") != "av." || strings.Join(caps.Quiet, ",") != "av.state,av.leave" {
		t.Errorf("commands %v quiet %v", caps.Commands, caps.Quiet)
	}
	if caps.Client != "main.js" || !strings.Contains(strings.Join(caps.Hooks, ","), sdk.HookNotify) {
		t.Errorf("client %q hooks %v", caps.Client, caps.Hooks)
	}
	if fmt.Sprint(caps.Notify) != "[left logged_out]" {
		t.Errorf("notification kinds %v, want only left and logged_out", caps.Notify)
	}
}

// TestTURNCredential checks coturn's static-auth-secret scheme against a
// value made with another implementation:
// printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac north -binary | base64
func TestTURNCredential(t *testing.T) {
	u, p := turnCredential("north", "alice", time.Unix(1700000000, 0))
	if u != "1700000000:alice" || p != "Cd/49soE35ICqcJF/bCTn8Z4OyE=" {
		t.Fatalf("got %q %q", u, p)
	}
	a := start(t, map[string]any{"stun": []string{"stun:stun.example.org:3478"},
		"turn":        []string{"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"},
		"turn_secret": "north", "ttl": "10m"}, nil)
	before := time.Now()
	r := a.join(alice, nil)
	if len(r.ICEServers) != 2 || r.ICEServers[0].URLs[0] != "stun:stun.example.org:3478" || r.ICEServers[0].Username != "" {
		t.Fatalf("ice servers %+v", r.ICEServers)
	}
	turn := r.ICEServers[1]
	exp, name, _ := strings.Cut(turn.Username, ":")
	var expires int64
	if err := json.Unmarshal([]byte(exp), &expires); err != nil || name != "alice" || len(turn.URLs) != 2 {
		t.Fatalf("turn %+v", turn)
	}
	if d := time.Unix(expires, 0).Sub(before); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("the credential lasts %s, want the ttl 10m", d)
	}
	if _, want := turnCredential("north", "alice", time.Unix(expires, 0)); turn.Credential != want {
		t.Errorf("credential %q, want %q", turn.Credential, want)
	}
}

// TestCall: join answers the participants, the room hears who joined and
// left, a signal reaches only its recipient.
func TestCall(t *testing.T) {
	a := start(t, nil, nil)
	r1 := a.join(alice, nil)
	if r1.Call == "" || names(r1.Participants) != "alice" || !r1.Publish || !r1.Video || r1.Limits.MaxParticipants != 4 {
		t.Fatalf("alice's join %+v", r1)
	}
	r2 := a.join(bob, nil)
	if r2.Call != r1.Call || names(r2.Participants) != "alice,bob" {
		t.Fatalf("bob's join %+v", r2)
	}
	j := a.host.ofType(evJoined)
	if len(j) != 2 || j[1].to != sdk.ToRoom(1) || members(t, j[1]).User != "bob" || names(members(t, j[1]).Participants) != "alice,bob" {
		t.Fatalf("joined events %+v", j)
	}
	var st stateReply
	if err := a.call(carol, cmdState, nil, &st); err != nil || st.Call != r1.Call || names(st.Participants) != "alice,bob" {
		t.Fatalf("carol's state %+v %v", st, err)
	}
	// Every change has a higher version; the state tells the latest.
	if v0, v1 := members(t, j[0]).Version, members(t, j[1]).Version; r1.Version != v0 || r2.Version != v1 || v1 <= v0 || st.Version != v1 {
		t.Errorf("versions: joins %d %d, events %d %d, state %d", r1.Version, r2.Version, v0, v1, st.Version)
	}
	var sr signalReply
	if err := a.call(bob, cmdSignal, map[string]any{"to": "alice", "description": map[string]any{"type": "offer", "sdp": offerAV}}, &sr); err != nil || !sr.Relayed {
		t.Fatalf("bob's offer: %v", err)
	}
	if err := a.call(alice, cmdSignal, map[string]any{"to": "BOB", "candidate": map[string]any{"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}}, nil); err != nil {
		t.Fatalf("alice's candidate: %v", err)
	}
	sig := a.host.ofType(evSignal)
	if len(sig) != 2 || sig[0].to != sdk.ToUser("alice") || sig[1].to != sdk.ToUser("bob") {
		t.Fatalf("signals %+v", sig)
	}
	var se signalEvent
	if err := json.Unmarshal(sig[0].ev.Data, &se); err != nil || se.From != "bob" || se.Call != r1.Call || se.Description.SDP != offerAV {
		t.Fatalf("alice got %s", sig[0].ev.Data)
	}
	if err := json.Unmarshal(sig[1].ev.Data, &se); err != nil || se.From != "alice" || !strings.Contains(string(se.Candidate), "typ host") {
		t.Fatalf("bob got %s", sig[1].ev.Data)
	}
	// carol is in the room but not in the call: she neither sends nor
	// receives signals.
	a.refused(carol, "not_in_call", cmdSignal, map[string]any{"to": "alice", "description": map[string]any{"type": "offer", "sdp": offerAV}})
	a.refused(alice, "not_in_call", cmdSignal, map[string]any{"to": "carol", "description": map[string]any{"type": "offer", "sdp": offerAV}})
	a.refused(alice, "bad_signal", cmdSignal, map[string]any{"to": "bob"})
	a.refused(alice, "bad_signal", cmdSignal, map[string]any{"to": "bob", "description": map[string]any{"type": "rollback"}})
	var lr leaveReply
	if err := a.call(bob, cmdLeave, nil, &lr); err != nil || !lr.Left {
		t.Fatalf("bob's leave %+v %v", lr, err)
	}
	l := a.host.ofType(evLeft)
	if len(l) != 1 || members(t, l[0]).User != "bob" || members(t, l[0]).Reason != "left" || names(members(t, l[0]).Participants) != "alice" {
		t.Fatalf("left events %+v", l)
	}
	a.refused(alice, "not_in_call", cmdSignal, map[string]any{"to": "bob", "candidate": map[string]any{"candidate": ""}})
	// The last one out ends the call; the next is a new one.
	a.call(alice, cmdLeave, nil, nil)
	if r := a.join(bob, nil); r.Call == r1.Call || names(r.Participants) != "bob" {
		t.Fatalf("a new call %+v", r)
	}
	// A second join of the same user (a reload) replaces the first: the
	// others are told bob left (rejoined) and joined.
	a.join(alice, nil)
	a.join(bob, nil)
	l = a.host.ofType(evLeft)
	if last := members(t, l[len(l)-1]); last.User != "bob" || last.Reason != "rejoined" || names(last.Participants) != "alice" {
		t.Fatalf("rejoin %+v", last)
	}
}

// TestRefusals: the cap, a non-member, a room without audio, muted and
// banned members, listeners in a moderated room, video in an audio-only
// room, the size and rate of signals.
func TestRefusals(t *testing.T) {
	a := start(t, map[string]any{"max_participants": 3, "max_signal_bytes": 2048, "signals_per_second": 1, "signals_burst": 3}, nil)
	a.join(alice, nil)
	a.join(bob, nil)
	a.join(carol, nil)
	if msg := a.refused(dave, "call_full", cmdJoin, nil); !strings.Contains(msg, "3 participants") {
		t.Errorf("call_full says %q", msg)
	}
	a.call(carol, cmdLeave, nil, nil)
	a.join(dave, nil)

	// Not a member of the room (the caller is in another room, or none).
	a.refused(who{"erin", sdk.RoleUser, 2}, "not_in_room", cmdJoin, map[string]any{"room": 1})
	a.refused(who{"erin", sdk.RoleUser, 0}, "not_in_room", cmdJoin, map[string]any{"room": 1})
	a.refused(who{"erin", sdk.RoleUser, 2}, "no_call", cmdJoin, nil)
	a.refused(who{"erin", sdk.RoleUser, 9}, "no_call", cmdJoin, nil)

	// Sanctions in force for the room (the core refuses the commands of
	// muted members too; this is the module's own check).
	a.host.sanction(sdk.Sanction{Kind: sdk.SanctionMute, User: "Erin", Room: 1})
	a.refused(erin, "muted", cmdJoin, nil)
	a.host.sanction(sdk.Sanction{Kind: sdk.SanctionBan, User: "frank", Room: 0})
	a.refused(who{"frank", sdk.RoleUser, 4}, "banned", cmdJoin, nil)

	// Moderated room: a user listens, a speaker publishes.
	lis := a.join(who{"lou", sdk.RoleUser, 3}, nil)
	spk := a.join(who{"sam", sdk.RoleSpeaker, 3}, nil)
	if lis.Publish || lis.Video || !spk.Publish || !spk.Video {
		t.Fatalf("listener %+v speaker %+v", lis, spk)
	}
	a.refused(who{"lou", sdk.RoleUser, 3}, "not_allowed", cmdSignal, map[string]any{"to": "sam", "description": map[string]any{"type": "answer", "sdp": offerAV}})
	if err := a.call(who{"lou", sdk.RoleUser, 3}, cmdSignal, map[string]any{"to": "sam", "description": map[string]any{"type": "answer", "sdp": offerListen}}, nil); err != nil {
		t.Errorf("a listener's recvonly answer: %v", err)
	}
	if err := a.call(who{"sam", sdk.RoleSpeaker, 3}, cmdSignal, map[string]any{"to": "lou", "description": map[string]any{"type": "offer", "sdp": offerAV}}, nil); err != nil {
		t.Errorf("a speaker's offer: %v", err)
	}
	// A member may ask to listen only.
	if r := a.join(who{"mo", sdk.RoleModerator, 3}, map[string]any{"publish": false}); r.Publish {
		t.Errorf("publish false: %+v", r)
	}

	// Audio-only room: no video sent.
	r := a.join(who{"ann", sdk.RoleUser, 4}, nil)
	a.join(who{"ben", sdk.RoleUser, 4}, nil)
	if !r.Publish || r.Video {
		t.Errorf("audio-only join %+v", r)
	}
	if msg := a.refused(who{"ann", sdk.RoleUser, 4}, "no_video", cmdSignal, map[string]any{"to": "ben", "description": map[string]any{"type": "offer", "sdp": offerAV}}); !strings.Contains(msg, "audio only") {
		t.Errorf("no_video says %q", msg)
	}
	audioOnly := strings.Replace(offerAV, "m=video 9", "m=video 0", 1)
	if err := a.call(who{"ann", sdk.RoleUser, 4}, cmdSignal, map[string]any{"to": "ben", "description": map[string]any{"type": "offer", "sdp": audioOnly}}, nil); err != nil {
		t.Errorf("an audio offer: %v", err)
	}

	// Size and rate of signals.
	big := strings.Repeat("a=x-padding\r\n", 200)
	if msg := a.refused(alice, "signal_too_large", cmdSignal, map[string]any{"to": "bob", "description": map[string]any{"type": "offer", "sdp": offerData + big}}); !strings.Contains(msg, "2048") {
		t.Errorf("signal_too_large says %q", msg)
	}
	for i := 0; i < 3; i++ {
		if err := a.call(alice, cmdSignal, map[string]any{"to": "bob", "candidate": map[string]any{"candidate": ""}}, nil); err != nil {
			t.Fatalf("signal %d within the burst: %v", i, err)
		}
	}
	a.refused(alice, "rate_limited", cmdSignal, map[string]any{"to": "bob", "candidate": map[string]any{"candidate": ""}})
	// Others have their own allowance.
	if err := a.call(bob, cmdSignal, map[string]any{"to": "alice", "candidate": map[string]any{"candidate": ""}}, nil); err != nil {
		t.Errorf("bob's signal: %v", err)
	}
}

// TestDisconnect: a participant who leaves the room or the chat, or who
// is no longer in the room when the module looks (a lost notification),
// or who is muted there, leaves the call for everyone.
func TestDisconnect(t *testing.T) {
	a := start(t, map[string]any{"sweep_interval": "100ms"}, nil)
	a.host.enter(1, "alice", "bob", "carol", "dave")
	for _, u := range []who{alice, bob, carol, dave} {
		a.join(u, nil)
	}
	left := func(user string) memberEvent {
		t.Helper()
		var got memberEvent
		eventually(t, user+" leaving", func() bool {
			for _, e := range a.host.ofType(evLeft) {
				if me := members(t, e); me.User == user {
					got = me
					return true
				}
			}
			return false
		})
		return got
	}
	// A logout older than the join (a reload) leaves bob in the call.
	a.h.Notify(testCtx(t), []sdk.Notification{{Kind: sdk.LoggedOut, User: "bob", Time: time.Now().Add(-time.Minute)}})
	a.host.exit("alice")
	a.h.Notify(testCtx(t), []sdk.Notification{{Kind: sdk.Left, User: "alice", Room: 1, Time: time.Now()}})
	if me := left("alice"); me.Reason != "left" || names(me.Participants) != "bob,carol,dave" {
		t.Fatalf("alice left: %+v", me)
	}
	a.host.exit("bob")
	a.h.Notify(testCtx(t), []sdk.Notification{{Kind: sdk.LoggedOut, User: "bob", Time: time.Now()}})
	if me := left("bob"); me.Reason != "disconnected" || names(me.Participants) != "carol,dave" {
		t.Fatalf("bob left: %+v", me)
	}
	// No notification: the sweep finds carol gone.
	a.host.exit("carol")
	if me := left("carol"); me.Reason != "disconnected" || names(me.Participants) != "dave" {
		t.Fatalf("carol left: %+v", me)
	}
	a.host.sanction(sdk.Sanction{Kind: sdk.SanctionMute, User: "dave", Room: 1})
	if me := left("dave"); me.Reason != "muted" || len(me.Participants) != 0 {
		t.Fatalf("dave left: %+v", me)
	}
	// A signal to someone who went offline: the sender is told, the
	// call loses them.
	a.host.enter(4, "ann", "ben")
	a.join(who{"ann", sdk.RoleUser, 4}, nil)
	a.join(who{"ben", sdk.RoleUser, 4}, nil)
	a.host.mu.Lock()
	a.host.offline["ben"] = true
	a.host.mu.Unlock()
	a.refused(who{"ann", sdk.RoleUser, 4}, "not_in_call", cmdSignal, map[string]any{"to": "ben", "candidate": map[string]any{"candidate": ""}})
	if me := left("ben"); me.Reason != "disconnected" {
		t.Fatalf("ben left: %+v", me)
	}
	// A room that loses its audio ends its call.
	a.host.mu.Lock()
	r := a.host.rooms[4]
	r.Audio = false
	a.host.rooms[4] = r
	a.host.mu.Unlock()
	eventually(t, "the call of room 4 ending", func() bool {
		for _, e := range a.host.ofType(evEnded) {
			if e.to == sdk.ToRoom(4) && strings.Contains(string(e.ev.Data), "no_audio") {
				return true
			}
		}
		return false
	})
}

// TestRestartEndsCalls: a module that starts tells the rooms with audio
// and members that their call (of the module before) is over.
func TestRestartEndsCalls(t *testing.T) {
	host := newFakeHost()
	host.enter(1, "alice")
	host.enter(2, "bob")
	start(t, nil, host)
	eventually(t, "av.ended", func() bool { return len(host.ofType(evEnded)) > 0 })
	time.Sleep(100 * time.Millisecond)
	e := host.ofType(evEnded)
	if len(e) != 1 || e[0].to != sdk.ToRoom(1) || !strings.Contains(string(e[0].ev.Data), `"reason":"restarted"`) {
		t.Fatalf("ended %+v", e)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  string
		want string
	}{
		{`{"colour":1}`, `unknown key "colour"`},
		{`{"mode":"sfu","udp":"nowhere"}`, "udp"},
		{`{"public_ip":"example.org"}`, "public_ip"},
		{`{"mode":"mesh","max_participants":20}`, "max_participants"},
		{`{"mode":"star"}`, "mode"},
		{`{"max_participants":1}`, "max_participants"},
		{`{"max_signal_bytes":100000}`, "max_signal_bytes"},
		{`{"signals_per_second":-1}`, "signals_per_second"},
		{`{"stun":["http://x"]}`, "stun"},
		{`{"turn":["turn:x"]}`, "turn_secret"},
		{`{"turn_secret":"s"}`, "turn"},
		{`{"turn":["stun:x"],"turn_secret":"s"}`, "turn"},
		{`{"ttl":"5s"}`, "ttl"},
		{`{"sweep_interval":"forever"}`, "sweep_interval"},
	} {
		_, err := parseConfig(sdk.Config{Raw: json.RawMessage(c.cfg)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error about %s", c.cfg, err, c.want)
		}
	}
	if c, err := parseConfig(sdk.Config{}); err != nil || c.MaxParticipants != 4 || c.Mode != modeMesh {
		t.Errorf("defaults %+v %v", c, err)
	}
	if c, err := parseConfig(sdk.Config{Raw: json.RawMessage(`{"mode":"sfu","max_participants":20}`)}); err != nil || c.MaxParticipants != 20 || c.Mode != modeSFU {
		t.Errorf("sfu %+v %v", c, err)
	}
	if c, err := parseConfig(sdk.Config{Raw: json.RawMessage(`{"mode":"sfu"}`)}); err != nil || c.MaxParticipants != 16 {
		t.Errorf("sfu defaults %+v %v", c, err)
	}
}
