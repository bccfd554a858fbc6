package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// TestBannedRangeCannotLogIn: a ban of an IPv4 or IPv6 range, given
// through the server API's HTTP endpoint, refuses logins from it over
// WebSocket and over the TCP transport with code banned and the reason,
// ends the logins from it that are online (telling them why), and leaves
// other addresses alone.
func TestBannedRangeCannotLogIn(t *testing.T) {
	for _, c := range []struct {
		name, listen, covers, other string
	}{
		{"ipv4", "127.0.0.1:0", "127.0.0.0/8", "10.0.0.0/8"},
		{"ipv6", "[::1]:0", "::/120", "2001:db8::/32"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := servertest.Config(t)
			cfg.HTTP.Addr, cfg.TCP.Addr = c.listen, c.listen
			servertest.EnableAPI(cfg)
			srv := servertest.Start(t, cfg)
			base := servertest.URL(srv)
			if c.name == "ipv6" && !strings.Contains(base, "[::1]") {
				t.Fatalf("listening on %s", base)
			}
			online := servertest.Dial(t, srv)
			online.Login("bob", "")
			online.Join(1, "")

			// A range the clients are not in changes nothing.
			out := servertest.APIOK(t, base, "ban", map[string]any{"ip": c.other, "reason": "elsewhere"})
			if s := out["sanction"].(map[string]any); s["ip"] != c.other || s["source"] != "api" || s["expires"] != "" {
				t.Fatalf("ban %v", out)
			}
			servertest.Dial(t, srv).Login("carol", "")
			servertest.DialTCP(t, srv.TCPAddr()).Login("dave", "")

			// Theirs, for an hour.
			servertest.APIOK(t, base, "ban", map[string]any{"ip": c.covers, "minutes": 60, "reason": "range ban test"})
			ev := online.Want("sanctioned")
			if ev["kind"] != "ban" || ev["reason"] != "range ban test" || ev["until"] == "" || !strings.Contains(ev["text"].(string), "range ban test") {
				t.Fatalf("online user got %v", ev)
			}
			if lo := online.Want("logged_out"); !strings.Contains(lo["reason"].(string), "range ban test") {
				t.Fatalf("logged_out %v", lo)
			}
			online.WaitClosed()

			ws := servertest.Dial(t, srv)
			ws.Send(map[string]string{"type": "login", "user": "eve"})
			if msg := ws.WantError("banned"); !strings.Contains(msg, "range ban test") || !strings.Contains(msg, "until") {
				t.Fatalf("websocket refusal %q", msg)
			}
			tcp := servertest.DialTCP(t, srv.TCPAddr())
			tcp.Send(map[string]string{"type": "login", "user": "eve"})
			if msg := tcp.WantError("banned"); !strings.Contains(msg, "range ban test") {
				t.Fatalf("tcp refusal %q", msg)
			}

			// Lifted, they come back.
			out = servertest.APIOK(t, base, "unban", map[string]any{"ip": c.covers})
			if out["count"] != 1.0 {
				t.Fatalf("unban %v", out)
			}
			servertest.Dial(t, srv).Login("eve", "")
			servertest.DialTCP(t, srv.TCPAddr()).Login("frank", "")
		})
	}
}

// TestModerationOverHTTP: mute, unmute, kick and the audit log through
// the JSON twin of a running server; the user is told each time, and a
// refusal says why and until when.
func TestModerationOverHTTP(t *testing.T) {
	cfg := testConfig(t)
	servertest.EnableAPI(cfg)
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)
	bob := servertest.Dial(t, srv)
	bob.Login("bob", "")
	bob.Join(1, "")

	status, out := servertest.APICommand(t, base, "mute", map[string]any{"user": "ghost", "minutes": 5})
	if status != 404 || out["status"] != "not_found" || !strings.Contains(out["message"].(string), "ghost") {
		t.Fatalf("mute of nobody: %d %v", status, out)
	}
	status, out = servertest.APICommand(t, base, "ban", map[string]any{"ip": "300.1.2.3"})
	if status != 400 || out["status"] != "bad_argument" || !strings.Contains(out["message"].(string), "not an IP address") {
		t.Fatalf("bad ip: %d %v", status, out)
	}
	out = servertest.APIOK(t, base, "mute", map[string]any{"user": "bob", "room_id": 1, "minutes": 10, "reason": "shouting", "actor": "mia"})
	id := out["sanction"].(map[string]any)["id"].(float64)
	ev := bob.Want("sanctioned")
	if ev["kind"] != "mute" || ev["room"] != 1.0 || ev["by"] != "mia" || ev["reason"] != "shouting" || ev["until"] == "" {
		t.Fatalf("bob got %v", ev)
	}
	if !strings.Contains(ev["text"].(string), "You are muted in Lobby by mia until") {
		t.Fatalf("text %q", ev["text"])
	}
	bob.Send(map[string]any{"type": "say", "text": "HELLO"})
	if msg := bob.WantError("muted"); !strings.Contains(msg, "shouting") || !strings.Contains(msg, "until") {
		t.Fatalf("say while muted: %q", msg)
	}
	// A mute in force is told again at the next login.
	bob.Send(map[string]any{"type": "logout"})
	bob.Want("logged_out")
	bob.WaitClosed()
	bob = loginAgain(t, srv, "bob")
	if ev := bob.Want("sanctioned"); ev["id"] != id || ev["kind"] != "mute" || ev["reason"] != "shouting" {
		t.Fatalf("at login bob got %v", ev)
	}
	bob.Join(1, "")
	servertest.APIOK(t, base, "unmute", map[string]any{"id": id})
	if ev := bob.Want("sanction_lifted"); ev["kind"] != "mute" || ev["by"] != "api" {
		t.Fatalf("bob got %v", ev)
	}
	bob.Send(map[string]any{"type": "say", "text": "sorry"})
	bob.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == "sorry" })

	servertest.APIOK(t, base, "kick", map[string]any{"user": "bob", "room_id": 1, "minutes": 5, "reason": "cool off"})
	bob.Want("left")
	bob.Send(map[string]any{"type": "join", "room": 1})
	if msg := bob.WantError("kicked"); !strings.Contains(msg, "cool off") || !strings.Contains(msg, "come back in") {
		t.Fatalf("rejoin %q", msg)
	}

	out = servertest.APIOK(t, base, "get_audit", map[string]any{"target": "bob"})
	var got []string
	for _, e := range out["audit"].([]any) {
		got = append(got, e.(map[string]any)["action"].(string))
	}
	if strings.Join(got, ",") != "kick,lift,mute" {
		t.Fatalf("audit %v", got)
	}
	out = servertest.APIOK(t, base, "get_sanctions", map[string]any{"user": "bob"})
	if list := out["sanctions"].([]any); len(list) != 1 || list[0].(map[string]any)["kind"] != "kick" {
		t.Fatalf("in force %v", out)
	}
}

