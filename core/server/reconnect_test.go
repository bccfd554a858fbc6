package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/sdk"
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

// tokenLogin logs c in with a reconnect token and returns the answer,
// login_ok or error.
func tokenLogin(c *servertest.Client, token string) map[string]any {
	c.Send(map[string]any{"type": "login", "token": token})
	return c.Next()
}

// The reconnect token of a local account's password login outlives the
// server: after a restart on the same data directory it logs in without
// the password, and its logout ends it for the next start too.
func TestReconnectTokenSurvivesARestart(t *testing.T) {
	cfg := testConfig(t)
	srv := servertest.Start(t, cfg)
	if _, err := srv.HostAPI("test").Users().Create(context.Background(), sdk.NewUser{Name: "ivy", Password: "ivy-pw"}); err != nil {
		t.Fatal(err)
	}
	token := tokenOf(servertest.Dial(t, srv).Login("ivy", "ivy-pw"))
	if token == "" {
		t.Fatal("login_ok of a password login has no token")
	}
	servertest.Stop(t, srv)

	srv = servertest.Start(t, cfg) // same data dir
	b := servertest.Dial(t, srv)
	ok := tokenLogin(b, token)
	if ok["type"] != "login_ok" {
		t.Fatalf("token login after a restart: %v", ok)
	}
	if u, _ := ok["user"].(map[string]any); u["name"] != "ivy" || u["guest"] != false {
		t.Fatalf("token login after a restart as %v", ok)
	}
	b.Join(1, "")
	b.Send(map[string]any{"type": "logout"})
	b.Want("logged_out")
	servertest.Stop(t, srv)

	srv = servertest.Start(t, cfg)
	c := servertest.Dial(t, srv)
	c.Send(map[string]any{"type": "login", "token": token})
	c.WantError("no_session")
}
