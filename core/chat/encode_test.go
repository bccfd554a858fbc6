package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tricky are strings json.Marshal escapes in every way it does.
var tricky = []string{"", "alice", `qu"ote`, `back\slash`, "<b>&amp;</b>", "tab\there", "line\nbreak", "\x00\x1f\x7f",
	"Zoë", "名前", "\u2028\u2029", "bad \xff utf-8", "emoji 😀", "e7", "https://x.test/a?b=1&c=2", "10.0.0.1"}

func pick(r *rand.Rand) string { return tricky[r.IntN(len(tricky))] }

// The hand-written encodings give exactly json.Marshal's bytes, whatever
// the strings hold.
func TestAppendJSONIsJSONMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		var members []MemberView
		var users []string
		n := r.IntN(6)
		if n > 0 || i%2 == 0 {
			members, users = []MemberView{}, []string{}
		}
		for range n {
			m := MemberView{Name: pick(r), Display: pick(r), Role: Role(pick(r)), Avatar: pick(r), IP: pick(r)}
			members, users = append(members, m), append(users, m.Name)
		}
		var history []Message
		if i%3 == 0 {
			history = []Message{{ID: int64(i), RoomID: 3, From: pick(r), Text: pick(r), Time: time.Unix(int64(i), 0).UTC()}}
		}
		events := []any{
			JoinedEvent{Type: "joined", ID: pick(r), Room: RoomView{ID: 3, Name: pick(r), Desc: pick(r), Count: n},
				Users: users, Members: members, History: history, Welcome: pick(r)},
			UsersEvent{Type: "users", ID: pick(r), Room: int64(i), Users: users, Members: members},
		}
		c := PresenceChange{User: pick(r), Event: pick(r), Offline: i%2 == 0, Role: Role(pick(r)), Display: pick(r), Avatar: pick(r)}
		if want, _ := json.Marshal(c); !bytes.Equal(c.appendJSON(nil), want) {
			t.Fatalf("%+v encodes as\n%s\nwant\n%s", c, c.appendJSON(nil), want)
		}
		for _, ev := range events {
			want, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			got := NewFrame(ev).JSON()
			if !bytes.Equal(got, want) {
				t.Fatalf("%T encodes as\n%s\nwant\n%s", ev, got, want)
			}
		}
	}
	for _, s := range append(tricky, strings.Repeat("x", 300)) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

// A joined frame encoded from the room's member list is the event with
// the list's users and members as values, byte for byte, with and
// without the addresses.
func TestJoinedFromTheMemberListIsItsValues(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		var members []*Member
		for j := range r.IntN(8) {
			members = append(members, &Member{Name: pick(r) + strconv.Itoa(j), Display: pick(r), Avatar: pick(r), IP: pick(r),
				Admin: r.IntN(5) == 0, Guest: r.IntN(2) == 0})
		}
		info := RoomInfo{ID: 5, Name: pick(r)}
		if len(members) > 1 {
			info.Owner, info.Speaker = members[0].Name, members[1].Name
		}
		l := &memberList{members: members, info: info, ips: i%2 == 0}
		ev := JoinedEvent{Type: "joined", ID: pick(r), Room: RoomView{ID: 5, Name: info.Name, Count: len(members)},
			History: []Message{}, Welcome: pick(r)}
		want := ev
		want.Users, want.Members = l.values()
		wantJSON, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		ev.list = l
		if got := NewFrame(ev).JSON(); !bytes.Equal(got, wantJSON) {
			t.Fatalf("from the list:\n%s\nwant\n%s", got, wantJSON)
		}
	}
}

// The buffer of a joined frame of plain names is made once: its size
// is at least what is written, and not much more.
func TestJoinedBufferIsSizedOnce(t *testing.T) {
	var members []*Member
	for i := range 300 {
		members = append(members, &Member{Name: "guest" + strconv.Itoa(i), Display: "guest" + strconv.Itoa(i), Guest: true,
			Avatar: []string{"", "e4"}[i%2]})
	}
	info := RoomInfo{ID: 1, Name: "Lobby", Owner: "guest1,guest2", Speaker: "guest3"}
	ev := JoinedEvent{Type: "joined", ID: "j1", Room: RoomView{ID: 1, Name: "Lobby"}, History: []Message{{ID: 1, Text: "hi"}},
		Welcome: "Hello", list: &memberList{members: members, info: info}}
	b, err := ev.appendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cap(b) < len(b) || cap(b) > len(b)+128 {
		t.Fatalf("%d bytes in a buffer of %d", len(b), cap(b))
	}
}

