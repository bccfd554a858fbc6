package session

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/modules"
	"github.com/parlorchat/parlor/sdk"
)

// fakeTransport keeps what the session sends.
type fakeTransport struct {
	mu     sync.Mutex
	events []map[string]any
	closed string
}

func (f *fakeTransport) Send(fr *chat.Frame) bool {
	var ev map[string]any
	if err := json.Unmarshal(fr.JSON(), &ev); err != nil {
		panic(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	return true
}

func (f *fakeTransport) Close(reason string) { f.mu.Lock(); f.closed = reason; f.mu.Unlock() }
func (f *fakeTransport) End(reason string)   { f.Close(reason) }

// take returns the events of type typ received so far and forgets every
// event.
func (f *fakeTransport) take(typ string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, ev := range f.events {
		if ev["type"] == typ {
			out = append(out, ev)
		}
	}
	f.events = nil
	return out
}

// guestLogin logs everybody in as the guest they say they are.
type guestLogin struct{}

func (guestLogin) Login(_ context.Context, user, _, _ string) (auth.Identity, error) {
	return auth.Identity{Name: user, Guest: true, Avatar: "e3", By: "guest"}, nil
}

// fakeModules is a module pipeline with one module, "dice", owning
// "dice.".
type fakeModules struct {
	login    sdk.LoginVerdict
	loginErr error
	joinErr  error
	verdict  sdk.MessageVerdict
	msgErr   error
	reply    sdk.Reply
	cmdErr   error

	mu         sync.Mutex // guards failClosed and message, set by the hooks' goroutines
	failClosed bool       // the last Message call's failClosed
	message    sdk.MessageEvent
	cmd        sdk.Command // the last command
}

func (f *fakeModules) Login(context.Context, sdk.LoginEvent) (sdk.LoginVerdict, error) {
	return f.login, f.loginErr
}
func (f *fakeModules) Join(context.Context, sdk.JoinEvent) error { return f.joinErr }
func (f *fakeModules) Message(_ context.Context, ev sdk.MessageEvent, failClosed bool) (sdk.MessageVerdict, error) {
	f.mu.Lock()
	f.message, f.failClosed = ev, failClosed
	f.mu.Unlock()
	return f.verdict, f.msgErr
}

func (f *fakeModules) HasMessageHooks() bool { return true }

// last returns what the last Message call was asked.
func (f *fakeModules) last() (sdk.MessageEvent, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.message, f.failClosed
}
func (f *fakeModules) Owner(typ string) (modules.Plugin, bool) {
	if strings.HasPrefix(typ, "dice.") {
		return dicePlugin{}, true
	}
	return nil, false
}
func (f *fakeModules) Command(_ context.Context, cmd sdk.Command) (sdk.Reply, error) {
	f.cmd = cmd
	return f.reply, f.cmdErr
}

// dicePlugin is the owner Owner returns.
type dicePlugin struct{}

func (dicePlugin) Name() string { return "dice" }
func (dicePlugin) Capabilities() sdk.Capabilities {
	return sdk.Capabilities{Module: true, Commands: []string{"dice."}, Quiet: []string{"dice.peek"}}
}
func (dicePlugin) OnLogin(context.Context, sdk.LoginEvent) (sdk.LoginVerdict, error) {
	return sdk.LoginVerdict{}, nil
}
func (dicePlugin) OnJoin(context.Context, sdk.JoinEvent) (sdk.JoinVerdict, error) {
	return sdk.JoinVerdict{}, nil
}
func (dicePlugin) OnMessage(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
	return sdk.MessageVerdict{}, nil
}
func (dicePlugin) Command(context.Context, sdk.Command) (sdk.Reply, error) { return sdk.Reply{}, nil }
func (dicePlugin) Notify(context.Context, []sdk.Notification) error        { return nil }

// fakeHolder keeps held messages.
type fakeHolder struct {
	held []chat.Message
	note string
}

func (h *fakeHolder) Hold(_ context.Context, msg chat.Message, note string) (int64, error) {
	h.held = append(h.held, msg)
	h.note = note
	return int64(40 + len(h.held)), nil
}

// hookNode is a node with rooms 1 (open) and 2 (moderated) over mods.
func hookNode(t *testing.T, mods Modules, holder Holder) *Node {
	t.Helper()
	g := chat.NewGroup(chat.Options{History: 10, MaxMessageChars: 500, Guests: true})
	g.PutRoom(chat.RoomInfo{ID: 1, Name: "Lobby", Member: true, Open: true, Owner: "mod"}, nil)
	g.PutRoom(chat.RoomInfo{ID: 2, Name: "Stage", Member: true, Open: true, PassAllMessage: true}, nil)
	return New(g, guestLogin{}, Options{LoginTimeout: time.Minute, Hooks: mods, Holder: holder})
}

// member connects name, logs it in and has it join room (unless 0).
func member(t *testing.T, n *Node, name string, room int64) (*Client, *fakeTransport) {
	t.Helper()
	ft := &fakeTransport{}
	c, err := n.Connect(context.Background(), ft, ConnInfo{RemoteIP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Closed)
	send(c, map[string]any{"type": "login", "user": name})
	if got := ft.take("login_ok"); len(got) != 1 {
		t.Fatalf("%s: no login_ok", name)
	}
	if room != 0 {
		send(c, map[string]any{"type": "join", "room": room})
		if got := ft.take("joined"); len(got) != 1 {
			t.Fatalf("%s: no joined", name)
		}
	}
	return c, ft
}

func send(c *Client, req map[string]any) {
	b, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	c.Handle(b)
	// Messages are finished after their hooks answer (order.go): the
	// tests look at what they did once they are.
	c.order.wait()
}

// wantError returns the one error event ft got, which must have code.
func wantError(t *testing.T, ft *fakeTransport, code string) map[string]any {
	t.Helper()
	errs := ft.take("error")
	if len(errs) != 1 || errs[0]["code"] != code {
		t.Fatalf("errors = %v, want one with code %s", errs, code)
	}
	return errs[0]
}

func TestModifyChangesTheDeliveredText(t *testing.T) {
	mods := &fakeModules{verdict: sdk.MessageVerdict{Action: sdk.Modify, Text: "what a ****", Style: sdk.Style{Bold: true}}}
	n := hookNode(t, mods, nil)
	ann, annT := member(t, n, "ann", 1)
	_, bobT := member(t, n, "bob", 1)
	annT.take("")
	send(ann, map[string]any{"type": "say", "text": "what a word"})
	if asked, _ := mods.last(); asked.Text != "what a word" || asked.From.Name != "ann" || asked.Room != 1 {
		t.Fatalf("the module was asked about %+v", asked)
	}
	got := bobT.take("message")
	if len(got) != 1 || got[0]["text"] != "what a ****" {
		t.Fatalf("bob got %v, want the modified text", got)
	}
	if st, _ := got[0]["style"].(map[string]any); st["b"] != true {
		t.Fatalf("style = %v, want the module's (bold)", got[0]["style"])
	}
}

func TestRejectShowsTheReason(t *testing.T) {
	mods := &fakeModules{verdict: sdk.MessageVerdict{Action: sdk.Reject, Reason: "No links, please."}}
	n := hookNode(t, mods, nil)
	ann, annT := member(t, n, "ann", 1)
	_, bobT := member(t, n, "bob", 1)
	annT.take("")
	send(ann, map[string]any{"type": "say", "id": "3", "text": "http://spam"})
	ev := wantError(t, annT, chat.CodeRejected)
	if ev["message"] != "No links, please." || ev["id"] != "3" {
		t.Fatalf("error = %v, want the module's reason for request 3", ev)
	}
	if got := bobT.take("message"); len(got) != 0 {
		t.Fatalf("bob got a rejected message: %v", got)
	}
}

func TestDropDeliversNothing(t *testing.T) {
	mods := &fakeModules{verdict: sdk.MessageVerdict{Action: sdk.Drop}}
	n := hookNode(t, mods, nil)
	ann, annT := member(t, n, "ann", 1)
	_, bobT := member(t, n, "bob", 1)
	annT.take("")
	send(ann, map[string]any{"type": "say", "text": "hello"})
	send(ann, map[string]any{"type": "ping", "id": "p"})
	annT.mu.Lock()
	evs := annT.events
	annT.mu.Unlock()
	if len(evs) != 1 || evs[0]["type"] != "pong" {
		t.Fatalf("ann got %v, want only the pong", evs)
	}
	if got := bobT.take("message"); len(got) != 0 {
		t.Fatalf("bob got a dropped message: %v", got)
	}
}

func TestHoldGivesTheAuthorAHeldEvent(t *testing.T) {
	mods := &fakeModules{verdict: sdk.MessageVerdict{Action: sdk.Hold, Note: "first post"}}
	holder := &fakeHolder{}
	n := hookNode(t, mods, holder)
	ann, annT := member(t, n, "ann", 1)
	_, bobT := member(t, n, "bob", 1)
	annT.take("")
	send(ann, map[string]any{"type": "say", "id": "9", "text": "hello all"})
	held := annT.take("held")
	if len(held) != 1 || held[0]["id"] != "9" || held[0]["held"] != 41.0 || held[0]["room"] != 1.0 || held[0]["note"] != "first post" {
		t.Fatalf("ann got %v, want one held event for request 9 with held id 41", held)
	}
	if len(holder.held) != 1 || holder.held[0].Text != "hello all" || holder.held[0].From != "ann" || holder.held[0].RoomID != 1 {
		t.Fatalf("holder has %+v", holder.held)
	}
	if got := bobT.take("message"); len(got) != 0 {
		t.Fatalf("bob got a held message: %v", got)
	}
}

func TestHoldOfAPrivateMessageIsARejection(t *testing.T) {
	mods := &fakeModules{verdict: sdk.MessageVerdict{Action: sdk.Hold, Note: "Private messages are checked."}}
	holder := &fakeHolder{}
	n := hookNode(t, mods, holder)
	ann, annT := member(t, n, "ann", 1)
	_, bobT := member(t, n, "bob", 1)
	annT.take("")
	send(ann, map[string]any{"type": "pm", "to": "bob", "text": "psst"})
	if ev := wantError(t, annT, chat.CodeRejected); ev["message"] != "Private messages are checked." {
		t.Fatalf("error = %v, want the note as reason", ev)
	}
	if len(holder.held) != 0 || len(bobT.take("private")) != 0 {
		t.Fatal("a held private message was kept or delivered")
	}
}

func TestModeratedRoomFailsClosed(t *testing.T) {
	mods := &fakeModules{msgErr: chat.Errorf(chat.CodeModuleUnavailable, "The moderation module is not available; your message was not sent.")}
	n := hookNode(t, mods, nil)
	ann, annT := member(t, n, "ann", 2)
	_, bobT := member(t, n, "bob", 2)
	annT.take("")
	send(ann, map[string]any{"type": "say", "text": "hello"})
	if _, failClosed := mods.last(); !failClosed {
		t.Fatal("the message hook of a moderated room was not asked to fail closed")
	}
	wantError(t, annT, chat.CodeModuleUnavailable)
	if got := bobT.take("message"); len(got) != 0 {
		t.Fatalf("bob got %v", got)
	}
}

func TestUnknownPrefixIsUnknownCommand(t *testing.T) {
	n := hookNode(t, &fakeModules{}, nil)
	ann, annT := member(t, n, "ann", 1)
	annT.take("")
	send(ann, map[string]any{"type": "wb.draw", "id": "5"})
	if ev := wantError(t, annT, chat.CodeUnknownCommand); ev["id"] != "5" {
		t.Fatalf("error = %v, want request 5", ev)
	}
}

func TestCommandReplyArrivesAsResult(t *testing.T) {
	mods := &fakeModules{reply: sdk.Reply{Data: json.RawMessage(`{"total":7}`)}}
	n := hookNode(t, mods, nil)
	ann, annT := member(t, n, "ann", 1)
	annT.take("")
	send(ann, map[string]any{"type": "dice.roll", "id": "7", "dice": "2d6"})
	res := annT.take("result")
	if len(res) != 1 || res[0]["id"] != "7" {
		t.Fatalf("ann got %v, want one result for request 7", res)
	}
	if d, _ := res[0]["data"].(map[string]any); d["total"] != 7.0 {
		t.Fatalf("data = %v", res[0]["data"])
	}
	cmd := mods.cmd
	if cmd.Type != "dice.roll" || cmd.Caller.Name != "ann" || cmd.Caller.Role != sdk.RoleGuest || cmd.Caller.IP != "192.0.2.7" || cmd.Room != 1 || cmd.Caller.Room != 1 {
		t.Fatalf("the module got %+v", cmd)
	}
	var raw map[string]any
	if err := json.Unmarshal(cmd.Data, &raw); err != nil || raw["dice"] != "2d6" {
		t.Fatalf("the module got the frame %s", cmd.Data)
	}
}

func TestCommandRoleIsTheRoleInTheRoom(t *testing.T) {
	mods := &fakeModules{}
	n := hookNode(t, mods, nil)
	mod, _ := member(t, n, "mod", 1)
	send(mod, map[string]any{"type": "dice.roll"})
	if mods.cmd.Caller.Role != sdk.RoleModerator {
		t.Fatalf("role = %q, want moderator (owner list of room 1)", mods.cmd.Caller.Role)
	}
}

func TestCommandErrors(t *testing.T) {
	cases := []struct {
		err       error
		code, msg string
	}{
		{&sdk.Refusal{Code: "not_your_turn", Message: "Wait for your turn."}, "not_your_turn", "Wait for your turn."},
		{&sdk.Refusal{Message: "No dice today."}, chat.CodeRefused, "No dice today."},
		{errors.New("boom"), chat.CodeModuleError, "The dice module could not answer; try again."},
		{chat.Errorf(chat.CodeModuleUnavailable, "The dice module is not available."), chat.CodeModuleUnavailable, "The dice module is not available."},
	}
	for _, tc := range cases {
		mods := &fakeModules{cmdErr: tc.err}
		n := hookNode(t, mods, nil)
		ann, annT := member(t, n, "ann", 1)
		annT.take("")
		send(ann, map[string]any{"type": "dice.roll", "id": "1"})
		if ev := wantError(t, annT, tc.code); ev["message"] != tc.msg {
			t.Errorf("%v: message = %v, want %q", tc.err, ev["message"], tc.msg)
		}
	}
}

func TestCommandBeforeLoginIsRefused(t *testing.T) {
	n := hookNode(t, &fakeModules{}, nil)
	ft := &fakeTransport{}
	c, err := n.Connect(context.Background(), ft, ConnInfo{RemoteIP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Closed()
	send(c, map[string]any{"type": "dice.roll", "id": "1"})
	wantError(t, ft, chat.CodeNotLoggedIn)
}

func TestLoginHook(t *testing.T) {
	mods := &fakeModules{login: sdk.LoginVerdict{Display: "Ann the Brave"}}
	n := hookNode(t, mods, nil)
	ft := &fakeTransport{}
	c, err := n.Connect(context.Background(), ft, ConnInfo{RemoteIP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Closed()
	send(c, map[string]any{"type": "login", "user": "ann"})
	ok := ft.take("login_ok")
	if len(ok) != 1 {
		t.Fatal("no login_ok")
	}
	if u := ok[0]["user"].(map[string]any); u["display"] != "Ann the Brave" || u["avatar"] != "e3" {
		t.Fatalf("user = %v, want the module's display name and the avatar", u)
	}
	m, _ := n.group.Online("ann")
	if m.IP != "192.0.2.7" || m.Avatar != "e3" {
		t.Fatalf("member IP %q avatar %q", m.IP, m.Avatar)
	}

	mods.login = sdk.LoginVerdict{Deny: true, Reason: "Not today."}
	ft2 := &fakeTransport{}
	c2, err := n.Connect(context.Background(), ft2, ConnInfo{RemoteIP: "192.0.2.8"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Closed()
	send(c2, map[string]any{"type": "login", "user": "bob"})
	if ev := wantError(t, ft2, chat.CodeRefused); ev["message"] != "Not today." {
		t.Fatalf("error = %v", ev)
	}
	if _, online := n.group.Online("bob"); online {
		t.Fatal("a refused login is online")
	}
}

func TestJoinHookRefusal(t *testing.T) {
	mods := &fakeModules{joinErr: &sdk.Refusal{Message: "The stage is closed for rehearsal."}}
	n := hookNode(t, mods, nil)
	ann, annT := member(t, n, "ann", 0)
	send(ann, map[string]any{"type": "join", "room": 2})
	if ev := wantError(t, annT, chat.CodeRefused); ev["message"] != "The stage is closed for rehearsal." {
		t.Fatalf("error = %v", ev)
	}
	if len(annT.take("joined")) != 0 || n.group.RoomOf(ann.member) != 0 {
		t.Fatal("a refused join entered the room")
	}
}

func TestAFailedHookIsModuleUnavailable(t *testing.T) {
	mods := &fakeModules{msgErr: context.DeadlineExceeded}
	n := hookNode(t, mods, nil)
	ann, annT := member(t, n, "ann", 1)
	_, bobT := member(t, n, "bob", 1)
	annT.take("")
	send(ann, map[string]any{"type": "say", "id": "4", "text": "hello"})
	if ev := wantError(t, annT, chat.CodeModuleUnavailable); ev["message"] != messageUnavailable || ev["id"] != "4" {
		t.Fatalf("error = %v", ev)
	}
	if got := bobT.take("message"); len(got) != 0 {
		t.Fatalf("bob got %v", got)
	}
}

func TestUsersCarryRolesAndAvatars(t *testing.T) {
	n := hookNode(t, nil, nil)
	_, _ = member(t, n, "mod", 1)
	ann, annT := member(t, n, "ann", 1)
	annT.take("")
	send(ann, map[string]any{"type": "users", "id": "u", "room": 1})
	got := annT.take("users")
	if len(got) != 1 || got[0]["id"] != "u" {
		t.Fatalf("ann got %v", got)
	}
	members, _ := got[0]["members"].([]any)
	if len(members) != 2 {
		t.Fatalf("members = %v", got[0]["members"])
	}
	first, _ := members[0].(map[string]any)
	second, _ := members[1].(map[string]any)
	if first["name"] != "mod" || first["role"] != "moderator" || first["avatar"] != "e3" || second["name"] != "ann" || second["role"] != "guest" {
		t.Fatalf("members = %v, want mod (moderator, e3) then ann (guest)", members)
	}
}

func TestHelloAnnouncesModules(t *testing.T) {
	n := hookNode(t, nil, nil)
	n.Announce([]string{"dice"}, []Extension{{Module: "dice", URL: "/plugins/dice/main.js"}}, []string{"dice."})
	ft := &fakeTransport{}
	c, err := n.Connect(context.Background(), ft, ConnInfo{RemoteIP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Closed()
	hello := ft.take("hello")
	if len(hello) != 1 {
		t.Fatal("no hello")
	}
	b, _ := json.Marshal(hello[0])
	want := `"commands":["dice."],"extensions":[{"module":"dice","url":"/plugins/dice/main.js"}],"guests":true,"modules":["dice"]`
	if !strings.Contains(string(b), want) {
		t.Fatalf("hello = %s, want %s", b, want)
	}
}

// banList is a chat.Sanctions of fixed sanctions by user name.
type banList []chat.Sanction

func (b banList) Active(kind, name, _ string, room int64, _ time.Time) *chat.Sanction {
	for _, s := range b {
		if s.Kind == kind && strings.EqualFold(s.User, name) && (s.Room == 0 || s.Room == room) {
			return &s
		}
	}
	return nil
}

// A module command about a room the caller is banned from, or kicked out
// of, is refused like the join; a mute refuses it unless it is quiet.
func TestCommandsMeetTheRoomsSanctions(t *testing.T) {
	mods := &fakeModules{}
	g := chat.NewGroup(chat.Options{History: 10, MaxMessageChars: 500, Guests: true, Sanctions: banList{
		{Kind: chat.SanctionBan, User: "ann", Room: 2, Reason: "trolling"},
		{Kind: chat.SanctionKick, User: "ann", Room: 3, Reason: "cool off", Expires: time.Now().Add(time.Hour)},
		{Kind: chat.SanctionMute, User: "ann", Room: 1, Reason: "caps"},
	}})
	for _, r := range []chat.RoomInfo{{ID: 1, Name: "Lobby"}, {ID: 2, Name: "Stage"}, {ID: 3, Name: "Side"}, {ID: 4, Name: "Free"}} {
		r.Member, r.Open = true, true
		g.PutRoom(r, nil)
	}
	n := New(g, guestLogin{}, Options{LoginTimeout: time.Minute, Hooks: mods})
	ann, annT := member(t, n, "ann", 1)
	annT.take("")
	send(ann, map[string]any{"type": "dice.roll", "room": 2})
	if e := wantError(t, annT, "banned"); !strings.Contains(e["message"].(string), "trolling") {
		t.Fatalf("banned: %v", e)
	}
	send(ann, map[string]any{"type": "dice.peek", "room": 3})
	if e := wantError(t, annT, "kicked"); !strings.Contains(e["message"].(string), "cool off") {
		t.Fatalf("kicked: %v", e)
	}
	send(ann, map[string]any{"type": "dice.roll"})
	wantError(t, annT, "muted")
	mods.cmd = sdk.Command{}
	send(ann, map[string]any{"type": "dice.peek"})
	send(ann, map[string]any{"type": "dice.roll", "room": 4})
	if len(annT.take("error")) != 0 || mods.cmd.Room != 4 {
		t.Fatalf("allowed commands were refused: %+v", mods.cmd)
	}
	// A move into a room the user is banned from is refused too.
	if err := g.Move("ann", 2); chat.CodeOf(err) != chat.CodeBanned {
		t.Fatalf("move into a banned room: %v", err)
	}
	if err := g.Move("ann", 4); err != nil {
		t.Fatal(err)
	}
}
