package chat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// fakeSanctions is an in-memory Sanctions.
type fakeSanctions struct {
	mu   sync.Mutex
	list []Sanction
}

func (f *fakeSanctions) add(s Sanction) {
	f.mu.Lock()
	f.list = append(f.list, s)
	f.mu.Unlock()
}

func (f *fakeSanctions) Active(kind, name, ip string, room int64, now time.Time) *Sanction {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.list {
		s := f.list[i]
		who := (s.User != "" && NameKey(s.User) == NameKey(name)) || (s.IP != "" && s.IP == ip)
		where := s.Room == 0 || (room != 0 && s.Room == room)
		if s.Kind == kind && who && where && (s.Expires.IsZero() || now.Before(s.Expires)) {
			return &s
		}
	}
	return nil
}

var testNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func sanctionedGroup(t *testing.T, s Sanctions, observe func(sdk.Notification)) *Group {
	t.Helper()
	g := NewGroup(Options{Name: DefaultGroup, History: 5, MaxMessageChars: 100, Guests: true, RoomListDelay: -1,
		Sanctions: s, Observe: observe, Now: func() time.Time { return testNow }})
	g.PutRoom(RoomInfo{ID: 1, Name: "Lobby", Member: true, Open: true, Owner: "mia, olga", Speaker: "sam"}, nil)
	g.PutRoom(RoomInfo{ID: 2, Name: "Vault", Member: true, Open: false, Max: 1, Password: "pw"}, nil)
	g.PutRoom(RoomInfo{ID: 3, Name: "Members", Member: false, Open: true}, nil)
	return g
}

func TestKickedUserGetsLeftWithReasonAndCannotRejoinDuringCooldown(t *testing.T) {
	sanctions := &fakeSanctions{}
	g := sanctionedGroup(t, sanctions, nil)
	bob, bc := joinRoom(t, g, "bob", 1)
	_, ac := joinRoom(t, g, "alice", 1)

	sanctions.add(Sanction{Kind: SanctionKick, User: "bob", Room: 1, Reason: "flooding", Expires: testNow.Add(5 * time.Minute)})
	if err := g.Kick("bob", 1, "flooding"); err != nil {
		t.Fatal(err)
	}
	left := bc.events("left")
	if len(left) != 1 || left[0]["room"] != 1.0 || left[0]["reason"] != "flooding" {
		t.Fatalf("bob got left %v", left)
	}
	if n := bc.events("notice"); len(n) != 1 || !strings.Contains(n[0]["text"].(string), "flooding") {
		t.Fatalf("bob got notices %v", n)
	}
	if p := ac.events("presence"); p[len(p)-1]["event"] != "leave" || p[len(p)-1]["user"] != "bob" {
		t.Fatalf("alice saw presence %v", p)
	}
	if users, _ := g.Users(1); len(users) != 1 || users[0] != "alice" {
		t.Fatalf("users after kick = %v", users)
	}
	_, err := g.Join(bob, 1, "")
	wantCode(t, err, CodeKicked)
	if RetryAfterOf(err) != 5*time.Minute || !strings.Contains(err.Error(), "flooding") {
		t.Fatalf("kick refusal %q retry %v", err, RetryAfterOf(err))
	}
	wantCode(t, g.Kick("bob", 1, "again"), CodeNotInRoom)
	wantCode(t, g.Kick("nobody", 1, ""), CodeNotOnline)
}

