package main

// These tests load the built module into a real server and speak the
// WebSocket protocol to it, as the web client does.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	parlor "github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

// Rooms of the test server: mia moderates both, sam speaks in the Stage.
const (
	lobby = 1 // open, not moderated
	stage = 2 // moderated (passallmessage)
	den   = 3 // max moderates it, mia does not
)

// pluginBin is the built module.
func pluginBin(t testing.TB) string {
	return testenv.GoBuild(t, "./plugins/moderation", "parlor-plugin-moderation")
}

// serverConfig is a server with the module loaded with modCfg (nil: the
// defaults) and the two rooms.
func serverConfig(t testing.TB, modCfg map[string]any) *parlor.Config {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.Plugins.Load = map[string]parlor.PluginSpec{"moderation": {Path: pluginBin(t), Config: modCfg}}
	cfg.Rooms = []parlor.Room{
		{ID: lobby, Name: "Lobby", Member: true, Open: true, Owner: "mia,max"},
		{ID: stage, Name: "Stage", Member: true, Open: true, Owner: "mia", Speaker: "sam", PassAllMessage: true},
		{ID: den, Name: "Den", Member: true, Open: true, Owner: "max"},
	}
	return cfg
}

func startServer(t testing.TB, modCfg map[string]any) *server.Server {
	t.Helper()
	return servertest.Start(t, serverConfig(t, modCfg))
}

// client is a servertest.Client that keeps the events a command's
// answer overtook, for Want.
type client struct {
	*servertest.Client
	t     testing.TB
	stash []map[string]any
}

// Want returns the next event of type typ, from the stash first.
func (c *client) Want(typ string) map[string]any {
	c.t.Helper()
	for i, ev := range c.stash {
		if ev["type"] == typ {
			c.stash = append(c.stash[:i:i], c.stash[i+1:]...)
			return ev
		}
	}
	c.stash = nil
	return c.Client.Want(typ)
}

// WantError is servertest's WantError through the stash.
func (c *client) WantError(code string) string {
	c.t.Helper()
	ev := c.Want("error")
	if ev["code"] != code {
		c.t.Fatalf("error %v, want code %s", ev, code)
	}
	return fmt.Sprint(ev["message"])
}

// guest logs a guest in and into room.
func guest(t testing.TB, srv *server.Server, name string, room int) *client {
	t.Helper()
	c := &client{Client: servertest.Dial(t, srv), t: t}
	c.Login(name, "")
	if room != 0 {
		c.Join(room, "")
	}
	return c
}

var reqID int

// command sends a mod.* command and returns its result data, or fails.
func command(t testing.TB, c *client, typ string, fields map[string]any) map[string]any {
	t.Helper()
	ev := c.answer(typ, fields)
	if ev["type"] == "error" {
		t.Fatalf("%s %v: error %v", typ, fields, ev)
	}
	data, _ := ev["data"].(map[string]any)
	return data
}

// answer sends a command and returns its answer (a result or an error),
// stashing the events before it.
func (c *client) answer(typ string, fields map[string]any) map[string]any {
	c.t.Helper()
	reqID++
	id := fmt.Sprint("r", reqID)
	frame := map[string]any{"type": typ, "id": id}
	for k, v := range fields {
		frame[k] = v
	}
	c.Send(frame)
	for {
		ev := c.Next()
		if ev["id"] == id && (ev["type"] == "result" || ev["type"] == "error") {
			return ev
		}
		c.stash = append(c.stash, ev)
	}
}

// refused sends a command that must be refused with code and returns the
// message.
func refused(t testing.TB, c *client, typ string, fields map[string]any, code string) string {
	t.Helper()
	ev := c.answer(typ, fields)
	if ev["type"] != "error" || ev["code"] != code {
		t.Fatalf("%s %v: got %v, want error %s", typ, fields, ev, code)
	}
	return fmt.Sprint(ev["message"])
}

// say sends a public message in the client's room.
func say(c *client, text string) {
	c.Send(map[string]any{"type": "say", "text": text})
}

// nextMessage is the text and author of the next message event.
func nextMessage(t testing.TB, c *client) (from, text string) {
	t.Helper()
	m := c.Want("message")
	return fmt.Sprint(m["from"]), fmt.Sprint(m["text"])
}

