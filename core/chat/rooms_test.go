package chat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// gateConn stalls in its first Send of a public message until open is
// closed (a stand-in for a long fan-out), after closing entered.
type gateConn struct {
	fakeConn
	once    sync.Once
	entered chan struct{}
	open    chan struct{}
}

func newGateConn() *gateConn {
	return &gateConn{entered: make(chan struct{}), open: make(chan struct{})}
}

func (c *gateConn) Send(f *Frame) bool {
	if _, ok := f.Event().(MessageEvent); ok {
		c.once.Do(func() {
			close(c.entered)
			<-c.open
		})
	}
	return c.fakeConn.Send(f)
}

// waitClosed fails the test when done is not closed within a generous
// deadline: what it waits for must not depend on the stalled room.
func waitClosed(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s waited for another room's fan-out", what)
	}
}

// While one room's fan-out is under way, another room's messages, joins,
// leaves and user lists go ahead, with and without a store.
func TestRoomFanoutDoesNotHoldUpOtherRooms(t *testing.T) {
	for _, store := range []bool{false, true} {
		t.Run(fmt.Sprintf("store=%v", store), func(t *testing.T) {
			var g *Group
			if store {
				g = groupWithSaver(t, &saver{})
			} else {
				g = NewGroup(Options{History: 10, MaxMessageChars: 100, Guests: true})
				g.PutRoom(RoomInfo{ID: 1, Name: "One", Member: true, Open: true}, nil)
				g.PutRoom(RoomInfo{ID: 2, Name: "Two", Member: true, Open: true}, nil)
			}
			gate := newGateConn()
			stalled := &Member{Name: "stalled", Guest: true, Conn: gate}
			if err := g.Login(stalled); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Join(stalled, 1, ""); err != nil {
				t.Fatal(err)
			}
			a, _ := joinRoom(t, g, "alice", 1)
			b, bc := joinRoom(t, g, "bob", 2)
			said := make(chan struct{})
			go func() {
				defer close(said)
				if _, err := g.Say(a, "slow", Style{}, ""); err != nil {
					t.Error(err)
				}
			}()
			waitClosed(t, gate.entered, "the stalled room")
			done := make(chan struct{})
			go func() {
				defer close(done)
				carol, _ := login(t, g, "carol", true)
				if _, err := g.Join(carol, 2, ""); err != nil {
					t.Error(err)
				}
				if _, err := g.Say(b, "quick", Style{}, ""); err != nil {
					t.Error(err)
				}
				for deadline := time.Now().Add(10 * time.Second); len(bc.events("message")) == 0 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				if users, _ := g.Users(1); len(users) != 2 {
					t.Errorf("room 1 users %v", users)
				}
				g.Rooms()
				g.Snapshot()
				g.Leave(carol)
				g.Logout(carol)
			}()
			waitClosed(t, done, "room 2")
			if got := bc.events("message"); len(got) != 1 || got[0]["text"] != "quick" {
				t.Fatalf("bob got %v", got)
			}
			close(gate.open)
			waitClosed(t, said, "the stalled say")
			if err := g.WaitSaved(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// With a store, each room gets its messages in id order, interleaved with
// its presence as they happened, however the rooms' deliveries overlap.
func TestStoreDeliversEachRoomInIDOrder(t *testing.T) {
	g := groupWithSaver(t, &saver{})
	var speakers []*Member
	var listeners []*fakeConn
	for room := int64(1); room <= 2; room++ {
		for i := range 2 {
			m, _ := joinRoom(t, g, fmt.Sprintf("s%d-%d", room, i), room)
			speakers = append(speakers, m)
		}
		_, c := joinRoom(t, g, fmt.Sprintf("l%d", room), room)
		listeners = append(listeners, c)
	}
	var wg sync.WaitGroup
	for _, m := range speakers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if _, err := g.Say(m, fmt.Sprint(i), Style{}, ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := g.WaitSaved(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, c := range listeners {
		msgs := c.events("message")
		if len(msgs) != 200 {
			t.Fatalf("listener %d got %d messages, want 200", i, len(msgs))
		}
		for j := 1; j < len(msgs); j++ {
			if msgs[j]["id"].(float64) <= msgs[j-1]["id"].(float64) {
				t.Fatalf("listener %d: id %v after %v", i, msgs[j]["id"], msgs[j-1]["id"])
			}
			if msgs[j]["room"].(float64) != float64(i+1) {
				t.Fatalf("listener %d got a message of room %v", i, msgs[j]["room"])
			}
		}
	}
	if n := g.MessagesSaid(); n != 400 {
		t.Fatalf("MessagesSaid = %d, want 400", n)
	}
}

// A room's member list read before joins and leaves still holds the
// members it had when it was read (the list grows in place), and the
// room's list is the members in join order.
func TestAMemberListReadEarlierKeepsItsMembers(t *testing.T) {
	r := &Room{}
	r.members.Store(&[]*Member{})
	pool := make([]*Member, 40)
	for i := range pool {
		pool[i] = &Member{Name: fmt.Sprintf("m%02d", i)}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var (
		in    []*Member
		lists [][]*Member
		want  [][]string
	)
	for range 600 {
		l := r.list()
		lists, want = append(lists, l), append(want, names(l))
		if len(in) > 0 && (len(in) == len(pool) || rng.IntN(3) == 0) {
			m := in[rng.IntN(len(in))]
			r.remove(m)
			in = slices.DeleteFunc(in, func(x *Member) bool { return x == m })
			continue
		}
		var out []*Member
		for _, m := range pool {
			if !slices.Contains(in, m) {
				out = append(out, m)
			}
		}
		m := out[rng.IntN(len(out))]
		r.add(m)
		in = append(in, m)
	}
	for i, l := range lists {
		if got := names(l); !slices.Equal(got, want[i]) {
			t.Fatalf("list %d read as %v, now %v", i, want[i], got)
		}
	}
	if got, w := names(r.list()), names(in); !slices.Equal(got, w) {
		t.Fatalf("the room's list %v, want %v", got, w)
	}
}
