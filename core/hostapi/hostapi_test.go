package hostapi_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/hostapi"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

type fixture struct {
	st       *store.SQLite
	sessions *auth.Sessions
	api      *hostapi.API
	clock    *testenv.Clock
	mu       sync.Mutex
	revoked  [][]byte
}

func newFixture(t *testing.T, path string) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{st: st, clock: testenv.NewClock()}
	f.sessions = auth.NewSessions(st, auth.SessionOptions{TTL: 24 * time.Hour, Now: f.clock.Now})
	f.api = hostapi.New(st, f.sessions, hostapi.Options{Now: f.clock.Now, OnRevoke: func(h [][]byte) {
		f.mu.Lock()
		f.revoked = append(f.revoked, h...)
		f.mu.Unlock()
	}})
	return f
}

func (f *fixture) revokedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.revoked)
}

// viaGRPC is plugin's Host API as a module plugin sees it: over gRPC and
// the go-plugin broker.
func viaGRPC(t *testing.T, api *hostapi.API, plugin string) sdk.Host {
	t.Helper()
	m := &hostModule{}
	sdktest.Module(t, m, nil, api.For(plugin))
	if m.host == nil {
		t.Fatal("the module got no Host API")
	}
	return m.host
}

// hostModule keeps the Host API it is given.
type hostModule struct{ host sdk.Host }

func (m *hostModule) Configure(_ context.Context, cfg sdk.Config) error {
	m.host = cfg.Host
	return nil
}

func (m *hostModule) ServeHTTP(context.Context, sdk.HTTPRequest) (sdk.HTTPResponse, error) {
	return sdk.HTTPResponse{}, nil
}

