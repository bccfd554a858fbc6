package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk/schedule"
)

func fullRoom() chat.RoomInfo {
	return chat.RoomInfo{
		Group:          chat.DefaultGroup,
		Name:           "Lobby",
		Owner:          "alice",
		Desc:           "the main room",
		Max:            42,
		Speaker:        "bob",
		Member:         true,
		Password:       "s3cret",
		PassAllMessage: true,
		Open:           true,
		ST:             2,
		Welcome:        "welcome!",
		Audio:          true,
		Video:          true,
		Whiteboard:     true,
		Origin:         chat.OriginAPI,
		Schedule:       []schedule.Entry{{O: "daily", S: "09:00", E: "17:00"}},
		Zone:           "Europe/Paris",
	}
}

func msg(group string, room int64, text string, ts time.Time) chat.Message {
	return chat.Message{Group: group, RoomID: room, From: "alice", Text: text, Time: ts}
}

// texts are the texts of msgs, in order.
func texts(msgs []chat.Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// ids are the ids of msgs, in order.
func ids(msgs []chat.Message) []int64 {
	out := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func testRoomRoundTrip(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()

	want := fullRoom()
	id, err := s.SaveRoom(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if id <= 0 {
		t.Fatalf("new id %d", id)
	}
	want.ID = id
	// A room with every flag off and a different origin.
	other := chat.RoomInfo{Group: chat.DefaultGroup, Name: "Quiet", Origin: chat.OriginConfig}
	if other.ID, err = s.SaveRoom(ctx, other); err != nil {
		t.Fatal(err)
	}
	if other.ID <= id {
		t.Fatalf("second id %d not after %d", other.ID, id)
	}

	got, err := s.Rooms(ctx, chat.DefaultGroup)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []chat.RoomInfo{want, other}) {
		t.Fatalf("Rooms:\n got %+v\nwant %+v", got, []chat.RoomInfo{want, other})
	}

	// Upsert by id replaces every field.
	want.Name, want.Password, want.Member, want.Max, want.Origin, want.Zone, want.Schedule = "Renamed", "", false, 0, chat.OriginConfig, "", nil
	if id2, err := s.SaveRoom(ctx, want); err != nil || id2 != id {
		t.Fatalf("update: id %d err %v", id2, err)
	}
	// Saving an explicit unknown id inserts it.
	explicit := chat.RoomInfo{ID: 1000, Group: chat.DefaultGroup, Name: "Explicit"}
	if id3, err := s.SaveRoom(ctx, explicit); err != nil || id3 != 1000 {
		t.Fatalf("explicit: id %d err %v", id3, err)
	}
	got, err = s.Rooms(ctx, chat.DefaultGroup)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []chat.RoomInfo{want, other, explicit}) {
		t.Fatalf("Rooms after update:\n got %+v\nwant %+v", got, []chat.RoomInfo{want, other, explicit})
	}
	// New ids continue after the largest one ever used.
	if id4, err := s.SaveRoom(ctx, chat.RoomInfo{Group: chat.DefaultGroup, Name: "Next"}); err != nil || id4 <= 1000 {
		t.Fatalf("after explicit: id %d err %v", id4, err)
	}

	if _, err := s.SaveRoom(ctx, chat.RoomInfo{ID: -1}); err == nil {
		t.Error("negative id accepted")
	}
	empty, err := s.Rooms(ctx, "nobody")
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("Rooms of empty group = %#v, %v; want empty non-nil", empty, err)
	}
}

