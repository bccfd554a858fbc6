package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/internal/testenv"
)

// node is one server's Sessions over a store that others share.
func node(st store.Accounts, c *testenv.Clock) *Sessions {
	return NewSessions(st, SessionOptions{ReconnectTTL: 10 * time.Minute, Now: c.Now})
}

func openStore(t *testing.T, path string) *store.SQLite {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// wantRefused checks that a login with token is refused with a message
// containing msg.
func wantRefused(t *testing.T, s *Sessions, token, msg, why string) {
	t.Helper()
	_, err := s.Login(context.Background(), token, "")
	var ce *chat.Error
	if !errors.As(err, &ce) || ce.Code != CodeNoSession || !strings.Contains(ce.Message, msg) {
		t.Fatalf("%s: login with the token: %v, want %s saying %q", why, err, CodeNoSession, msg)
	}
}

// A token issued on one node logs in on another sharing the store, and on
// the first after a restart, as the same identity.
func TestReconnectTokenOnAnotherNodeAndAfterARestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parlor.db")
	st := openStore(t, path)
	c := testenv.NewClock()
	if _, err := st.CreateAccount(ctx, store.Account{Name: "Dora"}); err != nil {
		t.Fatal(err)
	}
	one, two := node(st, c), node(st, c)
	local, err := one.IssueReconnect(ctx, Identity{Name: "Dora", Display: "Dora", Email: "dora@example.org", Avatar: "https://example.org/d.png", By: LocalName})
	if err != nil {
		t.Fatal(err)
	}
	site, err := one.IssueReconnect(ctx, Identity{Name: "Root", Display: "The Admin", Admin: true, By: "site"})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := func(s *Sessions, when string) {
		t.Helper()
		id, err := s.Login(ctx, local, "")
		if err != nil {
			t.Fatalf("%s: local account's token: %v", when, err)
		}
		if id != (Identity{Name: "Dora", Display: "Dora", Email: "dora@example.org", Avatar: "https://example.org/d.png", By: ByReconnect}) {
			t.Fatalf("%s: local account's token logs in as %+v", when, id)
		}
		id, err = s.Login(ctx, site, "")
		if err != nil {
			t.Fatalf("%s: plugin identity's token: %v", when, err)
		}
		if id != (Identity{Name: "Root", Display: "The Admin", Admin: true, By: ByReconnect}) {
			t.Fatalf("%s: plugin identity's token logs in as %+v", when, id)
		}
	}
	wantIDs(two, "on another node")

	// The first node restarts: its memory is gone, the store is not.
	_ = st.Close()
	c.Add(9 * time.Minute)
	wantIDs(node(openStore(t, path), c), "after a restart")
}