func TestUsers(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "p.db"))
	ctx := context.Background()
	for name, h := range map[string]sdk.Host{"direct": f.api.For("sso"), "grpc": viaGRPC(t, f.api, "sso")} {
		t.Run(name, func(t *testing.T) {
			users := h.Users()
			prefix := name + "-"
			u, err := users.Create(ctx, sdk.NewUser{Name: prefix + "alice", Email: prefix + "alice@example.com", Avatar: "https://x/a.png"})
			if err != nil {
				t.Fatal(err)
			}
			if u.ID == 0 || u.HasPassword || u.Avatar != "https://x/a.png" || u.Created.IsZero() {
				t.Fatalf("created %+v", u)
			}
			// Names and e-mails are unique without regard to case.
			if got, err := users.ByName(ctx, strings.ToUpper(prefix+"alice")); err != nil || got.ID != u.ID {
				t.Fatalf("by name: %+v %v", got, err)
			}
			if got, err := users.ByEmail(ctx, strings.ToUpper(prefix+"alice@example.com")); err != nil || got.ID != u.ID {
				t.Fatalf("by e-mail: %+v %v", got, err)
			}
			if _, err := users.Create(ctx, sdk.NewUser{Name: strings.ToUpper(prefix + "alice"), Email: prefix + "x@example.com"}); !errors.Is(err, sdk.ErrExists) {
				t.Fatalf("duplicate name: %v", err)
			}
			if _, err := users.Create(ctx, sdk.NewUser{Name: prefix + "other", Email: strings.ToUpper(prefix + "alice@example.com")}); !errors.Is(err, sdk.ErrExists) || !strings.Contains(sdk.Reason(err), "e-mail") {
				t.Fatalf("duplicate e-mail: %v", err)
			}
			for _, bad := range []sdk.NewUser{{Name: "bad!name"}, {Name: prefix + "b", Email: "not-an-email"}, {Name: prefix + "c", Password: strings.Repeat("x", 73)}} {
				if _, err := users.Create(ctx, bad); !errors.Is(err, sdk.ErrInvalid) || sdk.Reason(err) == "" {
					t.Fatalf("create %+v: %v", bad, err)
				}
			}
			if _, err := users.ByName(ctx, "nobody"); !errors.Is(err, sdk.ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}

			// Edit applies the fields given.
			newName, newEmail, noAvatar := prefix+"alicia", prefix+"alicia@example.com", ""
			if u, err = users.Edit(ctx, u.ID, sdk.UserEdit{Name: &newName}); err != nil || u.Name != newName || u.Email != prefix+"alice@example.com" {
				t.Fatalf("edit name: %+v %v", u, err)
			}
			if u, err = users.Edit(ctx, u.ID, sdk.UserEdit{Email: &newEmail, Avatar: &noAvatar}); err != nil || u.Email != newEmail || u.Avatar != "" {
				t.Fatalf("edit e-mail: %+v %v", u, err)
			}
			bob, err := users.Create(ctx, sdk.NewUser{Name: prefix + "bob", Email: prefix + "bob@example.com", Password: "bob-pw"})
			if err != nil || !bob.HasPassword {
				t.Fatalf("bob: %+v %v", bob, err)
			}
			if _, err := users.Edit(ctx, u.ID, sdk.UserEdit{Name: &bob.Name}); !errors.Is(err, sdk.ErrExists) {
				t.Fatalf("rename onto bob: %v", err)
			}

			// Passwords: the local authenticator checks them.
			local := auth.NewLocal(f.st)
			check := func(name, pw string) sdk.Code {
				t.Helper()
				res, err := local.Authenticate(ctx, sdk.AuthRequest{Username: name, Password: pw})
				if err != nil {
					t.Fatal(err)
				}
				return res.Code
			}
			if c := check(newName, "anything"); c != sdk.WrongPassword {
				t.Fatalf("password login without a password: %v", c)
			}
			if c := check(newName, ""); c != sdk.WrongPassword {
				t.Fatalf("guest with an account's name: %v", c)
			}
			if err := users.SetPassword(ctx, u.ID, "secret"); err != nil {
				t.Fatal(err)
			}
			if c := check(strings.ToUpper(newName), "secret"); c != sdk.OK {
				t.Fatalf("password login: %v", c)
			}
			if c := check(newName, "wrong"); c != sdk.WrongPassword {
				t.Fatalf("wrong password: %v", c)
			}
			if c := check(prefix+"nobody", "x"); c != sdk.NoSuchUser {
				t.Fatalf("unknown name: %v", c)
			}

			// Delete ends the account's sessions.
			if _, err := h.Sessions().Issue(ctx, u.ID, 0, false); err != nil {
				t.Fatal(err)
			}
			before := f.revokedCount()
			if err := users.Delete(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			if f.revokedCount() != before+1 {
				t.Fatalf("delete revoked %d sessions", f.revokedCount()-before)
			}
			if err := users.Delete(ctx, u.ID); !errors.Is(err, sdk.ErrNotFound) {
				t.Fatalf("delete twice: %v", err)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "p.db"))
	ctx := context.Background()
	sso, other := viaGRPC(t, f.api, "sso"), f.api.For("other")
	u, err := sso.Users().Create(ctx, sdk.NewUser{Name: "alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}

	s, err := sso.Sessions().Issue(ctx, u.ID, time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Token) < 43 || !s.Expires.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("session %+v", s)
	}
	c, err := http.ParseSetCookie(s.SetCookie)
	if err != nil || c.Name != auth.SessionCookie || c.Value != s.Token || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 3600 {
		t.Fatalf("cookie %q: %v", s.SetCookie, err)
	}
	nonPersistent, err := sso.Sessions().Issue(ctx, u.ID, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(nonPersistent.SetCookie, "Max-Age") || strings.Contains(nonPersistent.SetCookie, "Expires") {
		t.Fatalf("session cookie %q", nonPersistent.SetCookie)
	}
	if !nonPersistent.Expires.Equal(f.clock.Now().Add(24 * time.Hour)) { // the host's TTL
		t.Fatalf("default lifetime: %v", nonPersistent.Expires)
	}
	if _, err := sso.Sessions().Issue(ctx, 999, 0, false); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("session for nobody: %v", err)
	}

	// Only the hash is stored; the token logs in until it expires.
	if id, err := f.sessions.Login(ctx, s.Token, ""); err != nil || id.Name != "alice" || id.Guest {
		t.Fatalf("login: %+v %v", id, err)
	}
	if _, err := f.sessions.Login(ctx, "forged", ""); err == nil {
		t.Fatal("a forged token logs in")
	}
	f.clock.Add(time.Hour + time.Second)
	if _, err := f.sessions.Login(ctx, s.Token, ""); err == nil {
		t.Fatal("an expired session logs in")
	}
	if _, err := f.sessions.Login(ctx, nonPersistent.Token, ""); err != nil {
		t.Fatalf("unexpired session: %v", err)
	}

	// Another plugin's RevokeUser leaves sso's sessions alone.
	if n, _, err := other.Sessions().RevokeUser(ctx, u.ID); err != nil || n != 0 {
		t.Fatalf("other plugin revoked %d: %v", n, err)
	}
	n, clear, err := sso.Sessions().RevokeUser(ctx, u.ID)
	if err != nil || n != 2 {
		t.Fatalf("revoke user: %d %v", n, err)
	}
	if c, err := http.ParseSetCookie(clear); err != nil || c.Name != auth.SessionCookie || c.MaxAge >= 0 {
		t.Fatalf("clear cookie %q: %v", clear, err)
	}
	if _, err := f.sessions.Login(ctx, nonPersistent.Token, ""); err == nil {
		t.Fatal("a revoked session logs in")
	}
	s3, _ := sso.Sessions().Issue(ctx, u.ID, 0, false)
	if n, _, err := sso.Sessions().Revoke(ctx, s3.Token); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if n, _, err := sso.Sessions().Revoke(ctx, s3.Token); err != nil || n != 0 {
		t.Fatalf("revoke twice: %d %v", n, err)
	}
	if f.revokedCount() != 3 {
		t.Fatalf("OnRevoke saw %d sessions, want 3", f.revokedCount())
	}
}

func TestKV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	f := newFixture(t, path)
	ctx := context.Background()
	a, b := viaGRPC(t, f.api, "a"), f.api.For("b")

	if err := a.KV().Set(ctx, "k", []byte("forever"), 0); err != nil {
		t.Fatal(err)
	}
	if err := a.KV().Set(ctx, "short", []byte("soon gone"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := a.KV().Get(ctx, "k"); err != nil || !ok || string(v) != "forever" {
		t.Fatalf("get: %q %v %v", v, ok, err)
	}
	// Namespaced per plugin.
	if _, ok, _ := b.KV().Get(ctx, "k"); ok {
		t.Fatal("plugin b reads plugin a's key")
	}
	f.clock.Add(61 * time.Second)
	if _, ok, err := a.KV().Get(ctx, "short"); err != nil || ok {
		t.Fatalf("expired key: %v %v", ok, err)
	}
	if err := a.KV().Set(ctx, "", nil, 0); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("empty key: %v", err)
	}
	if err := a.KV().Set(ctx, "big", make([]byte, hostapi.MaxValueBytes+1), 0); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("big value: %v", err)
	}

	// The core's own entries are out of every plugin's reach.
	if err := f.st.KVSet(ctx, "core.reconnect", "k", []byte("the core's"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	core := viaGRPC(t, f.api, "core.reconnect")
	if _, ok, err := core.KV().Get(ctx, "k"); ok || !errors.Is(err, sdk.ErrDenied) {
		t.Fatalf("a plugin named core.reconnect reads the core's entry: %v %v", ok, err)
	}
	if err := core.KV().Set(ctx, "k", []byte("forged"), 0); !errors.Is(err, sdk.ErrDenied) {
		t.Fatalf("a plugin named core.reconnect writes the core's entry: %v", err)
	}
	if err := core.KV().Delete(ctx, "k"); !errors.Is(err, sdk.ErrDenied) {
		t.Fatalf("a plugin named core.reconnect deletes the core's entry: %v", err)
	}
	if v, ok, err := f.st.KVGet(ctx, "core.reconnect", "k", f.clock.Now()); err != nil || !ok || string(v) != "the core's" {
		t.Fatalf("the core's entry after a plugin's tries: %q %v %v", v, ok, err)
	}

	// Everything survives reopening the store.
	u, _ := a.Users().Create(ctx, sdk.NewUser{Name: "kept", Email: "kept@example.com"})
	s, _ := a.Sessions().Issue(ctx, u.ID, 0, true)
	_ = f.st.Close()
	g := newFixture(t, path)
	g.clock.Add(f.clock.Now().Sub(g.clock.Now()))
	if v, ok, err := g.api.For("a").KV().Get(ctx, "k"); err != nil || !ok || string(v) != "forever" {
		t.Fatalf("after reopen: %q %v %v", v, ok, err)
	}
	if id, err := g.sessions.Login(ctx, s.Token, ""); err != nil || id.Name != "kept" {
		t.Fatalf("session after reopen: %+v %v", id, err)
	}
	if err := g.api.For("a").KV().Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := g.api.For("a").KV().Get(ctx, "k"); ok {
		t.Fatal("deleted key still there")
	}
}

// Deleting or renaming an account reports its former name so that its
// connection can be closed; other edits and failures report nothing.
func TestAccountEndedOnDeleteAndRename(t *testing.T) {
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var ended []string
	api := hostapi.New(st, auth.NewSessions(st, auth.SessionOptions{TTL: time.Hour}), hostapi.Options{
		OnAccountEnded: func(name, reason string) { ended = append(ended, name+": "+reason) },
	})
	ctx := context.Background()
	users := api.For("sso").Users()
	u, err := users.Create(ctx, sdk.NewUser{Name: "lee", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	email, name, taken := "lee@example.com", "leo", "max"
	if _, err := users.Edit(ctx, u.ID, sdk.UserEdit{Email: &email}); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Create(ctx, sdk.NewUser{Name: taken}); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Edit(ctx, u.ID, sdk.UserEdit{Name: &taken}); !errors.Is(err, sdk.ErrExists) {
		t.Fatalf("rename to a taken name: %v", err)
	}
	if _, err := users.Edit(ctx, u.ID, sdk.UserEdit{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(ctx, u.ID); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if want := []string{"lee: account renamed", "leo: account deleted"}; strings.Join(ended, ", ") != strings.Join(want, ", ") {
		t.Fatalf("ended %q, want %q", ended, want)
	}
}
