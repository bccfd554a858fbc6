package hostapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/hostapi"
	"github.com/parlorchat/parlor/core/serverapi"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// fakeChat is a real chat group (rooms, through the server API's room
// changes) with the members, deliveries and messages said as a user kept
// in memory, so that a test sees what each user would get.
type fakeChat struct {
	*chat.Group
	mu      sync.Mutex
	members map[int64][]chat.MemberView // by room
	online  map[string]bool
	got     map[string][]any // events by user
	said    []chat.Message
	kicked  []string // "name room reason"
	moved   []string // "name room"
}

func newFakeChat() *fakeChat {
	return &fakeChat{Group: chat.NewGroup(chat.Options{History: 10}), members: map[int64][]chat.MemberView{},
		online: map[string]bool{}, got: map[string][]any{}}
}

// enter puts an online user in a room with a role.
func (c *fakeChat) enter(name string, room int64, role sdk.Role) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.online[name] = true
	c.members[room] = append(c.members[room], chat.MemberView{Name: name, Role: role})
}

func (c *fakeChat) events(name string) []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]any(nil), c.got[name]...)
}

func (c *fakeChat) Members(room int64) ([]chat.MemberView, error) {
	if _, ok := c.RoomInfo(room); !ok {
		return nil, chat.Errorf(chat.CodeNoSuchRoom, "There is no room %d.", room)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chat.MemberView{}, c.members[room]...), nil
}

func (c *fakeChat) Kick(name string, room int64, reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.members[room] {
		if chat.NameKey(m.Name) == chat.NameKey(name) {
			c.members[room] = append(c.members[room][:i], c.members[room][i+1:]...)
			c.kicked = append(c.kicked, name+" "+itoa(room)+" "+reason)
			return nil
		}
	}
	return chat.Errorf(chat.CodeNotInRoom, "%s is not in room %d.", name, room)
}

func (c *fakeChat) Move(name string, to int64) error {
	if _, ok := c.RoomInfo(to); !ok {
		return chat.Errorf(chat.CodeNoSuchRoom, "There is no room %d.", to)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.online[name] {
		return chat.Errorf(chat.CodeNotOnline, "%s is not online.", name)
	}
	c.moved = append(c.moved, name+" "+itoa(to))
	return nil
}

func (c *fakeChat) SendUser(name string, f *chat.Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.online[name] {
		return false
	}
	c.got[name] = append(c.got[name], f.Event())
	return true
}

func (c *fakeChat) SendRoom(room int64, f *chat.Frame) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members[room] {
		c.got[m.Name] = append(c.got[m.Name], f.Event())
	}
	return len(c.members[room]), nil
}

func (c *fakeChat) SendModerators(room int64, f *chat.Frame) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.members[room] {
		if m.Role == sdk.RoleModerator || m.Role == sdk.RoleAdmin {
			c.got[m.Name] = append(c.got[m.Name], f.Event())
			n++
		}
	}
	return n
}

func (c *fakeChat) SendAll(f *chat.Frame) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.online {
		c.got[name] = append(c.got[name], f.Event())
	}
	return len(c.online)
}

func (c *fakeChat) SayAs(from string, room int64, text string, style chat.Style, emotion string) (chat.Message, error) {
	return c.SayAt(from, room, text, style, emotion, time.Time{})
}

