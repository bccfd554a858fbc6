package chat

import (
	"context"
	"errors"
	"fmt"
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
	msg, err := g.Say(alice, "hello", Style{})
	if err != nil {
		t.Fatal(err)
	}
	calls := s.saved()
	if len(calls) != 1 || len(calls[0]) != 1 || calls[0][0] != msg || msg.ID == 0 {
		t.Fatalf("saved %+v, said %+v", calls, msg)
	}
	if got := bc.events("message"); len(got) != 1 || got[0]["id"] != float64(msg.ID) {
		t.Fatalf("bob got %v", got)
	}
}

// A failed save reaches nobody, tells the speaker and keeps the message out
// of the history; its id is not used again.
func TestFailedSaveTellsSpeakerAndDeliversNothing(t *testing.T) {
	s := &saver{fail: errors.New("disk full")}
	g := groupWithSaver(t, s)
	alice, ac := joinRoom(t, g, "alice", 1)
	_, bc := joinRoom(t, g, "bob", 1)
	_, err := g.Say(alice, "lost", Style{})
	wantCode(t, err, CodeNotSaved)
	if n := len(ac.events("message")) + len(bc.events("message")); n != 0 {
		t.Fatalf("%d deliveries of a message that was not saved", n)
	}
	failedID := s.saved()[0][0].ID

	s.mu.Lock()
	s.fail = nil
	s.mu.Unlock()
	msg, err := g.Say(alice, "kept", Style{})
	if err != nil {
		t.Fatal(err)
	}
	if msg.ID <= failedID {
		t.Fatalf("id %d reused after the failed save of %d", msg.ID, failedID)
	}
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
	var wg sync.WaitGroup
	say := func(m *Member, text string) {
		defer wg.Done()
		if _, err := g.Say(m, text, Style{}); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
	wg.Add(1)
	go say(speakers[1][0], "first")
	waitFor(t, func() bool { return len(s.saved()) == 1 })
	for room, ms := range speakers {
		for i, m := range ms {
			wg.Add(1)
			go say(m, fmt.Sprintf("room %d, %d", room, i))
		}
	}
	waitFor(t, func() bool {
		g.commits.mu.Lock()
		defer g.commits.mu.Unlock()
		return g.commits.next != nil && len(g.commits.next.msgs) == 6
	})
	s.mu.Lock()
	s.hold = nil
	s.mu.Unlock()
	close(hold)
	wg.Wait()

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
