package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// saver is a SaveMessages that records its calls; while hold is not nil a
// call waits for it to be closed, and while fail is set calls fail.
type saver struct {
	mu    sync.Mutex
	calls [][]Message
	hold  chan struct{}
	fail  error
	// before, if set, runs at the start of each call.
	before func([]Message)
}

func (s *saver) save(ctx context.Context, msgs []Message) error {
	if s.before != nil {
		s.before(msgs)
	}
	s.mu.Lock()
	hold, fail := s.hold, s.fail
	s.calls = append(s.calls, append([]Message(nil), msgs...))
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fail
}

func (s *saver) saved() [][]Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]Message(nil), s.calls...)
}

func groupWithSaver(t *testing.T, s *saver) *Group {
	t.Helper()
	g := NewGroup(Options{Name: DefaultGroup, History: 10, MaxMessageChars: 100, Guests: true, SaveMessages: s.save})
	g.PutRoom(RoomInfo{ID: 1, Name: "One", Member: true, Open: true}, nil)
	g.PutRoom(RoomInfo{ID: 2, Name: "Two", Member: true, Open: true}, nil)
	return g
}

func joinRoom(t *testing.T, g *Group, name string, room int64) (*Member, *fakeConn) {
	t.Helper()
	m, c := login(t, g, name, true)
	if _, err := g.Join(m, room, ""); err != nil {
		t.Fatal(err)
	}
	return m, c
}

