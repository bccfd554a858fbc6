package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// newListGroup is a group whose room list deltas go out only when the
// test calls flushRoomList, so what one delta holds is deterministic.
func newListGroup(t *testing.T) *Group {
	t.Helper()
	g := NewGroup(Options{Name: DefaultGroup, History: 3, MaxMessageChars: 20, Guests: true, RoomListDelay: time.Hour})
	for id := int64(1); id <= 5; id++ {
		g.PutRoom(RoomInfo{ID: id, Name: fmt.Sprintf("Room %d", id), Member: true, Open: true}, nil)
	}
	g.flushRoomList()
	return g
}

// listed logs a member in the way a session does: login, then the whole
// room list.
func listed(t *testing.T, g *Group, name string) (*Member, *fakeConn) {
	t.Helper()
	m, c := login(t, g, name, true)
	if !g.SendRoomList(m, "") {
		t.Fatalf("room list not sent to %s", name)
	}
	return m, c
}

// clientList is the room list a client holds after applying, in order,
// the rooms and rooms_delta events it got: id -> count, or -1 for a room
// whose view changed and whose count is not known separately.
type clientList map[int64]RoomView

func (c *fakeConn) roomList(t *testing.T) clientList {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	list := clientList{}
	for _, f := range c.frames {
		var head struct{ Type string }
		if err := json.Unmarshal(f.JSON(), &head); err != nil {
			t.Fatal(err)
		}
		switch head.Type {
		case "rooms":
			var ev RoomsEvent
			if err := json.Unmarshal(f.JSON(), &ev); err != nil {
				t.Fatal(err)
			}
			list = clientList{}
			for _, r := range ev.Rooms {
				list[r.ID] = r
			}
		case "rooms_delta":
			var ev RoomsDeltaEvent
			if err := json.Unmarshal(f.JSON(), &ev); err != nil {
				t.Fatal(err)
			}
			for _, rc := range ev.Counts {
				if r, ok := list[rc.ID]; ok {
					r.Count = rc.Count
					list[rc.ID] = r
				}
			}
			for _, r := range ev.Changed {
				list[r.ID] = r
			}
			for _, id := range ev.Removed {
				delete(list, id)
			}
		}
	}
	return list
}

func wantList(t *testing.T, who string, got clientList, g *Group) {
	t.Helper()
	want := g.Rooms()
	if len(got) != len(want) {
		t.Fatalf("%s holds %d rooms, the server has %d: %v", who, len(got), len(want), got)
	}
	for _, r := range want {
		if got[r.ID] != r {
			t.Fatalf("%s holds room %d as %+v, the server has %+v", who, r.ID, got[r.ID], r)
		}
	}
}

func (c *fakeConn) count(typ string) int { return len(c.events(typ)) }