// TestHeldMessageApprovedKeepsAuthorAndTime: a message a module held is
// approved (edited) through the server API: the room gets it from its
// author with the time it was written, the history keeps that time, a
// declined one reaches nobody, and the module hears of each step.
func TestHeldMessageApprovedKeepsAuthorAndTime(t *testing.T) {
	bin := testenv.GoBuild(t, "./core/pluginhost/testdata/parlor-plugin-mod", "parlor-plugin-mod")
	cfg := testConfig(t)
	cfg.Plugins.Load = map[string]config.PluginSpec{"mod": {Path: bin}}
	servertest.EnableAPI(cfg)
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)
	alice, bob := servertest.Dial(t, srv), servertest.Dial(t, srv)
	alice.Login("alice", "")
	alice.Join(1, "")
	bob.Login("bob", "")
	bob.Join(1, "")

	alice.Send(map[string]any{"type": "say", "id": "1", "text": "hold this please"})
	held := alice.Want("held")
	if held["note"] != "test hold" || held["room"] != 1.0 {
		t.Fatalf("held %v", held)
	}
	out := servertest.APIOK(t, base, "get_held", map[string]any{"room_id": 1})
	list := out["held"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["from"] != "alice" || list[0].(map[string]any)["text"] != "hold this please" {
		t.Fatalf("get_held %v", out)
	}
	written, err := time.Parse(time.RFC3339, list[0].(map[string]any)["time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // approved a second later at least

	servertest.APIOK(t, base, "approve", map[string]any{"id": held["held"], "text": "held, then edited", "actor": "ops"})
	m := bob.WantMatch("message", func(ev map[string]any) bool { return ev["from"] == "alice" })
	ts, _ := time.Parse(time.RFC3339Nano, m["ts"].(string))
	if m["text"] != "held, then edited" || ts.Truncate(time.Second) != written || time.Since(ts) < time.Second {
		t.Fatalf("published %v (written at %s)", m, written)
	}
	carol := servertest.Dial(t, srv)
	carol.Login("carol", "")
	hist := carol.Join(1, "")["history"].([]any)
	if len(hist) == 0 || hist[len(hist)-1].(map[string]any)["ts"] != m["ts"] || hist[len(hist)-1].(map[string]any)["from"] != "alice" {
		t.Fatalf("history %v", hist)
	}

	alice.Send(map[string]any{"type": "say", "id": "2", "text": "hold two"})
	second := alice.Want("held")
	servertest.APIOK(t, base, "decline", map[string]any{"id": second["held"], "reason": "off topic"})
	if n := alice.WantMatch("notice", func(ev map[string]any) bool { return strings.Contains(ev["text"].(string), "off topic") }); n == nil {
		t.Fatal("alice was not told")
	}

	// The module heard of the hold, the release and the decline.
	want := []string{"held 1 hold this please  ", "released 1 held, then edited ops ", "held 2 hold two  ", "declined 2 hold two api off topic"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		alice.Send(map[string]any{"type": "mod.queue", "id": "q"})
		res := alice.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "q" })
		var got []string
		for _, s := range res["data"].([]any) {
			got = append(got, s.(string))
		}
		if strings.Join(got, "|") == strings.Join(want, "|") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the module heard %q, want %q", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, ev := range drain(bob) {
		if ev["type"] == "message" && ev["text"] == "hold two" {
			t.Fatal("a declined message reached the room")
		}
	}
}

// drain returns the events c got so far without waiting.
func drain(c *servertest.Client) []map[string]any {
	var out []map[string]any
	for {
		select {
		case ev := <-c.Events():
			out = append(out, ev)
		default:
			return out
		}
	}
}