func TestSanctionsRefuseLoginJoinSayAndPrivate(t *testing.T) {
	sanctions := &fakeSanctions{}
	g := sanctionedGroup(t, sanctions, nil)
	sanctions.add(Sanction{Kind: SanctionBan, IP: "192.0.2.7", Reason: "abuse"})
	sanctions.add(Sanction{Kind: SanctionBan, User: "eve", Room: 2})
	sanctions.add(Sanction{Kind: SanctionMute, User: "mo", Room: 1, Reason: "spamming", Expires: time.Date(2026, 11, 22, 14, 5, 0, 0, time.UTC)})
	sanctions.add(Sanction{Kind: SanctionMute, User: "quiet", Reason: "shouting"})

	err := g.Login(&Member{Name: "troll", IP: "192.0.2.7", Conn: &fakeConn{}})
	wantCode(t, err, CodeBanned)
	if !strings.Contains(err.Error(), "abuse") {
		t.Fatalf("ban refusal %q gives no reason", err)
	}
	eve, _ := login(t, g, "eve", false)
	eve.Admin = true // a ban holds even past the closed room
	_, err = g.Join(eve, 2, "")
	wantCode(t, err, CodeBanned)

	mo, _ := joinRoom(t, g, "mo", 1)
	_, err = g.Say(mo, "buy now", Style{}, "")
	wantCode(t, err, CodeMuted)
	if want := "You are muted in this room until 14:05 UTC: spamming."; err.Error() != want {
		t.Fatalf("mute refusal %q, want %q", err, want)
	}
	if err := g.Private(mo, "eve", "psst", Style{}, ""); err != nil {
		t.Fatalf("a room mute refused a private message: %v", err)
	}
	quiet, _ := joinRoom(t, g, "quiet", 1)
	_, err = g.Say(quiet, "hello", Style{}, "")
	wantCode(t, err, CodeMuted)
	wantCode(t, g.Private(quiet, "eve", "psst", Style{}, ""), CodeMuted)
	if m := g.Sanctioned(quiet, SanctionMute, 7); m == nil || m.Reason != "shouting" {
		t.Fatalf("Sanctioned = %+v", m)
	}
	if (&Group{opts: Options{Now: time.Now}}).Sanctioned(quiet, SanctionMute, 1) != nil {
		t.Fatal("a group without sanctions found one")
	}
}

func TestSendModeratorsReachesOwnerAndAdminNotUser(t *testing.T) {
	g := sanctionedGroup(t, nil, nil)
	_, oc := login(t, g, "Olga", false) // owner of room 1, not in it
	admin, adc := login(t, g, "root", false)
	admin.Admin = true
	_, uc := joinRoom(t, g, "user", 1)
	_, sc := joinRoom(t, g, "sam", 1)
	f := NewFrame(ModuleEvent{Type: "mod.report", Module: "mod", Room: 1})
	if n := g.SendModerators(1, f); n != 2 {
		t.Fatalf("SendModerators reached %d, want 2", n)
	}
	for name, c := range map[string]*fakeConn{"olga": oc, "root": adc} {
		if len(c.events("mod.report")) != 1 {
			t.Fatalf("%s did not get the event", name)
		}
	}
	if len(uc.events("mod.report"))+len(sc.events("mod.report")) != 0 {
		t.Fatal("a user or speaker got a moderators' event")
	}
	if n, err := g.SendRoom(1, NewFrame(ModuleEvent{Type: "mod.room", Module: "mod"})); err != nil || n != 2 || len(uc.events("mod.room")) != 1 || len(oc.events("mod.room")) != 0 {
		t.Fatalf("SendRoom = %d, %v", n, err)
	}
	if _, err := g.SendRoom(99, f); CodeOf(err) != CodeNoSuchRoom {
		t.Fatalf("SendRoom to no room: %v", err)
	}
	if !g.SendUser("OLGA", NewFrame(ModuleEvent{Type: "mod.you", Module: "mod"})) || len(oc.events("mod.you")) != 1 || g.SendUser("nobody", f) {
		t.Fatal("SendUser")
	}
	if n := g.SendAll(NewFrame(ModuleEvent{Type: "mod.all", Module: "mod"})); n != 4 || len(sc.events("mod.all")) != 1 {
		t.Fatalf("SendAll reached %d, want 4", n)
	}
}

