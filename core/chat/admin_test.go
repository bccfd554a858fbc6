package chat

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestSnapshot(t *testing.T) {
	g := newTestGroup(t)
	a, _ := login(t, g, "alice", true)
	b, _ := login(t, g, "bob", true)
	g.Connect(&fakeConn{}) // not logged in
	if _, err := g.Join(a, 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Join(b, 1, ""); err != nil {
		t.Fatal(err)
	}
	s := g.Snapshot()
	if s.Conns != 3 || s.Users != 2 || len(s.Rooms) != 4 {
		t.Fatalf("snapshot %+v", s)
	}
	if r := s.Rooms[0]; r.ID != 1 || r.Name != "Lobby" || len(r.Users) != 2 || r.Users[0] != "alice" || r.Users[1] != "bob" {
		t.Fatalf("room 1 %+v", r)
	}
	for i := 1; i < len(s.Rooms); i++ {
		if s.Rooms[i-1].ID >= s.Rooms[i].ID {
			t.Fatalf("rooms not ordered: %+v", s.Rooms)
		}
	}
}

func TestStopRefusesLoginsAndClosesConnections(t *testing.T) {
	g := newTestGroup(t)
	_, member := login(t, g, "alice", true)
	anon := &fakeConn{}
	g.Connect(anon)
	if n := g.Stop("Closed for maintenance"); n != 2 {
		t.Fatalf("Stop closed %d connections, want 2", n)
	}
	if !g.Stopped() {
		t.Fatal("not stopped")
	}
	for _, c := range []*fakeConn{member, anon} {
		if ev := c.events("notice"); len(ev) != 1 || ev[0]["text"] != "Closed for maintenance" {
			t.Fatalf("notice %v", ev)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for (member.closedReason() == "" || anon.closedReason() == "") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if member.closedReason() != "group stopped" || anon.closedReason() != "group stopped" {
		t.Fatalf("closed with %q and %q", member.closedReason(), anon.closedReason())
	}
	c := &fakeConn{}
	g.Connect(c)
	if err := g.Login(&Member{Name: "bob", Conn: c}); CodeOf(err) != CodeGroupStopped {
		t.Fatalf("login while stopped: %v", err)
	}
	if !g.Start() || g.Start() {
		t.Fatal("Start should report the stopped state once")
	}
	if err := g.Login(&Member{Name: "bob", Conn: c}); err != nil {
		t.Fatalf("login after start: %v", err)
	}
}

func TestBroadcastFromAndPrivateFrom(t *testing.T) {
	g := newTestGroup(t)
	_, ca := login(t, g, "alice", true)
	anon := &fakeConn{}
	g.Connect(anon)
	if n := g.BroadcastFrom("admin", "hello all"); n != 2 {
		t.Fatalf("reached %d", n)
	}
	for _, c := range []*fakeConn{ca, anon} {
		if ev := c.events("notice"); len(ev) != 1 || ev[0]["from"] != "admin" || ev[0]["text"] != "hello all" {
			t.Fatalf("notice %v", ev)
		}
	}
	if err := g.PrivateFrom("Site", "ALICE", "psst", Style{Bold: true, Color: "#FF0000"}); err != nil {
		t.Fatal(err)
	}
	ev := ca.events("private")
	if len(ev) != 1 || ev[0]["from"] != "Site" || ev[0]["to"] != "alice" || ev[0]["style"].(map[string]any)["color"] != "#ff0000" {
		t.Fatalf("private %v", ev)
	}
	if err := g.PrivateFrom("Site", "nobody", "x", Style{}); CodeOf(err) != CodeNotOnline {
		t.Fatalf("to nobody: %v", err)
	}
	if err := g.PrivateFrom("Site", "alice", "   ", Style{}); CodeOf(err) != CodeEmpty {
		t.Fatalf("empty: %v", err)
	}
}

func TestOnChangeFollowsEveryChange(t *testing.T) {
	var n atomic.Int64
	g := NewGroup(Options{Name: DefaultGroup, History: 3, MaxMessageChars: 20, OnChange: func() { n.Add(1) }})
	step := func(what string, f func()) {
		t.Helper()
		before := n.Load()
		f()
		if n.Load() == before {
			t.Fatalf("%s did not call OnChange", what)
		}
	}
	c := &fakeConn{}
	m := &Member{Name: "alice", Conn: c}
	step("PutRoom", func() { g.PutRoom(RoomInfo{ID: 1, Name: "Lobby", Open: true, Member: true}, nil) })
	step("Connect", func() { g.Connect(c) })
	step("Login", func() { _ = g.Login(m) })
	step("Join", func() { _, _ = g.Join(m, 1, "") })
	step("Leave", func() { g.Leave(m) })
	step("RemoveRoom", func() { _ = g.RemoveRoom(1) })
	step("Logout", func() { g.Logout(m) })
	step("Disconnect", func() { g.Disconnect(c, nil) })
	before := n.Load()
	if err := g.Login(m); err != nil {
		t.Fatal(err)
	}
	if err := g.Login(&Member{Name: "alice", Conn: &fakeConn{}}); err == nil {
		t.Fatal("duplicate login accepted")
	}
	if n.Load() != before+1 {
		t.Fatalf("a refused login called OnChange (%d calls)", n.Load()-before)
	}
}
