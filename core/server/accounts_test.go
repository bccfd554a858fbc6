package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/sdk"
)

// wantLoggedOut waits for the logged_out event with reason and for the
// server to close the connection normally.
func wantLoggedOut(t *testing.T, c *servertest.Client, reason string) {
	t.Helper()
	if ev := c.Want("logged_out"); ev["reason"] != reason {
		t.Fatalf("logged_out = %v, want reason %q", ev, reason)
	}
	var ce websocket.CloseError
	if err := c.WaitClosed(); !errors.As(err, &ce) || ce.Code != websocket.StatusNormalClosure {
		t.Fatalf("connection ended with %v, want a normal close", err)
	}
}

// Deleting or renaming an account through the Host API ends the chat
// connection of whoever logged in with its password.
func TestDeletedOrRenamedAccountIsLoggedOut(t *testing.T) {
	srv := servertest.Start(t, testConfig(t))
	users := srv.HostAPI("test").Users()
	ctx := context.Background()
	ivy, err := users.Create(ctx, sdk.NewUser{Name: "ivy", Password: "ivy-pw"})
	if err != nil {
		t.Fatal(err)
	}
	jay, err := users.Create(ctx, sdk.NewUser{Name: "jay", Password: "jay-pw"})
	if err != nil {
		t.Fatal(err)
	}

	c := servertest.Dial(t, srv)
	c.Login("ivy", "ivy-pw")
	c.Join(1, "")
	other := servertest.Dial(t, srv)
	other.Login("kim", "")
	other.Join(1, "")
	if err := users.Delete(ctx, ivy.ID); err != nil {
		t.Fatal(err)
	}
	wantLoggedOut(t, c, "account deleted")
	other.WantMatch("presence", func(ev map[string]any) bool { return ev["user"] == "ivy" && ev["event"] == "leave" })
	again := servertest.Dial(t, srv)
	again.Send(map[string]string{"type": "login", "user": "ivy", "password": "ivy-pw"})
	again.WantError("no_such_user")

	c = servertest.Dial(t, srv)
	c.Login("jay", "jay-pw")
	name := "jules"
	if _, err := users.Edit(ctx, jay.ID, sdk.UserEdit{Name: &name}); err != nil {
		t.Fatal(err)
	}
	wantLoggedOut(t, c, "account renamed")

	// The new name logs in; other edits leave its connection alone.
	c = servertest.Dial(t, srv)
	c.Login("jules", "jay-pw")
	email := "jules@example.org"
	if _, err := users.Edit(ctx, jay.ID, sdk.UserEdit{Email: &email}); err != nil {
		t.Fatal(err)
	}
	c.Send(map[string]any{"type": "ping", "id": "still-there"})
	c.WantMatch("pong", func(ev map[string]any) bool { return ev["id"] == "still-there" })
}
