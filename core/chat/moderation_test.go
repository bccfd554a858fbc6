package chat

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// TestModeratorsSeeIPOnlyWhenAllowed: with ModeratorsSeeIP, a room's
// moderators and the administrators get the members' addresses (in the
// joined event, and a member_ip event for later joins); a user or a
// speaker never does, and without the option nobody does.
func TestModeratorsSeeIPOnlyWhenAllowed(t *testing.T) {
	for _, allowed := range []bool{true, false} {
		g := NewGroup(Options{Name: DefaultGroup, History: 5, MaxMessageChars: 100, Guests: true, RoomListDelay: -1,
			ModeratorsSeeIP: allowed, Now: func() time.Time { return testNow }})
		g.PutRoom(RoomInfo{ID: 1, Name: "Lobby", Member: true, Open: true, Owner: "mia", Speaker: "sam"}, nil)
		enter := func(name, ip string, admin bool) (*Member, JoinedEvent) {
			m := &Member{Name: name, IP: ip, Admin: admin, Conn: &fakeConn{}}
			if err := g.Login(m); err != nil {
				t.Fatal(err)
			}
			ev, err := g.Join(m, 1, "")
			if err != nil {
				t.Fatal(err)
			}
			return m, ev
		}
		ann, annJoined := enter("ann", "198.51.100.1", false)
		mia, miaJoined := enter("mia", "198.51.100.2", false)
		root, _ := enter("root", "2001:db8::5", true)
		sam, samJoined := enter("sam", "198.51.100.4", false)
		bob, bobJoined := enter("bob", "203.0.113.9", false)

		for _, ev := range []JoinedEvent{annJoined, samJoined, bobJoined} {
			raw, _ := json.Marshal(ev)
			if strings.Contains(string(raw), `"ip"`) {
				t.Fatalf("allowed=%v: a user or speaker got addresses: %s", allowed, raw)
			}
		}
		for _, m := range []*Member{ann, sam, bob} {
			for _, f := range m.Conn.(*fakeConn).frames {
				if strings.Contains(string(f.JSON()), "198.51.100") || strings.Contains(string(f.JSON()), "203.0.113") {
					t.Fatalf("allowed=%v: %s got %s", allowed, m.Name, f.JSON())
				}
			}
		}
		ips := miaJoined.Members
		if allowed && (len(ips) != 2 || ips[0].IP != "198.51.100.1" || ips[1].IP != "198.51.100.2") {
			t.Fatalf("the moderator's joined members %+v", ips)
		}
		if !allowed && (ips[0].IP != "" || ips[1].IP != "") {
			t.Fatalf("addresses without the option: %+v", ips)
		}
		for _, who := range []*Member{mia, root} {
			got := who.Conn.(*fakeConn).events("member_ip")
			if !allowed {
				if len(got) != 0 {
					t.Fatalf("member_ip without the option: %v", got)
				}
				continue
			}
			if len(got) == 0 || got[len(got)-1]["user"] != "bob" || got[len(got)-1]["ip"] != "203.0.113.9" || got[len(got)-1]["room"] != 1.0 {
				t.Fatalf("%s got member_ip %v", who.Name, got)
			}
		}
		if RoleIn(sam, RoomInfo{Speaker: "sam"}) != sdk.RoleSpeaker {
			t.Fatal("sam is not a speaker")
		}
	}
}

// TestSanctionEventSaysWhatWhyUntilAndWho: the event a sanctioned user
// gets, and the one of its lifting.
func TestSanctionEventSaysWhatWhyUntilAndWho(t *testing.T) {
	g := sanctionedGroup(t, nil, nil)
	c := &fakeConn{}
	if err := g.Login(&Member{Name: "bob", Conn: c}); err != nil {
		t.Fatal(err)
	}
	until := testNow.Add(90 * time.Minute)
	s := Sanction{ID: 7, Kind: SanctionMute, User: "bob", Room: 1, Reason: "flooding", Actor: "mia", Expires: until}
	if !g.TellSanction(s, false, "") {
		t.Fatal("bob was not told")
	}
	ev := c.events("sanctioned")[0]
	if ev["id"] != 7.0 || ev["kind"] != "mute" || ev["room"] != 1.0 || ev["reason"] != "flooding" || ev["by"] != "mia" ||
		ev["until"] != until.UTC().Format(time.RFC3339) || ev["text"] != "You are muted in Lobby by mia until "+until.UTC().Format("15:04")+" UTC: flooding." {
		t.Fatalf("sanctioned %v", ev)
	}
	g.TellSanction(Sanction{ID: 8, Kind: SanctionBan, User: "bob", Reason: "spam"}, false, "")
	if ev := c.events("sanctioned")[1]; ev["until"] != "" || ev["text"] != "You are banned from this chat: spam." {
		t.Fatalf("permanent ban %v", ev)
	}
	g.TellSanction(s, true, "olga")
	if ev := c.events("sanction_lifted")[0]; ev["by"] != "olga" || ev["kind"] != "mute" || !strings.Contains(ev["text"].(string), "speak again") {
		t.Fatalf("lifted %v", ev)
	}
	if g.TellSanction(Sanction{Kind: SanctionMute, User: "nobody"}, false, "") {
		t.Fatal("told someone offline")
	}
}