func (c *fakeChat) SayAt(from string, room int64, text string, style chat.Style, emotion string, at time.Time) (chat.Message, error) {
	if _, ok := c.RoomInfo(room); !ok {
		return chat.Message{}, chat.Errorf(chat.CodeNoSuchRoom, "There is no room %d.", room)
	}
	if at.IsZero() {
		at = time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := chat.Message{ID: int64(len(c.said) + 1), RoomID: room, From: from, Text: text, Style: style, Time: at.UTC()}
	c.said = append(c.said, m)
	return m, nil
}

// TellSanction records the event the user would get, if online.
func (c *fakeChat) TellSanction(sn chat.Sanction, lifted bool, by string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.online[sn.User] {
		return false
	}
	kind := "sanctioned"
	if lifted {
		kind = "sanction_lifted"
	}
	c.got[sn.User] = append(c.got[sn.User], chat.SanctionEvent{Type: kind, ID: sn.ID, Kind: sn.Kind, Room: sn.Room, Reason: sn.Reason, By: by})
	return true
}

func (c *fakeChat) saidTexts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.said {
		out = append(out, m.From+": "+m.Text)
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// platform is a Host API over a real SQLite store, a real server API room
// path and a fake chat.
type platform struct {
	path  string
	st    *store.SQLite
	chat  *fakeChat
	rooms *serverapi.Dispatcher
	api   *hostapi.API
	clock *testenv.Clock
	mu    sync.Mutex
	bans  []chat.Sanction
	notes []sdk.Notification // what Options.Notify got
}

// notified returns the notifications of the held queue so far.
func (p *platform) notified() []sdk.Notification {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sdk.Notification(nil), p.notes...)
}

func newPlatform(t *testing.T, path string, c *fakeChat, clock *testenv.Clock) *platform {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if c == nil {
		c = newFakeChat()
	}
	if clock == nil {
		clock = testenv.NewClock()
	}
	d, err := serverapi.New(serverapi.Options{Store: st, Groups: []serverapi.GroupAccess{{Chat: c.Group}}})
	if err != nil {
		t.Fatal(err)
	}
	p := &platform{path: path, st: st, chat: c, rooms: d, clock: clock}
	p.api = hostapi.New(st, auth.NewSessions(st, auth.SessionOptions{TTL: time.Hour, Now: clock.Now}), hostapi.Options{
		Chat: c, Rooms: d, Now: clock.Now, MaxDocBytes: 8 << 20,
		Prefixes: func(plugin string) []string {
			if plugin == "dice" {
				return []string{"dice."}
			}
			return nil
		},
		OnBan: func(s chat.Sanction) {
			p.mu.Lock()
			p.bans = append(p.bans, s)
			p.mu.Unlock()
		},
		Notify: func(n sdk.Notification) {
			p.mu.Lock()
			p.notes = append(p.notes, n)
			p.mu.Unlock()
		},
	})
	if err := p.api.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// both runs f over the plugin's Host API called directly and over gRPC.
func (p *platform) both(t *testing.T, plugin string, f func(t *testing.T, h sdk.Host)) {
	for name, h := range map[string]sdk.Host{"direct": p.api.For(plugin), "grpc": viaGRPC(t, p.api, plugin)} {
		t.Run(name, func(t *testing.T) { f(t, h) })
	}
}

func ptr[T any](v T) *T { return &v }

func TestRooms(t *testing.T) {
	p := newPlatform(t, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	ctx := context.Background()
	p.both(t, "mod", func(t *testing.T, h sdk.Host) {
		rooms := h.Rooms()
		r, err := rooms.Create(ctx, sdk.Room{Name: "  Lobby ", Desc: "hi", Owner: "ann", Max: 5, Guests: true, Open: true, Password: "pw", Whiteboard: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.ID == 0 || r.Name != "Lobby" || !r.Locked || r.Password != "" || !r.Guests || !r.Open || !r.Whiteboard || r.Max != 5 {
			t.Fatalf("created %+v", r)
		}
		// The server API's path: stored as changed at run time, and in the group.
		stored, err := p.st.Rooms(ctx, chat.DefaultGroup)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, s := range stored {
			if s.ID == r.ID {
				found = s.Origin == chat.OriginAPI && s.Password == "pw" && s.Member
			}
		}
		if !found {
			t.Fatalf("room %d not stored as created at run time: %+v", r.ID, stored)
		}
		if got, err := rooms.Get(ctx, r.ID); err != nil || got.Name != "Lobby" || got.Password != "" || !got.Locked {
			t.Fatalf("get: %+v %v", got, err)
		}
		list, err := rooms.List(ctx)
		if err != nil || len(list) == 0 || list[len(list)-1].ID != r.ID {
			t.Fatalf("list: %+v %v", list, err)
		}
		for _, bad := range []sdk.Room{{Name: " "}, {Name: strings.Repeat("x", 65)}, {Name: "x", Max: -1}} {
			if _, err := rooms.Create(ctx, bad); !errors.Is(err, sdk.ErrInvalid) || sdk.Reason(err) == "" {
				t.Fatalf("create %+v: %v", bad, err)
			}
		}

		if r, err = rooms.Edit(ctx, r.ID, sdk.RoomEdit{Desc: ptr("new"), Password: ptr(""), Moderated: ptr(true)}); err != nil || r.Desc != "new" || r.Locked || !r.Moderated || r.Name != "Lobby" {
			t.Fatalf("edit: %+v %v", r, err)
		}
		if _, err := rooms.Edit(ctx, r.ID, sdk.RoomEdit{}); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("empty edit: %v", err)
		}
		if _, err := rooms.Edit(ctx, r.ID, sdk.RoomEdit{Name: ptr("")}); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("edit to an empty name: %v", err)
		}
		if _, err := rooms.Edit(ctx, 9999, sdk.RoomEdit{Desc: ptr("x")}); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("edit of no room: %v", err)
		}
		if r, err = rooms.SetOpen(ctx, r.ID, false); err != nil || r.Open {
			t.Fatalf("close: %+v %v", r, err)
		}
		if info, _ := p.chat.RoomInfo(r.ID); info.Open {
			t.Fatal("the chat group still has the room open")
		}
		if err := rooms.Delete(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := rooms.Get(ctx, r.ID); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("get deleted: %v", err)
		}
		if err := rooms.Delete(ctx, r.ID); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

// room makes an open room in the platform's chat.
func (p *platform) room(t *testing.T, name, owner string) int64 {
	t.Helper()
	info, err := p.rooms.CreateRoom(context.Background(), chat.RoomInfo{Name: name, Owner: owner, Open: true, Member: true})
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

func TestMembers(t *testing.T) {
	p := newPlatform(t, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	ctx := context.Background()
	lobby, other := p.room(t, "lobby", "mia"), p.room(t, "other", "")
	p.both(t, "mod", func(t *testing.T, h sdk.Host) {
		p.chat.enter("mia", lobby, sdk.RoleModerator)
		p.chat.enter("bob", lobby, sdk.RoleUser)
		ms, err := h.Members().List(ctx, lobby)
		if err != nil || len(ms) != 2 || ms[0].Name != "mia" || ms[0].Role != sdk.RoleModerator || ms[1].Role != sdk.RoleUser {
			t.Fatalf("members: %+v %v", ms, err)
		}
		if _, err := h.Members().List(ctx, 999); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("members of no room: %v", err)
		}
		if err := h.Members().Kick(ctx, "bob", lobby, "spam", "mia", 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		// The cooldown keeps bob out of the lobby, not out of other rooms.
		now := p.clock.Now()
		if s := p.api.Active(sdk.SanctionKick, "BOB", "", lobby, now); s == nil || s.Actor != "mia" || s.Source != "mod" || s.Reason != "spam" {
			t.Fatalf("cooldown: %+v", s)
		}
		if s := p.api.Active(sdk.SanctionKick, "bob", "", other, now); s != nil {
			t.Fatalf("cooldown in another room: %+v", s)
		}
		if s := p.api.Active(sdk.SanctionKick, "bob", "", lobby, now.Add(10*time.Minute)); s != nil {
			t.Fatalf("cooldown after it ended: %+v", s)
		}
		if err := h.Members().Kick(ctx, "bob", lobby, "again", "", 0); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("kick of someone not in the room: %v", err)
		}
		if err := h.Members().Kick(ctx, "", lobby, "", "", 0); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("kick of nobody: %v", err)
		}
		if err := h.Members().Kick(ctx, "mia", lobby, "", "", -time.Second); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("negative cooldown: %v", err)
		}
		if err := h.Members().Move(ctx, "mia", other); err != nil {
			t.Fatal(err)
		}
		if err := h.Members().Move(ctx, "nobody", other); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("move of nobody: %v", err)
		}
		p.chat.mu.Lock()
		p.chat.members = map[int64][]chat.MemberView{}
		p.chat.mu.Unlock()
	})
	if got := strings.Join(p.chat.kicked, "|"); got != "bob "+itoa(lobby)+" spam|bob "+itoa(lobby)+" spam" {
		t.Fatalf("kicked %q", got)
	}
}

func TestSanctions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	p := newPlatform(t, path, nil, nil)
	ctx := context.Background()
	lobby, other := p.room(t, "lobby", ""), p.room(t, "other", "")
	var ids []int64
	p.both(t, "automod", func(t *testing.T, h sdk.Host) {
		sn := h.Sanctions()
		now := p.clock.Now()
		for _, bad := range []sdk.Sanction{
			{Kind: "smite", User: "bob"},
			{Kind: sdk.SanctionBan},
			{Kind: sdk.SanctionMute, IP: "10.0.0.1"},
			{Kind: sdk.SanctionBan, IP: "not-an-ip"},
			{Kind: sdk.SanctionBan, User: "bad!name"},
			{Kind: sdk.SanctionKick, User: "bob"}, // no room, no expiry
			{Kind: sdk.SanctionMute, User: "bob", Expires: now.Add(-time.Second)},
			{Kind: sdk.SanctionMute, User: "bob", Source: "api"},
			{Kind: sdk.SanctionMute, User: "bob", Room: -1},
		} {
			if _, err := sn.Add(ctx, bad); !errors.Is(err, sdk.ErrInvalid) || sdk.Reason(err) == "" {
				t.Fatalf("add %+v: %v", bad, err)
			}
		}
		if _, err := sn.Add(ctx, sdk.Sanction{Kind: sdk.SanctionMute, User: "bob", Room: 999}); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("sanction in no room: %v", err)
		}

		mute, err := sn.Add(ctx, sdk.Sanction{Kind: sdk.SanctionMute, User: "Bob", Room: lobby, Reason: "flood", Actor: "mia", Expires: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if mute.ID == 0 || mute.Source != "automod" || !mute.Created.Equal(now.Truncate(time.Millisecond)) || !mute.Expires.Equal(now.Add(time.Hour).Truncate(time.Millisecond)) {
			t.Fatalf("mute %+v", mute)
		}
		// Room scope, name key, kind and expiry.
		if s := p.api.Active(sdk.SanctionMute, "bob", "", lobby, now); s == nil || s.ID != mute.ID {
			t.Fatalf("mute in the lobby: %+v", s)
		}
		for _, c := range []struct {
			kind, name string
			room       int64
			at         time.Time
		}{
			{sdk.SanctionMute, "bob", other, now},
			{sdk.SanctionBan, "bob", lobby, now},
			{sdk.SanctionMute, "ann", lobby, now},
			{sdk.SanctionMute, "bob", lobby, now.Add(time.Hour)},
		} {
			if s := p.api.Active(c.kind, c.name, "", c.room, c.at); s != nil {
				t.Fatalf("%+v: %+v", c, s)
			}
		}

		// A global ban by CIDR covers its addresses (IPv4-mapped too) in every room, and ends sessions.
		ban, err := sn.Add(ctx, sdk.Sanction{Kind: sdk.SanctionBan, IP: "203.0.113.77/24", Reason: "botnet", Source: "manual"})
		if err != nil {
			t.Fatal(err)
		}
		if ban.IP != "203.0.113.0/24" || ban.Source != "manual" {
			t.Fatalf("ban %+v", ban)
		}
		for _, ip := range []string{"203.0.113.5", "::ffff:203.0.113.200"} {
			if s := p.api.Active(sdk.SanctionBan, "anyone", ip, other, now); s == nil || s.IP != ban.IP || s.Reason != "botnet" {
				t.Fatalf("ban of %s: %+v", ip, s)
			}
		}
		if s := p.api.Active(sdk.SanctionBan, "anyone", "203.0.114.1", other, now); s != nil {
			t.Fatalf("ban outside the prefix: %+v", s)
		}
		p.mu.Lock()
		gotBan := len(p.bans) > 0 && p.bans[len(p.bans)-1].ID == ban.ID
		p.mu.Unlock()
		if !gotBan {
			t.Fatal("OnBan was not called for a global ban")
		}

		// Lifting: recorded, no longer active, not twice.
		lifted, err := sn.Lift(ctx, mute.ID, "mia")
		if err != nil || lifted.LiftedBy != "mia" || lifted.Lifted.IsZero() {
			t.Fatalf("lift: %+v %v", lifted, err)
		}
		if s := p.api.Active(sdk.SanctionMute, "bob", "", lobby, now); s != nil {
			t.Fatalf("lifted mute still active: %+v", s)
		}
		if _, err := sn.Lift(ctx, mute.ID, "mia"); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("lift twice: %v", err)
		}
		if _, err := sn.Lift(ctx, 9999, ""); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("lift of nothing: %v", err)
		}

		// Listing with filters.
		all, err := sn.List(ctx, sdk.SanctionFilter{User: "BOB"})
		if err != nil || len(all) == 0 || all[len(all)-1].ID != mute.ID || all[len(all)-1].LiftedBy != "mia" {
			t.Fatalf("list by user: %+v %v", all, err)
		}
		active, err := sn.List(ctx, sdk.SanctionFilter{User: "bob", Active: true})
		if err != nil || len(active) != 0 {
			t.Fatalf("active of bob: %+v %v", active, err)
		}
		bans, err := sn.List(ctx, sdk.SanctionFilter{Kind: sdk.SanctionBan, Room: other, Active: true})
		if err != nil || len(bans) == 0 || bans[len(bans)-1].ID != ban.ID {
			t.Fatalf("bans that apply in the other room: %+v %v", bans, err)
		}
		if _, err := sn.List(ctx, sdk.SanctionFilter{Kind: "smite"}); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("list of a bad kind: %v", err)
		}
		ids = append(ids, ban.ID)
	})

	// The sanctions in force come back after a restart.
	clock := p.clock
	_ = p.st.Close()
	q := newPlatform(t, path, nil, clock)
	for _, id := range ids {
		if s := q.api.Active(sdk.SanctionBan, "", "203.0.113.9", 0, clock.Now()); s == nil {
			t.Fatalf("ban %d lost at restart", id)
		}
	}
	if s := q.api.Active(sdk.SanctionMute, "bob", "", lobby, clock.Now()); s != nil {
		t.Fatalf("a lifted mute came back: %+v", s)
	}
}

