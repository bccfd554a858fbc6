package server_test

import (
	"strings"
	"testing"

	"github.com/parlorchat/parlor/internal/servertest"
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
