package chat

import (
	"sort"
	"sync"
	"time"
)

// DefaultRoomListDelay is how long room list changes are gathered before
// they go out as one RoomsDeltaEvent (Options.RoomListDelay).
const DefaultRoomListDelay = 200 * time.Millisecond

// MaxRoomListDelay is the longest the changes are gathered when
// Options.DeltaWrites stretches the delay.
const MaxRoomListDelay = 10 * time.Second

// DefaultPresenceBatch is how many presence frames of a room wait at most
// for the next delta (Options.PresenceBatch).
const DefaultPresenceBatch = 1000

// roomList sends the room list: the whole list to one member (on login and
// when asked), and what changed since to every member that has a list,
// gathered over Options.RoomListDelay into one small RoomsDeltaEvent. A
// burst of joins costs each logged-in user one delta naming the rooms
// whose head count changed, not the whole list per push. The presence of
// those rooms waits for the same moment (Group.presence), so a member of
// a busy room gets its presence and the delta together, in one write,
// instead of one write per join.
//
// Both kinds of send happen under sendMu, so a member's queue has either
// its whole list before a delta read later, or a delta before a whole
// list read later; a delta carries head counts as they are when it is
// made, never increments, so a member's list is right after the next
// delta in either order.
type roomList struct {
	sendMu sync.Mutex // serializes whole lists and deltas; held while they are queued
	// whole is the whole list as a login gets it, made at most once
	// between two deltas and shared by the logins in between (encoded
	// once). A delta drops it: a list made before a delta, given to a
	// member after it, would miss the delta's changes. Guarded by sendMu.
	whole *Frame
	gen   uint64 // numbers the deltas; guarded by sendMu

	mu        sync.Mutex         // guards the fields below
	pending   map[int64]listEdit // rooms changed since the last delta
	scheduled bool               // a flush is scheduled
	users     int                // logged-in users at the last delta (see deltaDelay)
}

// listEdit is what changed about one room of the list.
type listEdit uint8

const (
	editCount listEdit = iota + 1 // its head count
	editRoom                      // the room itself: added, changed or removed
)

// roomCountChanged notes that a room's head count changed.
func (g *Group) roomCountChanged(ids ...int64) { g.noteRooms(editCount, ids...) }

// roomChanged notes that a room was added, changed or removed.
func (g *Group) roomChanged(id int64) { g.noteRooms(editRoom, id) }

func (g *Group) noteRooms(e listEdit, ids ...int64) {
	l := &g.list
	l.mu.Lock()
	if l.pending == nil {
		l.pending = map[int64]listEdit{}
	}
	for _, id := range ids {
		if l.pending[id] < e {
			l.pending[id] = e
		}
	}
	start := !l.scheduled
	l.scheduled = true
	users := l.users
	l.mu.Unlock()
	if start {
		time.AfterFunc(deltaDelay(g.opts.RoomListDelay, users, g.opts.DeltaWrites), g.flushRoomList)
	}
}

// deltaDelay is how long changes are gathered before the next delta: the
// delay, or longer when a delta to the users online would cost more than
// writes (per second) at that pace, at most MaxRoomListDelay.
func deltaDelay(delay time.Duration, users, writes int) time.Duration {
	if writes <= 0 || users <= 0 {
		return delay
	}
	d := time.Duration(users) * time.Second / time.Duration(writes)
	return min(max(d, delay), max(MaxRoomListDelay, delay))
}

// flushRoomList sends what changed since the last delta to every member
// that has its whole list.
func (g *Group) flushRoomList() {
	l := &g.list
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	l.mu.Lock()
	pending := l.pending
	l.pending = nil
	l.scheduled = false
	l.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	l.whole = nil
	ev := RoomsDeltaEvent{Type: "rooms_delta"}
	var rooms []*Room
	g.mu.RLock()
	users := len(g.users)
	for id, e := range pending {
		r, ok := g.rooms[id]
		if ok {
			rooms = append(rooms, r)
		}
		switch {
		case !ok:
			ev.Removed = append(ev.Removed, id)
		case e == editRoom:
			ev.Changed = append(ev.Changed, r.view())
		default:
			ev.Counts = append(ev.Counts, RoomCount{ID: id, Count: r.count()})
		}
	}
	g.mu.RUnlock()
	l.mu.Lock()
	l.users = users
	l.mu.Unlock()
	sort.Slice(ev.Counts, func(i, j int) bool { return ev.Counts[i].ID < ev.Counts[j].ID })
	sort.Slice(ev.Changed, func(i, j int) bool { return ev.Changed[i].ID < ev.Changed[j].ID })
	sort.Slice(ev.Removed, func(i, j int) bool { return ev.Removed[i] < ev.Removed[j] })
	f := NewFrame(ev)
	l.gen++
	gen := l.gen
	// The members of the changed rooms get their room's presence and the
	// delta together; everyone else the delta alone.
	var slow []*Member
	for _, r := range rooms {
		r.mu.Lock()
		slow = r.flushPresenceThen(slow, f, gen)
		r.mu.Unlock()
	}
	g.drop(slow)
	g.sendMembers(f, g.onlineUsers(func(m *Member) bool { return m.hasList.Load() && m.deltaGen.Load() != gen }))
}

// SendRoomList sends m the whole room list (a RoomsEvent answering the
// request requestID, "" for none) and, from then on, the deltas. It
// reports whether the frame was queued; a member that cannot keep up is
// dropped.
func (g *Group) SendRoomList(m *Member, requestID string) bool {
	l := &g.list
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	var f *Frame
	if requestID == "" {
		if l.whole == nil {
			l.whole = NewFrame(RoomsEvent{Type: "rooms", Rooms: g.Rooms()})
		}
		f = l.whole
	} else {
		f = NewFrame(RoomsEvent{Type: "rooms", ID: requestID, Rooms: g.Rooms()})
	}
	if !m.Conn.Send(f) {
		g.drop([]*Member{m})
		return false
	}
	m.hasList.Store(true)
	return true
}
