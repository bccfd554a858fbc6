package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/internal/testenv"
)

// conn records what a member is sent.
type conn struct {
	mu     sync.Mutex
	frames []string
	closed string
}

func (c *conn) Send(f *chat.Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, string(f.JSON()))
	return true
}

func (c *conn) Close(reason string) {
	c.mu.Lock()
	c.closed = reason
	c.mu.Unlock()
}

// has reports whether a frame sent contains every one of parts.
func (c *conn) has(parts ...string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.frames {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(f, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// testNode is a group that is one node of a test cluster.
type testNode struct {
	*Node
	g *chat.Group
}

func startNode(t *testing.T, url, prefix, name string, lease time.Duration) *testNode {
	t.Helper()
	return startNodeWith(t, Options{URL: url, Prefix: prefix, Name: name, Lease: lease}, nil)
}

// startNodeWith starts a node with opts and a group with what save
// stores (nil: no store).
func startNodeWith(t *testing.T, opts Options, save func(context.Context, []chat.Message) error) *testNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts.RequestTimeout = 2 * time.Second
	name := opts.Name
	n, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	g := chat.NewGroup(chat.Options{History: 10, MaxMessageChars: 500, Guests: true, RoomListDelay: -1, Link: n, Slot: n.Slot(), SaveMessages: save})
	g.PutRoom(chat.RoomInfo{ID: 1, Name: "Lobby", Open: true, Member: true}, nil)
	g.PutRoom(chat.RoomInfo{ID: 2, Name: "Garden", Open: true, Member: true}, nil)
	if err := n.Start(ctx, g); err != nil {
		t.Fatalf("start node %s: %v", name, err)
	}
	t.Cleanup(n.Leave)
	return &testNode{Node: n, g: g}
}

func (n *testNode) login(t *testing.T, name string, room int64) (*chat.Member, *conn) {
	t.Helper()
	c := &conn{}
	m := &chat.Member{Name: name, Guest: true, Conn: c}
	n.g.Connect(c)
	if err := n.g.Login(m); err != nil {
		t.Fatalf("login %s on %s: %v", name, n.Name(), err)
	}
	if room != 0 {
		if _, err := n.g.Join(m, room, ""); err != nil {
			t.Fatalf("%s joins %d: %v", name, room, err)
		}
	}
	return m, c
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func users(g *chat.Group, room int64) []string {
	u, _ := g.Users(room)
	out := slices.Clone(u)
	slices.Sort(out)
	return out
}

func TestThreeNodesShareUsersMessagesAndNames(t *testing.T) {
	url, prefix := testenv.NATS(t)
	lease := 1500 * time.Millisecond
	n1 := startNode(t, url, prefix, "one", lease)
	n2 := startNode(t, url, prefix, "two", lease)
	n3 := startNode(t, url, prefix, "three", lease)
	if n1.Slot() == n2.Slot() || n2.Slot() == n3.Slot() || n1.Slot() == n3.Slot() {
		t.Fatalf("slots %d %d %d; want three different", n1.Slot(), n2.Slot(), n3.Slot())
	}

	_, alice := n1.login(t, "Alice", 1)
	_, bob := n2.login(t, "Bob", 1)
	_, carol := n3.login(t, "Carol", 1)
	want := []string{"Alice", "Bob", "Carol"}
	for _, n := range []*testNode{n1, n2, n3} {
		eventually(t, "node "+n.Name()+" lists everyone in the Lobby", func() bool { return slices.Equal(users(n.g, 1), want) })
		if _, usersOnline, _ := n.g.Counts(); usersOnline != 3 {
			t.Errorf("node %s counts %d users online; want 3", n.Name(), usersOnline)
		}
		if c := n.g.Rooms()[0].Count; c != 3 {
			t.Errorf("node %s's room list counts %d in the Lobby; want 3", n.Name(), c)
		}
	}
	eventually(t, "Alice sees Carol join", func() bool { return alice.has(`"presence"`, `"Carol"`, `"join"`) })

	// A message said on node 1 reaches the members on nodes 2 and 3.
	m1, _ := n1.g.Online("Alice")
	msg, err := n1.g.Say(m1, "hello from one", chat.Style{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for who, c := range map[string]*conn{"Bob": bob, "Carol": carol} {
		eventually(t, who+" gets Alice's message", func() bool { return c.has(`"message"`, "hello from one") })
	}
	// And a reply on node 3 comes after it, with a higher id, everywhere.
	m3, _ := n3.g.Online("Carol")
	reply, err := n3.g.Say(m3, "hi Alice", chat.Style{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if reply.ID <= msg.ID {
		t.Errorf("reply id %d is not above the message it answers (%d)", reply.ID, msg.ID)
	}
	eventually(t, "Alice gets Carol's reply", func() bool { return alice.has("hi Alice") })

	// Every node shows the same history to someone who enters.
	var histories [][]string
	for _, n := range []*testNode{n1, n2, n3} {
		_, c := n.login(t, "Late "+n.Name(), 0)
		m, _ := n.g.Online("Late " + n.Name())
		ev, err := n.g.Join(m, 1, "")
		if err != nil {
			t.Fatal(err)
		}
		var h []string
		for _, x := range ev.History {
			h = append(h, fmt.Sprintf("%d:%s", x.ID, x.Text))
		}
		histories = append(histories, h)
		_ = c
	}
	if len(histories[0]) != 2 || !slices.Equal(histories[0], histories[1]) || !slices.Equal(histories[0], histories[2]) {
		t.Errorf("histories on entering differ or lack messages: %v", histories)
	}

	// A name is logged in once in the cluster.
	err = n3.g.Login(&chat.Member{Name: "alice", Guest: true, Conn: &conn{}})
	if ce, ok := err.(*chat.Error); !ok || ce.Code != chat.CodeNameTaken {
		t.Errorf("a second Alice on node 3: %v; want name_taken", err)
	}

	// A private message from node 3 reaches Alice on node 1.
	if err := n3.g.Private(m3, "Alice", "psst", chat.Style{}, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Alice gets Carol's private message", func() bool { return alice.has(`"private"`, "psst") })

	// A kick on node 1 of Bob, who is on node 2.
	if err := n1.g.Kick("Bob", 1, "testing"); err != nil {
		t.Fatalf("kick Bob from node 1: %v", err)
	}
	eventually(t, "Bob is told he was kicked", func() bool { return bob.has(`"left"`, "testing") })
	eventually(t, "node 3 sees Bob leave the Lobby", func() bool { return !slices.Contains(users(n3.g, 1), "Bob") })

	// A broadcast made on node 2 reaches every connection.
	n2.g.Broadcast("maintenance at noon")
	eventually(t, "Carol gets node 2's broadcast", func() bool { return carol.has("maintenance at noon") })

	// Node 2 dies: its members leave on the other nodes once its lease
	// lapses.
	n2.Kill()
	for _, n := range []*testNode{n1, n3} {
		eventually(t, "node "+n.Name()+" drops node two's members", func() bool {
			_, ok := n.g.Online("Bob")
			return !ok && !slices.Contains(users(n.g, 1), "Late two")
		})
	}
	if err := n1.g.Login(&chat.Member{Name: "Bob", Guest: true, Conn: &conn{}}); err != nil {
		t.Errorf("Bob logs in again on node 1 after node 2 died: %v", err)
	}
	// The dead node's claims on names are deleted, not kept for ever.
	eventually(t, "the claim of Late two, of the dead node, is deleted", func() bool {
		_, err := n1.names.Get(context.Background(), n1.nameKey("Late two"))
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})

	// Node 3 leaves: the others drop its members at once.
	n3.Leave()
	eventually(t, "node one drops Carol", func() bool { _, ok := n1.g.Online("Carol"); return !ok })
	b, _ := json.Marshal(n1.Peers())
	t.Logf("node one's peers at the end: %s", b)
}

// A node that crashed and starts again under its name numbers its
// presence from the start again: the others take its new run's members,
// and drop those of the run that died.
func TestNodeRestartedUnderItsName(t *testing.T) {
	url, prefix := testenv.NATS(t)
	n1 := startNode(t, url, prefix, "one", 10*time.Second)
	old := startNode(t, url, prefix, "two", 10*time.Second)
	old.login(t, "Bob", 1)
	old.login(t, "Eve", 1)
	eventually(t, "node one lists Bob", func() bool { _, ok := n1.g.Online("Bob"); return ok })
	old.Kill()
	again := startNode(t, url, prefix, "two", 10*time.Second)
	again.login(t, "Dave", 1)
	eventually(t, "node one lists Dave of the new run and not Bob of the old", func() bool {
		_, dave := n1.g.Online("Dave")
		_, bob := n1.g.Online("Bob")
		return dave && !bob
	})
	if slices.Contains(users(n1.g, 1), "Eve") {
		t.Error("Eve of the dead run is still in the Lobby on node one")
	}
}

// A presence change seen twice, or a join told for a member who is in
// the room already, changes nothing: changes are states ("in this room"),
// numbered per node.
func TestDuplicateJoinAndLeaveChangeNothing(t *testing.T) {
	url, prefix := testenv.NATS(t)
	n1 := startNode(t, url, prefix, "one", 10*time.Second)
	n2 := startNode(t, url, prefix, "two", 10*time.Second)
	_, alice := n1.login(t, "Alice", 1)
	n2.login(t, "Bob", 1)
	eventually(t, "node one lists Bob", func() bool { return slices.Contains(users(n1.g, 1), "Bob") })
	deliver := func(ev presenceMsg) {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		n1.onPresence(&nats.Msg{Data: b})
	}
	n1.applyMu.Lock()
	seq, run := n1.peers["two"].seq, n1.peers["two"].run
	n1.applyMu.Unlock()
	bob := &chat.MemberInfo{Name: "Bob", Guest: true}
	joins := func() int {
		alice.mu.Lock()
		defer alice.mu.Unlock()
		n := 0
		for _, f := range alice.frames {
			if strings.Contains(f, `"presence"`) && strings.Contains(f, `"Bob"`) && strings.Contains(f, `"join"`) {
				n++
			}
		}
		return n
	}
	before := joins()
	// The last change again (a redelivery), then a new change that says
	// the same: Bob is in the Lobby.
	deliver(presenceMsg{Node: "two", Run: run, Seq: seq, Kind: kindMember, Member: bob, Room: 1, Online: true})
	deliver(presenceMsg{Node: "two", Run: run, Seq: seq + 1, Kind: kindMember, Member: bob, Room: 1, Online: true})
	if got := users(n1.g, 1); !slices.Equal(got, []string{"Alice", "Bob"}) {
		t.Errorf("after a duplicate join the Lobby lists %v", got)
	}
	if c := n1.g.Rooms()[0].Count; c != 2 {
		t.Errorf("after a duplicate join the Lobby counts %d", c)
	}
	if joins() != before {
		t.Errorf("Alice was told Bob joined again")
	}
	// Bob leaves, told twice.
	deliver(presenceMsg{Node: "two", Run: run, Seq: seq + 2, Kind: kindMember, Member: bob, Online: false})
	deliver(presenceMsg{Node: "two", Run: run, Seq: seq + 2, Kind: kindMember, Member: bob, Online: false})
	if _, ok := n1.g.Online("Bob"); ok {
		t.Error("Bob is still online on node one after his leave")
	}
	if got := users(n1.g, 1); !slices.Equal(got, []string{"Alice"}) {
		t.Errorf("after a duplicate leave the Lobby lists %v", got)
	}
}
