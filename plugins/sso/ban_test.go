package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/internal/servertest"
)

// TestBannedRangeCannotLogInThroughSSO: a user whose SSO session is
// valid cannot log in to the chat from a banned IPv4 or IPv6 range (the
// refusal is banned, with the reason); a range that does not cover them
// changes nothing, and lifting the ban lets them in.
func TestBannedRangeCannotLogInThroughSSO(t *testing.T) {
	for _, c := range []struct{ name, listen, covers, other string }{
		{"ipv4", "127.0.0.1:0", "127.0.0.0/8", "192.0.2.0/24"},
		{"ipv6", "[::1]:0", "::/112", "2001:db8::/32"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ssoConfig(t, t.TempDir(), "")
			cfg.HTTP.Addr = c.listen
			servertest.EnableAPI(cfg)
			base, _ := startServer(t, cfg)
			session := func() string {
				t.Helper()
				gen := get(t, base, "/sso/token/generate", with("username", "alice", "email", "alice@example.com")).ok(t, "generate")
				return "parlor_session=" + get(t, base, "/sso/token/login", url.Values{"access_token": {gen.AccessToken}}).sessionCookie(t).Value
			}

			servertest.APIOK(t, base, "ban", map[string]any{"ip": c.other, "reason": "not you"})
			first := dialWS(t, base, session())
			if ev := first.sessionLogin(""); ev["type"] != "login_ok" {
				t.Fatalf("login outside the banned range: %v", ev)
			}
			first.send(map[string]any{"type": "logout"})
			first.want("logged_out")

			out := servertest.APIOK(t, base, "ban", map[string]any{"ip": c.covers, "reason": "sso range test"})
			id := out["sanction"].(map[string]any)["id"]
			ev := dialWS(t, base, session()).sessionLogin("")
			if ev["type"] != "error" || ev["code"] != "banned" || !strings.Contains(ev["message"].(string), "sso range test") {
				t.Fatalf("session login from the banned range: %v", ev)
			}
			servertest.APIOK(t, base, "unban", map[string]any{"id": id})
			if ev := dialWS(t, base, session()).sessionLogin(""); ev["type"] != "login_ok" {
				t.Fatalf("login after the ban was lifted: %v", ev)
			}
		})
	}
}