func TestMessaging(t *testing.T) {
	p := newPlatform(t, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	ctx := context.Background()
	lobby, other := p.room(t, "lobby", "mia"), p.room(t, "other", "")
	p.chat.enter("mia", lobby, sdk.RoleModerator)
	p.chat.enter("bob", lobby, sdk.RoleUser)
	p.chat.enter("cy", other, sdk.RoleUser)
	p.both(t, "dice", func(t *testing.T, h sdk.Host) {
		p.chat.mu.Lock()
		p.chat.got = map[string][]any{}
		p.chat.mu.Unlock()
		msgs := h.Messages()
		for _, c := range []struct {
			to   sdk.Audience
			want int
		}{{sdk.ToUser("cy"), 1}, {sdk.ToRoom(lobby), 2}, {sdk.ToModerators(lobby), 1}, {sdk.ToEveryone(), 3}} {
			if n, err := msgs.Notice(ctx, c.to, "hello "+c.to.Kind); err != nil || n != c.want {
				t.Fatalf("notice to %+v: %d %v", c.to, n, err)
			}
		}
		if got := p.chat.events("mia"); len(got) != 3 || got[1].(chat.NoticeEvent).Text != "hello moderators" {
			t.Fatalf("mia got %+v", got)
		}
		if got := p.chat.events("bob"); len(got) != 2 || got[0].(chat.NoticeEvent) != (chat.NoticeEvent{Type: "notice", Text: "hello room"}) {
			t.Fatalf("bob got %+v", got)
		}
		if _, err := msgs.Notice(ctx, sdk.ToUser("gone"), "x"); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("notice to someone offline: %v", err)
		}
		if _, err := msgs.Notice(ctx, sdk.ToRoom(999), "x"); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("notice to no room: %v", err)
		}
		if _, err := msgs.Notice(ctx, sdk.Audience{Kind: "planet"}, "x"); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("notice to a bad audience: %v", err)
		}
		if _, err := msgs.Notice(ctx, sdk.ToEveryone(), ""); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("empty notice: %v", err)
		}

		// Custom events carry the module's name and must use its prefix.
		n, err := msgs.Event(ctx, sdk.ToRoom(lobby), sdk.Event{Type: "dice.rolled", Data: json.RawMessage(`{"total":7}`)})
		if err != nil || n != 2 {
			t.Fatalf("event: %d %v", n, err)
		}
		got := p.chat.events("bob")
		ev, ok := got[len(got)-1].(chat.ModuleEvent)
		if !ok || ev.Type != "dice.rolled" || ev.Module != "dice" || ev.Room != lobby || string(ev.Data) != `{"total":7}` {
			t.Fatalf("bob got %+v", got[len(got)-1])
		}
		for _, typ := range []string{"mod.kick", "dice.", "dice", "rolled", "dice.<b>"} {
			if _, err := msgs.Event(ctx, sdk.ToEveryone(), sdk.Event{Type: typ}); !errors.Is(err, sdk.ErrDenied) && !errors.Is(err, sdk.ErrInvalid) {
				t.Fatalf("event %q: %v", typ, err)
			}
		}
		if _, err := msgs.Event(ctx, sdk.ToEveryone(), sdk.Event{Type: "mod.kick"}); !errors.Is(err, sdk.ErrDenied) || !strings.Contains(sdk.Reason(err), "dice.") {
			t.Fatalf("event outside the prefix: %v", err)
		}
		if _, err := msgs.Event(ctx, sdk.ToEveryone(), sdk.Event{Type: "dice.x", Data: json.RawMessage(`{`)}); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("event with bad JSON: %v", err)
		}

		// A message as a user.
		m, err := msgs.SayAs(ctx, sdk.Say{From: "bob", Room: lobby, Text: "rolled 7", Style: sdk.Style{Bold: true}, Emotion: "e3"})
		if err != nil || m.ID == 0 || m.From != "bob" || m.Room != lobby || !m.Style.Bold {
			t.Fatalf("say as: %+v %v", m, err)
		}
		for _, bad := range []sdk.Say{{From: "bob", Room: lobby, Text: "x", Emotion: "e33"}, {From: "", Room: lobby, Text: "x"}, {From: "bob", Text: "x"}, {From: "bob", Room: lobby}} {
			if _, err := msgs.SayAs(ctx, bad); !errors.Is(err, sdk.ErrInvalid) {
				t.Fatalf("say as %+v: %v", bad, err)
			}
		}
		if _, err := msgs.SayAs(ctx, sdk.Say{From: "bob", Room: 999, Text: "x"}); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("say in no room: %v", err)
		}
	})
	// A module with no prefix sends no events.
	if _, err := p.api.For("quiet").Messages().Event(ctx, sdk.ToEveryone(), sdk.Event{Type: "quiet.x"}); !errors.Is(err, sdk.ErrDenied) {
		t.Fatalf("event of a module without prefixes: %v", err)
	}
}

func TestHeldSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	p := newPlatform(t, path, nil, nil)
	ctx := context.Background()
	lobby := p.room(t, "lobby", "mia")
	var ids []int64
	for _, text := range []string{"first", "second", "third"} {
		id, err := p.api.HoldBy(ctx, "automod", chat.Message{RoomID: lobby, From: "bob", Text: text, Style: chat.Style{Italic: true}}, "links")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := p.api.Hold(ctx, chat.Message{From: "bob", Text: "x"}, ""); err == nil {
		t.Fatal("held a message without a room")
	}

	// Reopen the store: the held messages are still there.
	clock := p.clock
	_ = p.st.Close()
	c := newFakeChat()
	q := newPlatform(t, path, c, clock)
	if _, err := q.rooms.CreateRoom(ctx, chat.RoomInfo{Name: "placeholder"}); err != nil {
		t.Fatal(err)
	}
	rooms, _ := q.st.Rooms(ctx, chat.DefaultGroup)
	for _, r := range rooms {
		c.PutRoom(r, nil)
	}
	c.enter("bob", lobby, sdk.RoleUser)
	h := viaGRPC(t, q.api, "mod")
	list, err := h.Held().List(ctx, lobby)
	if err != nil || len(list) != 3 {
		t.Fatalf("held after restart: %+v %v", list, err)
	}
	if l := list[0]; l.ID != ids[0] || l.Message.Text != "first" || l.Message.From != "bob" || !l.Message.Style.Italic || l.Note != "links" || l.Plugin != "automod" || l.Message.Time.IsZero() {
		t.Fatalf("held %+v", l)
	}
	if all, err := h.Held().List(ctx, 0); err != nil || len(all) != 3 {
		t.Fatalf("held everywhere: %d %v", len(all), err)
	}

	// Released later, edited: the room gets it from its author, with the
	// time it was written.
	q.clock.Add(5 * time.Minute)
	m, err := h.Held().Release(ctx, ids[0], sdk.Resolution{Actor: "mia", Reason: "fine", Text: "first, edited"})
	if err != nil || m.Text != "first, edited" || m.From != "bob" || m.ID == 0 || !m.Time.Equal(list[0].Message.Time) {
		t.Fatalf("release: %+v %v (held at %s)", m, err, list[0].Message.Time)
	}
	if got := strings.Join(c.saidTexts(), "|"); got != "bob: first, edited" {
		t.Fatalf("said %q", got)
	}
	if _, err := h.Held().Release(ctx, ids[0], sdk.Resolution{}); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("release twice: %v", err)
	}
	if err := h.Held().Decline(ctx, ids[1], sdk.Resolution{Actor: "mia", Reason: "no links"}); err != nil {
		t.Fatal(err)
	}
	// The modules heard of both, with who resolved them.
	notes := q.notified()
	if len(notes) != 2 || notes[0].Kind != sdk.MessageReleased || notes[0].Held.ID != ids[0] || notes[0].Held.Message.Text != "first, edited" ||
		notes[0].Resolution.Actor != "mia" || notes[0].Message == nil || notes[0].Message.ID != m.ID || notes[0].User != "bob" ||
		notes[1].Kind != sdk.MessageDeclined || notes[1].Held.ID != ids[1] || notes[1].Resolution.Reason != "no links" || notes[1].Room != lobby {
		t.Fatalf("notifications %+v", notes)
	}
	// And the audit log has them, newest first.
	log, err := h.Audit().List(ctx, sdk.AuditFilter{Room: lobby})
	if err != nil || len(log) < 2 || log[0].Action != sdk.AuditDecline || log[0].Actor != "mia" || log[0].Target != "bob" ||
		log[1].Action != sdk.AuditApprove || !strings.Contains(log[1].Detail, "edited") || log[1].Source != "mod" || log[1].Plugin != "" {
		t.Fatalf("audit %+v %v", log, err)
	}
	got := c.events("bob")
	if len(got) != 1 || !strings.Contains(got[0].(chat.NoticeEvent).Text, "no links") || !strings.Contains(got[0].(chat.NoticeEvent).Text, "lobby") {
		t.Fatalf("the author got %+v", got)
	}
	if err := h.Held().Decline(ctx, ids[1], sdk.Resolution{}); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("decline twice: %v", err)
	}
	if list, _ := h.Held().List(ctx, lobby); len(list) != 1 || list[0].ID != ids[2] {
		t.Fatalf("left held: %+v", list)
	}
}

