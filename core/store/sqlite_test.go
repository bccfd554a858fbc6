package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
)

func openTest(t testing.TB, path string) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newTestStore(t testing.TB) *SQLite {
	t.Helper()
	return openTest(t, filepath.Join(t.TempDir(), "sub", "dir", "parlor.db"))
}

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
	}
}

func msg(group string, room int64, text string, ts time.Time) chat.Message {
	return chat.Message{Group: group, RoomID: room, From: "alice", Text: text, Time: ts}
}

func TestOpenSettings(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"synchronous":  "1", // NORMAL: durable against a kill -9 in WAL mode
	} {
		var got string
		if err := s.db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	var v int
	if err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Errorf("schema version %d, want %d", v, len(migrations))
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parlor.db")
	s := openTest(t, path)
	if _, err := s.db.Exec("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)", len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s2, err := OpenSQLite(context.Background(), path); err == nil {
		s2.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

func TestRoomRoundTrip(t *testing.T) {
	s := newTestStore(t)
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
	want.Name, want.Password, want.Member, want.Max, want.Origin = "Renamed", "", false, 0, chat.OriginConfig
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

func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parlor.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	room := fullRoom()
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

	s = openTest(t, path)
	rooms, err := s.Rooms(ctx, room.Group)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rooms, []chat.RoomInfo{room}) {
		t.Fatalf("rooms after reopen:\n got %+v\nwant %+v", rooms, []chat.RoomInfo{room})
	}
	got, err := s.RecentMessages(ctx, room.Group, room.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("got %d messages, want %d", len(got), len(in))
	}
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
}

func TestDeleteRoom(t *testing.T) {
	s := newTestStore(t)
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
	if err := s.DeleteRoom(ctx, "other", drop); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete in wrong group: %v, want ErrNotFound", err)
	}
	if err := s.DeleteRoom(ctx, chat.DefaultGroup, drop); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRoom(ctx, chat.DefaultGroup, drop); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteRoom(ctx, chat.DefaultGroup, 9999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete unknown: %v, want ErrNotFound", err)
	}

	if got, err := s.RecentMessages(ctx, chat.DefaultGroup, drop, 10); err != nil || len(got) != 0 {
		t.Fatalf("history of deleted room: %v, %v", got, err)
	}
	var n int
	if err := s.db.QueryRow("SELECT COUNT(*) FROM messages WHERE room_id = ?", drop).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows of deleted room left (%v)", n, err)
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
}

func TestRecentMessagesLastN(t *testing.T) {
	s := newTestStore(t)
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
}

func TestGroupIsolation(t *testing.T) {
	s := newTestStore(t)
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
		{"a", b, nil},
	} {
		got, err := s.RecentMessages(ctx, tc.group, tc.room, 10)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, m := range got {
			texts = append(texts, m.Text)
			if m.Group != tc.group {
				t.Errorf("message %q has group %q", m.Text, m.Group)
			}
		}
		if !reflect.DeepEqual(texts, tc.want) {
			t.Errorf("group %q room %d: %q, want %q", tc.group, tc.room, texts, tc.want)
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

func TestConcurrentAppend(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	const writers, batches, per = 8, 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
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
}

func TestContextCanceled(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.AppendMessages(ctx, []chat.Message{msg(chat.DefaultGroup, 1, "x", time.Now())}); err == nil {
		t.Error("AppendMessages with canceled context succeeded")
	}
	if _, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "x.db")); err == nil {
		t.Error("OpenSQLite with canceled context succeeded")
	}
}

func TestAppendRejectsOutOfRangeTime(t *testing.T) {
	s := newTestStore(t)
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

func BenchmarkAppendMessages(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	batch := make([]chat.Message, 64)
	for i := range batch {
		batch[i] = chat.Message{
			Group: chat.DefaultGroup, RoomID: 1, From: "alice",
			Text:  "a message of ordinary length, said in a chat room",
			Style: chat.Style{Bold: i%2 == 0, Color: "#336699"}, Time: time.Now(),
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := s.AppendMessages(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*len(batch))/b.Elapsed().Seconds(), "msgs/s")
}

func TestMessageIDsAreKeptAndLastIDSurvivesDelete(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "ids.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
}