// Logout on one node ends the token on every node, including one that
// had it in memory.
func TestReconnectTokenRevokedOnAnotherNode(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "parlor.db"))
	c := testenv.NewClock()
	one, two := node(st, c), node(st, c)
	token, err := one.IssueReconnect(ctx, Identity{Name: "alice", Display: "alice", By: "site"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Login(ctx, token, ""); err != nil {
		t.Fatal(err)
	}
	// The client moves to node two and logs out there.
	if _, err := two.Login(ctx, token, ""); err != nil {
		t.Fatalf("node two refuses the token: %v", err)
	}
	two.Hold(token)
	if ok, _, err := two.Revoke(ctx, token); !ok || err != nil {
		t.Fatalf("revoke on node two = %v, %v", ok, err)
	}
	two.Release(ctx, token)
	wantNoSession(t, one, token, "node one, after logout on node two")
	wantNoSession(t, two, token, "node two, after its logout")
	wantNoSession(t, node(st, c), token, "a new node, after the logout")

	// A token that one node never saw is revoked there too (the Host API
	// revokes any token).
	other, err := one.IssueReconnect(ctx, Identity{Name: "bob", Display: "bob", By: "site"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := two.Revoke(ctx, other); !ok || err != nil {
		t.Fatalf("revoke on node two of a token it never saw = %v, %v", ok, err)
	}
	wantNoSession(t, one, other, "node one, after node two revoked it")
}

// A token expires on every node a TTL after its last connection ended,
// wherever that was, with the expiry message.
func TestReconnectTokenExpiresOnEveryNode(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "parlor.db"))
	c := testenv.NewClock()
	one, two := node(st, c), node(st, c)

	unused, err := one.IssueReconnect(ctx, Identity{Name: "bob", Display: "bob", By: "site"})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(11 * time.Minute)
	wantRefused(t, two, unused, "Your login has expired", "unused past the TTL, on another node")

	// Held on node two for an hour: the release there gives it a TTL from
	// then on, which node one (whose memory says expired) learns.
	token, err := one.IssueReconnect(ctx, Identity{Name: "alice", Display: "alice", By: "site"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Login(ctx, token, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := two.Login(ctx, token, ""); err != nil {
		t.Fatal(err)
	}
	two.Hold(token)
	c.Add(time.Hour)
	two.Release(ctx, token)
	c.Add(9 * time.Minute)
	if _, err := one.Login(ctx, token, ""); err != nil {
		t.Fatalf("node one refuses the token within the TTL after its connection on node two: %v", err)
	}
	c.Add(2 * time.Minute)
	wantRefused(t, one, token, "Your login has expired", "past the TTL, on node one")
	wantRefused(t, node(st, c), token, "Your login has expired", "past the TTL, on a new node")

	// One more TTL on, the store lets go of it: the next token issued
	// purges it.
	c.Add(10 * time.Minute)
	if _, err := one.IssueReconnect(ctx, Identity{Name: "carl", Display: "carl", By: "site"}); err != nil {
		t.Fatal(err)
	}
	if _, kept, err := st.KVGet(ctx, reconnectOwner, reconnectKey(string(HashToken(token))), time.Time{}); err != nil || kept {
		t.Fatalf("the store keeps a token long expired: %v, %v", kept, err)
	}
}

// A local account's token ends with the account on every node.
func TestReconnectTokenOfADeletedAccountOnAnotherNode(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "parlor.db"))
	c := testenv.NewClock()
	one, two := node(st, c), node(st, c)
	a, err := st.CreateAccount(ctx, store.Account{Name: "Carol"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := one.IssueReconnect(ctx, Identity{Name: "Carol", Display: "Carol", By: LocalName})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAccount(ctx, store.Account{Name: "carol"}); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, two, token, `The account "Carol" no longer exists`, "another node, after the account was deleted")
	wantNoSession(t, one, token, "the issuing node, after the account was deleted")
}

// failingKV is a store whose key-value writes fail while failSet is set.
type failingKV struct {
	store.Accounts
	failSet bool
}

func (f *failingKV) KVSet(ctx context.Context, plugin, key string, value []byte, expires time.Time) error {
	if f.failSet {
		return errors.New("disk full")
	}
	return f.Accounts.KVSet(ctx, plugin, key, value, expires)
}

// A token the store could not take is good on its node only, until a
// write succeeds; a store that cannot be read refuses a token it alone
// knows with an internal error (a login error for the client), never a
// panic.
func TestReconnectTokenWhenTheStoreFails(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "parlor.db"))
	c := testenv.NewClock()
	flaky := &failingKV{Accounts: st, failSet: true}
	one, two := node(flaky, c), node(st, c)
	token, err := one.IssueReconnect(ctx, Identity{Name: "alice", Display: "alice", By: "site"})
	if err != nil || token == "" {
		t.Fatalf("issue with a failing store = %q, %v; want the token all the same", token, err)
	}
	if id, err := one.Login(ctx, token, ""); err != nil || id.Name != "alice" {
		t.Fatalf("node one with the token it could not store: %+v, %v", id, err)
	}
	wantRefused(t, two, token, "There is no valid login session", "another node, before the token was stored")

	// Its connection ends once the store works again: now it is stored.
	flaky.failSet = false
	one.Hold(token)
	one.Release(ctx, token)
	if _, err := two.Login(ctx, token, ""); err != nil {
		t.Fatalf("another node, once the token was stored: %v", err)
	}

	// The store goes away: a node that knows the token keeps it, another
	// reports an error.
	_ = st.Close()
	if _, err := one.Login(ctx, token, ""); err != nil {
		t.Fatalf("node one, the store closed: %v", err)
	}
	fresh := node(st, c)
	_, err = fresh.Login(ctx, token, "")
	if err == nil || chat.CodeOf(err) != "internal" {
		t.Fatalf("a node that does not know the token, the store closed: %v (%s), want an internal error", err, chat.CodeOf(err))
	}
}
