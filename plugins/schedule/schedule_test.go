package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	parlor "github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// fakeClock is a clock the test moves: waits deliver once it has been
// moved past them.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []fakeWait
}

type fakeWait struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !t.After(c.now) {
		ch <- c.now
		return ch
	}
	c.waits = append(c.waits, fakeWait{at: t, ch: ch})
	return ch
}

// Set moves the clock to t and delivers the waits it reached.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	keep := c.waits[:0]
	for _, w := range c.waits {
		if !w.at.After(t) {
			w.ch <- t
			continue
		}
		keep = append(keep, w)
	}
	c.waits = keep
}

func berlin(t *testing.T, y int, m time.Month, d, h, min int) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(y, m, d, h, min, 0, 0, loc)
}

// waitState waits until room id of srv's group has the schedule state
// want (Next compared as instants).
func waitState(t *testing.T, g *chat.Group, id int64, closed bool, next time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := g.RoomInfo(id)
		s := info.Sched
		if s.Applied && s.Closed == closed && s.Next.Equal(next) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %d: schedule state %+v, want closed=%v next=%v", id, s, closed, next)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// roomIn finds room id in a rooms event or the changed part of a delta.
func roomIn(ev map[string]any, key string, id int64) map[string]any {
	list, _ := ev[key].([]any)
	for _, r := range list {
		if m, ok := r.(map[string]any); ok && m["id"] == float64(id) {
			return m
		}
	}
	return nil
}

// TestServerOpensAndClosesOnAFakeClock runs the module in the test
// process, on a clock the test moves, against a real server's Host API:
// rooms of the config file with the seed's Tuesday 00:00-10:00, read in
// Europe/Berlin, open at midnight and close at ten, with the room list,
// the join refusal, the warning, the opening notice, the move-out and
// the read-only room as users see them over the WebSocket protocol.
func TestServerOpensAndClosesOnAFakeClock(t *testing.T) {
	cfg := servertest.Config(t)
	cfg.Chat.TimeZone = "Europe/Berlin"
	tuesday := []parlor.OpenTime{{O: "day2", S: "00:00:00", E: "10:00:00"}}
	cfg.Rooms = []parlor.Room{
		{ID: 1, Name: "Lobby", Member: true, Open: true},
		{ID: 2, Name: "Event", Member: true, Open: true, OpenTimes: tuesday},
		{ID: 3, Name: "Stage", Member: true, Open: true, OpenTimes: tuesday},
	}
	srv := servertest.Start(t, cfg)
	g := srv.Group()

	clock := newFakeClock(berlin(t, 2026, time.November, 30, 23, 59)) // a Monday
	mod := New(nil, clock)
	m := sdktest.Module(t, mod, map[string]any{"warn": "5m", "rooms": map[string]any{"3": map[string]any{"on_close": "read_only"}}}, srv.HostAPI("schedule"))
	t.Cleanup(mod.Close)

	opens := berlin(t, 2026, time.December, 1, 0, 0)
	closes := berlin(t, 2026, time.December, 1, 10, 0)
	waitState(t, g, 2, true, opens)
	waitState(t, g, 3, true, opens)

	alice := servertest.Dial(t, srv)
	bob := servertest.Dial(t, srv)
	alice.Login("alice", "")
	bob.Login("bob", "")
	list := alice.Want("rooms")
	r2 := roomIn(list, "rooms", 2)
	if r2 == nil || r2["open"] != false || r2["schedule"] != "closed" || r2["opens"] != "2026-12-01T00:00:00+01:00" || r2["tz"] != "Europe/Berlin" {
		t.Fatalf("room 2 in the list: %v", r2)
	}
	if r1 := roomIn(list, "rooms", 1); r1 == nil || r1["schedule"] != nil || r1["opens"] != nil {
		t.Fatalf("room 1 without times in the list: %v", r1)
	}

	alice.Send(map[string]any{"type": "join", "room": 2})
	if msg := alice.WantError("room_closed"); !strings.Contains(msg, "opens at Tue 1 Dec 2026 00:00 CET") {
		t.Fatalf("join of the closed room: %q", msg)
	}
	// The module's own join hook says the same from the rules.
	room2, _ := g.Room(2)
	_, err := m.OnJoin(context.Background(), sdk.JoinEvent{User: sdk.Caller{Name: "alice", Role: sdk.RoleGuest}, Room: room2})
	var ref *sdk.Refusal
	if !errors.As(err, &ref) || ref.Code != "room_closed" || !strings.Contains(ref.Message, "opens at Tue 1 Dec 2026 00:00 CET") {
		t.Fatalf("OnJoin of the closed room: %v", err)
	}
	if _, err := m.OnJoin(context.Background(), sdk.JoinEvent{User: sdk.Caller{Name: "root", Role: sdk.RoleAdmin}, Room: room2}); err != nil {
		t.Fatalf("OnJoin of an administrator: %v", err)
	}

	// Midnight: both rooms open for everyone at once.
	clock.Set(opens)
	waitState(t, g, 2, false, closes)
	d := alice.WantMatch("rooms_delta", func(ev map[string]any) bool { return roomIn(ev, "changed", 2) != nil })
	if r := roomIn(d, "changed", 2); r["open"] != true || r["schedule"] != "open" || r["closes"] != "2026-12-01T10:00:00+01:00" {
		t.Fatalf("room 2 opened: %v", r)
	}
	waitState(t, g, 3, false, closes)
	alice.Join(2, "")
	bob.Join(3, "")
	if _, err := m.OnJoin(context.Background(), sdk.JoinEvent{User: sdk.Caller{Name: "alice", Role: sdk.RoleGuest}, Room: room2}); err != nil {
		t.Fatalf("OnJoin of the open room: %v", err)
	}

	// Five minutes before ten: the members are warned, once.
	clock.Set(closes.Add(-5 * time.Minute))
	if n := alice.WantMatch("notice", func(ev map[string]any) bool { return strings.Contains(ev["text"].(string), "closes") }); n["text"] != "The room Event closes in 5 minutes, at Tue 1 Dec 2026 10:00 CET." {
		t.Fatalf("warning %v", n)
	}
	bob.WantMatch("notice", func(ev map[string]any) bool {
		return strings.Contains(ev["text"].(string), "The room Stage closes in 5 minutes")
	})
	alice.Send(map[string]any{"type": "say", "text": "still here"})
	alice.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == "still here" })

	// Ten: alice is moved out of Event and told when it opens again; bob
	// stays in Stage, reading only.
	clock.Set(closes)
	next := berlin(t, 2026, time.December, 8, 0, 0)
	waitState(t, g, 2, true, next)
	if n := alice.WantMatch("notice", func(ev map[string]any) bool { return strings.Contains(ev["text"].(string), "has closed") }); n["text"] != "The room Event has closed; it opens again at Tue 8 Dec 2026 00:00 CET." {
		t.Fatalf("closing notice %v", n)
	}
	if left := alice.Want("left"); left["room"] != 2.0 || left["reason"] != chat.ReasonRoomClosed {
		t.Fatalf("left %v", left)
	}
	if users, _ := g.Users(2); len(users) != 0 {
		t.Fatalf("room 2 still holds %v", users)
	}
	waitState(t, g, 3, true, next)
	bob.WantMatch("notice", func(ev map[string]any) bool {
		return ev["text"] == "The room Stage has closed; it opens again at Tue 8 Dec 2026 00:00 CET: you can read, not write."
	})
	if users, _ := g.Users(3); len(users) != 1 || users[0] != "bob" {
		t.Fatalf("room 3 holds %v, want bob kept", users)
	}
	bob.Send(map[string]any{"type": "say", "text": "anyone?"})
	if msg := bob.WantError("room_closed"); !strings.Contains(msg, "until Tue 8 Dec 2026 00:00 CET: you can read, not write") {
		t.Fatalf("say in the read-only room: %q", msg)
	}
	alice.Send(map[string]any{"type": "join", "room": 2})
	if msg := alice.WantError("room_closed"); !strings.Contains(msg, "opens at Tue 8 Dec 2026 00:00 CET") {
		t.Fatalf("join after the closing: %q", msg)
	}

	// Next Tuesday: Stage opens with its notice to bob, who is still in it.
	clock.Set(next)
	bob.WantMatch("notice", func(ev map[string]any) bool {
		return ev["text"] == "The room is open. It closes at Tue 8 Dec 2026 10:00 CET."
	})
	bob.Send(map[string]any{"type": "say", "text": "open again"})
	bob.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == "open again" })
}

