package modules

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// Events from other nodes reach the module of that plugin that declared
// the hook, in order and in batches; other modules, and plugins that are
// not configured here, get nothing.
func TestClusterEventsReachTheirPlugin(t *testing.T) {
	wb, other := newFake(t, "whiteboard", sdk.HookCluster), newFake(t, "other", sdk.HookNotify, sdk.HookMessage)
	got := make(chan []sdk.ClusterEvent, 100)
	wb.cluster = func(_ context.Context, batch []sdk.ClusterEvent) error {
		got <- slices.Clone(batch)
		return nil
	}
	p := newPipeline(t, Options{NotifyBatch: 3}, wb, other)
	p.ClusterEvent("other", sdk.ClusterEvent{Node: "b", Topic: "x"})
	p.ClusterEvent("nobody", sdk.ClusterEvent{Node: "b", Topic: "x"})
	for i := range 8 {
		p.ClusterEvent("whiteboard", sdk.ClusterEvent{Node: "b", Topic: "wb.req", Data: []byte(fmt.Sprint(i))})
	}
	var all []string
	for len(all) < 8 {
		select {
		case batch := <-got:
			if len(batch) == 0 || len(batch) > 3 {
				t.Fatalf("batch of %d, want 1..3", len(batch))
			}
			for _, ev := range batch {
				if ev.Node != "b" || ev.Topic != "wb.req" {
					t.Fatalf("event %+v", ev)
				}
				all = append(all, string(ev.Data))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("gave up waiting; got %v", all)
		}
	}
	if want := []string{"0", "1", "2", "3", "4", "5", "6", "7"}; !slices.Equal(all, want) {
		t.Errorf("events %v, want %v in order", all, want)
	}
}

// A module that is behind never holds up the node: its queue drops what
// does not fit and counts it; what was queued still arrives.
func TestClusterEventsFullQueueDrops(t *testing.T) {
	a := newFake(t, "slow", sdk.HookCluster)
	inside, release := make(chan struct{}, 1), make(chan struct{})
	received := make(chan int, 100)
	a.cluster = func(ctx context.Context, batch []sdk.ClusterEvent) error {
		select {
		case inside <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		received <- len(batch)
		return nil
	}
	p := newPipeline(t, Options{ClusterQueue: 2, NotifyTimeout: time.Minute}, a)
	p.ClusterEvent("slow", sdk.ClusterEvent{Topic: "t"})
	<-inside
	done := make(chan struct{})
	go func() {
		for range 2 + 5 {
			p.ClusterEvent("slow", sdk.ClusterEvent{Topic: "t"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ClusterEvent blocked on a full queue")
	}
	if n := counterValue(t, p.clusterDropped.WithLabelValues("slow")); n != 5 {
		t.Errorf("dropped = %v, want 5", n)
	}
	close(release)
	total := 0
	eventually(t, "the queued events", func() bool {
		for {
			select {
			case n := <-received:
				total += n
			default:
				return total == 3
			}
		}
	})
}

// A module that declared the hook late (it came up after start-up) gets
// events from the Refresh on; after Close nobody does.
func TestClusterEventsFollowRefreshAndClose(t *testing.T) {
	a := newFake(t, "late")
	got := make(chan sdk.ClusterEvent, 10)
	a.cluster = func(_ context.Context, batch []sdk.ClusterEvent) error {
		for _, ev := range batch {
			got <- ev
		}
		return nil
	}
	p := New([]Plugin{a}, Options{})
	p.ClusterEvent("late", sdk.ClusterEvent{Topic: "before"})
	a.setCaps(sdk.Capabilities{Module: true, Hooks: []string{sdk.HookCluster}})
	p.Refresh()
	p.ClusterEvent("late", sdk.ClusterEvent{Topic: "after"})
	select {
	case ev := <-got:
		if ev.Topic != "after" {
			t.Fatalf("got %q first, want only the event after the refresh", ev.Topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event after the refresh")
	}
	p.Close()
	p.ClusterEvent("late", sdk.ClusterEvent{Topic: "closed"})
	select {
	case ev := <-got:
		t.Fatalf("got %q after Close", ev.Topic)
	case <-time.After(50 * time.Millisecond):
	}
}
