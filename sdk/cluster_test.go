package sdk_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// listener records the cluster events it gets; the topic "panic" panics.
type listener struct {
	grabHost
	mu  sync.Mutex
	got []sdk.ClusterEvent
}

func (l *listener) OnClusterEvent(_ context.Context, ev sdk.ClusterEvent) {
	if ev.Topic == "panic" {
		panic("a bad event")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, ev)
}

func (l *listener) events() []sdk.ClusterEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

// Cluster calls cross the wire both ways: a module on node a learns its
// node, takes a lease the other node then finds taken, and publishes an
// event that the module on node b gets with a's name (a panicking event
// loses only itself); the host's refusals come back as ErrInvalid.
func TestClusterRoundTrip(t *testing.T) {
	c := sdktest.NewCluster(0)
	a, b := &listener{}, &listener{}
	ha := sdktest.Module(t, a, nil, sdktest.WithCluster(&fakeHost{}, c.Node("a")))
	hb := sdktest.Module(t, b, nil, sdktest.WithCluster(&fakeHost{}, c.Node("b")))
	c.Node("a").Attach(t, ha)
	c.Node("b").Attach(t, hb)
	if !slices.Contains(ha.Capabilities().Hooks, sdk.HookCluster) {
		t.Fatalf("a listener declares %v", ha.Capabilities().Hooks)
	}
	ctx := context.Background()
	cl := a.host.Cluster()
	if node, err := cl.Node(ctx); err != nil || node != "a" {
		t.Fatalf("Node: %q, %v", node, err)
	}
	if l, err := cl.Lease(ctx, "board.1"); err != nil || !l.Mine || l.Holder != "a" || l.TTL != 0 {
		t.Fatalf("Lease on a: %+v, %v", l, err)
	}
	if l, err := b.host.Cluster().Lease(ctx, "board.1"); err != nil || l.Mine || l.Holder != "a" {
		t.Fatalf("Lease on b: %+v, %v", l, err)
	}
	for _, topic := range []string{"first", "panic", "second"} {
		if err := cl.Publish(ctx, topic, []byte(topic+"!")); err != nil {
			t.Fatalf("Publish %s: %v", topic, err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := b.events()
	if len(got) != 2 || got[0].Node != "a" || got[0].Topic != "first" || string(got[0].Data) != "first!" ||
		got[1].Node != "a" || got[1].Topic != "second" || string(got[1].Data) != "second!" {
		t.Fatalf("b got %+v", got)
	}
	if n := len(a.events()); n != 0 {
		t.Fatalf("the publishing node got %d of its own events", n)
	}
	if err := cl.Publish(ctx, "no spaces", nil); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("a bad topic: %v", err)
	}
	if err := cl.Publish(ctx, "big", make([]byte, sdk.DefaultMaxClusterEventBytes+1)); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("too much data: %v", err)
	}
	if _, err := cl.Lease(ctx, ""); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("an empty lease name: %v", err)
	}
	if err := cl.Release(ctx, "board.1"); err != nil || c.Holder("board.1") != "" {
		t.Fatalf("Release: %v, holder %q", err, c.Holder("board.1"))
	}
	// A module that is no listener declares nothing and gets nothing.
	plain := sdktest.Module(t, &grabHost{}, nil, &fakeHost{})
	if err := plain.ClusterEvents(ctx, []sdk.ClusterEvent{{Topic: "x"}}); !errors.Is(err, sdk.ErrNotServed) {
		t.Fatalf("events to a module without the hook: %v", err)
	}
}

// Leases renews what it holds past the TTL, tells another node who holds
// it, and, when the holder dies, lets the other node take it once it
// lapsed; the dead holder is told it lost it.
func TestLeasesRenewAndHandOver(t *testing.T) {
	const ttl = 150 * time.Millisecond
	c := sdktest.NewCluster(ttl)
	lost := make(chan string, 4)
	la := sdk.NewLeases(c.Node("a"), func(name string) { lost <- name })
	lb := sdk.NewLeases(c.Node("b"), nil)
	ctx := context.Background()
	if l, err := la.Hold(ctx, "room.1"); err != nil || !l.Mine || l.TTL != ttl {
		t.Fatalf("a: %+v, %v", l, err)
	}
	time.Sleep(3 * ttl)
	if h := c.Holder("room.1"); h != "a" {
		t.Fatalf("after 3 TTLs the holder is %q: a did not renew", h)
	}
	if l, err := lb.Hold(ctx, "room.1"); err != nil || l.Mine || l.Holder != "a" {
		t.Fatalf("b: %+v, %v", l, err)
	}
	c.Kill("a")
	select {
	case name := <-lost:
		if name != "room.1" {
			t.Fatalf("lost %q", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a was never told it lost the lease")
	}
	if l, err := la.Hold(ctx, "room.1"); err == nil {
		t.Fatalf("the dead node still holds %+v", l)
	}
	lb.Forget("room.1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := lb.Hold(ctx, "room.1")
		if err != nil {
			t.Fatal(err)
		}
		if l.Mine {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b never took the lapsed lease: %+v", l)
		}
		time.Sleep(ttl / 5)
	}
	if err := lb.Close(ctx); err != nil || c.Holder("room.1") != "" {
		t.Fatalf("Close: %v, holder %q", err, c.Holder("room.1"))
	}
	if _, err := lb.Hold(ctx, "room.1"); err == nil {
		t.Fatal("Hold after Close")
	}
}

// On a single server (TTL 0) the first Hold is the only call.
func TestLeasesOnOneNode(t *testing.T) {
	calls := &countingCluster{Cluster: sdktest.NewCluster(0).Node("solo")}
	l := sdk.NewLeases(calls, nil)
	for range 5 {
		if got, err := l.Hold(context.Background(), "x"); err != nil || !got.Mine {
			t.Fatalf("%+v, %v", got, err)
		}
	}
	if calls.n != 1 {
		t.Fatalf("%d Lease calls, want 1", calls.n)
	}
}

type countingCluster struct {
	sdk.Cluster
	n int
}

func (c *countingCluster) Lease(ctx context.Context, name string) (sdk.Lease, error) {
	c.n++
	return c.Cluster.Lease(ctx, name)
}
