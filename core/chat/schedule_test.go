package chat

import (
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk/schedule"
)

// A room its timetable closes refuses joins, saying when it opens, and
// the messages of the members kept in it; administrators enter and
// speak; a closing with moveOut takes everyone else out and tells them;
// the room list shows the state and the next change in the room's zone.
func TestScheduleStateClosesTheRoom(t *testing.T) {
	g := NewGroup(Options{History: 3, MaxMessageChars: 100, Guests: true, RoomListDelay: -1, TimeZone: "America/New_York"})
	times := []schedule.Entry{{O: "day2", S: "09:00:00", E: "17:00:00"}}
	g.PutRoom(RoomInfo{ID: 1, Name: "Lobby", Member: true, Open: true}, nil)
	g.PutRoom(RoomInfo{ID: 2, Name: "Event", Member: true, Open: true, Schedule: times}, nil)
	g.PutRoom(RoomInfo{ID: 3, Name: "Berlin", Member: true, Open: true, Schedule: times, Zone: "Europe/Berlin"}, nil)

	if v := g.Rooms()[1]; v.Schedule != "off" || !v.Open || v.Zone != "America/New_York" || v.Opens != "" {
		t.Fatalf("not applied yet: %+v", v)
	}
	if _, err := g.SetSchedule(1, ScheduleState{Closed: true}, false); CodeOf(err) != CodeBadRequest {
		t.Fatalf("a room without times: %v", err)
	}

	alice, ac := joinRoom(t, g, "alice", 2)
	bob, bc := joinRoom(t, g, "bob", 3)
	root, _ := login(t, g, "root", false)
	root.Admin = true
	if _, err := g.Join(root, 2, ""); err != nil {
		t.Fatal(err)
	}

	opens := time.Date(2026, 12, 8, 9, 0, 0, 0, mustZone(t, "America/New_York"))
	if _, err := g.SetSchedule(2, ScheduleState{Closed: true, Next: opens}, true); err != nil {
		t.Fatal(err)
	}
	if v := g.Rooms()[1]; v.Schedule != "closed" || v.Open || v.Opens != "2026-12-08T09:00:00-05:00" {
		t.Fatalf("closed: %+v", v)
	}
	if users, _ := g.Users(2); len(users) != 1 || users[0] != "root" {
		t.Fatalf("room 2 holds %v, want the administrator only", users)
	}
	if n := ac.events("notice"); len(n) != 1 || n[0]["text"] != "The room Event has closed; it opens again at Tue 8 Dec 2026 09:00 EST." {
		t.Fatalf("alice was told %v", n)
	}
	if l := ac.events("left"); len(l) != 1 || l[0]["reason"] != ReasonRoomClosed {
		t.Fatalf("alice's left %v", l)
	}
	_, err := g.Join(alice, 2, "")
	wantCode(t, err, CodeRoomClosed)
	if !strings.Contains(err.Error(), "it opens at Tue 8 Dec 2026 09:00 EST") {
		t.Fatalf("join: %v", err)
	}
	if _, err := g.Say(root, "admins may speak", Style{}, ""); err != nil {
		t.Fatalf("the administrator in the closed room: %v", err)
	}

	// Kept read-only: the member stays and cannot speak.
	berlinOpens := time.Date(2026, 12, 8, 9, 0, 0, 0, mustZone(t, "Europe/Berlin"))
	if _, err := g.SetSchedule(3, ScheduleState{Closed: true, Next: berlinOpens}, false); err != nil {
		t.Fatal(err)
	}
	if users, _ := g.Users(3); len(users) != 1 {
		t.Fatalf("room 3 holds %v, want bob kept", users)
	}
	_, err = g.Say(bob, "hello?", Style{}, "")
	wantCode(t, err, CodeRoomClosed)
	if !strings.Contains(err.Error(), "until Tue 8 Dec 2026 09:00 CET: you can read, not write") {
		t.Fatalf("say: %v", err)
	}
	// A message that went through the modules' hooks first meets the same.
	_, err = g.Post(bob, "hello?", Style{}, "")
	wantCode(t, err, CodeRoomClosed)
	if len(bc.events("left")) != 0 {
		t.Fatal("bob was moved out of a read-only room")
	}

	// Opened: joins and messages again; times removed: the state goes.
	if _, err := g.SetSchedule(2, ScheduleState{Next: opens.Add(8 * time.Hour)}, true); err != nil {
		t.Fatal(err)
	}
	if v := g.Rooms()[1]; v.Schedule != "open" || !v.Open || v.Closes != "2026-12-08T17:00:00-05:00" {
		t.Fatalf("opened: %+v", v)
	}
	if _, err := g.Join(alice, 2, ""); err != nil {
		t.Fatal(err)
	}
	info, _ := g.RoomInfo(3)
	info.Schedule = nil
	g.PutRoom(info, nil)
	if _, err := g.Say(bob, "free again", Style{}, ""); err != nil {
		t.Fatalf("say after the times were removed: %v", err)
	}
	if v := g.Rooms()[2]; v.Schedule != "" || v.Zone != "" || !v.Open {
		t.Fatalf("room without times: %+v", v)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
