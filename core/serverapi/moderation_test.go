package serverapi

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/hostapi"
	"github.com/parlorchat/parlor/core/store"
)

// modFixture is a dispatcher whose group enforces the sanctions of a
// real Host API over a real store, as in the server.
type modFixture struct {
	*fixture
	api *hostapi.API
}

func newModFixture(t *testing.T) *modFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "parlor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	api := hostapi.New(st, auth.NewSessions(st, auth.SessionOptions{TTL: time.Hour}), hostapi.Options{})
	if err := api.Load(ctx); err != nil {
		t.Fatal(err)
	}
	g := chat.NewGroup(chat.Options{Name: "default", History: 10, MaxMessageChars: 100, Guests: true, Sanctions: api})
	for _, info := range []chat.RoomInfo{
		{ID: 1, Group: "default", Name: "Lobby", Member: true, Open: true, Origin: chat.OriginConfig},
		{ID: 2, Group: "default", Name: "Quiet", Member: true, Open: true, Origin: chat.OriginConfig, PassAllMessage: true},
	} {
		if _, err := st.SaveRoom(ctx, info); err != nil {
			t.Fatal(err)
		}
		g.PutRoom(info, nil)
	}
	d, err := New(Options{Store: st, Groups: []GroupAccess{{Chat: g, Password: testPwd, AllowFrom: []string{"127.0.0.1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	api.SetChat(g, d)
	d.SetHost(api.Operator())
	return &modFixture{fixture: &fixture{d: d, g: g, st: st}, api: api}
}

// online logs a user in from ip and puts them in room (0: none).
func (f *modFixture) online(t *testing.T, name, ip string, room int64) (*fakeConn, *chat.Member) {
	t.Helper()
	c := &fakeConn{}
	f.g.Connect(c)
	m := &chat.Member{Name: name, Conn: c, IP: ip}
	if err := f.g.Login(m); err != nil {
		t.Fatal(err)
	}
	if room != 0 {
		if _, err := f.g.Join(m, room, ""); err != nil {
			t.Fatal(err)
		}
	}
	return c, m
}

func TestKickCommand(t *testing.T) {
	f := newModFixture(t)
	c, m := f.online(t, "bob", "198.51.100.4", 1)
	wantCode(t, f.do("kick", "room_id", "1"), CodeBadArgument, "Missing attribute user")
	wantCode(t, f.do("kick", "user", "bob"), CodeBadArgument, "Missing attribute room_id")
	wantCode(t, f.do("kick", "user", "nobody", "room_id", "1"), CodeNotFound, "not online")
	wantCode(t, f.do("kick", "user", "bob", "room_id", "1", "minutes", "-5"), CodeBadArgument, "minutes=-5")
	wantCode(t, f.do("kick", "user", "bob", "room_id", "9"), CodeNotFound, "")
	wantCode(t, f.do("kick", "user", "bob", "room_id", "1", "reason", "flooding", "minutes", "10"), CodeOK, "10 minutes")
	if ev := c.last("left"); ev == nil || !strings.Contains(ev["reason"].(string), "flooding") {
		t.Fatalf("bob was not told: %v", c.events)
	}
	// The cooldown keeps bob out, saying why and for how long.
	_, err := f.g.Join(m, 1, "")
	if chat.CodeOf(err) != chat.CodeKicked || !strings.Contains(err.Error(), "flooding") || !strings.Contains(err.Error(), "come back in") {
		t.Fatalf("rejoin: %v", err)
	}
	if _, err := f.g.Join(m, 2, ""); err != nil {
		t.Fatalf("another room: %v", err)
	}
	r := f.do("get_audit", "action", "kick")
	if r.Code != CodeOK || len(r.Audit) != 1 || r.Audit[0].Target != "bob" || r.Audit[0].Source != "api" || r.Audit[0].Actor != "api" {
		t.Fatalf("audit %+v", r)
	}
}

func TestBanAndUnbanCommands(t *testing.T) {
	f := newModFixture(t)
	bob, _ := f.online(t, "bob", "198.51.100.4", 1)
	wantCode(t, f.do("ban"), CodeBadArgument, "Missing attribute user or ip")
	wantCode(t, f.do("ban", "user", "ghost"), CodeNotFound, "There is no user \"ghost\"")
	wantCode(t, f.do("ban", "ip", "10.0.0.0/33"), CodeBadArgument, "not an IP address or a CIDR prefix")
	wantCode(t, f.do("ban", "ip", "10.0.0.1", "until", "2001-01-01T00:00:00Z"), CodeBadArgument, "not in the future")
	wantCode(t, f.do("ban", "ip", "10.0.0.1", "until", "tomorrow"), CodeBadArgument, "until=")
	wantCode(t, f.do("ban", "ip", "10.0.0.1", "minutes", "5", "until", "2099-01-01T00:00:00Z"), CodeBadArgument, "not both")
	wantCode(t, f.do("ban", "user", "bob", "room_id", "7"), CodeNotFound, "no room 7")

	// A room ban takes bob out of the room and tells him.
	r := f.do("ban", "user", "bob", "room_id", "1", "minutes", "30", "reason", "rude", "actor", "ops")
	wantCode(t, r, CodeOK, "bob is banned from room 1 until")
	if r.Sanction == nil || r.Sanction.Kind != "ban" || r.Sanction.Source != "api" || r.Sanction.Actor != "ops" || !r.Sanction.Active || r.Sanction.Expires == "" {
		t.Fatalf("sanction %+v", r.Sanction)
	}
	roomBan := r.Sanction.ID
	if ev := bob.last("sanctioned"); ev == nil || ev["kind"] != "ban" || ev["reason"] != "rude" || ev["until"] == "" || ev["by"] != "ops" {
		t.Fatalf("bob got %v", bob.events)
	}
	if ev := bob.last("left"); ev == nil {
		t.Fatalf("bob is still in the room: %v", bob.events)
	}
	// An IPv6 range of every room, permanent.
	r = f.do("ban", "ip", "2001:DB8::/32", "reason", "abuse")
	wantCode(t, r, CodeOK, "2001:db8::/32 is banned from every room until lifted")
	if err := f.g.Login(&chat.Member{Name: "eve", Conn: &fakeConn{}, IP: "2001:db8::7"}); chat.CodeOf(err) != chat.CodeBanned || !strings.Contains(err.Error(), "abuse") {
		t.Fatalf("login from the range: %v", err)
	}

	r = f.do("get_sanctions")
	if r.Code != CodeOK || len(r.Sanctions) != 2 {
		t.Fatalf("get_sanctions %+v", r)
	}
	if r = f.do("get_sanctions", "ip", "2001:db8:0::/32"); len(r.Sanctions) != 1 || r.Sanctions[0].IP != "2001:db8::/32" {
		t.Fatalf("by ip %+v", r)
	}
	if r = f.do("get_sanctions", "user", "BOB", "room_id", "1"); len(r.Sanctions) != 1 || r.Sanctions[0].ID != roomBan {
		t.Fatalf("by user and room %+v", r)
	}
	wantCode(t, f.do("get_sanctions", "kind", "smite"), CodeBadArgument, "smite")

	wantCode(t, f.do("unban"), CodeBadArgument, "Missing attribute id, user or ip")
	wantCode(t, f.do("unban", "id", "999"), CodeNotFound, "no ban with id 999")
	wantCode(t, f.do("unban", "id", itoa(roomBan), "user", "bob"), CodeBadArgument, "not both")
	wantCode(t, f.do("unban", "user", "bob", "room_id", "2"), CodeNotFound, "No ban in force")
	r = f.do("unban", "user", "bob", "room_id", "1", "actor", "ops")
	wantCode(t, r, CodeOK, "1 ban lifted")
	if ev := bob.last("sanction_lifted"); ev == nil || ev["by"] != "ops" {
		t.Fatalf("bob got %v", bob.events)
	}
	wantCode(t, f.do("unban", "id", itoa(roomBan)), CodeBadArgument, "was lifted")
	wantCode(t, f.do("unban", "ip", "2001:db8::/32"), CodeOK, "1 ban lifted")
	if err := f.g.Login(&chat.Member{Name: "eve", Conn: &fakeConn{}, IP: "2001:db8::7"}); err != nil {
		t.Fatalf("login after unban: %v", err)
	}
	if r = f.do("get_sanctions"); len(r.Sanctions) != 0 {
		t.Fatalf("in force after lifting %+v", r)
	}
	if r = f.do("get_sanctions", "active", "0"); len(r.Sanctions) != 2 || r.Sanctions[0].Lifted == "" || r.Sanctions[0].LiftedBy != "ops" {
		t.Fatalf("all %+v", r)
	}
}

func TestMuteAndUnmuteCommands(t *testing.T) {
	f := newModFixture(t)
	bob, m := f.online(t, "bob", "198.51.100.4", 1)
	wantCode(t, f.do("mute"), CodeBadArgument, "Missing attribute user")
	wantCode(t, f.do("mute", "user", "bob", "ip", "1.2.3.4"), CodeBadArgument, "unknown attribute ip")
	r := f.do("mute", "user", "bob", "room_id", "1", "minutes", "15", "reason", "caps")
	wantCode(t, r, CodeOK, "bob is muted in room 1 until")
	if ev := bob.last("sanctioned"); ev == nil || ev["kind"] != "mute" || ev["room"] != 1.0 || !strings.Contains(ev["text"].(string), "caps") {
		t.Fatalf("bob got %v", bob.events)
	}
	if _, err := f.g.Say(m, "HELLO", chat.Style{}, ""); chat.CodeOf(err) != chat.CodeMuted || !strings.Contains(err.Error(), "caps") || !strings.Contains(err.Error(), "until") {
		t.Fatalf("say while muted: %v", err)
	}
	wantCode(t, f.do("unmute", "id", itoa(r.Sanction.ID)), CodeOK, "1 mute lifted")
	if _, err := f.g.Say(m, "hello", chat.Style{}, ""); err != nil {
		t.Fatalf("say after unmute: %v", err)
	}
	wantCode(t, f.do("unmute", "user", "bob"), CodeNotFound, "No mute in force")
}

func TestHeldCommands(t *testing.T) {
	f := newModFixture(t)
	ctx := context.Background()
	bob, _ := f.online(t, "bob", "", 0)
	reader, _ := f.online(t, "ann", "", 2)
	var ids []int64
	for _, text := range []string{"first", "second"} {
		id, err := f.api.HoldBy(ctx, "moderation", chat.Message{RoomID: 2, From: "bob", Text: text}, "moderated room")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	r := f.do("get_held", "room_id", "2")
	if r.Code != CodeOK || len(r.Held) != 2 || r.Held[0].Text != "first" || r.Held[0].From != "bob" || r.Held[0].Note != "moderated room" || r.Held[0].Time == "" {
		t.Fatalf("get_held %+v", r)
	}
	heldAt := r.Held[0].Time
	if r = f.do("get_held", "room_id", "1"); len(r.Held) != 0 {
		t.Fatalf("other room %+v", r)
	}
	wantCode(t, f.do("approve"), CodeBadArgument, "Missing attribute id")
	wantCode(t, f.do("approve", "id", "999"), CodeNotFound, "")
	wantCode(t, f.do("approve", "id", itoa(ids[0]), "text", " "), CodeBadArgument, "text is empty")
	r = f.do("approve", "id", itoa(ids[0]), "text", "first (edited)", "actor", "mia")
	wantCode(t, r, CodeOK, "published in room 2")
	if ev := reader.last("message"); ev == nil || ev["from"] != "bob" || ev["text"] != "first (edited)" {
		t.Fatalf("the room got %v", reader.events)
	} else if at, _ := time.Parse(time.RFC3339Nano, ev["ts"].(string)); at.UTC().Format(time.RFC3339) != heldAt {
		t.Fatalf("published at %v, written at %s", ev["ts"], heldAt)
	}
	wantCode(t, f.do("decline", "id", itoa(ids[1]), "reason", "off topic", "actor", "mia"), CodeOK, "declined")
	if ev := bob.last("notice"); ev == nil || !strings.Contains(ev["text"].(string), "off topic") {
		t.Fatalf("bob got %v", bob.events)
	}
	wantCode(t, f.do("decline", "id", itoa(ids[1])), CodeNotFound, "")
	for _, ev := range reader.events {
		if ev["text"] == "second" {
			t.Fatalf("a declined message reached the room: %v", ev)
		}
	}

	r = f.do("get_audit", "room_id", "2")
	var got []string
	for _, e := range r.Audit {
		got = append(got, e.Action+" "+e.Actor+" "+e.Target)
	}
	if want := "decline mia bob|approve mia bob|hold moderation bob|hold moderation bob"; strings.Join(got, "|") != want {
		t.Fatalf("audit %q, want %q", strings.Join(got, "|"), want)
	}
	if r = f.do("get_audit", "target", "BOB", "action", "approve", "limit", "5"); len(r.Audit) != 1 || !strings.Contains(r.Audit[0].Detail, "edited") {
		t.Fatalf("filtered %+v", r)
	}
	wantCode(t, f.do("get_audit", "since", "yesterday"), CodeBadArgument, "since=")
	wantCode(t, f.do("get_audit", "limit", "0"), CodeBadArgument, "limit=0")
	if r = f.do("get_audit", "since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); r.Code != CodeOK || len(r.Audit) != 0 {
		t.Fatalf("since the future %+v", r)
	}
	// Both encodings carry the lists.
	if x := string(f.do("get_held").XML()); !strings.Contains(x, "<Result code=\"0\"") {
		t.Fatalf("xml %s", x)
	}
	x := string(f.do("get_audit", "limit", "1").XML())
	if !strings.Contains(x, "<Entry id=") || !strings.Contains(x, `action="decline"`) {
		t.Fatalf("xml %s", x)
	}
	j, _ := json.Marshal(f.do("get_audit", "limit", "1"))
	if !strings.Contains(string(j), `"audit":[{"id":`) {
		t.Fatalf("json %s", j)
	}
}

// A room's ban of an address range takes the members connected from it
// out of the room, telling them why, and keeps them out; others stay.
func TestRoomBanOfAnAddressTakesMembersOut(t *testing.T) {
	f := newModFixture(t)
	carol, cm := f.online(t, "carol", "2001:db8::9", 1)
	dave, _ := f.online(t, "dave", "198.51.100.4", 1)
	wantCode(t, f.do("ban", "ip", "2001:db8::/48", "room_id", "1", "reason", "raid"), CodeOK, "room 1")
	if ev := carol.last("sanctioned"); ev == nil || ev["kind"] != "ban" || ev["room"] != 1.0 || ev["reason"] != "raid" {
		t.Fatalf("carol got %v", carol.events)
	}
	if ev := carol.last("left"); ev == nil || !strings.Contains(ev["reason"].(string), "raid") {
		t.Fatalf("carol is still in the room: %v", carol.events)
	}
	if _, err := f.g.Join(cm, 1, ""); chat.CodeOf(err) != chat.CodeBanned {
		t.Fatalf("carol rejoins: %v", err)
	}
	if dave.last("left") != nil || dave.last("sanctioned") != nil {
		t.Fatalf("dave was touched: %v", dave.events)
	}
	if users, _ := f.g.Users(1); len(users) != 1 || users[0] != "dave" {
		t.Fatalf("room 1 has %v", users)
	}
}
