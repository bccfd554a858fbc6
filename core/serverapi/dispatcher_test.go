package serverapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/internal/testenv"
)

const testPwd = "3874-3459-9999-2199"

var localhost = netip.MustParseAddr("127.0.0.1")

// fakeConn is a chat connection that records what it is sent.
type fakeConn struct {
	mu     sync.Mutex
	events []map[string]any
	closed string
}

func (c *fakeConn) Send(f *chat.Frame) bool {
	var m map[string]any
	_ = json.Unmarshal(f.JSON(), &m)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != "" {
		return false
	}
	c.events = append(c.events, m)
	return true
}

func (c *fakeConn) Close(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == "" {
		c.closed = reason
	}
}

func (c *fakeConn) last(typ string) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.events) - 1; i >= 0; i-- {
		if c.events[i]["type"] == typ {
			return c.events[i]
		}
	}
	return nil
}

func (c *fakeConn) closedReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

type fixture struct {
	d     *Dispatcher
	g     *chat.Group
	st    store.Store
	log   *testenv.LogBuffer
	other *chat.Group
}

func newFixture(t *testing.T, allow ...string) *fixture {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "parlor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	g := chat.NewGroup(chat.Options{Name: "default", History: 10, MaxMessageChars: 100, Guests: true})
	lobby := chat.RoomInfo{ID: 1, Group: "default", Name: "Lobby", Member: true, Open: true, Origin: chat.OriginConfig}
	if _, err := st.SaveRoom(context.Background(), lobby); err != nil {
		t.Fatal(err)
	}
	g.PutRoom(lobby, nil)
	off := chat.NewGroup(chat.Options{Name: "off", History: 10, MaxMessageChars: 100})
	if len(allow) == 0 {
		allow = []string{"127.0.0.1", "::1"}
	}
	logs := &testenv.LogBuffer{}
	d, err := New(Options{Store: st, Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}),
		Groups: []GroupAccess{
			{Chat: g, Password: testPwd, AllowFrom: allow},
			{Chat: off, AllowFrom: []string{"*"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{d: d, g: g, st: st, log: logs, other: off}
}

// do runs a command of typ with attributes given as "k", "v", ... from
// 127.0.0.1 with the right password.
func (f *fixture) do(typ string, kv ...string) Reply {
	cmd := Command{Group: "default", Password: testPwd, Type: typ, Remote: localhost, Attrs: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		cmd.Attrs[kv[i]] = kv[i+1]
	}
	return f.d.Do(context.Background(), cmd)
}

func wantCode(t *testing.T, r Reply, code Code, contains string) {
	t.Helper()
	if r.Code != code || !strings.Contains(r.Message, contains) {
		t.Fatalf("reply %d %q, want code %d (%s) with %q", r.Code, r.Message, code, code, contains)
	}
}

func TestAccessIsChecked(t *testing.T) {
	f := newFixture(t, "127.0.0.1", "10.0.0.0/8")
	run := func(group, pwd string, from string) Reply {
		var a netip.Addr
		if from != "" {
			a = netip.MustParseAddr(from)
		}
		return f.d.Do(context.Background(), Command{Group: group, Password: pwd, Type: "add_room",
			Attrs: map[string]string{"name": "Intruder"}, Remote: a})
	}
	wantCode(t, run("default", "wrong-password", "127.0.0.1"), CodeDenied, "Wrong api_pwd")
	wantCode(t, run("default", "", "127.0.0.1"), CodeDenied, "Wrong api_pwd")
	wantCode(t, run("default", testPwd[:len(testPwd)-1], "127.0.0.1"), CodeDenied, "Wrong api_pwd")
	wantCode(t, run("default", testPwd, "192.168.1.5"), CodeDenied, "192.168.1.5 are not allowed")
	wantCode(t, run("default", testPwd, ""), CodeDenied, "not allowed")
	wantCode(t, run("nosuch", testPwd, "127.0.0.1"), CodeNoSuchGroup, "nosuch")
	wantCode(t, run("off", "", "127.0.0.1"), CodeDisabled, "server_api.groups.off.api_pwd")
	if _, _, rooms := f.g.Counts(); rooms != 1 {
		t.Fatalf("a refused command acted: %d rooms", rooms)
	}
	for _, line := range []string{`reason="wrong api_pwd"`, `reason="address not allowed"`, "remote=192.168.1.5", `reason="no api_pwd configured"`} {
		if !strings.Contains(f.log.String(), line) {
			t.Errorf("log lacks %s:\n%s", line, f.log.String())
		}
	}
	if strings.Contains(f.log.String(), "wrong-password") {
		t.Error("the log shows a password")
	}
	// A CIDR entry, an IPv4-mapped address and the default group.
	r := f.d.Do(context.Background(), Command{Password: testPwd, Type: "get_online", Remote: netip.MustParseAddr("::ffff:10.1.2.3")})
	wantCode(t, r, CodeOK, "1 rooms")
}

func TestNewRefusesBadAllowFrom(t *testing.T) {
	f := newFixture(t)
	g := chat.NewGroup(chat.Options{Name: "default"})
	if _, err := New(Options{Store: f.st, Groups: []GroupAccess{{Chat: g, Password: testPwd, AllowFrom: []string{"localhost"}}}}); err == nil || !strings.Contains(err.Error(), "localhost") {
		t.Fatalf("New = %v", err)
	}
	if _, err := New(Options{Groups: []GroupAccess{{Chat: g, Password: testPwd}}}); err == nil {
		t.Fatal("New without a store succeeded")
	}
}

func TestUnknownTypeAndAttributes(t *testing.T) {
	f := newFixture(t)
	wantCode(t, f.do("teleport"), CodeUnknownType, "known: add_room")
	wantCode(t, f.do(""), CodeUnknownType, "Unknown command type")
	wantCode(t, f.do("add_room", "name", "x", "colour", "red"), CodeBadArgument, "unknown attribute colour")
	wantCode(t, f.do("start_group", "x", "1"), CodeBadArgument, "takes none")
	r := f.d.Do(context.Background(), Command{Group: "default", Password: testPwd, Type: "broadcast", Remote: localhost,
		Attrs: map[string]string{"msg": "hi"}, Times: []OpenTime{{O: "day1"}}})
	wantCode(t, r, CodeBadArgument, "roomOpen applies to add_room and edit_room only")
}

func TestAddRoom(t *testing.T) {
	f := newFixture(t)
	wantCode(t, f.do("add_room"), CodeBadArgument, "Missing attribute name")
	wantCode(t, f.do("add_room", "name", "  "), CodeBadArgument, "name must not be empty")
	wantCode(t, f.do("add_room", "name", "x", "member", "maybe"), CodeBadArgument, `member="maybe" is not a boolean`)
	wantCode(t, f.do("add_room", "name", "x", "max", "-1"), CodeBadArgument, "max=-1 is outside")
	wantCode(t, f.do("add_room", "name", "x", "max", "lots"), CodeBadArgument, "not a whole number")
	wantCode(t, f.do("add_room", "name", "x", "st", "1"), CodeBadArgument, "st=1")
	wantCode(t, f.do("add_room", "name", strings.Repeat("n", 65)), CodeBadArgument, "too long")

	// The seed's sample mixes true/false and 0/1.
	r := f.do("add_room", "name", "test room", "owner", "aaa", "desc", "room for test", "max", "200",
		"speaker", "bbb", "member", "false", "pwd", "", "passallmessage", "true", "en", "1", "st", "2",
		"wm", "Hello", "audio", "1", "video", "0", "wb", "TRUE")
	wantCode(t, r, CodeOK, "added")
	id := r.Room.ID
	if id < 2 {
		t.Fatalf("new room id %d", id)
	}
	info, ok := f.g.RoomInfo(id)
	want := chat.RoomInfo{ID: id, Group: "default", Name: "test room", Owner: "aaa", Desc: "room for test", Max: 200,
		Speaker: "bbb", Member: false, PassAllMessage: true, Open: true, ST: 2, Welcome: "Hello", Audio: true,
		Whiteboard: true, Origin: chat.OriginAPI}
	if !ok || !reflect.DeepEqual(info, want) {
		t.Fatalf("room in group\n%+v\nwant\n%+v", info, want)
	}
	stored, err := f.st.Rooms(context.Background(), "default")
	if err != nil || len(stored) != 2 || !reflect.DeepEqual(stored[1], want) {
		t.Fatalf("stored rooms %+v, %v", stored, err)
	}
	// Defaults: open, guests welcome; roomOpen is accepted, not applied.
	r = f.d.Do(context.Background(), Command{Group: "default", Password: testPwd, Type: "add_room", Remote: localhost,
		Attrs: map[string]string{"name": "Plain", "pwd": "sesame"}, Times: []OpenTime{{O: "day2", S: "00:00:00", E: "10:00:00"}}})
	wantCode(t, r, CodeOK, "schedule module")
	if !r.Room.Open || !r.Room.Member || !r.Room.Locked || r.Room.Max != 0 {
		t.Fatalf("defaults %+v", r.Room)
	}
	if bytes.Contains(r.XML(), []byte("sesame")) {
		t.Fatal("the reply shows the room password")
	}
}

func TestEditRoomMergesAndPersists(t *testing.T) {
	f := newFixture(t)
	wantCode(t, f.do("edit_room", "name", "x"), CodeBadArgument, "Missing attribute roomid")
	wantCode(t, f.do("edit_room", "roomid", "99", "name", "x"), CodeNotFound, "no room 99")
	wantCode(t, f.do("edit_room", "roomid", "1"), CodeBadArgument, "Nothing to change")
	wantCode(t, f.do("edit_room", "roomid", "1", "room_id", "2", "max", "3"), CodeBadArgument, "disagree")

	r := f.do("edit_room", "roomid", "1", "max", "300", "member", "0", "pwd", "new_pwd")
	wantCode(t, r, CodeOK, `Room 1 "Lobby" changed`)
	info, _ := f.g.RoomInfo(1)
	if info.Name != "Lobby" || !info.Open || info.Max != 300 || info.Member || info.Password != "new_pwd" || info.Origin != chat.OriginAPI {
		t.Fatalf("edited room %+v", info)
	}
	stored, _ := f.st.Rooms(context.Background(), "default")
	if !reflect.DeepEqual(stored[0], info) {
		t.Fatalf("stored %+v, want %+v", stored[0], info)
	}
	wantCode(t, f.do("edit_room", "room_id", "1", "name", "Hall"), CodeOK, "Hall")
}

func TestDelRoom(t *testing.T) {
	f := newFixture(t)
	id := f.do("add_room", "name", "Temp").Room.ID
	c := &fakeConn{}
	f.g.Connect(c)
	m := &chat.Member{Name: "amy", Conn: c}
	if err := f.g.Login(m); err != nil {
		t.Fatal(err)
	}
	if _, err := f.g.Join(m, id, ""); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.do("del_room"), CodeBadArgument, "Missing attribute room_id")
	wantCode(t, f.do("del_room", "room_id", "0"), CodeBadArgument, "outside")
	wantCode(t, f.do("del_room", "room_id", "42"), CodeNotFound, "no room 42")
	wantCode(t, f.do("del_room", "room_id", itoa(id)), CodeOK, "deleted")
	if _, ok := f.g.RoomInfo(id); ok {
		t.Fatal("room still in the group")
	}
	if ev := c.last("left"); ev == nil {
		t.Fatal("the member was not moved out")
	}
	stored, _ := f.st.Rooms(context.Background(), "default")
	if len(stored) != 1 {
		t.Fatalf("stored rooms %+v", stored)
	}
	wantCode(t, f.do("del_room", "roomid", "1"), CodeOK, "comes back at the next start")
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestBroadcastReachesEveryConnection(t *testing.T) {
	f := newFixture(t)
	anon, member := &fakeConn{}, &fakeConn{}
	f.g.Connect(anon)
	f.g.Connect(member)
	if err := f.g.Login(&chat.Member{Name: "bob", Conn: member}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.do("broadcast", "userid", "test"), CodeBadArgument, "Missing attribute msg")
	wantCode(t, f.do("broadcast", "msg", "   "), CodeBadArgument, "empty")
	wantCode(t, f.do("broadcast", "msg", strings.Repeat("x", 101)), CodeBadArgument, "too long")
	r := f.do("broadcast", "userid", "test", "msg", "welcome to 123flashchat")
	wantCode(t, r, CodeOK, "2 connections")
	if *r.Count != 2 {
		t.Fatalf("count %d", *r.Count)
	}
	for _, c := range []*fakeConn{anon, member} {
		if ev := c.last("notice"); ev == nil || ev["text"] != "welcome to 123flashchat" || ev["from"] != "test" {
			t.Fatalf("notice %v", ev)
		}
	}
}

func TestPrivateMessage(t *testing.T) {
	f := newFixture(t)
	c := &fakeConn{}
	f.g.Connect(c)
	if err := f.g.Login(&chat.Member{Name: "Test", Conn: c}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.do("private_message", "msg", "hi"), CodeBadArgument, "Missing attribute dest_uid")
	wantCode(t, f.do("private_message", "dest_uid", "nobody", "msg", "hi"), CodeNotFound, "not online")
	wantCode(t, f.do("private_message", "dest_uid", "test", "msg", "hi", "color", "red"), CodeBadArgument, "0xFF0000")
	wantCode(t, f.do("private_message", "dest_uid", "test", "msg", "hi", "color", "0xGG0000"), CodeBadArgument, "six hex digits")
	wantCode(t, f.do("private_message", "dest_uid", "test", "msg", "hi", "b", "2"), CodeBadArgument, "not a boolean")
	r := f.do("private_message", "dest_uid", "test", "msg", "hello world", "emotion", "e2", "owner_uid", "admin",
		"owner_nick", "Site admin", "b", "1", "i", "true", "u", "0", "color", "0xFF00ff")
	wantCode(t, r, CodeOK, "delivered to test")
	ev := c.last("private")
	st, _ := ev["style"].(map[string]any)
	if ev["from"] != "Site admin" || ev["to"] != "Test" || ev["text"] != "hello world" ||
		st["b"] != true || st["i"] != true || st["u"] != nil || st["color"] != "#ff00ff" {
		t.Fatalf("private event %v", ev)
	}
	wantCode(t, f.do("private_message", "dest_uid", "test", "msg", "x", "owner_uid", "admin"), CodeOK, "delivered")
	if ev := c.last("private"); ev["from"] != "admin" {
		t.Fatalf("sender falls back to owner_uid: %v", ev)
	}
}

func TestStopAndStartGroup(t *testing.T) {
	f := newFixture(t)
	c := &fakeConn{}
	f.g.Connect(c)
	if err := f.g.Login(&chat.Member{Name: "carl", Conn: c}); err != nil {
		t.Fatal(err)
	}
	r := f.do("stop_group", "msg", "Maintenance")
	wantCode(t, r, CodeOK, "1 connections closed")
	if ev := c.last("notice"); ev == nil || ev["text"] != "Maintenance" {
		t.Fatalf("notice %v", ev)
	}
	deadline := time.Now().Add(2 * time.Second)
	for c.closedReason() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.closedReason() != "group stopped" {
		t.Fatalf("connection closed with %q", c.closedReason())
	}
	if err := f.g.Login(&chat.Member{Name: "dora", Conn: &fakeConn{}}); chat.CodeOf(err) != chat.CodeGroupStopped {
		t.Fatalf("login while stopped: %v", err)
	}
	wantCode(t, f.do("get_online"), CodeOK, "") // queries still work
	wantCode(t, f.do("start_group"), CodeOK, "started")
	wantCode(t, f.do("start_group"), CodeOK, "running already")
	if err := f.g.Login(&chat.Member{Name: "dora", Conn: &fakeConn{}}); err != nil {
		t.Fatalf("login after start: %v", err)
	}
}

func TestQueries(t *testing.T) {
	f := newFixture(t)
	c := &fakeConn{}
	f.g.Connect(c)
	f.g.Connect(&fakeConn{})
	m := &chat.Member{Name: "eve", Conn: c}
	_ = f.g.Login(m)
	if _, err := f.g.Join(m, 1, ""); err != nil {
		t.Fatal(err)
	}
	r := f.do("get_online")
	if r.Code != CodeOK || *r.Online != (Online{Connections: 2, Users: 1, Rooms: 1}) {
		t.Fatalf("get_online %+v", r)
	}
	r = f.do("get_rooms")
	if r.Code != CodeOK || len(r.Rooms) != 1 || r.Rooms[0].Name != "Lobby" || r.Rooms[0].Count != 1 {
		t.Fatalf("get_rooms %+v", r)
	}
	r = f.do("get_room_users", "room_id", "1")
	if r.Code != CodeOK || r.Users.Room != 1 || len(r.Users.Users) != 1 || r.Users.Users[0] != "eve" {
		t.Fatalf("get_room_users %+v", r)
	}
	wantCode(t, f.do("get_room_users", "room_id", "9"), CodeNotFound, "no room 9")
}

func TestReplyEncodings(t *testing.T) {
	n := 3
	r := Reply{Code: CodeOK, Type: "get_rooms", Message: `a "quoted" <msg> & more`, Count: &n,
		Rooms: []Room{{ID: 1, Name: "Lobby", Member: true, Open: true, Count: 2}},
		Users: &RoomUsers{Room: 1, Users: []string{"al", "bo"}}, Online: &Online{1, 2, 3}}
	x := string(r.XML())
	for _, want := range []string{`<?xml version="1.0" encoding="UTF-8"?>` + "\n", `<Result code="0" type="get_rooms" message="a &#34;quoted&#34; &lt;msg&gt; &amp; more" count="3">`,
		`<Room id="1" name="Lobby" owner="" desc="" max="0" speaker="" member="1" locked="0" passallmessage="0" en="1" st="0" wm="" audio="0" video="0" wb="0" count="2"/>`,
		`<Users room="1" count="2">`, `<User name="al"/>`, `<Online connections="1" users="2" rooms="3"/>`, "</Result>\n"} {
		if !strings.Contains(x, want) {
			t.Errorf("XML lacks %s:\n%s", want, x)
		}
	}
	code, msg, err := ReplyCode([]byte(x + "\x00"))
	if err != nil || code != CodeOK || msg != `a "quoted" <msg> & more` {
		t.Fatalf("ReplyCode = %v %q %v", code, msg, err)
	}
	j, _ := json.Marshal(Reply{Code: CodeOK, Type: "get_rooms", Message: "0 rooms.", Rooms: []Room{}})
	if string(j) != `{"code":0,"status":"ok","type":"get_rooms","message":"0 rooms.","rooms":[]}` {
		t.Fatalf("JSON %s", j)
	}
	j, _ = json.Marshal(Fail(CodeDenied, "no"))
	if string(j) != `{"code":4,"status":"denied","message":"no"}` {
		t.Fatalf("JSON %s", j)
	}
}

func TestRoomOpenRefusesNonsense(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		times []OpenTime
		want  string
	}{
		{[]OpenTime{{O: "day9", S: "25:00:00", E: "10:00:00"}}, `roomOpen: opening time 1: "day9" is not a kind of opening time`},
		{[]OpenTime{{O: "day2", S: "25:00:00", E: "10:00:00"}}, `start: "25:00:00" is not a time of day`},
		{[]OpenTime{{O: "day2", S: "00:00:00", E: "10:00:00"}, {O: "daily", S: "09:00", E: "09:00"}}, "opening time 2: the window opens and closes at 09:00:00"},
	} {
		r := f.d.Do(context.Background(), Command{Group: "default", Password: testPwd, Type: "add_room", Remote: localhost,
			Attrs: map[string]string{"name": "Timed"}, Times: c.times})
		wantCode(t, r, CodeBadArgument, c.want)
	}
	if rooms, _ := f.st.Rooms(context.Background(), "default"); len(rooms) != 1 {
		t.Fatalf("a refused add_room stored a room: %+v", rooms)
	}
	r := f.d.Do(context.Background(), Command{Group: "default", Password: testPwd, Type: "edit_room", Remote: localhost,
		Attrs: map[string]string{"roomid": "1"}, Times: []OpenTime{{O: "special", S: "2026-02-30 10:00:00", E: "11:00:00"}}})
	wantCode(t, r, CodeBadArgument, "is not a date")
}