// heldList decodes the held messages of a mod.queue answer or event.
func heldList(t testing.TB, data map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	b, _ := json.Marshal(data["held"])
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("held list %v: %v", data, err)
	}
	return out
}

// wantQueue waits for a mod.queue event of room with n held messages.
func wantQueue(t testing.TB, c *client, room, n int) []map[string]any {
	t.Helper()
	for {
		data := c.Want("mod.queue")["data"].(map[string]any)
		if q := heldList(t, data); data["room"] == float64(room) && len(q) == n {
			return q
		}
	}
}

// TestModeratedRoom: in the Stage a guest's messages wait for a
// moderator, a speaker's go straight out; the moderator sees the queue
// live, approves one, edits and approves another and declines the third
// with a reason; the third member sees only the approved ones, with their
// author, and the author hears of the decline. The host's audit log has
// each resolution with the moderator.
func TestModeratedRoom(t *testing.T) {
	srv := startServer(t, nil)
	mia := guest(t, srv, "mia", stage)
	vic := guest(t, srv, "vic", stage)
	sam := guest(t, srv, "sam", stage)
	gus := guest(t, srv, "gus", stage)

	say(gus, "first, please approve")
	held := gus.Want("held")
	if held["note"] != "waiting for approval" || held["room"] != float64(stage) {
		t.Fatalf("gus got %v", held)
	}
	if ev := mia.Want("mod.held"); ev["data"].(map[string]any)["text"] != "first, please approve" || ev["room"] != float64(stage) {
		t.Fatalf("mia got %v", ev)
	}
	say(gus, "second, to decline")
	gus.Want("held")
	say(gus, "thrid, with a typo")
	gus.Want("held")
	wantQueue(t, mia, stage, 3)
	say(sam, "speakers speak")
	if from, text := nextMessage(t, vic); from != "sam" || text != "speakers speak" {
		t.Fatalf("vic got %s: %q first, want sam's message", from, text)
	}

	q := heldList(t, command(t, mia, "mod.queue", nil))
	if len(q) != 3 || q[0]["from"] != "gus" || q[0]["text"] != "first, please approve" || q[1]["text"] != "second, to decline" {
		t.Fatalf("queue %v", q)
	}
	refused(t, vic, "mod.queue", nil, "not_moderator")
	refused(t, sam, "mod.approve", map[string]any{"held": q[0]["id"]}, "not_moderator")
	refused(t, mia, "mod.approve", map[string]any{"held": 999999}, "not_found")
	refused(t, mia, "mod.approve", map[string]any{"held": q[2]["id"], "text": ""}, "bad_request")

	command(t, mia, "mod.approve", map[string]any{"held": q[0]["id"]})
	if ev := mia.Want("mod.resolved"); ev["data"].(map[string]any)["action"] != "released" || ev["data"].(map[string]any)["by"] != "mia" {
		t.Fatalf("mia got %v", ev)
	}
	wantQueue(t, mia, stage, 2)
	command(t, mia, "mod.approve", map[string]any{"held": q[2]["id"], "text": "third, edited"})
	command(t, mia, "mod.decline", map[string]any{"held": q[1]["id"], "reason": "off topic"})
	if n := gus.Want("notice"); !strings.Contains(fmt.Sprint(n["text"]), "off topic") {
		t.Fatalf("gus got %v", n)
	}
	if ev := mia.Want("mod.resolved"); ev["data"].(map[string]any)["action"] != "released" || ev["data"].(map[string]any)["text"] != "third, edited" {
		t.Fatalf("mia got %v", ev)
	}
	if ev := mia.Want("mod.resolved"); ev["data"].(map[string]any)["action"] != "declined" || ev["data"].(map[string]any)["reason"] != "off topic" {
		t.Fatalf("mia got %v", ev)
	}
	wantQueue(t, mia, stage, 0)
	say(sam, "after the queue")
	var got []string
	for range 3 {
		from, text := nextMessage(t, vic)
		got = append(got, from+": "+text)
	}
	if want := "gus: first, please approve|gus: third, edited|sam: after the queue"; strings.Join(got, "|") != want {
		t.Fatalf("vic got %q, want %q (the declined one must not arrive)", got, want)
	}
	if q := heldList(t, command(t, mia, "mod.queue", nil)); len(q) != 0 {
		t.Fatalf("queue at the end %v", q)
	}
	log, err := srv.HostAPI("test").Audit().List(context.Background(), sdk.AuditFilter{Room: stage})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action+" "+e.Actor+" "+e.Reason)
	}
	if s := strings.Join(actions, "|"); !strings.Contains(s, "decline mia off topic") || strings.Count(s, "approve mia") != 2 {
		t.Fatalf("audit log %q", actions)
	}

	// In the Lobby nothing is held, until mia turns pre-moderation on.
	mia.Join(lobby, "")
	vic.Join(lobby, "")
	gus.Join(lobby, "")
	say(gus, "free speech")
	if from, text := nextMessage(t, vic); from != "gus" || text != "free speech" {
		t.Fatalf("vic got %s: %q in the Lobby", from, text)
	}
	refused(t, vic, "mod.moderate", map[string]any{"on": true}, "not_moderator")
	if r := command(t, mia, "mod.moderate", map[string]any{"on": true, "reason": "a rush of newcomers"}); r["moderated"] != true {
		t.Fatalf("mod.moderate %v", r)
	}
	if q := wantQueue(t, mia, lobby, 0); q == nil {
		t.Fatal("no queue")
	}
	say(gus, "now held")
	gus.Want("held")
	if q := command(t, mia, "mod.queue", nil); q["moderated"] != true || len(heldList(t, q)) != 1 {
		t.Fatalf("Lobby queue %v", q)
	}
	command(t, mia, "mod.moderate", map[string]any{"on": false})
	say(gus, "free again")
	if from, text := nextMessage(t, vic); from != "gus" || text != "free again" {
		t.Fatalf("vic got %s: %q in the Lobby", from, text)
	}
	log, err = srv.HostAPI("test").Audit().List(context.Background(), sdk.AuditFilter{Room: lobby, Action: sdk.AuditSetting})
	if err != nil || len(log) != 2 || log[1].Actor != "mia" || log[1].Reason != "a rush of newcomers" || log[1].Detail != "passallmessage false -> true" {
		t.Fatalf("setting changes in the audit log: %+v, %v", log, err)
	}
}

