package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/store"
)

func mustCreate(t *testing.T, s Store, name, email string) store.Account {
	t.Helper()
	a, err := s.CreateAccount(context.Background(), store.Account{Name: name, Email: email})
	if err != nil {
		t.Fatalf("CreateAccount(%q, %q): %v", name, email, err)
	}
	return a
}

func testAccountsAreUniqueByKey(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	created := time.UnixMilli(1_700_000_000_123).UTC()
	elise, err := s.CreateAccount(ctx, store.Account{Name: "Élise", Email: "üwe@example.com", PasswordHash: "h", Avatar: "a.png", Created: created})
	if err != nil {
		t.Fatal(err)
	}
	kate := mustCreate(t, s, "Kate", "kate@example.com")
	if elise.NameKey != "élise" || elise.ID <= 0 || kate.ID <= elise.ID {
		t.Fatalf("created %+v then %+v", elise, kate)
	}
	if got, err := s.AccountByID(ctx, elise.ID); err != nil || !reflect.DeepEqual(got, elise) {
		t.Fatalf("AccountByID = %+v, %v; want %+v", got, err, elise)
	}
	for _, tc := range []struct{ name, email, field string }{
		{"élise", "other@example.com", "name"},
		{"E\u0301LISE", "other@example.com", "name"},
		{"\u212Aate", "other@example.com", "name"},
		{"ＫＡＴＥ", "other@example.com", "name"},
		{"Uwe", "ÜWE@example.com", "e-mail"},
		{"Uwe", "U\u0308we@EXAMPLE.COM", "e-mail"},
		{"Uwe", "KATE@Example.com", "e-mail"},
	} {
		_, err := s.CreateAccount(ctx, store.Account{Name: tc.name, Email: tc.email})
		if !errors.Is(err, store.ErrExists) {
			t.Errorf("CreateAccount(%q, %q) = %v, want ErrExists", tc.name, tc.email, err)
			continue
		}
		mustContain(t, err, "the "+tc.field+" belongs to another account")
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 2 {
		t.Fatalf("CountAccounts = %d, %v; want 2 (the refused ones are not stored)", n, err)
	}
	for _, name := range []string{"élise", "e\u0301lise", "ÉLISE"} {
		if a, err := s.AccountByName(ctx, name); err != nil || a.ID != elise.ID {
			t.Errorf("AccountByName(%q) = %v, %v", name, a, err)
		}
	}
	if a, err := s.AccountByName(ctx, "\u212Aate"); err != nil || a.ID != kate.ID {
		t.Errorf("AccountByName(Kelvin ate) = %v, %v", a, err)
	}
	if a, err := s.AccountByEmail(ctx, "ÜWE@Example.com"); err != nil || a.ID != elise.ID {
		t.Errorf("AccountByEmail = %v, %v", a, err)
	}
	if _, err := s.AccountByName(ctx, "x²"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AccountByName(x²) = %v, want ErrNotFound", err)
	}

	// Renames are checked by key too; a name without a key is refused.
	kate.Name = "ÉLISE"
	if err := s.UpdateAccount(ctx, kate); !errors.Is(err, store.ErrExists) {
		t.Errorf("rename to ÉLISE = %v, want ErrExists", err)
	}
	kate.Name, kate.Email = "Kate", "Üwe@example.com"
	if err := s.UpdateAccount(ctx, kate); !errors.Is(err, store.ErrExists) {
		t.Errorf("e-mail change to Üwe@ = %v, want ErrExists", err)
	}
	kate.Name, kate.Email = "x²", "kate@example.com"
	if err := s.UpdateAccount(ctx, kate); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("rename to x² = %v, want ErrInvalid", err)
	}
	if _, err := s.CreateAccount(ctx, store.Account{Name: "x²"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateAccount(x²) = %v, want ErrInvalid", err)
	}
	if _, err := s.CreateAccount(ctx, store.Account{Name: "Zoe", Email: "not an address"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateAccount with a bad e-mail = %v, want ErrInvalid", err)
	}
	kate.Name = "KATE" // the same key: allowed
	kate.Email, kate.PasswordHash, kate.Avatar = "", "new-hash", "k.png"
	if err := s.UpdateAccount(ctx, kate); err != nil {
		t.Fatalf("rename to KATE: %v", err)
	}
	if a, _ := s.AccountByName(ctx, "kate"); a.Name != "KATE" || a.Email != "" || a.PasswordHash != "new-hash" || a.Avatar != "k.png" {
		t.Errorf("after update: %+v", a)
	}
	if _, err := s.AccountByEmail(ctx, "kate@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the removed e-mail still finds %v", err)
	}
	// The removed e-mail is free again.
	mustCreate(t, s, "Karl", "KATE@example.com")
	if got, err := s.KeyConflicts(ctx); err != nil || len(got) != 0 {
		t.Errorf("KeyConflicts = %+v, %v; want none", got, err)
	}
}

// The account lookups may be prepared once; what a login sees follows
// every change at once: a rename frees the old name and its look-alikes,
// a delete frees the name, and a new account is found, however often the
// same lookup ran.
func testAccountLookupsSeeRenameAndDelete(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	kate := mustCreate(t, s, "Kate", "kate@example.com")
	found := func(name string) (store.Account, bool) {
		t.Helper()
		a, err := s.AccountByName(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return store.Account{}, false
		}
		if err != nil {
			t.Fatalf("AccountByName(%q): %v", name, err)
		}
		return a, true
	}
	for range 3 { // the same statement, run again and again
		if a, ok := found("KATE"); !ok || a.ID != kate.ID {
			t.Fatalf("AccountByName(KATE) = %+v, %v; want Kate", a, ok)
		}
	}
	if _, ok := found("Zed"); ok {
		t.Fatal("Zed found before the rename")
	}

	kate.Name = "Zed"
	if err := s.UpdateAccount(ctx, kate); err != nil {
		t.Fatal(err)
	}
	if _, ok := found("Kate"); ok {
		t.Error("after the rename Kate is still an account: a guest could not take the name")
	}
	if a, ok := found("zed"); !ok || a.ID != kate.ID {
		t.Errorf("after the rename AccountByName(zed) = %+v, %v", a, ok)
	}
	if _, err := s.AccountLookalike(ctx, "Kate"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the rename AccountLookalike(Kate) = %v", err)
	}
	if a, err := s.AccountByEmail(ctx, "KATE@example.com"); err != nil || a.Name != "Zed" {
		t.Errorf("AccountByEmail after the rename = %+v, %v", a, err)
	}

	if _, err := s.DeleteAccount(ctx, kate.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := found("Zed"); ok {
		t.Error("after the delete Zed is still an account")
	}
	if _, err := s.AccountByID(ctx, kate.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the delete AccountByID = %v", err)
	}
	if _, err := s.AccountByEmail(ctx, "kate@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the delete AccountByEmail = %v", err)
	}

	again := mustCreate(t, s, "Kate", "")
	if a, ok := found("kate"); !ok || a.ID != again.ID {
		t.Errorf("a new Kate is not found: %+v, %v", a, ok)
	}
	if again.ID <= kate.ID {
		t.Errorf("the new account has id %d, not above the deleted one's %d", again.ID, kate.ID)
	}
}

// A lookup cancelled by its context fails with the context's error and
// leaves the store usable.
func testAccountLookupAfterCancelledLookup(t *testing.T, open Opener) {
	s := open(t)
	mustCreate(t, s, "Ann", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.AccountByName(ctx, "Ann"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled AccountByName = %v", err)
	}
	if a, err := s.AccountByName(context.Background(), "ann"); err != nil || a.Name != "Ann" {
		t.Errorf("AccountByName after a cancelled one = %+v, %v", a, err)
	}
}

func testAccountLookalike(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	kate := mustCreate(t, s, "Kate1", "")
	mustCreate(t, s, "Admin", "")
	mustCreate(t, s, "Adm1n", "") // a younger look-alike: the oldest is found
	for name, want := range map[string]string{"Katel": "Kate1", "KATEl": "Kate1", "\u0410dmin": "Admin", "Adrnin": "Admin"} {
		if a, err := s.AccountLookalike(ctx, name); err != nil || a.Name != want {
			t.Errorf("AccountLookalike(%q) = %v, %v; want %s", name, a, err, want)
		}
	}
	if _, err := s.AccountLookalike(ctx, "Bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AccountLookalike(Bob) = %v", err)
	}
	kate.Name = "Zed"
	if err := s.UpdateAccount(ctx, kate); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AccountLookalike(ctx, "Katel"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after rename AccountLookalike(Katel) = %v", err)
	}
}

func testAccountNotFound(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	if _, err := s.AccountByID(ctx, 12345); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AccountByID of nobody = %v", err)
	}
	if _, err := s.AccountByEmail(ctx, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AccountByEmail(\"\") = %v", err)
	}
	if err := s.UpdateAccount(ctx, store.Account{ID: 12345, Name: "Ghost"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateAccount of nobody = %v", err)
	}
	if _, err := s.DeleteAccount(ctx, 12345); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteAccount of nobody = %v", err)
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 0 {
		t.Errorf("CountAccounts = %d, %v", n, err)
	}
}

// hashes sorts token hashes, for comparing sets of them.
func hashes(hs [][]byte) [][]byte {
	out := slices.Clone(hs)
	slices.SortFunc(out, bytes.Compare)
	return out
}

func testSessions(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	ann, bob := mustCreate(t, s, "Ann", "ann@example.com"), mustCreate(t, s, "Bob", "")
	now := time.UnixMilli(1_700_000_000_000).UTC()
	mk := func(hash string, user int64, issuer string, ttl time.Duration, persistent bool) store.SessionRecord {
		r := store.SessionRecord{TokenHash: []byte(hash), UserID: user, Issuer: issuer, Expires: now.Add(ttl), Persistent: persistent, Created: now}
		if err := s.CreateSession(ctx, r); err != nil {
			t.Fatalf("CreateSession(%s): %v", hash, err)
		}
		return r
	}
	a1 := mk("a1", ann.ID, "", time.Hour, true)
	mk("a2", ann.ID, "sso", time.Hour, false)
	mk("a3", ann.ID, "sso", time.Minute, false)
	mk("b1", bob.ID, "sso", time.Hour, false)
	if err := s.CreateSession(ctx, store.SessionRecord{UserID: ann.ID, Expires: now.Add(time.Hour)}); err == nil {
		t.Error("a session without a token hash was stored")
	}
	if err := s.CreateSession(ctx, store.SessionRecord{TokenHash: []byte("a1"), UserID: ann.ID, Expires: now.Add(time.Hour)}); err == nil {
		t.Error("a second session with the same token hash was stored")
	}
	if err := s.CreateSession(ctx, store.SessionRecord{TokenHash: []byte("x"), UserID: 9999, Expires: now.Add(time.Hour)}); err == nil {
		t.Error("a session of no account was stored")
	}

	rec, acct, err := s.SessionAccount(ctx, []byte("a1"), now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec, a1) || !reflect.DeepEqual(acct, ann) {
		t.Fatalf("SessionAccount = %+v, %+v; want %+v, %+v", rec, acct, a1, ann)
	}
	// Expiry: good until the instant it expires.
	if _, _, err := s.SessionAccount(ctx, []byte("a3"), now.Add(time.Minute-time.Millisecond)); err != nil {
		t.Errorf("a3 just before it expires: %v", err)
	}
	if _, _, err := s.SessionAccount(ctx, []byte("a3"), now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a3 once expired: %v, want ErrNotFound", err)
	}
	if _, _, err := s.SessionAccount(ctx, []byte("nope"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}

	// DeleteUserSessions removes one issuer's sessions of one account.
	got, err := s.DeleteUserSessions(ctx, ann.ID, "sso")
	if err != nil || !reflect.DeepEqual(hashes(got), [][]byte{[]byte("a2"), []byte("a3")}) {
		t.Fatalf("DeleteUserSessions(ann, sso) = %q, %v", got, err)
	}
	if _, _, err := s.SessionAccount(ctx, []byte("a2"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a2 after DeleteUserSessions: %v", err)
	}
	for _, h := range []string{"a1", "b1"} {
		if _, _, err := s.SessionAccount(ctx, []byte(h), now); err != nil {
			t.Errorf("%s after DeleteUserSessions(ann, sso): %v", h, err)
		}
	}
	if got, err := s.DeleteUserSessions(ctx, ann.ID, "sso"); err != nil || len(got) != 0 {
		t.Errorf("DeleteUserSessions again = %q, %v", got, err)
	}

	if ok, err := s.DeleteSession(ctx, []byte("b1")); err != nil || !ok {
		t.Errorf("DeleteSession(b1) = %v, %v", ok, err)
	}
	if ok, err := s.DeleteSession(ctx, []byte("b1")); err != nil || ok {
		t.Errorf("DeleteSession(b1) again = %v, %v", ok, err)
	}

	// Deleting an account ends its sessions and says which.
	mk("a4", ann.ID, "sso", time.Hour, false)
	got, err = s.DeleteAccount(ctx, ann.ID)
	if err != nil || !reflect.DeepEqual(hashes(got), [][]byte{[]byte("a1"), []byte("a4")}) {
		t.Fatalf("DeleteAccount(ann) = %q, %v", got, err)
	}
	if _, _, err := s.SessionAccount(ctx, []byte("a1"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a1 after its account was deleted: %v", err)
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 1 {
		t.Errorf("CountAccounts = %d, %v; want 1", n, err)
	}
}

func testKV(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	if _, ok, err := s.KVGet(ctx, "p", "k", now); err != nil || ok {
		t.Fatalf("KVGet of nothing = %v, %v", ok, err)
	}
	if err := s.KVSet(ctx, "p", "k", []byte("one"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "q", "k", []byte("other plugin"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.KVGet(ctx, "p", "k", now.Add(100*365*24*time.Hour)); err != nil || !ok || string(v) != "one" {
		t.Fatalf("KVGet = %q, %v, %v", v, ok, err)
	}
	// Set replaces the value and the expiry.
	if err := s.KVSet(ctx, "p", "k", []byte("two"), now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.KVGet(ctx, "p", "k", now); err != nil || !ok || string(v) != "two" {
		t.Fatalf("KVGet after the second set = %q, %v, %v", v, ok, err)
	}
	if _, ok, err := s.KVGet(ctx, "p", "k", now.Add(time.Second)); err != nil || ok {
		t.Fatalf("KVGet once expired = %v, %v", ok, err)
	}
	if v, ok, err := s.KVGet(ctx, "q", "k", now); err != nil || !ok || string(v) != "other plugin" {
		t.Fatalf("the other plugin's key = %q, %v, %v", v, ok, err)
	}
	// An empty value is a value; binary values come back as they were.
	if err := s.KVSet(ctx, "p", "empty", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.KVGet(ctx, "p", "empty", now); err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("empty value = %#v, %v, %v", v, ok, err)
	}
	bin := []byte{0, 1, 2, 0xff, 0}
	if err := s.KVSet(ctx, "p", "bin", bin, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.KVGet(ctx, "p", "bin", now); err != nil || !ok || !bytes.Equal(v, bin) {
		t.Fatalf("binary value = %v, %v, %v", v, ok, err)
	}
	if err := s.KVDelete(ctx, "p", "bin"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.KVGet(ctx, "p", "bin", now); err != nil || ok {
		t.Fatalf("KVGet after delete = %v, %v", ok, err)
	}
	if err := s.KVDelete(ctx, "p", "bin"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
}

// testPurgeExpired: what expired by now is gone (an earlier time does not
// find it any more), the rest stays.
func testPurgeExpired(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	ann := mustCreate(t, s, "Ann", "")
	for hash, exp := range map[string]time.Time{"old": now.Add(-time.Second), "edge": now, "new": now.Add(time.Hour)} {
		if err := s.CreateSession(ctx, store.SessionRecord{TokenHash: []byte(hash), UserID: ann.ID, Expires: exp, Created: now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.KVSet(ctx, "p", hash, []byte(hash), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.KVSet(ctx, "p", "forever", []byte("x"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.PurgeExpired(ctx, now); err != nil {
		t.Fatal(err)
	}
	before := now.Add(-time.Hour)
	for hash, want := range map[string]bool{"old": false, "edge": false, "new": true} {
		_, _, err := s.SessionAccount(ctx, []byte(hash), before)
		if got := err == nil; got != want {
			t.Errorf("session %s after the purge: %v, want kept=%v", hash, err, want)
		}
		_, ok, err := s.KVGet(ctx, "p", hash, before)
		if err != nil || ok != want {
			t.Errorf("kv %s after the purge: %v, %v; want kept=%v", hash, ok, err, want)
		}
	}
	if _, ok, err := s.KVGet(ctx, "p", "forever", before); err != nil || !ok {
		t.Errorf("a key without expiry was purged: %v, %v", ok, err)
	}
}