func TestRoomListJoinsGoOutAsOneSmallDelta(t *testing.T) {
	g := newListGroup(t)
	_, wc := listed(t, g, "watcher")
	if n := wc.count("rooms"); n != 1 {
		t.Fatalf("the login got %d whole lists, want 1", n)
	}
	var ms []*Member
	for i := range 50 {
		m, _ := listed(t, g, fmt.Sprintf("u%d", i))
		ms = append(ms, m)
		if _, err := g.Join(m, 2, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms[:10] {
		if _, err := g.Join(m, 3, ""); err != nil {
			t.Fatal(err)
		}
	}
	g.Leave(ms[10])
	g.flushRoomList()

	deltas := wc.events("rooms_delta")
	if len(deltas) != 1 {
		t.Fatalf("61 joins and leaves sent %d deltas, want 1", len(deltas))
	}
	f := wc.frames[len(wc.frames)-1]
	if got, want := string(f.JSON()), `{"type":"rooms_delta","counts":[{"id":2,"count":39},{"id":3,"count":10}]}`; got != want {
		t.Fatalf("delta = %s, want %s", got, want)
	}
	if n := wc.count("rooms"); n != 1 {
		t.Fatalf("the watcher got %d whole lists, want only its login's", n)
	}
	wantList(t, "watcher", wc.roomList(t), g)

	g.flushRoomList() // nothing changed since
	if n := wc.count("rooms_delta"); n != 1 {
		t.Fatalf("a flush without changes sent a delta (%d)", n)
	}
}

func TestRoomListDeltaOnlyAfterTheWholeList(t *testing.T) {
	g := newListGroup(t)
	m, c := login(t, g, "early", true) // logged in, list not sent yet
	if _, err := g.Join(m, 1, ""); err != nil {
		t.Fatal(err)
	}
	g.flushRoomList()
	if n := c.count("rooms_delta"); n != 0 {
		t.Fatalf("a member without its list got %d deltas", n)
	}
	if !g.SendRoomList(m, "7") {
		t.Fatal("SendRoomList failed")
	}
	rooms := c.events("rooms")
	if len(rooms) != 1 || rooms[0]["id"] != "7" {
		t.Fatalf("rooms answer = %v", rooms)
	}
	if _, err := g.Join(m, 2, ""); err != nil {
		t.Fatal(err)
	}
	g.flushRoomList()
	if n := c.count("rooms_delta"); n != 1 {
		t.Fatalf("got %d deltas after the list, want 1", n)
	}
	wantList(t, "early", c.roomList(t), g)
}

func TestRoomListDeltaAddsChangesAndRemovesRooms(t *testing.T) {
	g := newListGroup(t)
	a, ac := listed(t, g, "a")
	if _, err := g.Join(a, 1, ""); err != nil {
		t.Fatal(err)
	}
	g.PutRoom(RoomInfo{ID: 9, Name: "New", Open: true, Member: true}, nil)
	g.PutRoom(RoomInfo{ID: 3, Name: "Renamed", Desc: "now with a description", Open: true, Member: true, Password: "x"}, nil)
	if err := g.RemoveRoom(4); err != nil {
		t.Fatal(err)
	}
	g.flushRoomList()
	d := ac.events("rooms_delta")
	if len(d) != 1 {
		t.Fatalf("deltas = %v", d)
	}
	b, _ := json.Marshal(d[0])
	want := `{"changed":[{"audio":false,"count":0,"desc":"now with a description","guests":true,"id":3,"locked":true,"max":0,"name":"Renamed","open":true,"owner":"","st":0,"video":false,"wb":false},` +
		`{"audio":false,"count":0,"desc":"","guests":true,"id":9,"locked":false,"max":0,"name":"New","open":true,"owner":"","st":0,"video":false,"wb":false}],` +
		`"counts":[{"count":1,"id":1}],"removed":[4],"type":"rooms_delta"}`
	if string(b) != want {
		t.Fatalf("delta =\n%s\nwant\n%s", b, want)
	}
	wantList(t, "a", ac.roomList(t), g)

	// A room removed and added again within one delta is sent whole.
	if err := g.RemoveRoom(9); err != nil {
		t.Fatal(err)
	}
	g.PutRoom(RoomInfo{ID: 9, Name: "Again", Open: true, Member: true}, nil)
	g.flushRoomList()
	wantList(t, "a", ac.roomList(t), g)
}

// Whatever happens, in whatever order, every client that applies the
// deltas to its whole list holds the server's list after the next delta,
// also a client whose whole list was made between two deltas.
func TestRoomListDeltasKeepEveryClientRight(t *testing.T) {
	g := newListGroup(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	type client struct {
		m *Member
		c *fakeConn
	}
	var watchers []client
	var members []*Member
	for step := range 400 {
		switch k := rnd.IntN(10); {
		case k == 0:
			m, c := listed(t, g, fmt.Sprintf("w%d", step))
			watchers = append(watchers, client{m, c})
		case k < 6:
			m, _ := login(t, g, fmt.Sprintf("m%d", step), true)
			members = append(members, m)
			_, _ = g.Join(m, int64(1+rnd.IntN(6)), "")
		case k < 8 && len(members) > 0:
			m := members[rnd.IntN(len(members))]
			if rnd.IntN(2) == 0 {
				g.Leave(m)
			} else {
				g.Disconnect(m.Conn, m)
			}
		case k == 8:
			id := int64(1 + rnd.IntN(6))
			if rnd.IntN(3) == 0 {
				_ = g.RemoveRoom(id)
			} else {
				g.PutRoom(RoomInfo{ID: id, Name: fmt.Sprintf("Room %d/%d", id, step), Open: true, Member: true}, nil)
			}
		default:
			g.flushRoomList()
		}
	}
	g.flushRoomList()
	if len(watchers) < 5 {
		t.Fatalf("only %d watchers", len(watchers))
	}
	for _, w := range watchers {
		wantList(t, w.m.Name, w.c.roomList(t), g)
	}
}

// The deltas go out by themselves after Options.RoomListDelay.
func TestRoomListDeltaIsSentAfterTheDelay(t *testing.T) {
	g := NewGroup(Options{Name: DefaultGroup, History: 3, MaxMessageChars: 20, RoomListDelay: time.Millisecond})
	g.PutRoom(RoomInfo{ID: 1, Name: "Lobby", Member: true, Open: true}, nil)
	a, ac := listed(t, g, "a")
	if _, err := g.Join(a, 1, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ac.count("rooms_delta") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	wantList(t, "a", ac.roomList(t), g)
}

// clientUsers is the user list of room a client holds after applying, in
// order, its joined, users and presence events, the way the web client
// does: joined and users replace the list, presence adds or removes one.
func (c *fakeConn) clientUsers(t *testing.T, room int64) (users []string, count int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.frames {
		if _, ok := f.Event().(JoinedEvent); ok {
			// What the client reads: the frame's users.
			var ev JoinedEvent
			if err := json.Unmarshal(f.JSON(), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Room.ID == room {
				users = ev.Users
				count = ev.Room.Count
			}
		}
		for _, ev := range presence(f) {
			if ev.Room != room {
				continue
			}
			count = ev.Count
			i := slices.Index(users, ev.User)
			if ev.Event == "join" && i < 0 {
				users = append(users, ev.User)
			} else if ev.Event == "leave" && i >= 0 {
				users = slices.Delete(users, i, i+1)
			}
		}
	}
	slices.Sort(users)
	return users, count
}

// A burst of members entering one room at once: every member ends with
// the whole user list and the right count, though presence of others
// interleaves with its own entry.
func TestEnterBurstEveryMemberSeesEveryone(t *testing.T) {
	g := newListGroup(t)
	const n = 200
	ms := make([]*Member, n)
	cs := make([]*fakeConn, n)
	for i := range n {
		ms[i], cs[i] = listed(t, g, fmt.Sprintf("u%03d", i))
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := g.Enter(ms[i], 5, "", "j"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	g.flushRoomList()
	want, _ := g.Users(5)
	slices.Sort(want)
	for i, c := range cs {
		got, count := c.clientUsers(t, 5)
		if !slices.Equal(got, want) || count != n {
			t.Fatalf("%s holds %d users, count %d; want %d", ms[i].Name, len(got), count, n)
		}
		if j := c.events("joined"); len(j) != 1 || j[0]["id"] != "j" {
			t.Fatalf("%s got joined %v", ms[i].Name, j)
		}
	}
	for i, c := range cs {
		if l := c.roomList(t); l[5].Count != n {
			t.Fatalf("%s's room list counts %d in room 5", ms[i].Name, l[5].Count)
		}
	}
}

// Presence waits for the room list delta, comes before anything else said
// in the room, and a member gets only what happened after it entered.
func TestPresenceIsGatheredAndComesBeforeMessages(t *testing.T) {
	g := newListGroup(t)
	a, ac := listed(t, g, "a")
	if err := g.Enter(a, 1, "", "1"); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, f := range ac.frames {
		switch ev := f.Event().(type) {
		case PresenceEvent:
			order = append(order, "presence "+ev.User)
		case JoinedEvent:
			order = append(order, "joined")
		}
	}
	if !slices.Equal(order, []string{"presence a", "joined"}) {
		t.Fatalf("a got %v, want its own presence, then joined", order)
	}
	b, bc := listed(t, g, "b")
	c, _ := listed(t, g, "c")
	for _, m := range []*Member{b, c} {
		if err := g.Enter(m, 1, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if p := ac.events("presence"); len(p) != 1 {
		t.Fatalf("before the delta a got %d presence frames, want its own only", len(p))
	}
	if _, err := g.Say(c, "hello", Style{}, ""); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, f := range ac.frames {
		for _, ev := range presence(f) {
			seen = append(seen, "presence "+ev.User)
		}
		if ev, ok := f.Event().(MessageEvent); ok {
			seen = append(seen, "message "+ev.Text)
		}
	}
	if want := []string{"presence a", "presence b", "presence c", "message hello"}; !slices.Equal(seen, want) {
		t.Fatalf("a saw %v, want %v", seen, want)
	}
	// b entered before c: it gets c's presence, never its own twice or a's.
	var bSaw []string
	for _, ev := range bc.events("presence") {
		bSaw = append(bSaw, ev["user"].(string))
	}
	if !slices.Equal(bSaw, []string{"b", "c"}) {
		t.Fatalf("b saw the presence of %v, want b, c", bSaw)
	}
	g.flushRoomList()
	if p := ac.events("presence"); len(p) != 3 {
		t.Fatalf("after the delta a has %d presence frames, want 3", len(p))
	}
}

// No more than Options.PresenceBatch presence frames wait in a room.
func TestPresenceBatchIsBounded(t *testing.T) {
	g := NewGroup(Options{Name: DefaultGroup, History: 3, MaxMessageChars: 20, RoomListDelay: time.Hour, PresenceBatch: 4})
	g.PutRoom(RoomInfo{ID: 1, Name: "Lobby", Member: true, Open: true}, nil)
	a, ac := listed(t, g, "a")
	if err := g.Enter(a, 1, "", ""); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		m, _ := listed(t, g, fmt.Sprintf("m%d", i))
		if err := g.Enter(m, 1, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	// a's own at once; its own also waits for the others, so the first
	// batch of 4 brings a m0..m2, the second m3..m6; m7 and m8 wait.
	if p := ac.events("presence"); len(p) != 8 {
		t.Fatalf("a got %d presence events, want 8", len(p))
	}
	// Each batch in one frame.
	if got := len(ac.events("presence_batch")); got != 2 {
		t.Fatalf("a got %d presence_batch frames, want 2", got)
	}
	g.flushRoomList()
	if p := ac.events("presence"); len(p) != 10 {
		t.Fatalf("after the delta a got %d presence events, want 10", len(p))
	}
}

func TestDeltaDelayGrowsWithTheUsersOnline(t *testing.T) {
	for _, c := range []struct {
		delay         time.Duration
		users, writes int
		want          time.Duration
	}{
		{200 * time.Millisecond, 5000, 0, 200 * time.Millisecond},                  // no bound
		{200 * time.Millisecond, 0, 5000, 200 * time.Millisecond},                  // no one online yet
		{200 * time.Millisecond, 500, 5000, 200 * time.Millisecond},                // 2500 writes/s at the delay
		{200 * time.Millisecond, 1000, 5000, 200 * time.Millisecond},               // just at the bound
		{200 * time.Millisecond, 5000, 5000, time.Second},                          // 5000 writes a delta, one a second
		{200 * time.Millisecond, 7500, 5000, 1500 * time.Millisecond},              //
		{200 * time.Millisecond, 1_000_000, 5000, MaxRoomListDelay},                // capped
		{MaxRoomListDelay + time.Second, 10, 5000, MaxRoomListDelay + time.Second}, // a longer delay wins
	} {
		if got := deltaDelay(c.delay, c.users, c.writes); got != c.want {
			t.Errorf("deltaDelay(%s, %d users, %d writes/s) = %s, want %s", c.delay, c.users, c.writes, got, c.want)
		}
	}
}

// A member of a busy room hears every presence event after its own join
// once, in order, in few frames: runs of presenceChunk events as one
// presence_batch frame, which every member who missed the whole run
// shares, and the rest of a run it joined inside as single events.
func TestPresenceBatchCarriesWhatEachMemberMissed(t *testing.T) {
	g := NewGroup(Options{Name: DefaultGroup, History: 3, MaxMessageChars: 20, RoomListDelay: time.Hour, PresenceBatch: 1000})
	g.PutRoom(RoomInfo{ID: 1, Name: "Lobby", Member: true, Open: true}, nil)
	const n = 2*presenceChunk + 5
	var names []string
	var conns []*fakeConn
	for i := range n {
		name := fmt.Sprintf("m%02d", i)
		m, c := listed(t, g, name)
		if err := g.Enter(m, 1, "", ""); err != nil {
			t.Fatal(err)
		}
		names, conns = append(names, name), append(conns, c)
	}
	g.flushRoomList()
	shared := map[*Frame]int{}
	for i, c := range conns {
		var heard []string
		frames := 0
		for _, f := range c.frames {
			if ev, ok := f.Event().(PresenceBatchEvent); ok {
				want, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(f.JSON(), want) {
					t.Fatalf("%s: batch frame\n%s\nis not its event\n%s", names[i], f.JSON(), want)
				}
				if len(ev.Events) > presenceChunk || ev.Room != 1 {
					t.Fatalf("%s: a batch of %d events in room %d", names[i], len(ev.Events), ev.Room)
				}
				shared[f]++
			}
			ps := presence(f)
			if len(ps) > 0 {
				frames++
			}
			for _, p := range ps {
				heard = append(heard, p.User)
			}
		}
		// Its own presence first, at once, then everyone after it.
		if want := names[i:]; !slices.Equal(heard, want) {
			t.Fatalf("%s heard %v, want %v", names[i], heard, want)
		}
		if frames > 1+(n+presenceChunk-1)/presenceChunk {
			t.Fatalf("%s got %d presence frames", names[i], frames)
		}
		if users, count := c.clientUsers(t, 1); count != n || len(users) != n {
			t.Fatalf("%s holds %d users, count %d; want %d", names[i], len(users), count, n)
		}
	}
	// A run reaches every member who joined before it in one shared
	// frame: the one from m32 the 32 members before it, the one from m64
	// the 64 before it.
	byFirst := map[string]int{} // heads start inside a run, runs at its start
	for f, k := range shared {
		byFirst[f.Event().(PresenceBatchEvent).Events[0].User] = k
	}
	for _, i := range []int{presenceChunk, 2 * presenceChunk} {
		if got := byFirst[names[i]]; got != i {
			t.Fatalf("the run from %s went to %d members, want %d", names[i], got, i)
		}
	}
}
