package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
)

func testSanctionQuery(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	add := func(kind, user string, room int64, expires time.Time) int64 {
		r, err := s.AddSanction(ctx, store.SanctionRecord{Sanction: chat.Sanction{Kind: kind, User: user, Room: room, Created: now, Expires: expires}})
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
	if _, err := s.LiftSanction(ctx, lifted, "ann", now); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("lift twice: %v", err)
	}
	for _, c := range []struct {
		q    store.SanctionQuery
		want int
	}{
		{store.SanctionQuery{}, 4},
		{store.SanctionQuery{User: "BOB", Kind: "mute"}, 3},
		{store.SanctionQuery{Room: 1}, 3},
		{store.SanctionQuery{ActiveAt: now}, 3},
		{store.SanctionQuery{ActiveAt: now.Add(time.Minute), Room: 1}, 1},
		{store.SanctionQuery{User: "nobody"}, 0},
	} {
		list, err := s.Sanctions(ctx, c.q)
		if err != nil || len(list) != c.want {
			t.Errorf("%+v: %d sanctions, want %d: %v", c.q, len(list), c.want, err)
		}
		for i := 1; i < len(list); i++ {
			if list[i].ID <= list[i-1].ID {
				t.Errorf("%+v: not by id: %d after %d", c.q, list[i].ID, list[i-1].ID)
			}
		}
	}
	if list, err := s.Sanctions(ctx, store.SanctionQuery{User: "nobody"}); err != nil || list == nil {
		t.Errorf("an empty list is %#v, %v; want empty, not nil", list, err)
	}
}

func testLiftSanction(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	in := store.SanctionRecord{Sanction: chat.Sanction{
		Kind: chat.SanctionBan, User: "Élise", IP: "192.0.2.0/24", Room: 3, Reason: "spam",
		Actor: "mod", Source: "manual", Created: now, Expires: now.Add(time.Hour),
	}}
	added, err := s.AddSanction(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if added.ID <= 0 || added.UserKey != chat.NameKey("Élise") {
		t.Fatalf("added %+v", added)
	}
	list, err := s.Sanctions(ctx, store.SanctionQuery{User: "ÉLISE"})
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], added) {
		t.Fatalf("Sanctions = %+v, %v; want %+v", list, err, added)
	}
	liftedAt := now.Add(time.Minute)
	got, err := s.LiftSanction(ctx, added.ID, "admin", liftedAt)
	if err != nil {
		t.Fatal(err)
	}
	want := added
	want.Lifted, want.LiftedBy = liftedAt, "admin"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LiftSanction = %+v, want %+v", got, want)
	}
	if list, err := s.Sanctions(ctx, store.SanctionQuery{}); err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Fatalf("after the lift: %+v, %v", list, err)
	}
	if list, err := s.Sanctions(ctx, store.SanctionQuery{ActiveAt: now}); err != nil || len(list) != 0 {
		t.Fatalf("a lifted sanction is active: %+v, %v", list, err)
	}
	if _, err := s.LiftSanction(ctx, 9999, "admin", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("lift unknown: %v", err)
	}
	// Two moderators lift the same sanction at once: one of them does.
	other, err := s.AddSanction(ctx, store.SanctionRecord{Sanction: chat.Sanction{Kind: chat.SanctionMute, User: "x", Created: now}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.LiftSanction(ctx, other.ID, fmt.Sprint("mod", i), now) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrInvalid):
			t.Errorf("a concurrent lift: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent lifts succeeded, want 1", ok)
	}
}

