package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
)

func openTemp(t *testing.T) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Prefixes are compared exactly: LIKE's wildcards and case folding do not
// leak into DocList.
func TestDocListPrefixIsExact(t *testing.T) {
	s, ctx, now := openTemp(t), context.Background(), time.Now()
	for _, k := range []string{"a%b", "axb", "A_1", "a_1", "a_2", "b"} {
		if _, err := s.DocPut(ctx, "p", k, []byte(k), 0, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DocPut(ctx, "q", "a_3", nil, 0, now); err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string]int{"a%": 1, "a_": 2, "A": 1, "": 6, "zz": 0} {
		list, err := s.DocList(ctx, "p", prefix)
		if err != nil || len(list) != want {
			t.Errorf("prefix %q: %d documents (%+v), want %d: %v", prefix, len(list), list, want, err)
		}
	}
	if _, err := s.DocPut(ctx, "p", "b", nil, 2, now); !errors.Is(err, ErrConflict) {
		t.Fatalf("put at a wrong version: %v", err)
	}
}

func TestSanctionQuery(t *testing.T) {
	s, ctx := openTemp(t), context.Background()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	add := func(kind, user string, room int64, expires time.Time) int64 {
		r, err := s.AddSanction(ctx, SanctionRecord{Sanction: chat.Sanction{Kind: kind, User: user, Room: room, Created: now, Expires: expires}})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	add("mute", "Bob", 1, time.Time{})
	add("mute", "bob", 0, now.Add(time.Minute))
	add("mute", "bob", 2, time.Time{})
	lifted := add("ban", "bob", 0, time.Time{})
	if _, err := s.LiftSanction(ctx, lifted, "ann", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LiftSanction(ctx, lifted, "ann", now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("lift twice: %v", err)
	}
	for _, c := range []struct {
		q    SanctionQuery
		want int
	}{
		{SanctionQuery{}, 4},
		{SanctionQuery{User: "BOB", Kind: "mute"}, 3},
		{SanctionQuery{Room: 1}, 3},
		{SanctionQuery{ActiveAt: now}, 3},
		{SanctionQuery{ActiveAt: now.Add(time.Minute), Room: 1}, 1},
	} {
		list, err := s.Sanctions(ctx, c.q)
		if err != nil || len(list) != c.want {
			t.Errorf("%+v: %d sanctions, want %d: %v", c.q, len(list), c.want, err)
		}
	}
}
