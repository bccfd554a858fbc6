package chat

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeConn records what the hub sends; it can pretend to be full.
type fakeConn struct {
	mu     sync.Mutex
	frames []*Frame
	limit  int // 0: unlimited
	closed string
}

func (c *fakeConn) Send(f *Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != "" || (c.limit > 0 && len(c.frames) >= c.limit) {
		return false
	}
	c.frames = append(c.frames, f)
	return true
}

func (c *fakeConn) Close(reason string) {
	c.mu.Lock()
	c.closed = reason
	c.mu.Unlock()
}

func (c *fakeConn) closedReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// events decodes what was sent, by type.
func (c *fakeConn) events(typ string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, f := range c.frames {
		var m map[string]any
		if err := json.Unmarshal(f.JSON(), &m); err != nil {
			panic(err)
		}
		switch {
		case m["type"] == typ:
			out = append(out, m)
		case typ == "presence" && m["type"] == "presence_batch":
			// The events of a batch, each as its own presence event.
			for _, e := range m["events"].([]any) {
				ev := e.(map[string]any)
				ev["type"], ev["room"] = "presence", m["room"]
				out = append(out, ev)
			}
		}
	}
	return out
}

// presence is the presence events of frame f (a PresenceEvent, or each
// event of a PresenceBatchEvent as one), nil for another frame.
func presence(f *Frame) []PresenceEvent {
	switch ev := f.Event().(type) {
	case PresenceEvent:
		return []PresenceEvent{ev}
	case PresenceBatchEvent:
		out := make([]PresenceEvent, len(ev.Events))
		for i, c := range ev.Events {
			out[i] = PresenceEvent{Type: "presence", Room: ev.Room, User: c.User, Event: c.Event, Count: ev.Count,
				Offline: c.Offline, Role: c.Role, Display: c.Display, Avatar: c.Avatar}
		}
		return out
	}
	return nil
}

func newTestGroup(t *testing.T) *Group {
	t.Helper()
	// RoomListDelay -1: presence and room list changes go out at once, so
	// tests see them when the call returns (roomlist_test.go gathers them).
	g := NewGroup(Options{Name: DefaultGroup, History: 3, MaxMessageChars: 20, Guests: true, RoomListDelay: -1,
		Now: func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }})
	g.PutRoom(RoomInfo{ID: 1, Name: "Lobby", Member: true, Open: true, Max: 2, Welcome: "Hi!"}, nil)
	g.PutRoom(RoomInfo{ID: 2, Name: "Vault", Member: true, Open: true, Password: "s3cret"}, nil)
	g.PutRoom(RoomInfo{ID: 3, Name: "Shut", Member: true, Open: false}, nil)
	g.PutRoom(RoomInfo{ID: 4, Name: "Members", Member: false, Open: true}, nil)
	return g
}

func login(t *testing.T, g *Group, name string, guest bool) (*Member, *fakeConn) {
	t.Helper()
	c := &fakeConn{}
	g.Connect(c)
	m := &Member{Name: name, Guest: guest, Conn: c}
	if err := g.Login(m); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return m, c
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if CodeOf(err) != code {
		t.Fatalf("error %q has code %s, want %s", err, CodeOf(err), code)
	}
	if strings.TrimSpace(err.Error()) == "" {
		t.Fatalf("error %s has no message", code)
	}
}