func testSurvivesReopen(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	room := fullRoom()
	var err error
	if room.ID, err = s.SaveRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600))
	in := []chat.Message{
		{Group: room.Group, RoomID: room.ID, From: "alice", Text: "hello",
			Style: chat.Style{Bold: true, Italic: true, Underline: true, Color: "#ff0000"}, Time: base},
		{Group: room.Group, RoomID: room.ID, From: "bob", Text: "hi", Time: base.Add(time.Nanosecond)},
		{Group: room.Group, RoomID: room.ID, From: "carol", Text: "no time"},
	}
	if err := s.AppendMessages(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t)
	rooms, err := s.Rooms(ctx, room.Group)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rooms, []chat.RoomInfo{room}) {
		t.Fatalf("rooms after reopen:\n got %+v\nwant %+v", rooms, []chat.RoomInfo{room})
	}
	got := wholeHistory(t, s, room.Group, room.ID, len(in))
	for i, m := range got {
		w := in[i]
		if i > 0 && m.ID <= got[i-1].ID {
			t.Errorf("message %d id %d not after %d", i, m.ID, got[i-1].ID)
		}
		if m.Group != w.Group || m.RoomID != w.RoomID || m.From != w.From || m.Text != w.Text || m.Style != w.Style {
			t.Errorf("message %d = %+v, want %+v", i, m, w)
		}
		if !m.Time.Equal(w.Time) {
			t.Errorf("message %d time %v, want %v", i, m.Time, w.Time)
		}
		if !w.Time.IsZero() && m.Time.Location() != time.UTC {
			t.Errorf("message %d time in %v, want UTC", i, m.Time.Location())
		}
	}
	if !got[2].Time.IsZero() {
		t.Errorf("zero time came back as %v", got[2].Time)
	}
	// The input was not touched.
	if in[0].ID != 0 {
		t.Errorf("input message got id %d", in[0].ID)
	}
	if last, err := s.LastMessageID(ctx); err != nil || last != got[2].ID {
		t.Errorf("LastMessageID after reopen = %d, %v; want %d", last, err, got[2].ID)
	}
}