// A room's cached lists give what encoding the member list afresh gives,
// while members join, leave and get roles, and for an older list encoded
// after a newer one.
func TestCachedListIsTheListEncodedAfresh(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var cache listJSON
	var members []*Member
	var older [][]*Member
	info := RoomInfo{ID: 2, Name: "Lobby"}
	for i := range 600 {
		switch k := r.IntN(10); {
		case k < 6:
			m := &Member{Name: pick(r) + strconv.Itoa(i), Display: pick(r), Avatar: pick(r), IP: pick(r), Guest: r.IntN(2) == 0}
			members = append(members[:len(members):len(members)], m)
		case k < 8 && len(members) > 0:
			j := r.IntN(len(members))
			cache.remove(members[j])
			members = append(append([]*Member{}, members[:j]...), members[j+1:]...)
		case k < 9 && len(members) > 0:
			info.Owner = members[r.IntN(len(members))].Name
		default:
			info.Speaker = pick(r)
		}
		list := members
		if len(older) > 0 && r.IntN(4) == 0 {
			list = older[r.IntN(len(older))]
		}
		older = append(older, members)
		if len(older) > 5 {
			older = older[1:]
		}
		want := (&memberList{members: list, info: info}).appendJSON(nil)
		l := &memberList{members: list, info: info, cache: &cache}
		got := l.appendJSON(nil)
		if !bytes.Equal(got, want) {
			t.Fatalf("step %d: cached\n%s\nwant\n%s", i, got, want)
		}
		if n := l.size(); n != len(got) {
			t.Fatalf("step %d: size %d, encoded %d bytes", i, n, len(got))
		}
	}
}

// The history a joined frame carries is the room's at that join: encoded
// once for the joiners in between, and again once a message came, the
// oldest went or the history was rewritten.
func TestJoinedFrameHistoryFollowsTheRoom(t *testing.T) {
	g := newTestGroup(t) // History: 3
	g.PutRoom(RoomInfo{ID: 9, Name: "Big", Member: true, Open: true}, nil)
	alice, _ := login(t, g, "alice", true)
	if _, err := g.Join(alice, 9, ""); err != nil {
		t.Fatal(err)
	}
	joined := func(name string) []any {
		t.Helper()
		m, c := login(t, g, name, true)
		if err := g.Enter(m, 9, "", "j"); err != nil {
			t.Fatal(err)
		}
		evs := c.events("joined")
		if len(evs) != 1 {
			t.Fatalf("%s got %d joined events", name, len(evs))
		}
		h, _ := evs[0]["history"].([]any)
		return h
	}
	texts := func(h []any) (out []string) {
		for _, m := range h {
			out = append(out, m.(map[string]any)["text"].(string))
		}
		return out
	}
	if h := joined("b0"); len(h) != 0 {
		t.Fatalf("history before any message: %v", h)
	}
	for i := range 5 {
		if _, err := g.Say(alice, fmt.Sprintf("m%d", i), Style{}, ""); err != nil {
			t.Fatal(err)
		}
		want := []string{}
		for j := max(0, i-2); j <= i; j++ {
			want = append(want, fmt.Sprintf("m%d", j))
		}
		for k := range 2 { // the second joiner gets the encoding the first made
			if got := texts(joined(fmt.Sprintf("b%d%d", i, k))); !slices.Equal(got, want) {
				t.Fatalf("after m%d, joiner %d got history %v, want %v", i, k, got, want)
			}
		}
	}
	// Messages from another node: the newest is added at the end, an
	// older one put in its place.
	r := g.rooms[9]
	r.mu.Lock()
	last := r.history()[2]
	g.insertHistory(r, Message{ID: last.ID + 10, Group: DefaultGroup, RoomID: 9, From: "carol", Text: "new", Time: last.Time})
	r.mu.Unlock()
	if got, want := texts(joined("c0")), []string{"m3", "m4", "new"}; !slices.Equal(got, want) {
		t.Fatalf("after a message from another node, history %v, want %v", got, want)
	}
	r.mu.Lock()
	g.insertHistory(r, Message{ID: last.ID + 5, Group: DefaultGroup, RoomID: 9, From: "carol", Text: "late", Time: last.Time})
	r.mu.Unlock()
	if got, want := texts(joined("c1")), []string{"m4", "late", "new"}; !slices.Equal(got, want) {
		t.Fatalf("after a late message, history %v, want %v", got, want)
	}
}