func testHeldMessages(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	at := time.UnixMilli(1_700_000_000_000).UTC()
	hold := func(group string, room int64, text string) store.HeldRecord {
		h := store.HeldRecord{
			Message: chat.Message{Group: group, RoomID: room, From: "bob", Text: text,
				Style: chat.Style{Bold: true, Color: "#123456"}, Emotion: "e3", Time: at},
			Note: "links", Plugin: "moderation",
		}
		id, err := s.HoldMessage(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		h.ID = id
		return h
	}
	h1 := hold(chat.DefaultGroup, 1, "one")
	h2 := hold(chat.DefaultGroup, 2, "two")
	h3 := hold(chat.DefaultGroup, 1, "three")
	hold("other", 1, "elsewhere")
	if h2.ID <= h1.ID || h3.ID <= h2.ID {
		t.Fatalf("ids %d, %d, %d", h1.ID, h2.ID, h3.ID)
	}
	room1, err := s.HeldMessages(ctx, chat.DefaultGroup, 1)
	if err != nil || !reflect.DeepEqual(room1, []store.HeldRecord{h1, h3}) {
		t.Fatalf("held in room 1 = %+v, %v; want %+v", room1, err, []store.HeldRecord{h1, h3})
	}
	all, err := s.HeldMessages(ctx, chat.DefaultGroup, 0)
	if err != nil || !reflect.DeepEqual(all, []store.HeldRecord{h1, h2, h3}) {
		t.Fatalf("held in every room = %+v, %v", all, err)
	}
	if none, err := s.HeldMessages(ctx, chat.DefaultGroup, 9); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("held in an empty room = %#v, %v", none, err)
	}
	if got, err := s.HeldMessage(ctx, h2.ID); err != nil || !reflect.DeepEqual(got, h2) {
		t.Fatalf("HeldMessage = %+v, %v", got, err)
	}
	got, err := s.TakeHeld(ctx, h1.ID)
	if err != nil || !reflect.DeepEqual(got, h1) {
		t.Fatalf("TakeHeld = %+v, %v", got, err)
	}
	if _, err := s.TakeHeld(ctx, h1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TakeHeld twice: %v", err)
	}
	if _, err := s.HeldMessage(ctx, h1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HeldMessage of a taken one: %v", err)
	}
	if room1, err := s.HeldMessages(ctx, chat.DefaultGroup, 1); err != nil || len(room1) != 1 || room1[0].ID != h3.ID {
		t.Errorf("held in room 1 after the take = %+v, %v", room1, err)
	}
}

// testTakeHeldOnce: moderators approving the same message at once (on
// one node or several) release it once.
func testTakeHeldOnce(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	ctx := context.Background()
	id, err := a.HoldMessage(ctx, store.HeldRecord{Message: chat.Message{Group: chat.DefaultGroup, RoomID: 1, From: "bob", Text: "once", Time: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	const takers = 6
	var wg sync.WaitGroup
	errs := make([]error, takers)
	for i := range takers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() { _, errs[i] = s.TakeHeld(ctx, id) })
	}
	wg.Wait()
	taken := 0
	for _, err := range errs {
		switch {
		case err == nil:
			taken++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("a concurrent take: %v", err)
		}
	}
	if taken != 1 {
		t.Fatalf("the message was taken %d times, want 1", taken)
	}
}

func testDocVersions(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	if _, err := s.DocGet(ctx, "p", "board"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DocGet of nothing: %v", err)
	}
	if _, err := s.DocPut(ctx, "p", "board", []byte("v1"), 1, now); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("put at version 1 of a missing document: %v", err)
	}
	v, err := s.DocPut(ctx, "p", "board", []byte("v1"), 0, now)
	if err != nil || v != 1 {
		t.Fatalf("create: version %d, %v", v, err)
	}
	if _, err := s.DocPut(ctx, "p", "board", []byte("again"), 0, now); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create twice: %v", err)
	}
	later := now.Add(time.Second)
	if v, err = s.DocPut(ctx, "p", "board", []byte("v2"), 1, later); err != nil || v != 2 {
		t.Fatalf("update at 1: version %d, %v", v, err)
	}
	if _, err := s.DocPut(ctx, "p", "board", []byte("stale"), 1, later); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update at a stale version: %v", err)
	}
	if v, err = s.DocPut(ctx, "p", "board", []byte("v3"), store.AnyVersion, later); err != nil || v != 3 {
		t.Fatalf("update at any version: %d, %v", v, err)
	}
	if v, err = s.DocPut(ctx, "p", "fresh", nil, store.AnyVersion, now); err != nil || v != 1 {
		t.Fatalf("create at any version: %d, %v", v, err)
	}
	d, err := s.DocGet(ctx, "p", "board")
	want := store.DocRecord{Key: "board", Value: []byte("v3"), Size: 2, Version: 3, Updated: later}
	if err != nil || !reflect.DeepEqual(d, want) {
		t.Fatalf("DocGet = %+v, %v; want %+v", d, err, want)
	}
	if d, err := s.DocGet(ctx, "p", "fresh"); err != nil || d.Value == nil || len(d.Value) != 0 || d.Size != 0 {
		t.Fatalf("empty document = %#v, %v", d, err)
	}
	if _, err := s.DocGet(ctx, "q", "board"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another plugin's document: %v", err)
	}
	list, err := s.DocList(ctx, "p", "")
	wantList := []store.DocRecord{
		{Key: "board", Size: 2, Version: 3, Updated: later},
		{Key: "fresh", Size: 0, Version: 1, Updated: now},
	}
	if err != nil || !reflect.DeepEqual(list, wantList) {
		t.Fatalf("DocList = %+v, %v; want %+v", list, err, wantList)
	}
	if list, err := s.DocList(ctx, "nobody", ""); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("DocList of nothing = %#v, %v", list, err)
	}

	if err := s.DocDelete(ctx, "p", "board", 2); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete at a stale version: %v", err)
	}
	if err := s.DocDelete(ctx, "p", "board", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.DocDelete(ctx, "p", "board", store.AnyVersion); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete a missing document: %v", err)
	}
	if err := s.DocDelete(ctx, "p", "fresh", store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	// A document made again starts at version 1.
	if v, err := s.DocPut(ctx, "p", "board", []byte("new"), 0, now); err != nil || v != 1 {
		t.Fatalf("create after delete: %d, %v", v, err)
	}
}

