package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// chatOfNodes is what the nodes of one chat share: the rooms'
// definitions, the KV store and the members, who get a room notice
// whichever node sends it (notices lists them all, with their sender).
type chatOfNodes struct {
	mu      sync.Mutex
	rooms   []sdk.Room
	kv      map[string][]byte
	notices []string // "node: text"
}

// nodeHost is one node's Host API: the shared chat, with the timetable's
// verdict kept per node (as SetSchedule is, by each node's group).
type nodeHost struct {
	sdk.Host
	chat    *chatOfNodes
	node    *sdktest.ClusterNode
	mu      sync.Mutex
	applied map[int64]sdk.ScheduleState
}

func (h *nodeHost) Rooms() sdk.Rooms       { return nodeRooms{h: h} }
func (h *nodeHost) KV() sdk.KV             { return nodeKV{c: h.chat} }
func (h *nodeHost) Messages() sdk.Messages { return nodeMessages{h: h} }
func (h *nodeHost) Cluster() sdk.Cluster   { return h.node }

type nodeRooms struct {
	sdk.Rooms
	h *nodeHost
}

func (r nodeRooms) List(context.Context) ([]sdk.Room, error) {
	r.h.chat.mu.Lock()
	rooms := slices.Clone(r.h.chat.rooms)
	r.h.chat.mu.Unlock()
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	for i, room := range rooms {
		if st, ok := r.h.applied[room.ID]; ok {
			rooms[i].Scheduled, rooms[i].ScheduleClosed, rooms[i].NextChange = true, st.Closed, st.Next
		}
	}
	return rooms, nil
}

func (r nodeRooms) SetSchedule(_ context.Context, id int64, st sdk.ScheduleState) (sdk.Room, error) {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	r.h.applied[id] = st
	return sdk.Room{ID: id}, nil
}

type nodeKV struct {
	sdk.KV
	c *chatOfNodes
}

func (k nodeKV) Get(_ context.Context, key string) ([]byte, bool, error) {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	v, ok := k.c.kv[key]
	return v, ok, nil
}

func (k nodeKV) Set(_ context.Context, key string, value []byte, _ time.Duration) error {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	k.c.kv[key] = value
	return nil
}

type nodeMessages struct {
	sdk.Messages
	h *nodeHost
}

func (m nodeMessages) Notice(_ context.Context, _ sdk.Audience, text string) (int, error) {
	m.h.chat.mu.Lock()
	defer m.h.chat.mu.Unlock()
	m.h.chat.notices = append(m.h.chat.notices, m.h.node.Name()+": "+text)
	return 1, nil
}

// noticesWith are the notices containing part, as "node: text".
func (c *chatOfNodes) noticesWith(part string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range c.notices {
		if strings.Contains(n, part) {
			out = append(out, n)
		}
	}
	return out
}

// exactlyOne waits for the notice containing part and checks, a moment
// later, that no second copy came; it returns the node that sent it.
func (c *chatOfNodes) exactlyOne(t *testing.T, part string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.noticesWith(part)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no notice %q; notices %v", part, c.noticesWith(""))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // both nodes computed the change by now
	got := c.noticesWith(part)
	if len(got) != 1 {
		t.Fatalf("notice %q sent %d times: %v", part, len(got), got)
	}
	node, _, _ := strings.Cut(got[0], ":")
	return node
}

// waitApplied waits until a node has applied the verdict closed for room
// 1.
func (h *nodeHost) waitApplied(t *testing.T, closed bool, next time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		st, ok := h.applied[1]
		h.mu.Unlock()
		if ok && st.Closed == closed && st.Next.Equal(next) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: room 1 applied %+v, want closed=%v next=%v", h.node.Name(), st, closed, next)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With a module on each of two nodes, both apply the timetable (each to
// its own members) but the room's opening, warning and read-only closing
// notices are sent once, by the node holding the lease schedule.<room>;
// when that node dies the other one sends them.
func TestNoticesFromOneNode(t *testing.T) {
	const ttl = 200 * time.Millisecond
	c := sdktest.NewCluster(ttl)
	chat := &chatOfNodes{kv: map[string][]byte{}, rooms: []sdk.Room{{ID: 1, Name: "Event", Zone: "Europe/Berlin",
		Schedule: []schedule.Entry{{O: "day2", S: "00:00:00", E: "10:00:00"}, {O: "day3", S: "00:00:00", E: "10:00:00"}}}}}
	clock := newFakeClock(berlin(t, 2026, time.November, 30, 23, 59)) // a Monday
	hosts := map[string]*nodeHost{}
	mods := map[string]*Module{}
	for _, name := range []string{"a", "b"} {
		hosts[name] = &nodeHost{chat: chat, node: c.Node(name), applied: map[int64]sdk.ScheduleState{}}
		mods[name] = New(nil, clock)
		sdktest.Module(t, mods[name], map[string]any{"warn": "5m", "on_close": "read_only"}, hosts[name])
		t.Cleanup(mods[name].Close)
	}
	opens, closes := berlin(t, 2026, time.December, 1, 0, 0), berlin(t, 2026, time.December, 1, 10, 0)
	for _, h := range hosts {
		h.waitApplied(t, true, opens)
	}

	clock.Set(opens)
	for _, h := range hosts {
		h.waitApplied(t, false, closes)
	}
	sender := chat.exactlyOne(t, "The room is open. It closes at Tue 1 Dec 2026 10:00 CET.")
	if holder := c.Holder("schedule.1"); holder != sender {
		t.Fatalf("node %s sent the notice, node %q holds the lease", sender, holder)
	}
	clock.Set(closes.Add(-5 * time.Minute))
	if n := chat.exactlyOne(t, "The room Event closes in 5 minutes"); n != sender {
		t.Fatalf("the warning came from %s, the opening from %s", n, sender)
	}

	// The sender's node dies; once its lease lapsed, the other node
	// tells the members.
	other := map[string]string{"a": "b", "b": "a"}[sender]
	c.Kill(sender)
	mods[sender].Close()
	time.Sleep(2 * ttl)
	clock.Set(closes)
	hosts[other].waitApplied(t, true, berlin(t, 2026, time.December, 2, 0, 0))
	if n := chat.exactlyOne(t, "The room Event has closed"); n != other {
		t.Fatalf("the closing came from %s after %s died", n, sender)
	}
	if holder := c.Holder("schedule.1"); holder != other {
		t.Fatalf("lease holder %q, want %s", holder, other)
	}
}