// TestConfigErrors: the configuration is checked, with the key named.
func TestConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"on_close":"vanish"}`:            `on_close "vanish" is not "move" or "read_only"`,
		`{"warn":"soon"}`:                  `"soon" is not a duration`,
		`{"warn":"48h"}`:                   "warn 48h0m0s is outside 0s..24h0m0s",
		`{"recheck":"1ms"}`:                "recheck 1ms is outside",
		`{"rooms":{"lobby":{}}}`:           `rooms: "lobby" is not a room id`,
		`{"rooms":{"4":{"warn":"-1m"}}}`:   "rooms.4.warn -1m0s is outside",
		`{"rooms":{"4":{"on_close":"x"}}}`: `rooms.4.on_close "x"`,
		`{"warning":"5m"}`:                 `unknown key "warning"`,
	} {
		m := New(nil, realClock{})
		err := m.Configure(context.Background(), sdktest.Config(t, []byte(cfg)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %s: %v, want %q", cfg, err, want)
		}
	}
}

// TestExampleConfig: config/schedule.yaml loads, and the module takes its
// plugin configuration.
func TestExampleConfig(t *testing.T) {
	c, err := parlor.Load(filepath.Join(testenv.ModuleRoot(t), "config", "schedule.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Chat.TimeZone != "Europe/Berlin" || len(c.Rooms) != 3 || len(c.Rooms[2].OpenTimes) != 2 || c.Rooms[2].TZ != "America/New_York" {
		t.Fatalf("config/schedule.yaml: %+v %+v", c.Chat, c.Rooms)
	}
	raw, err := json.Marshal(c.Plugins.Load["schedule"].Config)
	if err != nil {
		t.Fatal(err)
	}
	m := New(nil, realClock{})
	err = m.Configure(context.Background(), sdk.Config{Raw: raw})
	if err == nil || !strings.Contains(err.Error(), "no Host API") {
		t.Fatalf("configure: %v, want only the missing Host API refused", err)
	}
	if p := m.policyOf(3); p.moveOut || p.warn != 10*time.Minute || p.openMessage != "The stage is open!" {
		t.Fatalf("room 3's policy %+v", p)
	}
	if p := m.policyOf(2); !p.moveOut || p.warn != 5*time.Minute {
		t.Fatalf("room 2's policy %+v", p)
	}
}

// TestStartedInsideAWindow: a server (and module) started inside a
// window opens the room at once, with its closing; before the module
// runs, the times are shown but not applied.
func TestStartedInsideAWindow(t *testing.T) {
	cfg := servertest.Config(t)
	cfg.Chat.TimeZone = "Europe/Berlin"
	cfg.Rooms = []parlor.Room{{ID: 1, Name: "Event", Member: true, Open: true,
		OpenTimes: []parlor.OpenTime{{O: "daily", S: "22:00", E: "02:00"}}}} // across midnight
	srv := servertest.Start(t, cfg)
	if v := srv.Group().Rooms()[0]; v.Schedule != "off" || !v.Open || v.Closes != "" {
		t.Fatalf("before the module: %+v", v)
	}
	clock := newFakeClock(berlin(t, 2026, time.December, 2, 1, 30)) // inside Tuesday's window, after midnight
	mod := New(nil, clock)
	sdktest.Module(t, mod, nil, srv.HostAPI("schedule"))
	t.Cleanup(mod.Close)
	waitState(t, srv.Group(), 1, false, berlin(t, 2026, time.December, 2, 2, 0))
	if v := srv.Group().Rooms()[0]; v.Schedule != "open" || !v.Open || v.Closes != "2026-12-02T02:00:00+01:00" {
		t.Fatalf("started inside the window: %+v", v)
	}
	c := servertest.Dial(t, srv)
	c.Login("early", "")
	c.Join(1, "")
}

// TestWarningOnceAcrossRestarts: a module started again inside the
// warning window of a closing it warned of does not warn again.
func TestWarningOnceAcrossRestarts(t *testing.T) {
	cfg := servertest.Config(t)
	cfg.Chat.TimeZone = "Europe/Berlin"
	cfg.Rooms = []parlor.Room{{ID: 1, Name: "Event", Member: true, Open: true,
		OpenTimes: []parlor.OpenTime{{O: "day2", S: "00:00:00", E: "10:00:00"}}}}
	srv := servertest.Start(t, cfg)
	c := servertest.Dial(t, srv)
	c.Login("ann", "")
	c.Join(1, "")
	at := berlin(t, 2026, time.December, 1, 9, 57)
	for i := range 2 {
		mod := New(nil, newFakeClock(at))
		sdktest.Module(t, mod, map[string]any{"warn": "5m"}, srv.HostAPI("schedule"))
		if i == 0 {
			c.WantMatch("notice", func(ev map[string]any) bool {
				return ev["text"] == "The room Event closes in 3 minutes, at Tue 1 Dec 2026 10:00 CET."
			})
		}
		// The module has applied the times once it listed the rooms;
		// a second, unchanged pass follows any room change.
		waitState(t, srv.Group(), 1, false, berlin(t, 2026, time.December, 1, 10, 0))
		time.Sleep(200 * time.Millisecond)
		mod.Close()
	}
	if _, err := srv.HostAPI("test").Messages().Notice(context.Background(), sdk.ToRoom(1), "marker"); err != nil {
		t.Fatal(err)
	}
	if n := c.Want("notice"); n["text"] != "marker" {
		t.Fatalf("after the restart the room got %v, want no second warning", n)
	}
}
