package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// The account lookups run prepared statements (prepared once at open);
// these tests check that what a login sees follows every change at once:
// a rename frees the old name and its look-alikes, a delete frees the
// name, and a new account is found, however often the same lookup ran.
func TestAccountLookupsSeeRenameAndDelete(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	kate := mustCreate(t, s, "Kate", "kate@example.com")
	found := func(name string) (Account, bool) {
		t.Helper()
		a, err := s.AccountByName(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return Account{}, false
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
	if _, err := s.AccountLookalike(ctx, "Kate"); !errors.Is(err, ErrNotFound) {
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
	if _, err := s.AccountByID(ctx, kate.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("after the delete AccountByID = %v", err)
	}
	if _, err := s.AccountByEmail(ctx, "kate@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after the delete AccountByEmail = %v", err)
	}

	again := mustCreate(t, s, "Kate", "")
	if a, ok := found("kate"); !ok || a.ID != again.ID {
		t.Errorf("a new Kate is not found: %+v, %v", a, ok)
	}
}

// A lookup cancelled by its context fails with the context's error and
// leaves the prepared statement usable.
func TestAccountLookupAfterCancelledLookup(t *testing.T) {
	s := newTestStore(t)
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

// BenchmarkAccountByName is a guest login's lookup: a name no account has.
func BenchmarkAccountByName(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	for i := range 100 {
		if _, err := s.CreateAccount(ctx, Account{Name: fmt.Sprintf("user%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.AccountByName(ctx, "guest"); !errors.Is(err, ErrNotFound) {
			b.Fatal(err)
		}
	}
}
