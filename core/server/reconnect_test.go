package server_test

import (
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/servertest"
)

// tokenOf returns the reconnect token of a login_ok event ("" if none).
func tokenOf(ev map[string]any) string {
	s, _ := ev["token"].(string)
	return s
}

func TestReconnectToken(t *testing.T) {
	srv := servertest.Start(t, usersPluginConfig(t))

	// A password login brings a token; a guest login none.
	a := servertest.Dial(t, srv)
	token := tokenOf(a.Login("root", "root-pw"))
	if token == "" {
		t.Fatal("login_ok of a password login has no token")
	}
	if g := tokenOf(servertest.Dial(t, srv).Login("visitor", "")); g != "" {
		t.Fatalf("a guest got the token %q", g)
	}

	// The connection drops; the token logs in again as the same identity,
	// administrator included.
	_ = a.Conn().CloseNow()
	b := servertest.Dial(t, srv)
	var ok map[string]any
	for range 50 { // until the server has seen the first connection go
		b.Send(map[string]any{"type": "login", "token": token})
		ev := b.Next()
		if ev["type"] == "login_ok" {
			ok = ev
			break
		}
		if ev["code"] != "name_taken" {
			t.Fatalf("token login: %v", ev)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ok == nil {
		t.Fatal("the name stays taken after the connection dropped")
	}
	u, _ := ok["user"].(map[string]any)
	if u["name"] != "root" || u["admin"] != true || u["guest"] != false {
		t.Fatalf("token login as %v", ok)
	}
	// An administrator enters a room with a password without it.
	b.Join(2, "")

	// Logout ends the token.
	b.Send(map[string]any{"type": "logout"})
	b.Want("logged_out")
	c := servertest.Dial(t, srv)
	c.Send(map[string]any{"type": "login", "token": token})
	c.WantError("no_session")
}