func TestJoinedMembersCarryRoles(t *testing.T) {
	g := sanctionedGroup(t, nil, nil)
	root := &Member{Name: "root", Admin: true, Display: "Root", Avatar: "e7", Conn: &fakeConn{}}
	_ = g.Login(root)
	if _, err := g.Join(root, 1, ""); err != nil {
		t.Fatal(err)
	}
	mia := &Member{Name: "Mia", Avatar: "https://example.com/mia.png", Conn: &fakeConn{}}
	_ = g.Login(mia)
	_, _ = g.Join(mia, 1, "")
	sam := &Member{Name: "sam", Avatar: "javascript:alert(1)", Conn: &fakeConn{}}
	_ = g.Login(sam)
	_, _ = g.Join(sam, 1, "")
	ann, _ := login(t, g, "ann", false)
	_, _ = g.Join(ann, 1, "")
	guest, _ := login(t, g, "guest", true)
	ev, err := g.Join(guest, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []MemberView{
		{Name: "root", Display: "Root", Role: sdk.RoleAdmin, Avatar: "e7"},
		{Name: "Mia", Role: sdk.RoleModerator, Avatar: "https://example.com/mia.png"},
		{Name: "sam", Role: sdk.RoleSpeaker},
		{Name: "ann", Role: sdk.RoleUser},
		{Name: "guest", Role: sdk.RoleGuest},
	}
	if fmt.Sprint(ev.Members) != fmt.Sprint(want) || len(ev.Users) != 5 {
		t.Fatalf("joined members %+v, want %+v", ev.Members, want)
	}
	if ms, err := g.Members(1); err != nil || fmt.Sprint(ms) != fmt.Sprint(want) {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	p := root.Conn.(*fakeConn).events("presence")
	if mp := p[1]; mp["user"] != "Mia" || mp["role"] != "moderator" || mp["avatar"] != "https://example.com/mia.png" {
		t.Fatalf("presence join of Mia = %v", mp)
	}
	if gp := p[len(p)-1]; gp["role"] != "guest" || gp["avatar"] != nil {
		t.Fatalf("presence join of the guest = %v", gp)
	}
}

func TestCleanAvatar(t *testing.T) {
	for in, want := range map[string]string{
		"e1": "e1", "e32": "e32", "e33": "", "e0": "", "e01": "", "E1": "",
		"https://a.example/x.png": "https://a.example/x.png", "http://a.example/x": "http://a.example/x",
		"javascript:alert(1)": "", "data:image/png;base64,AAAA": "", "/static/me.png": "",
		"https://": "", "https://u:p@a.example/": "", "https://a.example/\"onload=x": "",
		"https://a.example/" + strings.Repeat("x", MaxAvatarURL): "",
		"ftp://a.example/a": "", "https://a.example/a b": "", "": "",
		"HTTPS://a.example/a.png": "HTTPS://a.example/a.png",
	} {
		if got := CleanAvatar(in); got != want {
			t.Errorf("CleanAvatar(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEmotionIsKeptInMessagesHistoryAndPrivate(t *testing.T) {
	for _, store := range []bool{false, true} {
		t.Run(fmt.Sprintf("store=%v", store), func(t *testing.T) {
			s := &saver{}
			var g *Group
			if store {
				g = groupWithSaver(t, s)
			} else {
				g = sanctionedGroup(t, nil, nil)
			}
			a, ac := joinRoom(t, g, "alice", 1)
			_, bc := joinRoom(t, g, "bob", 1)
			if _, err := g.Say(a, "hi", Style{}, "e5"); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Say(a, "odd", Style{}, "e99"); err != nil {
				t.Fatal(err)
			}
			if err := g.WaitSaved(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := bc.events("message")
			if len(got) != 2 || got[0]["emotion"] != "e5" || got[1]["emotion"] != nil {
				t.Fatalf("bob got %v", got)
			}
			c, _ := login(t, g, "carol", true)
			ev, _ := g.Join(c, 1, "")
			if len(ev.History) != 2 || ev.History[0].Emotion != "e5" {
				t.Fatalf("history %+v", ev.History)
			}
			if err := g.Private(a, "bob", "psst", Style{}, "e32"); err != nil {
				t.Fatal(err)
			}
			if p := bc.events("private"); len(p) != 1 || p[0]["emotion"] != "e32" || ac.events("private")[0]["emotion"] != "e32" {
				t.Fatalf("private %v", p)
			}
		})
	}
}

// observed collects notifications.
type observed struct {
	mu sync.Mutex
	ns []sdk.Notification
}

func (o *observed) add(n sdk.Notification) {
	o.mu.Lock()
	o.ns = append(o.ns, n)
	o.mu.Unlock()
}

func (o *observed) kinds() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, n := range o.ns {
		s := fmt.Sprintf("%s:%s:%d", n.Kind, n.User, n.Room)
		if n.Message != nil {
			s += ":" + n.Message.Text
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func (o *observed) reset() {
	o.mu.Lock()
	o.ns = nil
	o.mu.Unlock()
}

func TestObserveSeesEachKind(t *testing.T) {
	var o observed
	g := sanctionedGroup(t, nil, o.add)
	if got, want := o.kinds(), "room_changed::1 room_changed::2 room_changed::3"; got != want {
		t.Fatalf("PutRoom: %s, want %s", got, want)
	}
	o.reset()
	a, _ := joinRoom(t, g, "alice", 1)
	b, _ := joinRoom(t, g, "bob", 1)
	if _, err := g.Say(a, "hi", Style{}, ""); err != nil {
		t.Fatal(err)
	}
	g.Leave(b)
	_, _ = g.Join(b, 1, "")
	_ = g.Kick("bob", 1, "")
	_ = g.Move("alice", 2)
	_ = g.Move("bob", 2)
	_ = g.RemoveRoom(2)
	_, _ = g.Join(a, 1, "")
	g.Logout(a)
	want := "joined:alice:1 joined:bob:1 delivered:alice:1:hi left:bob:1 joined:bob:1 left:bob:1 " +
		"left:alice:1 joined:alice:2 joined:bob:2 left:alice:2 left:bob:2 room_changed::2 " +
		"joined:alice:1 left:alice:1 logged_out:alice:0"
	if got := o.kinds(); got != want {
		t.Fatalf("notifications\n got %s\nwant %s", got, want)
	}
}

func TestObserveSeesDeliveriesThroughTheStore(t *testing.T) {
	var o observed
	s := &saver{}
	g := NewGroup(Options{History: 5, MaxMessageChars: 100, Guests: true, SaveMessages: s.save, Observe: o.add})
	g.PutRoom(RoomInfo{ID: 1, Name: "One", Member: true, Open: true}, nil)
	a, _ := joinRoom(t, g, "alice", 1)
	o.reset()
	for i := range 3 {
		if _, err := g.Say(a, fmt.Sprintf("m%d", i), Style{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.WaitSaved(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := o.kinds(), "delivered:alice:1:m0 delivered:alice:1:m1 delivered:alice:1:m2"; got != want {
		t.Fatalf("notifications %s, want %s", got, want)
	}
}

func TestMovePassesRoomChecksButNotTheGuestsRule(t *testing.T) {
	g := sanctionedGroup(t, nil, nil)
	_, _ = login(t, g, "first", false)
	if err := g.Move("first", 2); err != nil { // closed, with a password
		t.Fatalf("move refused: %v", err)
	}
	bob, bc := joinRoom(t, g, "bob", 1)
	_, _ = login(t, g, "carol", true)
	_, err := g.Join(bob, 2, "pw")
	wantCode(t, err, CodeRoomClosed)
	if err := g.Move("bob", 2); err != nil { // closed, full (max 1), with a password
		t.Fatalf("move refused: %v", err)
	}
	if l := bc.events("left"); len(l) != 1 || l[0]["room"] != 1.0 || l[0]["reason"] != ReasonMoved {
		t.Fatalf("bob's left %v", l)
	}
	if j := bc.events("joined"); len(j) != 1 || j[0]["room"].(map[string]any)["id"] != 2.0 {
		t.Fatalf("bob's joined %v", j)
	}
	wantCode(t, g.Move("carol", 3), CodeMembersOnly)
	wantCode(t, g.Move("nobody", 1), CodeNotOnline)
	wantCode(t, g.Move("bob", 99), CodeNoSuchRoom)
}

func TestSayAsPublishesForAnAuthorNotOnline(t *testing.T) {
	s := &saver{}
	g := groupWithSaver(t, s)
	_, bc := joinRoom(t, g, "bob", 1)
	msg, err := g.SayAs("held author", 1, "released", Style{Color: "#ABCDEF"}, "e3")
	if err != nil {
		t.Fatal(err)
	}
	got := bc.events("message")
	if len(got) != 1 || got[0]["from"] != "held author" || got[0]["emotion"] != "e3" || got[0]["id"] != float64(msg.ID) {
		t.Fatalf("bob got %v", got)
	}
	if saved := s.saved(); len(saved) != 1 || saved[0][0].Text != "released" {
		t.Fatalf("saved %v", saved)
	}
	s.mu.Lock()
	s.fail = fmt.Errorf("disk full")
	s.mu.Unlock()
	_, err = g.SayAs("held author", 1, "again", Style{}, "")
	wantCode(t, err, CodeNotSaved)
	_, err = g.SayAs("x", 99, "hi", Style{}, "")
	wantCode(t, err, CodeNoSuchRoom)
}