func TestDocs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	p := newPlatform(t, path, nil, nil)
	ctx := context.Background()
	// Past the KV limit and past gRPC's default 4 MiB message.
	big := bytes.Repeat([]byte("whiteboard-stroke;"), (5<<20)/18)
	p.both(t, "wb", func(t *testing.T, h sdk.Host) {
		docs := h.Docs()
		key := "board/" + t.Name()
		v, err := docs.Put(ctx, key, big, 0)
		if err != nil || v != 1 {
			t.Fatalf("put: %d %v", v, err)
		}
		d, err := docs.Get(ctx, key)
		if err != nil || d.Version != 1 || !bytes.Equal(d.Value, big) || d.Size != len(big) || d.Updated.IsZero() {
			t.Fatalf("get: version %d, %d bytes, %v", d.Version, len(d.Value), err)
		}
		// Optimistic concurrency.
		if _, err := docs.Put(ctx, key, []byte("x"), 0); !errors.Is(err, sdk.ErrConflict) {
			t.Fatalf("create over an existing document: %v", err)
		}
		if v, err = docs.Put(ctx, key, []byte("v2"), 1); err != nil || v != 2 {
			t.Fatalf("put at version 1: %d %v", v, err)
		}
		if _, err := docs.Put(ctx, key, []byte("stale"), 1); !errors.Is(err, sdk.ErrConflict) || !strings.Contains(sdk.Reason(err), "version 2") {
			t.Fatalf("stale put: %v", err)
		}
		if v, err = docs.Put(ctx, key, []byte("v3"), sdk.AnyVersion); err != nil || v != 3 {
			t.Fatalf("put at any version: %d %v", v, err)
		}
		if _, err := docs.Put(ctx, key, make([]byte, 8<<20+1), sdk.AnyVersion); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("over the limit: %v", err)
		}
		if _, err := docs.Put(ctx, "", nil, 0); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("empty key: %v", err)
		}
		if _, err := docs.Put(ctx, key+"/empty", nil, 0); err != nil {
			t.Fatalf("empty value: %v", err)
		}
		if d, err := docs.Get(ctx, key+"/empty"); err != nil || len(d.Value) != 0 || d.Version != 1 {
			t.Fatalf("empty document: %+v %v", d, err)
		}
		list, err := docs.List(ctx, "board/"+t.Name())
		if err != nil || len(list) != 2 || list[0].Key != key || list[0].Version != 3 || list[0].Size != 2 || list[0].Value != nil {
			t.Fatalf("list: %+v %v", list, err)
		}
		if err := docs.Delete(ctx, key, 2); !errors.Is(err, sdk.ErrConflict) {
			t.Fatalf("delete at a stale version: %v", err)
		}
		if err := docs.Delete(ctx, key, 3); err != nil {
			t.Fatal(err)
		}
		if _, err := docs.Get(ctx, key); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("get deleted: %v", err)
		}
		if err := docs.Delete(ctx, key, sdk.AnyVersion); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})

	// Documents are private to their plugin and survive a restart.
	wb, other := p.api.For("wb"), p.api.For("other")
	if _, err := wb.Docs().Put(ctx, "shared-name", []byte("wb's"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Docs().Get(ctx, "shared-name"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("another plugin reads wb's document: %v", err)
	}
	if v, err := other.Docs().Put(ctx, "shared-name", []byte("other's"), 0); err != nil || v != 1 {
		t.Fatalf("another plugin's own document: %d %v", v, err)
	}
	if list, _ := other.Docs().List(ctx, ""); len(list) != 1 {
		t.Fatalf("other lists %+v", list)
	}
	_ = p.st.Close()
	q := newPlatform(t, path, nil, p.clock)
	if d, err := q.api.For("wb").Docs().Get(ctx, "shared-name"); err != nil || string(d.Value) != "wb's" {
		t.Fatalf("after restart: %q %v", d.Value, err)
	}
}

// The chat may come after the API (it takes the API as its sanctions):
// until SetChat the calls that need it fail clearly, then they work.
func TestSetChatLater(t *testing.T) {
	p := newPlatform(t, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	ctx := context.Background()
	api := hostapi.New(p.st, auth.NewSessions(p.st, auth.SessionOptions{TTL: time.Hour}), hostapi.Options{})
	if _, err := api.For("mod").Rooms().Create(ctx, sdk.Room{Name: "early"}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("create before the chat: %v", err)
	}
	if _, err := api.For("mod").Rooms().List(ctx); err == nil {
		t.Fatal("list before the chat answered")
	}
	api.SetChat(p.chat, p.rooms)
	if r, err := api.For("mod").Rooms().Create(ctx, sdk.Room{Name: "later", Open: true}); err != nil || r.ID == 0 {
		t.Fatalf("create after SetChat: %+v %v", r, err)
	}
	if list, err := api.For("mod").Rooms().List(ctx); err != nil || len(list) != 1 {
		t.Fatalf("list after SetChat: %+v %v", list, err)
	}
}

// An edit refuses the values it brings, not those the room already had
// (a config room may have a long owner list).
func TestEditKeepsWhatTheRoomHad(t *testing.T) {
	p := newPlatform(t, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	ctx := context.Background()
	owners := strings.Repeat("moderator,", 10)
	p.chat.PutRoom(chat.RoomInfo{ID: 7, Name: "from config", Owner: owners, Open: true, Origin: chat.OriginConfig}, nil)
	r, err := p.api.For("mod").Rooms().Edit(ctx, 7, sdk.RoomEdit{Desc: ptr("changed")})
	if err != nil || r.Desc != "changed" || r.Owner != owners {
		t.Fatalf("edit: %+v %v", r, err)
	}
	if _, err := p.api.For("mod").Rooms().Edit(ctx, 7, sdk.RoomEdit{Owner: ptr(owners + "x")}); !errors.Is(err, sdk.ErrInvalid) || !strings.Contains(sdk.Reason(err), "owner is too long") {
		t.Fatalf("longer owner list: %v", err)
	}
}

// TestRoomSchedule: a room's opening times and zone go through the
// server API's checks and are stored; the timetable's verdict is set,
// not stored, and refused for a room without times.
func TestRoomSchedule(t *testing.T) {
	p := newPlatform(t, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	ctx := context.Background()
	p.both(t, "schedule", func(t *testing.T, h sdk.Host) {
		rooms := h.Rooms()
		r, err := rooms.Create(ctx, sdk.Room{Name: "Event", Open: true, Guests: true,
			Schedule: []schedule.Entry{{O: "DAY2", S: "09:00", E: "17:00"}}, OwnZone: "Europe/Berlin"})
		if err != nil {
			t.Fatal(err)
		}
		want := []schedule.Entry{{O: "day2", S: "09:00:00", E: "17:00:00"}}
		if !reflect.DeepEqual(r.Schedule, want) || r.Zone != "Europe/Berlin" || r.OwnZone != "Europe/Berlin" || r.Scheduled {
			t.Fatalf("created %+v", r)
		}
		stored, _ := p.st.Rooms(ctx, chat.DefaultGroup)
		if s := stored[len(stored)-1]; !reflect.DeepEqual(s.Schedule, want) || s.Zone != "Europe/Berlin" {
			t.Fatalf("stored %+v", s)
		}
		bad := []schedule.Entry{{O: "day9", S: "09:00", E: "10:00"}}
		if _, err := rooms.Edit(ctx, r.ID, sdk.RoomEdit{Schedule: &bad}); !errors.Is(err, sdk.ErrInvalid) || !strings.Contains(sdk.Reason(err), `roomOpen: opening time 1: "day9"`) {
			t.Fatalf("bad times: %v", err)
		}
		if _, err := rooms.Edit(ctx, r.ID, sdk.RoomEdit{Zone: ptr("Mars/Olympus")}); !errors.Is(err, sdk.ErrInvalid) || !strings.Contains(sdk.Reason(err), "tz:") {
			t.Fatalf("bad zone: %v", err)
		}
		next := time.Date(2026, 12, 8, 8, 0, 0, 0, time.UTC)
		got, err := rooms.SetSchedule(ctx, r.ID, sdk.ScheduleState{Closed: true, Next: next})
		if err != nil || !got.Scheduled || !got.ScheduleClosed || !got.NextChange.Equal(next) {
			t.Fatalf("set schedule: %+v %v", got, err)
		}
		if g, _ := rooms.Get(ctx, r.ID); !g.ScheduleClosed || !g.NextChange.Equal(next) {
			t.Fatalf("get after the verdict: %+v", g)
		}
		none := []schedule.Entry{}
		if r, err = rooms.Edit(ctx, r.ID, sdk.RoomEdit{Schedule: &none, Zone: ptr("")}); err != nil || len(r.Schedule) != 0 || r.Scheduled || r.OwnZone != "" || r.Zone != "UTC" {
			t.Fatalf("clearing edit: %+v %v", r, err)
		}
		if _, err := rooms.SetSchedule(ctx, r.ID, sdk.ScheduleState{Closed: true}); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("verdict on a room without times: %v", err)
		}
	})
}
