package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// Names no account has are answered by the filter; every account created
// or renamed through the store is found by name and by look-alike, also
// after the filter has outgrown its size and been rebuilt.
func TestNameFilterKnowsEveryAccount(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	s.names.mu.Lock()
	s.names.least = 8
	if err := s.names.rebuildLocked(ctx, s, 0); err != nil {
		t.Fatal(err)
	}
	s.names.mu.Unlock()
	for i := range 60 {
		if _, err := s.CreateAccount(ctx, Account{Name: fmt.Sprintf("Member%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.AccountByName(ctx, "member7")
	if err != nil {
		t.Fatal(err)
	}
	a.Name = "Renamed"
	if err := s.UpdateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		name := fmt.Sprintf("member%d", i)
		if i == 7 {
			name = "renamed"
		}
		if _, err := s.AccountByName(ctx, name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// A look-alike: the digit 0 for the letter O is not one, but
		// capitals are the same skeleton.
		if _, err := s.AccountLookalike(ctx, "MEMBER"+name[6:]); err != nil && i != 7 {
			t.Fatalf("looking like %s: %v", name, err)
		}
	}
	if s.names.f == nil {
		t.Fatal("the filter was turned off")
	}
	if s.names.mayHave(ctx, 'k', "nobody-has-this-name") {
		t.Error("the filter holds a name nobody has (a false positive is possible but unlikely at this size)")
	}
	if _, err := s.AccountByName(ctx, "nobody-has-this-name"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown name: %v, want ErrNotFound", err)
	}
}

// A store opened while another has the file runs without a filter, and
// the first store's filter turns off at its next lookup, which then finds
// what the other wrote. Once both are closed, the next store is alone
// again.
func TestNameFilterTurnsOffWhenAnotherStoreOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parlor.db")
	ctx := context.Background()
	a, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AccountByName(ctx, "nora"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before: %v", err)
	}
	if a.names.f == nil {
		t.Fatal("the filter of a store alone on its file is off")
	}
	b, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if b.names.f != nil {
		t.Fatal("the second store on the file has a filter")
	}
	if _, err := b.CreateAccount(ctx, Account{Name: "Nora"}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.AccountByName(ctx, "nora"); err != nil || got.Name != "Nora" {
		t.Fatalf("after the other store created it: %+v, %v", got, err)
	}
	if a.names.f != nil {
		t.Fatal("the first store's filter is still on after another store opened the file")
	}
	for _, s := range []*SQLite{a, b} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c := openTest(t, path)
	if c.names.f == nil {
		t.Fatal("a store alone on the file again has no filter")
	}
	if _, err := c.AccountLookalike(ctx, "NORA"); err != nil {
		t.Fatalf("the reopened store: %v", err)
	}
}