func TestJoinSayReachesEveryMemberWithWelcomeAndHistory(t *testing.T) {
	g := newTestGroup(t)
	alice, ac := login(t, g, "alice", true)
	bob, bc := login(t, g, "bob", true)
	ev, err := g.Join(alice, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Welcome != "Hi!" || ev.Room.Count != 1 {
		t.Fatalf("joined: %+v", ev)
	}
	if _, err := g.Join(bob, 1, ""); err != nil {
		t.Fatal(err)
	}
	if p := ac.events("presence"); len(p) != 2 || p[1]["user"] != "bob" || p[1]["count"] != 2.0 {
		t.Fatalf("alice saw presence %v", p)
	}
	for i := range 4 {
		if _, err := g.Say(alice, fmt.Sprintf("m%d", i), Style{Bold: true, Color: "#FF0000"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	got := bc.events("message")
	if len(got) != 4 || got[0]["text"] != "m0" || got[0]["from"] != "alice" {
		t.Fatalf("bob got %v", got)
	}
	st := got[0]["style"].(map[string]any)
	if st["b"] != true || st["color"] != "#ff0000" {
		t.Fatalf("style = %v", st)
	}
	if len(ac.events("message")) != 4 {
		t.Fatal("the sender does not see its own message")
	}
	// A third user entering sees the last History (3) messages, oldest first.
	g.Leave(bob)
	carol, _ := login(t, g, "carol", true)
	ev, err = g.Join(carol, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.History) != 3 || ev.History[0].Text != "m1" || ev.History[2].Text != "m3" {
		t.Fatalf("history = %+v", ev.History)
	}
	if ev.History[0].ID >= ev.History[2].ID {
		t.Fatal("message ids do not increase")
	}
}

func TestRefusals(t *testing.T) {
	g := newTestGroup(t)
	a, _ := login(t, g, "a", true)
	b, _ := login(t, g, "b", true)
	c, _ := login(t, g, "c", true)
	_, err := g.Join(a, 99, "")
	wantCode(t, err, CodeNoSuchRoom)
	_, err = g.Join(a, 2, "")
	wantCode(t, err, CodeRoomPassword)
	_, err = g.Join(a, 2, "guess")
	wantCode(t, err, CodeRoomPassword)
	if _, err := g.Join(a, 2, "s3cret"); err != nil {
		t.Fatalf("right room password refused: %v", err)
	}
	_, err = g.Join(a, 3, "")
	wantCode(t, err, CodeRoomClosed)
	_, err = g.Join(a, 4, "")
	wantCode(t, err, CodeMembersOnly)
	if _, err := g.Join(a, 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Join(b, 1, ""); err != nil {
		t.Fatal(err)
	}
	_, err = g.Join(c, 1, "")
	wantCode(t, err, CodeRoomFull)
	if !strings.Contains(err.Error(), "2 of 2") {
		t.Fatalf("full message %q does not give the numbers", err)
	}
	_, err = g.Say(c, "hello", Style{}, "")
	wantCode(t, err, CodeNotInRoom)
	_, err = g.Say(a, "   ", Style{}, "")
	wantCode(t, err, CodeEmpty)
	_, err = g.Say(a, strings.Repeat("x", 21), Style{}, "")
	wantCode(t, err, CodeTooLong)
	wantCode(t, g.Login(&Member{Name: "A", Conn: &fakeConn{}}), CodeNameTaken)

	// An administrator passes capacity, password and closed checks.
	admin := &Member{Name: "root", Admin: true, Conn: &fakeConn{}}
	if err := g.Login(admin); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, 2, 3} {
		if _, err := g.Join(admin, id, ""); err != nil {
			t.Fatalf("admin refused from room %d: %v", id, err)
		}
	}
	// A registered (non-guest) user enters a members-only room.
	reg := &Member{Name: "reg", Conn: &fakeConn{}}
	_ = g.Login(reg)
	if _, err := g.Join(reg, 4, ""); err != nil {
		t.Fatalf("registered user refused from members room: %v", err)
	}
}

func TestPrivateMessageGoesOnlyToTheRecipientAndBack(t *testing.T) {
	g := newTestGroup(t)
	a, ac := login(t, g, "alice", true)
	_, bc := login(t, g, "bob", true)
	_, cc := login(t, g, "carol", true)
	if err := g.Private(a, "BOB", "psst", Style{Italic: true}, ""); err != nil {
		t.Fatal(err)
	}
	if p := bc.events("private"); len(p) != 1 || p[0]["from"] != "alice" || p[0]["to"] != "bob" || p[0]["text"] != "psst" {
		t.Fatalf("bob got %v", p)
	}
	if len(ac.events("private")) != 1 {
		t.Fatal("sender got no echo")
	}
	if len(cc.events("private")) != 0 {
		t.Fatal("carol saw a private message")
	}
	wantCode(t, g.Private(a, "nobody", "x", Style{}, ""), CodeNotOnline)
}

func TestSlowConsumerIsDroppedNotWaitedFor(t *testing.T) {
	g := newTestGroup(t)
	a, _ := login(t, g, "a", true)
	slowConn := &fakeConn{limit: 2}
	g.Connect(slowConn)
	slow := &Member{Name: "slow", Guest: true, Conn: slowConn}
	_ = g.Login(slow)
	_, _ = g.Join(slow, 1, "")
	_, _ = g.Join(a, 1, "")
	for range 5 {
		if _, err := g.Say(a, "x", Style{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if r := slowConn.closedReason(); r != "slow consumer" {
		t.Fatalf("slow member not dropped (closed=%q)", r)
	}
}

func TestBroadcastReachesConnectionsNotLoggedIn(t *testing.T) {
	g := newTestGroup(t)
	_, ac := login(t, g, "a", true)
	anon := &fakeConn{}
	g.Connect(anon)
	if n := g.Broadcast("maintenance at noon"); n != 2 {
		t.Fatalf("broadcast reached %d, want 2", n)
	}
	for _, c := range []*fakeConn{ac, anon} {
		if ev := c.events("notice"); len(ev) != 1 || ev[0]["text"] != "maintenance at noon" {
			t.Fatalf("notice = %v", ev)
		}
	}
}

func TestRoomListPushAndRemoveRoom(t *testing.T) {
	g := newTestGroup(t)
	a, ac := listed(t, g, "a")
	_, _ = g.Join(a, 1, "")
	g.PutRoom(RoomInfo{ID: 9, Name: "New", Open: true, Member: true}, nil)
	// The join's count and the new room may go out in one delta or two.
	deadline := time.Now().Add(2 * time.Second)
	for len(ac.roomList(t)) != 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(ac.events("rooms_delta")) == 0 {
		t.Fatal("no room list delta pushed after a room was added")
	}
	if list := ac.roomList(t); len(list) != 5 || list[9].Name != "New" || list[1].Count != 1 {
		t.Fatalf("the client's list after the delta = %v", list)
	}
	if err := g.RemoveRoom(1); err != nil {
		t.Fatal(err)
	}
	if left := ac.events("left"); len(left) != 1 {
		t.Fatalf("member of a removed room not told: %v", left)
	}
	if _, err := g.Say(a, "x", Style{}, ""); CodeOf(err) != CodeNotInRoom {
		t.Fatalf("member still in removed room: %v", err)
	}
	wantCode(t, g.RemoveRoom(1), CodeNoSuchRoom)
}

func TestLogoutLeavesRoomAndFreesName(t *testing.T) {
	g := newTestGroup(t)
	a, _ := login(t, g, "a", true)
	b, bc := login(t, g, "b", true)
	_, _ = g.Join(a, 1, "")
	_, _ = g.Join(b, 1, "")
	g.Disconnect(a.Conn, a)
	if users, _ := g.Users(1); len(users) != 1 || users[0] != "b" {
		t.Fatalf("users after logout = %v", users)
	}
	if p := bc.events("presence"); p[len(p)-1]["event"] != "leave" || p[len(p)-1]["offline"] != true {
		t.Fatalf("no leave presence marked offline: %v", p)
	}
	if conns, users, _ := g.Counts(); conns != 1 || users != 1 {
		t.Fatalf("counts %d %d", conns, users)
	}
	if err := g.Login(&Member{Name: "a", Conn: &fakeConn{}}); err != nil {
		t.Fatalf("name not freed: %v", err)
	}
}

func TestLeavingTheRoomIsNotGoingOffline(t *testing.T) {
	g := newTestGroup(t)
	a, _ := login(t, g, "a", true)
	b, bc := login(t, g, "b", true)
	_, _ = g.Join(a, 1, "")
	_, _ = g.Join(b, 1, "")
	if _, err := g.Join(a, 2, "s3cret"); err != nil { // a leaves room 1 for room 2
		t.Fatal(err)
	}
	g.Leave(a)
	_, _ = g.Join(a, 1, "")
	g.Leave(a)
	for _, p := range bc.events("presence") {
		if p["event"] == "leave" && p["offline"] != nil {
			t.Fatalf("a leave of the room is marked offline: %v", p)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"alice", "Bob Smith", "x_y-z.1", "Jürgen", "李"} {
		if !ValidName(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", " lead", "trail ", "a<b", "semi;colon", strings.Repeat("a", 33), "' OR 1=1 --"} {
		if ValidName(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestFrameEncodedOnce(t *testing.T) {
	f := NewFrame(NoticeEvent{Type: "notice", Text: "x"})
	a, b := f.JSON(), f.JSON()
	if &a[0] != &b[0] {
		t.Fatal("frame encoded twice")
	}
}