// TestSanctionCommands: a moderator kicks (with a re-entry cooldown),
// mutes, unmutes, bans from the room and lifts the ban; each reaches the
// user as the chat enforces it, and mod.sanctions lists what is in force.
func TestSanctionCommands(t *testing.T) {
	srv := startServer(t, nil)
	mia := guest(t, srv, "mia", lobby)
	bob := guest(t, srv, "bob", lobby)
	vic := guest(t, srv, "vic", lobby)

	// Kick with a cooldown: bob is taken out and cannot come back.
	command(t, mia, "mod.kick", map[string]any{"user": "bob", "reason": "shouting", "cooldown": 5})
	if ev := bob.Want("left"); !strings.Contains(fmt.Sprint(ev), "shouting") {
		t.Fatalf("bob got %v", ev)
	}
	bob.Send(map[string]any{"type": "join", "room": lobby})
	if msg := bob.WantError("kicked"); msg == "" {
		t.Fatal("no reason for the kick")
	}
	list := command(t, mia, "mod.sanctions", nil)["sanctions"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["kind"] != "kick" || list[0].(map[string]any)["actor"] != "mia" {
		t.Fatalf("sanctions after the kick %v", list)
	}
	// Lifting the kick lets bob back in.
	command(t, mia, "mod.lift", map[string]any{"user": "bob"})
	bob.Join(lobby, "")

	// Mute: bob's messages are refused with the reason, then unmuted.
	muted := command(t, mia, "mod.mute", map[string]any{"user": "bob", "minutes": 10, "reason": "flooding"})
	if muted["kind"] != "mute" || muted["source"] != "manual" || muted["expires"] == nil {
		t.Fatalf("mute answer %v", muted)
	}
	say(bob, "can I speak?")
	if msg := bob.WantError("muted"); !strings.Contains(msg, "flooding") {
		t.Fatalf("muted says %q", msg)
	}
	if ev := mia.Want("mod.sanctions"); len(ev["data"].(map[string]any)["sanctions"].([]any)) != 1 {
		t.Fatalf("mia's mod.sanctions %v", ev)
	}
	lifted := command(t, mia, "mod.unmute", map[string]any{"user": "bob"})["lifted"].([]any)
	if len(lifted) != 1 || lifted[0].(map[string]any)["lifted"] == nil {
		t.Fatalf("unmute lifted %v", lifted)
	}
	say(bob, "thank you")
	if from, text := nextMessage(t, vic); from != "bob" || text != "thank you" {
		t.Fatalf("vic got %s: %q", from, text)
	}
	refused(t, mia, "mod.unmute", map[string]any{"user": "bob"}, "not_found")

	// A room ban takes bob out and keeps him out; lifted by its id.
	ban := command(t, mia, "mod.ban", map[string]any{"user": "bob", "reason": "spam"})
	if ban["expires"] != nil {
		t.Fatalf("a ban without minutes has an end: %v", ban)
	}
	bob.Want("left")
	bob.Send(map[string]any{"type": "join", "room": lobby})
	if msg := bob.WantError("banned"); !strings.Contains(msg, "spam") {
		t.Fatalf("banned says %q", msg)
	}
	command(t, mia, "mod.unban", map[string]any{"sanction": ban["id"]})
	bob.Join(lobby, "")
	if list := command(t, mia, "mod.sanctions", nil)["sanctions"].([]any); len(list) != 0 {
		t.Fatalf("sanctions at the end %v", list)
	}
}

// TestSanctionPermissions: only moderators and administrators sanction;
// a moderator cannot sanction another moderator or himself, nor ban an
// address or in every room.
func TestSanctionPermissions(t *testing.T) {
	srv := startServer(t, nil)
	mia := guest(t, srv, "mia", lobby)
	max := guest(t, srv, "max", lobby) // the Lobby's other moderator
	bob := guest(t, srv, "bob", lobby)
	sam := guest(t, srv, "sam", stage) // a speaker in the Stage, a user in the Lobby

	for _, typ := range []string{"mod.kick", "mod.mute", "mod.ban", "mod.unmute", "mod.sanctions", "mod.queue"} {
		refused(t, bob, typ, map[string]any{"user": "vic"}, "not_moderator")
	}
	refused(t, sam, "mod.mute", map[string]any{"user": "bob"}, "not_moderator")
	if msg := refused(t, mia, "mod.mute", map[string]any{"user": "max"}, "not_allowed"); !strings.Contains(msg, "moderator") {
		t.Fatalf("muting a moderator: %q", msg)
	}
	refused(t, mia, "mod.kick", map[string]any{"user": "MAX"}, "not_allowed")
	refused(t, mia, "mod.ban", map[string]any{"user": "mia"}, "refused")
	refused(t, mia, "mod.ban", map[string]any{"ip": "203.0.113.0/24"}, "not_allowed")
	refused(t, mia, "mod.ban", map[string]any{"user": "bob", "global": true}, "not_allowed")
	refused(t, mia, "mod.mute", map[string]any{"user": "bob", "minutes": 100000}, "too_long")
	refused(t, mia, "mod.mute", map[string]any{"user": "bob", "minutes": -1}, "bad_request")
	refused(t, mia, "mod.mute", map[string]any{}, "bad_request")
	if msg := refused(t, mia, "mod.mute", map[string]any{"user": "bob", "minutes": "ten"}, "bad_request"); !strings.Contains(msg, `"minutes"`) || !strings.Contains(msg, "number") {
		t.Fatalf("minutes as text: %q", msg)
	}
	// A moderator of the Lobby has no say in the Den.
	refused(t, mia, "mod.mute", map[string]any{"user": "sam", "room": den}, "not_moderator")
	// Nothing was given.
	if list := command(t, mia, "mod.sanctions", nil)["sanctions"].([]any); len(list) != 0 {
		t.Fatalf("sanctions %v", list)
	}
	say(bob, "still free")
	if from, _ := nextMessage(t, max); from != "bob" {
		t.Fatalf("max got a message from %s", from)
	}
}

// TestQuota: with a quota of two mutes a day, the third is refused with
// a clear message and nothing is added; kicks have their own count.
func TestQuota(t *testing.T) {
	srv := startServer(t, map[string]any{"quotas": map[string]any{"moderator": map[string]any{"mute": 2, "kick": 1}}})
	mia := guest(t, srv, "mia", lobby)
	for _, n := range []string{"ann", "ben", "cid"} {
		guest(t, srv, n, lobby)
	}
	command(t, mia, "mod.mute", map[string]any{"user": "ann"})
	command(t, mia, "mod.mute", map[string]any{"user": "ben"})
	if msg := refused(t, mia, "mod.mute", map[string]any{"user": "cid"}, "quota_exceeded"); !strings.Contains(msg, "2 mutes") {
		t.Fatalf("quota says %q", msg)
	}
	// A refused sanction does not count.
	refused(t, mia, "mod.kick", map[string]any{"user": "nobody-here"}, "not_found")
	command(t, mia, "mod.kick", map[string]any{"user": "cid"})
	refused(t, mia, "mod.kick", map[string]any{"user": "ann"}, "quota_exceeded")
	if list := command(t, mia, "mod.sanctions", nil)["sanctions"].([]any); len(list) != 3 {
		t.Fatalf("sanctions %v: want two mutes and a kick", list)
	}
}

// TestAutomodInServer: the third identical message mutes its author in
// the room (and is refused with why), a listed word arrives masked
// whatever its Unicode form, a message with too many links waits for a
// moderator, and shouting is refused.
func TestAutomodInServer(t *testing.T) {
	srv := startServer(t, map[string]any{"automod": map[string]any{
		"words": map[string]any{"list": []string{"badword"}},
		"links": map[string]any{"max": 1},
		"caps":  map[string]any{"max_ratio": 0.6},
	}})
	vic := guest(t, srv, "vic", lobby)
	gus := guest(t, srv, "gus", lobby)
	mia := guest(t, srv, "mia", lobby)

	say(gus, "what a Ｂädword")
	if from, text := nextMessage(t, vic); from != "gus" || text != "what a *******" {
		t.Fatalf("vic got %s: %q", from, text)
	}
	say(gus, "see http://a.example and http://b.example")
	if ev := gus.Want("held"); !strings.Contains(fmt.Sprint(ev["note"]), "too many links") {
		t.Fatalf("gus got %v", ev)
	}
	if q := heldList(t, command(t, mia, "mod.queue", nil)); len(q) != 1 || q[0]["room"] != float64(lobby) {
		t.Fatalf("queue %v", q)
	}
	say(gus, "WHY IS NOBODY ANSWERING")
	if msg := gus.WantError("rejected"); !strings.Contains(msg, "capital") {
		t.Fatalf("shouting: %q", msg)
	}

	// One at a time: the hooks of one connection's messages may overlap.
	for range 2 {
		say(gus, "buy now")
		if from, text := nextMessage(t, vic); from != "gus" || text != "buy now" {
			t.Fatalf("vic got %s: %q", from, text)
		}
	}
	say(gus, "buy now")
	if msg := gus.WantError("rejected"); !strings.Contains(msg, "muted") || !strings.Contains(msg, "3 times") {
		t.Fatalf("third repeat: %q", msg)
	}
	say(gus, "sorry")
	gus.WantError("muted")
	s := command(t, mia, "mod.sanctions", nil)["sanctions"].([]any)
	if len(s) != 1 || s[0].(map[string]any)["source"] != "automod" || s[0].(map[string]any)["actor"] != "repeats" {
		t.Fatalf("sanctions %v", s)
	}
	log, err := srv.HostAPI("test").Audit().List(context.Background(), sdk.AuditFilter{Action: sdk.AuditAutomod})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, e := range log {
		if e.Source != "automod" || e.Target != "gus" || e.Room != lobby || e.Plugin != "moderation" {
			t.Errorf("audit entry %+v", e)
		}
		rules = append(rules, e.Actor)
	}
	if s := strings.Join(rules, ","); s != "repeats,caps,links,words" { // newest first
		t.Errorf("automod entries %q", s)
	}

	// Moderators are exempt.
	say(mia, "RULES: READ THEM")
	say(mia, "RULES: READ THEM")
	say(mia, "RULES: READ THEM")
	var got []string
	for range 3 {
		from, text := nextMessage(t, vic)
		got = append(got, from+": "+text)
	}
	if want := "mia: RULES: READ THEM|mia: RULES: READ THEM|mia: RULES: READ THEM"; strings.Join(got, "|") != want {
		t.Fatalf("vic got %q, want %q", got, want)
	}
}

// TestMembersIP: moderators see the members' addresses only when show_ip
// allows it.
func TestMembersIP(t *testing.T) {
	for _, show := range []bool{false, true} {
		srv := startServer(t, map[string]any{"show_ip": show})
		mia := guest(t, srv, "mia", lobby)
		guest(t, srv, "bob", lobby)
		data := command(t, mia, "mod.members", nil)
		members := data["members"].([]any)
		if len(members) != 2 || data["ips"] != show {
			t.Fatalf("show_ip %v: %v", show, data)
		}
		for _, m := range members {
			ip, _ := m.(map[string]any)["ip"].(string)
			if show && ip != "127.0.0.1" || !show && ip != "" {
				t.Errorf("show_ip %v: member %v", show, m)
			}
		}
		refused(t, guest(t, srv, "vic", lobby), "mod.members", nil, "not_moderator")
	}
}

// TestAdminSanctions: an administrator (root, through the users-file
// authenticator) may mute a moderator in every room and ban an address
// range from the chat, which ends the sessions from it and refuses the
// next login; a moderator cannot sanction the administrator.
func TestAdminSanctions(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.txt")
	hash, _ := bcrypt.GenerateFromPassword([]byte("root-pw"), bcrypt.MinCost)
	if err := os.WriteFile(users, []byte("root:"+string(hash)+":admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := serverConfig(t, nil)
	cfg.Plugins.Load["users"] = parlor.PluginSpec{Path: testenv.GoBuild(t, "./examples/auth-plugin", "parlor-plugin-users"), Config: map[string]any{"users_file": users}}
	cfg.Auth.Chain = []string{"users"}
	srv := servertest.Start(t, cfg)
	root := &client{Client: servertest.Dial(t, srv), t: t}
	if u := root.Login("root", "root-pw")["user"].(map[string]any); u["admin"] != true {
		t.Fatalf("root is %v", u)
	}
	root.Join(lobby, "")
	mia := guest(t, srv, "mia", lobby)
	if msg := refused(t, mia, "mod.mute", map[string]any{"user": "root"}, "not_allowed"); !strings.Contains(msg, "admin") {
		t.Fatalf("a moderator muting root: %q", msg)
	}

	s := command(t, root, "mod.mute", map[string]any{"user": "mia", "global": true, "minutes": 5})
	if s["room"] != 0.0 {
		t.Fatalf("global mute %v", s)
	}
	mia.Send(map[string]any{"type": "pm", "to": "root", "text": "hey"})
	mia.WantError("muted")

	refused(t, root, "mod.ban", map[string]any{"ip": "not-an-address"}, "bad_request")
	// The range holds every client of the test, root too: his session
	// ends with the ban (before the answer can reach him).
	root.Send(map[string]any{"type": "mod.ban", "id": "ban", "ip": "127.0.0.0/8", "global": true, "minutes": 5, "reason": "range ban"})
	if ev := root.Want("logged_out"); !strings.Contains(fmt.Sprint(ev["reason"]), "range ban") {
		t.Fatalf("root got %v", ev)
	}
	c := servertest.Dial(t, srv)
	c.Send(map[string]string{"type": "login", "user": "newcomer"})
	if msg := c.WantError("banned"); !strings.Contains(msg, "range ban") {
		t.Fatalf("a login from the banned range: %q", msg)
	}
}

// TestQueueResolvedElsewhere: a held message resolved outside the module
// (as the server API does) reaches the moderators' queue all the same.
func TestQueueResolvedElsewhere(t *testing.T) {
	srv := startServer(t, nil)
	mia := guest(t, srv, "mia", lobby) // moderates the Stage from the Lobby
	gus := guest(t, srv, "gus", stage)
	say(gus, "please let me in")
	gus.Want("held")
	q := wantQueue(t, mia, stage, 1)
	id := int64(q[0]["id"].(float64))
	if err := srv.HostAPI("operator").Held().Decline(context.Background(), id, sdk.Resolution{Actor: "ops", Reason: "closed tonight"}); err != nil {
		t.Fatal(err)
	}
	ev := mia.Want("mod.resolved")["data"].(map[string]any)
	if ev["action"] != "declined" || ev["by"] != "ops" || ev["reason"] != "closed tonight" || ev["id"] != q[0]["id"] {
		t.Fatalf("mod.resolved %v", ev)
	}
	wantQueue(t, mia, stage, 0)
}
