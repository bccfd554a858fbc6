package auth

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/internal/testenv"
)

func newTestSessions(t *testing.T) (*Sessions, *store.SQLite, *testenv.Clock) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "parlor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c := testenv.NewClock()
	return NewSessions(st, SessionOptions{ReconnectTTL: 10 * time.Minute, Now: c.Now}), st, c
}

func wantNoSession(t *testing.T, s *Sessions, token, why string) {
	t.Helper()
	_, err := s.Login(context.Background(), token, "")
	if chat.CodeOf(err) != CodeNoSession {
		t.Fatalf("%s: login with the token: %v, want %s", why, err, CodeNoSession)
	}
}

func TestReconnectTokenIsBoundToTheIdentity(t *testing.T) {
	s, _, _ := newTestSessions(t)
	ctx := context.Background()
	token, err := s.IssueReconnect(ctx, Identity{Name: "Root", Display: "The Admin", Admin: true, By: "site"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Login(ctx, token, "")
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "Root" || id.Display != "The Admin" || !id.Admin || id.Guest || id.By != ByReconnect {
		t.Fatalf("identity %+v", id)
	}
	if _, err := s.IssueReconnect(ctx, Identity{Name: "visitor", Guest: true}); err == nil {
		t.Fatal("a guest got a reconnect token")
	}
	if ok, _, err := s.Revoke(ctx, token); !ok || err != nil {
		t.Fatalf("revoke = %v, %v", ok, err)
	}
	wantNoSession(t, s, token, "after revoke")
}

func TestReconnectTokenExpiresAfterItsLastConnection(t *testing.T) {
	s, _, c := newTestSessions(t)
	ctx := context.Background()
	token, err := s.IssueReconnect(ctx, Identity{Name: "alice", Display: "alice", By: "site"})
	if err != nil {
		t.Fatal(err)
	}
	s.Hold(token)
	// Good while a connection holds it, however long.
	c.Add(time.Hour)
	if _, err := s.Login(ctx, token, ""); err != nil {
		t.Fatalf("held token refused: %v", err)
	}
	// The connection ends: good for the TTL from then on.
	s.Release(ctx, token)
	c.Add(9 * time.Minute)
	if _, err := s.Login(ctx, token, ""); err != nil {
		t.Fatalf("token refused within the TTL after its connection: %v", err)
	}
	c.Add(2 * time.Minute)
	wantNoSession(t, s, token, "past the TTL")

	// Never used: expires a TTL after it was issued.
	unused, err := s.IssueReconnect(ctx, Identity{Name: "bob", Display: "bob", By: "site"})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(11 * time.Minute)
	wantNoSession(t, s, unused, "unused past the TTL")
}

func TestReconnectTokenEndsWithItsLocalAccount(t *testing.T) {
	s, st, _ := newTestSessions(t)
	ctx := context.Background()
	a, err := st.CreateAccount(ctx, store.Account{Name: "Carol"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := s.IssueReconnect(ctx, Identity{Name: "Carol", Display: "Carol", By: LocalName})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, token, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	// A new account of the same name is someone else.
	if _, err := st.CreateAccount(ctx, store.Account{Name: "carol"}); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, s, token, "after the account was deleted")
}
