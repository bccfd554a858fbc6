package hostapi_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/hostapi"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
)

// recordingCluster is a Cluster of two nodes seen from "n1": leases of
// plugin "other" are held by "n2"; it records what it is asked.
type recordingCluster struct {
	mu     sync.Mutex
	events []string // plugin/topic/data
	leases []string // plugin/name
}

func (c *recordingCluster) Node() string { return "n1" }

func (c *recordingCluster) Publish(_ context.Context, plugin, topic string, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, plugin+"/"+topic+"/"+string(data))
	return nil
}

func (c *recordingCluster) Lease(_ context.Context, plugin, name string) (string, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leases = append(c.leases, plugin+"/"+name)
	if plugin == "other" {
		return "n2", 10 * time.Second, nil
	}
	return "n1", 10 * time.Second, nil
}

func (c *recordingCluster) Release(_ context.Context, plugin, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leases = append(c.leases, "release "+plugin+"/"+name)
	return nil
}

func newClusterAPI(t *testing.T, opts hostapi.Options) *hostapi.API {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "parlor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return hostapi.New(st, auth.NewSessions(st, auth.SessionOptions{TTL: time.Hour}), opts)
}

// Without a cluster the server is one node: every lease is this node's
// for ever and events go nowhere.
func TestClusterOneNode(t *testing.T) {
	h := viaGRPC(t, newClusterAPI(t, hostapi.Options{}), "whiteboard")
	ctx := context.Background()
	if node, err := h.Cluster().Node(ctx); err != nil || node != "local" {
		t.Fatalf("Node: %q, %v", node, err)
	}
	if l, err := h.Cluster().Lease(ctx, "board.1"); err != nil || l != (sdk.Lease{Holder: "local", Mine: true}) {
		t.Fatalf("Lease: %+v, %v", l, err)
	}
	if err := h.Cluster().Publish(ctx, "wb.req", []byte("{}")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := h.Cluster().Release(ctx, "board.1"); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

// The Host API checks topics, names and sizes, hands the cluster the
// calling plugin's name with each call, and says whose lease it is.
func TestClusterCallsActForThePlugin(t *testing.T) {
	rc := &recordingCluster{}
	api := newClusterAPI(t, hostapi.Options{Cluster: rc, MaxClusterEventBytes: 8})
	wb, other := viaGRPC(t, api, "whiteboard"), viaGRPC(t, api, "other")
	ctx := context.Background()
	if node, err := wb.Cluster().Node(ctx); err != nil || node != "n1" {
		t.Fatalf("Node: %q, %v", node, err)
	}
	if err := wb.Cluster().Publish(ctx, "wb.req", []byte("12345678")); err != nil {
		t.Fatal(err)
	}
	err := wb.Cluster().Publish(ctx, "wb.req", []byte("123456789"))
	if !errors.Is(err, sdk.ErrInvalid) || sdk.Reason(err) != "a cluster event carries at most 8 bytes (modules.cluster_event_bytes), not 9" {
		t.Fatalf("data over the limit: %v", err)
	}
	for _, topic := range []string{"", "a b", "wb/req", string(make([]byte, sdk.MaxClusterTopicBytes+1))} {
		if err := wb.Cluster().Publish(ctx, topic, nil); !errors.Is(err, sdk.ErrInvalid) {
			t.Errorf("topic %q: %v", topic, err)
		}
	}
	if l, err := wb.Cluster().Lease(ctx, "board.1"); err != nil || l != (sdk.Lease{Holder: "n1", Mine: true, TTL: 10 * time.Second}) {
		t.Fatalf("whiteboard's lease: %+v, %v", l, err)
	}
	if l, err := other.Cluster().Lease(ctx, "board.1"); err != nil || l != (sdk.Lease{Holder: "n2", TTL: 10 * time.Second}) {
		t.Fatalf("other's lease: %+v, %v", l, err)
	}
	if _, err := wb.Cluster().Lease(ctx, "board 1"); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("a bad lease name: %v", err)
	}
	if err := wb.Cluster().Release(ctx, "board.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Operator().Cluster().Lease(ctx, "x"); !errors.Is(err, sdk.ErrDenied) {
		t.Fatalf("the server API's view took a lease: %v", err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.events) != 1 || rc.events[0] != "whiteboard/wb.req/12345678" {
		t.Fatalf("published %v", rc.events)
	}
	want := []string{"whiteboard/board.1", "other/board.1", "release whiteboard/board.1"}
	if len(rc.leases) != len(want) {
		t.Fatalf("leases %v, want %v", rc.leases, want)
	}
	for i := range want {
		if rc.leases[i] != want[i] {
			t.Fatalf("leases %v, want %v", rc.leases, want)
		}
	}
}

// leaseTable is the leases of several nodes in memory; node gives one
// node's Cluster.
type leaseTable struct {
	mu     sync.Mutex
	holder map[string]string // plugin/name -> node
}

func (lt *leaseTable) node(name string) hostapi.Cluster { return tableNode{lt, name} }

type tableNode struct {
	lt   *leaseTable
	name string
}

func (n tableNode) Node() string                                          { return n.name }
func (n tableNode) Publish(context.Context, string, string, []byte) error { return nil }

func (n tableNode) Lease(_ context.Context, plugin, name string) (string, time.Duration, error) {
	n.lt.mu.Lock()
	defer n.lt.mu.Unlock()
	key := plugin + "/" + name
	if h, ok := n.lt.holder[key]; ok {
		return h, time.Minute, nil
	}
	n.lt.holder[key] = n.name
	return n.name, time.Minute, nil
}

func (n tableNode) Release(_ context.Context, plugin, name string) error {
	n.lt.mu.Lock()
	defer n.lt.mu.Unlock()
	if key := plugin + "/" + name; n.lt.holder[key] == n.name {
		delete(n.lt.holder, key)
	}
	return nil
}

// slowChat takes its time to say a message, as a busy node may.
type slowChat struct{ *fakeChat }

func (c slowChat) SayAt(from string, room int64, text string, style chat.Style, emotion string, at time.Time) (chat.Message, error) {
	time.Sleep(50 * time.Millisecond)
	return c.fakeChat.SayAt(from, room, text, style, emotion, at)
}

// Two nodes over one store asked at once to release (or decline) the
// same held message resolve it once: the room's core lease held.<room>
// lets one node at a time, which finds the message gone when the other
// took it.
func TestHeldResolvedOnceAcrossNodes(t *testing.T) {
	p := newPlatform(t, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	ctx := context.Background()
	lobby := p.room(t, "lobby", "mia")
	rooms, err := p.st.Rooms(ctx, chat.DefaultGroup)
	if err != nil {
		t.Fatal(err)
	}
	table := &leaseTable{holder: map[string]string{}}
	var chats []*fakeChat
	var nodes []*hostapi.API
	for _, name := range []string{"n1", "n2"} {
		c := newFakeChat()
		for _, r := range rooms {
			c.PutRoom(r, nil)
		}
		chats = append(chats, c)
		nodes = append(nodes, hostapi.New(p.st, auth.NewSessions(p.st, auth.SessionOptions{TTL: time.Hour}),
			hostapi.Options{Chat: slowChat{c}, Cluster: table.node(name)}))
	}
	for _, resolve := range []string{"release", "decline"} {
		id, err := p.api.HoldBy(ctx, "automod", chat.Message{RoomID: lobby, From: "bob", Text: resolve + " me"}, "")
		if err != nil {
			t.Fatal(err)
		}
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for i, api := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				held := api.For("moderation").Held()
				if resolve == "release" {
					_, errs[i] = held.Release(ctx, id, sdk.Resolution{Actor: "mia"})
				} else {
					errs[i] = held.Decline(ctx, id, sdk.Resolution{Actor: "mia", Reason: "no"})
				}
			}()
		}
		wg.Wait()
		ok, gone := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, sdk.ErrNotFound):
				gone++
			default:
				t.Fatalf("%s: %v", resolve, err)
			}
		}
		if ok != 1 || gone != 1 {
			t.Fatalf("%s on both nodes: %v; want one done, one not found", resolve, errs)
		}
		if len(table.holder) != 0 {
			t.Fatalf("%s left leases held: %v", resolve, table.holder)
		}
	}
	said := append(chats[0].saidTexts(), chats[1].saidTexts()...)
	if len(said) != 1 || said[0] != "bob: release me" {
		t.Fatalf("published %v; want the released message once", said)
	}
}