// No member gets a message before it is saved.
func TestMessageIsSavedBeforeAnyMemberGetsIt(t *testing.T) {
	s := &saver{}
	g := groupWithSaver(t, s)
	alice, ac := joinRoom(t, g, "alice", 1)
	_, bc := joinRoom(t, g, "bob", 1)
	s.before = func([]Message) {
		if n := len(ac.events("message")) + len(bc.events("message")); n != 0 {
			t.Errorf("%d deliveries before the save", n)
		}
	}
	msg, err := g.Say(alice, "hello", Style{}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(bc.events("message")) == 1 })
	calls := s.saved()
	if len(calls) != 1 || len(calls[0]) != 1 || calls[0][0] != msg || msg.ID == 0 {
		t.Fatalf("saved %+v, said %+v", calls, msg)
	}
	if got := bc.events("message"); got[0]["id"] != float64(msg.ID) {
		t.Fatalf("bob got %v", got)
	}
	if err := g.WaitSaved(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A failed save reaches nobody and tells each speaker: an error event
// naming the message when Say had returned, Say's error when it waited
// (DefaultMaxUnsaved messages were waiting). Nothing enters the history and the
// ids are not used again.
func TestFailedSaveTellsSpeakerAndDeliversNothing(t *testing.T) {
	hold := make(chan struct{})
	s := &saver{hold: hold, fail: errors.New("disk full")}
	g := groupWithSaver(t, s)
	alice, ac := joinRoom(t, g, "alice", 1)
	_, bc := joinRoom(t, g, "bob", 1)
	if _, err := g.Say(alice, "m0", Style{}, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(s.saved()) == 1 })
	for i := 1; i < DefaultMaxUnsaved; i++ {
		if _, err := g.Say(alice, fmt.Sprintf("m%d", i), Style{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	last := make(chan error, 1)
	go func() {
		_, err := g.Say(alice, "over the window", Style{}, "")
		last <- err
	}()
	waitFor(t, func() bool {
		g.commits.mu.Lock()
		defer g.commits.mu.Unlock()
		return g.commits.next != nil && len(g.commits.next.msgs) == DefaultMaxUnsaved
	})
	s.mu.Lock()
	s.hold = nil
	s.mu.Unlock()
	close(hold)
	wantCode(t, <-last, CodeNotSaved)
	if err := g.WaitSaved(context.Background()); err != nil {
		t.Fatal(err)
	}
	errs := ac.events("error")
	if len(errs) != DefaultMaxUnsaved {
		t.Fatalf("alice got %d error events, want %d", len(errs), DefaultMaxUnsaved)
	}
	for i, e := range errs {
		if e["code"] != CodeNotSaved || !strings.Contains(e["message"].(string), fmt.Sprintf(`"m%d"`, i)) {
			t.Fatalf("error event %d = %v", i, e)
		}
	}
	if n := len(ac.events("message")) + len(bc.events("message")) + len(bc.events("error")); n != 0 {
		t.Fatalf("%d events for messages that were not saved", n)
	}
	var failed int64
	for _, call := range s.saved() {
		for _, m := range call {
			failed = max(failed, m.ID)
		}
	}

	s.mu.Lock()
	s.fail = nil
	s.mu.Unlock()
	msg, err := g.Say(alice, "kept", Style{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if msg.ID <= failed {
		t.Fatalf("id %d reused after failed saves up to %d", msg.ID, failed)
	}
	waitFor(t, func() bool { return len(bc.events("message")) == 1 })
	carol, _ := login(t, g, "carol", true)
	ev, err := g.Join(carol, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.History) != 1 || ev.History[0].Text != "kept" {
		t.Fatalf("history = %+v", ev.History)
	}
}

// What is said while a save runs goes into the next save, in one call, and
// is delivered in id order in every room.
func TestMessagesSaidDuringASaveShareTheNextOne(t *testing.T) {
	hold := make(chan struct{})
	s := &saver{hold: hold}
	g := groupWithSaver(t, s)
	speakers := map[int64][]*Member{}
	conns := map[int64][]*fakeConn{}
	for i := range 6 {
		room := int64(1 + i%2)
		m, c := joinRoom(t, g, fmt.Sprintf("user%d", i), room)
		speakers[room] = append(speakers[room], m)
		conns[room] = append(conns[room], c)
	}
	say := func(m *Member, text string) {
		if _, err := g.Say(m, text, Style{}, ""); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
	}
	say(speakers[1][0], "first")
	waitFor(t, func() bool { return len(s.saved()) == 1 })
	for room, ms := range speakers {
		for i, m := range ms {
			say(m, fmt.Sprintf("room %d, %d", room, i))
		}
	}
	s.mu.Lock()
	s.hold = nil
	s.mu.Unlock()
	close(hold)
	if err := g.WaitSaved(context.Background()); err != nil {
		t.Fatal(err)
	}

	calls := s.saved()
	if len(calls) != 2 || len(calls[1]) != 6 {
		t.Fatalf("saves of %d calls: %+v", len(calls), calls)
	}
	for i := 1; i < len(calls[1]); i++ {
		if calls[1][i].ID <= calls[1][i-1].ID {
			t.Fatalf("batch not in id order: %+v", calls[1])
		}
	}
	for room, cs := range conns {
		for _, c := range cs {
			got := c.events("message")
			if len(got) != map[int64]int{1: 4, 2: 3}[room] {
				t.Fatalf("room %d: a member got %d messages: %v", room, len(got), got)
			}
			for i := 1; i < len(got); i++ {
				if got[i]["id"].(float64) <= got[i-1]["id"].(float64) {
					t.Fatalf("room %d: delivered out of id order: %v", room, got)
				}
			}
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}

// Post returns at once however far the speaker is ahead of the store;
// CatchUp is the wait Say would have made.
func TestPostNeverWaitsAndCatchUpDoes(t *testing.T) {
	hold := make(chan struct{})
	s := &saver{hold: hold}
	g := NewGroup(Options{Name: DefaultGroup, MaxMessageChars: 100, Guests: true, SaveMessages: s.save, MaxUnsaved: 2})
	g.PutRoom(RoomInfo{ID: 1, Name: "One", Member: true, Open: true}, nil)
	ann, _ := joinRoom(t, g, "ann", 1)
	_, bob := joinRoom(t, g, "bob", 1)
	if err := g.CatchUp(context.Background(), ann); err != nil {
		t.Fatalf("CatchUp with nothing unsaved = %v", err)
	}
	posted := make(chan error, 1)
	go func() {
		for i := range 5 {
			if _, err := g.Post(ann, fmt.Sprintf("m%d", i), Style{}, ""); err != nil {
				posted <- err
				return
			}
		}
		posted <- nil
	}()
	select {
	case err := <-posted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Post waited for the store")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.CatchUp(ctx, ann); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CatchUp with 5 unsaved of at most 2 = %v, want it to wait", err)
	}
	caught := make(chan error, 1)
	go func() { caught <- g.CatchUp(context.Background(), ann) }()
	s.mu.Lock()
	s.hold = nil
	s.mu.Unlock()
	close(hold)
	if err := <-caught; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(bob.events("message")) == 5 })
	for i, ev := range bob.events("message") {
		if ev["text"] != fmt.Sprintf("m%d", i) {
			t.Fatalf("bob got %v", bob.events("message"))
		}
	}
}