// testDocPutRace: writers that all read version n and put at n (on one
// node or several): one wins, the others get ErrConflict, none is lost
// silently.
func testDocPutRace(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	ctx, now := context.Background(), time.Now()
	for _, expect := range []int64{0, 1} {
		const writers = 6
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() { _, errs[i] = s.DocPut(ctx, "p", "k", []byte(fmt.Sprint(i)), expect, now) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("a concurrent put at %d: %v", expect, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d puts at version %d succeeded, want 1", won, expect)
		}
		if d, err := a.DocGet(ctx, "p", "k"); err != nil || d.Version != expect+1 {
			t.Fatalf("after the puts at %d: %+v, %v", expect, d, err)
		}
	}
}

// Prefixes are compared exactly: wildcards and case folding do not leak
// into DocList, and the list is in byte order of the keys.
func testDocListPrefixIsExact(t *testing.T, open Opener) {
	s, ctx, now := open(t), context.Background(), time.Now()
	for _, k := range []string{"a%b", "axb", "A_1", "a_1", "a_2", "b", "é", "e"} {
		if _, err := s.DocPut(ctx, "p", k, []byte(k), 0, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DocPut(ctx, "q", "a_3", nil, 0, now); err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string]int{"a%": 1, "a_": 2, "A": 1, "": 8, "zz": 0, "é": 1} {
		list, err := s.DocList(ctx, "p", prefix)
		if err != nil || len(list) != want {
			t.Errorf("prefix %q: %d documents (%+v), want %d: %v", prefix, len(list), list, want, err)
		}
	}
	list, err := s.DocList(ctx, "p", "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, d := range list {
		keys = append(keys, d.Key)
		if d.Value != nil {
			t.Errorf("the listing has the value of %q", d.Key)
		}
	}
	if want := []string{"A_1", "a%b", "a_1", "a_2", "axb", "b", "e", "é"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys in the order %q, want %q", keys, want)
	}
	if _, err := s.DocPut(ctx, "p", "b", nil, 2, now); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("put at a wrong version: %v", err)
	}
}