func testDeleteRoom(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	keep, err := s.SaveRoom(ctx, chat.RoomInfo{Group: chat.DefaultGroup, Name: "keep"})
	if err != nil {
		t.Fatal(err)
	}
	drop, err := s.SaveRoom(ctx, chat.RoomInfo{Group: chat.DefaultGroup, Name: "drop"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.AppendMessages(ctx, []chat.Message{
		msg(chat.DefaultGroup, keep, "k1", now),
		msg(chat.DefaultGroup, drop, "d1", now),
		msg(chat.DefaultGroup, drop, "d2", now),
	}); err != nil {
		t.Fatal(err)
	}

	// Wrong group: not found, nothing deleted.
	if err := s.DeleteRoom(ctx, "other", drop); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete in wrong group: %v, want ErrNotFound", err)
	}
	if got, err := s.RecentMessages(ctx, chat.DefaultGroup, drop, 10); err != nil || len(got) != 2 {
		t.Fatalf("history after a delete in the wrong group: %+v, %v", got, err)
	}
	if err := s.DeleteRoom(ctx, chat.DefaultGroup, drop); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRoom(ctx, chat.DefaultGroup, drop); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteRoom(ctx, chat.DefaultGroup, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete unknown: %v, want ErrNotFound", err)
	}

	if got, err := s.RecentMessages(ctx, chat.DefaultGroup, drop, 10); err != nil || len(got) != 0 {
		t.Fatalf("history of deleted room: %v, %v", got, err)
	}
	if got, err := s.RecentMessages(ctx, chat.DefaultGroup, keep, 10); err != nil || len(got) != 1 || got[0].Text != "k1" {
		t.Fatalf("history of kept room: %+v, %v", got, err)
	}
	rooms, err := s.Rooms(ctx, chat.DefaultGroup)
	if err != nil || len(rooms) != 1 || rooms[0].ID != keep {
		t.Fatalf("rooms after delete: %+v, %v", rooms, err)
	}
	// A deleted room's id is not handed out again.
	if id, err := s.SaveRoom(ctx, chat.RoomInfo{Group: chat.DefaultGroup, Name: "new"}); err != nil || id <= drop {
		t.Fatalf("new room id %d (deleted %d), err %v", id, drop, err)
	}
	// Saving the deleted room's id again (a config room coming back)
	// starts it with an empty history.
	if _, err := s.SaveRoom(ctx, chat.RoomInfo{ID: drop, Group: chat.DefaultGroup, Name: "back"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RecentMessages(ctx, chat.DefaultGroup, drop, 10); err != nil || len(got) != 0 {
		t.Fatalf("history of the room saved again: %v, %v", got, err)
	}
}

func testRecentMessagesLastN(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var in []chat.Message
	for i := range 25 {
		in = append(in, msg(chat.DefaultGroup, 1, fmt.Sprint(i), base.Add(time.Duration(i)*time.Second)))
	}
	// Two batches, to check the order across transactions too.
	if err := s.AppendMessages(ctx, in[:10]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendMessages(ctx, in[10:]); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecentMessages(ctx, chat.DefaultGroup, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 {
		t.Fatalf("got %d messages, want 7", len(got))
	}
	for i, m := range got {
		want := in[18+i]
		if m.Text != want.Text || !m.Time.Equal(want.Time) {
			t.Errorf("got[%d] = %q at %v, want %q at %v", i, m.Text, m.Time, want.Text, want.Time)
		}
		if i > 0 && m.ID <= got[i-1].ID {
			t.Errorf("ids not increasing: %d after %d", m.ID, got[i-1].ID)
		}
	}
	all, err := s.RecentMessages(ctx, chat.DefaultGroup, 1, 100)
	if err != nil || len(all) != 25 || all[0].Text != "0" || all[24].Text != "24" {
		t.Fatalf("all: %d messages, %v", len(all), err)
	}
	none, err := s.RecentMessages(ctx, chat.DefaultGroup, 1, 0)
	if err != nil || none == nil || len(none) != 0 {
		t.Fatalf("n=0: %#v, %v", none, err)
	}
	empty, err := s.RecentMessages(ctx, chat.DefaultGroup, 2, 10)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("room without messages: %#v, %v", empty, err)
	}
}

// wholeHistory returns the history of a room that should hold n
// messages, failing the test when it holds another number.
func wholeHistory(t *testing.T, s Store, group string, room int64, n int) []chat.Message {
	t.Helper()
	got, err := s.RecentMessages(context.Background(), group, room, n+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
	return got
}

// Batches of every size from 1 to past a hundred store every message,
// in order, with all its fields, numbered or not.
func testBatchesOfEverySize(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var in []chat.Message
	for size := 1; size <= 131; size += 13 {
		id, err := s.LastMessageID(ctx) // the chat group numbers above it
		if err != nil {
			t.Fatal(err)
		}
		batch := make([]chat.Message, size)
		for i := range batch {
			k := len(in) + i
			batch[i] = chat.Message{Group: chat.DefaultGroup, RoomID: 4, From: fmt.Sprintf("u%d", k%7), Text: fmt.Sprintf("m%d", k),
				Style: chat.Style{Bold: k%2 == 0, Italic: k%3 == 0, Underline: k%5 == 0, Color: fmt.Sprintf("#%06x", k)},
				Time:  base.Add(time.Duration(k) * time.Millisecond)}
			if size%2 == 1 {
				id++
				batch[i].ID = id
			}
		}
		if err := s.AppendMessages(ctx, batch); err != nil {
			t.Fatalf("batch of %d: %v", size, err)
		}
		in = append(in, batch...)
	}
	got := wholeHistory(t, s, chat.DefaultGroup, 4, len(in))
	for i, m := range got {
		w := in[i]
		if w.ID != 0 && m.ID != w.ID || m.From != w.From || m.Text != w.Text || m.Style != w.Style || !m.Time.Equal(w.Time) {
			t.Fatalf("message %d = %+v, want %+v", i, m, w)
		}
		if i > 0 && m.ID <= got[i-1].ID {
			t.Fatalf("message %d id %d not after %d", i, m.ID, got[i-1].ID)
		}
	}
}

func testGroupIsolation(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	a, err := s.SaveRoom(ctx, chat.RoomInfo{Group: "a", Name: "room"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.SaveRoom(ctx, chat.RoomInfo{Group: "b", Name: "room"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Same room id in two groups must not mix either.
	if err := s.AppendMessages(ctx, []chat.Message{
		msg("a", a, "a-in-a", now), msg("b", b, "b-in-b", now), msg("b", a, "a-id-in-b", now),
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		group string
		room  int64
		want  []string
	}{
		{"a", a, []string{"a-in-a"}},
		{"b", b, []string{"b-in-b"}},
		{"b", a, []string{"a-id-in-b"}},
		{"a", b, []string{}},
	} {
		got, err := s.RecentMessages(ctx, tc.group, tc.room, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			if m.Group != tc.group {
				t.Errorf("message %q has group %q", m.Text, m.Group)
			}
		}
		if !reflect.DeepEqual(texts(got), tc.want) {
			t.Errorf("group %q room %d: %q, want %q", tc.group, tc.room, texts(got), tc.want)
		}
	}
	for group, want := range map[string]int64{"a": a, "b": b} {
		rooms, err := s.Rooms(ctx, group)
		if err != nil || len(rooms) != 1 || rooms[0].ID != want {
			t.Errorf("Rooms(%q) = %+v, %v", group, rooms, err)
		}
	}
	// Deleting a's room leaves b's messages filed under the same room id.
	if err := s.DeleteRoom(ctx, "a", a); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RecentMessages(ctx, "b", a, 10); err != nil || len(got) != 1 {
		t.Errorf("group b history under room %d after deleting it in a: %+v, %v", a, got, err)
	}
}

func testConcurrentAppend(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	const writers, batches, per = 8, 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				batch := make([]chat.Message, per)
				for i := range batch {
					batch[i] = msg(chat.DefaultGroup, 1, fmt.Sprintf("%d/%d/%d", w, b, i), time.Now())
				}
				if err := s.AppendMessages(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// Readers at the same time must not get in the way.
	wg.Go(func() {
		for range 50 {
			if _, err := s.RecentMessages(ctx, chat.DefaultGroup, 1, 20); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	const total = writers * batches * per
	got, err := s.RecentMessages(ctx, chat.DefaultGroup, 1, total+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != total {
		t.Fatalf("got %d messages, want %d", len(got), total)
	}
	seen := make(map[string]bool, total)
	last := make(map[int]int) // writer -> last batch*per+i seen
	for i, m := range got {
		if seen[m.Text] {
			t.Fatalf("duplicate %q", m.Text)
		}
		seen[m.Text] = true
		if i > 0 && m.ID <= got[i-1].ID {
			t.Fatalf("ids not increasing at %d", i)
		}
		// Each writer's messages keep their order.
		var w, b, k int
		if _, err := fmt.Sscanf(m.Text, "%d/%d/%d", &w, &b, &k); err != nil {
			t.Fatal(err)
		}
		seq := b*per + k
		if prev, ok := last[w]; ok && seq != prev+1 {
			t.Fatalf("writer %d: message %d after %d", w, seq, prev)
		}
		last[w] = seq
	}
	if id, err := s.LastMessageID(ctx); err != nil || id != got[len(got)-1].ID {
		t.Fatalf("LastMessageID = %d, %v; want %d", id, err, got[len(got)-1].ID)
	}
}

func testAppendCanceled(t *testing.T, open Opener) {
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.AppendMessages(ctx, []chat.Message{msg(chat.DefaultGroup, 1, "x", time.Now())}); err == nil {
		t.Error("AppendMessages with canceled context succeeded")
	}
	if err := s.AppendMessages(ctx, []chat.Message{{ID: 5, Group: chat.DefaultGroup, RoomID: 1, Text: "y"}}); err == nil {
		t.Error("AppendMessages of a numbered message with canceled context succeeded")
	}
	if got, err := s.RecentMessages(context.Background(), chat.DefaultGroup, 1, 10); err != nil || len(got) != 0 {
		t.Fatalf("after canceled appends: %+v, %v", got, err)
	}
}

func testAppendRejectsOutOfRangeTime(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	bad := []chat.Message{
		msg(chat.DefaultGroup, 1, "ok", time.Now()),
		msg(chat.DefaultGroup, 1, "bad", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
	if err := s.AppendMessages(ctx, bad); err == nil {
		t.Fatal("time in year 3000 accepted")
	}
	if got, _ := s.RecentMessages(ctx, chat.DefaultGroup, 1, 10); len(got) != 0 {
		t.Fatalf("partial batch stored: %+v", got)
	}
}

func testMessageIDsKept(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	if id, err := s.LastMessageID(ctx); err != nil || id != 0 {
		t.Fatalf("empty store: last id %d, %v; want 0", id, err)
	}
	now := time.Now().UTC()
	msgs := []chat.Message{
		{ID: 41, Group: "default", RoomID: 7, From: "a", Text: "x", Time: now},
		{ID: 42, Group: "default", RoomID: 7, From: "a", Text: "y", Time: now},
	}
	if err := s.AppendMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecentMessages(ctx, "default", 7, 10)
	if err != nil || len(got) != 2 || got[0].ID != 41 || got[1].ID != 42 {
		t.Fatalf("recent = %+v, %v; want ids 41, 42", got, err)
	}
	if _, err := s.SaveRoom(ctx, chat.RoomInfo{ID: 7, Group: "default", Name: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRoom(ctx, "default", 7); err != nil {
		t.Fatal(err)
	}
	if id, err := s.LastMessageID(ctx); err != nil || id != 42 {
		t.Fatalf("after deleting the room: last id %d, %v; want 42 (ids must not be reused)", id, err)
	}
	// A message without an id gets one above every id ever stored.
	if err := s.AppendMessages(ctx, []chat.Message{msg("default", 8, "z", now)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RecentMessages(ctx, "default", 8, 10); err != nil || len(got) != 1 || got[0].ID <= 42 {
		t.Fatalf("message without an id after the delete = %+v, %v; want an id above 42", got, err)
	}
	s.Close()
	s = open(t)
	if id, err := s.LastMessageID(ctx); err != nil || id <= 42 {
		t.Fatalf("after reopen: last id %d, %v; want above 42", id, err)
	}
}

// testPresetIDsFromSeveralWriters is what several nodes do: each numbers
// its messages itself, and their batches commit in any order. The history
// is by id, whatever the order of the commits.
func testPresetIDsFromSeveralWriters(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	numbered := func(id int64, text string) chat.Message {
		m := msg(chat.DefaultGroup, 3, text, now)
		m.ID = id
		return m
	}
	for _, batch := range [][]chat.Message{
		{numbered(10, "ten"), numbered(30, "thirty")},
		{numbered(20, "twenty"), numbered(21, "twenty-one")},
		{numbered(5, "five")},
		{numbered(40, "forty")},
	} {
		if err := s.AppendMessages(ctx, batch); err != nil {
			t.Fatalf("append %v: %v", ids(batch), err)
		}
	}
	got, err := s.RecentMessages(ctx, chat.DefaultGroup, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{21, 30, 40}; !reflect.DeepEqual(ids(got), want) {
		t.Fatalf("last 3 = %v %q, want ids %v", ids(got), texts(got), want)
	}
	all, err := s.RecentMessages(ctx, chat.DefaultGroup, 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"five", "ten", "twenty", "twenty-one", "thirty", "forty"}; !reflect.DeepEqual(texts(all), want) {
		t.Fatalf("history = %q, want %q", texts(all), want)
	}
	if id, err := s.LastMessageID(ctx); err != nil || id != 40 {
		t.Fatalf("LastMessageID = %d, %v; want 40", id, err)
	}
	// Without an id a message comes after the highest one, in a batch
	// that mixes both too.
	mixed := []chat.Message{numbered(50, "fifty"), msg(chat.DefaultGroup, 3, "next", now)}
	if err := s.AppendMessages(ctx, mixed); err != nil {
		t.Fatal(err)
	}
	all, err = s.RecentMessages(ctx, chat.DefaultGroup, 3, 2)
	if err != nil || len(all) != 2 || all[0].ID != 50 || all[1].ID <= 50 || all[1].Text != "next" {
		t.Fatalf("after a mixed batch: %+v, %v", all, err)
	}
}

// testDuplicateIDRefusesTheBatch: an id that is taken fails the whole
// batch; nothing of it is stored and the stored message is unchanged.
func testDuplicateIDRefusesTheBatch(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	first := msg(chat.DefaultGroup, 1, "first", now)
	first.ID = 7
	if err := s.AppendMessages(ctx, []chat.Message{first}); err != nil {
		t.Fatal(err)
	}
	other, again := msg(chat.DefaultGroup, 1, "other", now), msg(chat.DefaultGroup, 1, "again", now)
	other.ID, again.ID = 8, 7
	if err := s.AppendMessages(ctx, []chat.Message{other, again}); err == nil {
		t.Fatal("a batch reusing id 7 was stored")
	}
	got, err := s.RecentMessages(ctx, chat.DefaultGroup, 1, 10)
	if err != nil || !reflect.DeepEqual(texts(got), []string{"first"}) {
		t.Fatalf("history = %q, %v; want only the first message", texts(got), err)
	}
}

// testMessageTextWithNUL: a message with a NUL character is saved (the
// batch it is in does not fail), with the NUL kept or replaced by U+FFFD
// where the database cannot store it.
func testMessageTextWithNUL(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	in := []chat.Message{msg(chat.DefaultGroup, 1, "before", now), msg(chat.DefaultGroup, 1, "a\x00b", now)}
	in[1].From = "n\x00l"
	if err := s.AppendMessages(ctx, in); err != nil {
		t.Fatalf("a batch with a NUL in a message failed: %v", err)
	}
	got, err := s.RecentMessages(ctx, chat.DefaultGroup, 1, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("history = %+v, %v", got, err)
	}
	if txt := got[1].Text; txt != "a\x00b" && txt != "a\uFFFDb" {
		t.Errorf("text came back as %q", txt)
	}
	if from := got[1].From; from != "n\x00l" && from != "n\uFFFDl" {
		t.Errorf("sender came back as %q", from)
	}
	if _, err := s.HoldMessage(ctx, store.HeldRecord{Message: in[1]}); err != nil {
		t.Errorf("holding a message with a NUL failed: %v", err)
	}
}

// testTwoStoresOnOneDatabase is two servers on one database: what one
// writes, the other reads at once.
func testTwoStoresOnOneDatabase(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	ctx := context.Background()
	room, err := a.SaveRoom(ctx, chat.RoomInfo{Group: chat.DefaultGroup, Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := b.Rooms(ctx, chat.DefaultGroup)
	if err != nil || len(rooms) != 1 || rooms[0].ID != room {
		t.Fatalf("the second store's rooms = %+v, %v", rooms, err)
	}
	now := time.Now()
	m1, m2 := msg(chat.DefaultGroup, room, "from a", now), msg(chat.DefaultGroup, room, "from b", now)
	m1.ID, m2.ID = 100, 101
	if err := a.AppendMessages(ctx, []chat.Message{m1}); err != nil {
		t.Fatal(err)
	}
	if err := b.AppendMessages(ctx, []chat.Message{m2}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Store{"a": a, "b": b} {
		got, err := s.RecentMessages(ctx, chat.DefaultGroup, room, 10)
		if err != nil || !reflect.DeepEqual(texts(got), []string{"from a", "from b"}) {
			t.Errorf("store %s: history %q, %v", name, texts(got), err)
		}
		if id, err := s.LastMessageID(ctx); err != nil || id != 101 {
			t.Errorf("store %s: LastMessageID = %d, %v; want 101", name, id, err)
		}
	}
	acct, err := a.CreateAccount(ctx, store.Account{Name: "Nora"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.AccountByName(ctx, "nora"); err != nil || got.ID != acct.ID {
		t.Fatalf("the second store finds %+v, %v", got, err)
	}
	if _, err := b.CreateAccount(ctx, store.Account{Name: "NORA"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("the same name through the second store: %v, want ErrExists", err)
	}
	if err := b.KVSet(ctx, "p", "k", []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := a.KVGet(ctx, "p", "k", now); err != nil || !ok || string(v) != "v" {
		t.Fatalf("KVGet through the first store = %q, %v, %v", v, ok, err)
	}
}

// mustContain fails t unless err's text contains every part.
func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
}
