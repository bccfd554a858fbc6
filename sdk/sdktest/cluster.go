package sdktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// ErrNodeDown is what the calls of a node the test killed (Cluster.Kill)
// return.
var ErrNodeDown = errors.New("node down")

// Cluster is an in-memory cluster of one plugin's nodes, for tests of a
// module that runs on several servers: each Node is an sdk.Cluster to
// put in that node's Host API (WithCluster, or a fake Host's Cluster
// method); what a node publishes reaches the modules attached to the
// other nodes (ClusterNode.Attach) through OnClusterEvent, in order, as
// the server delivers it; leases lapse their TTL after their last
// renewal, as with several servers. Safe for concurrent use.
type Cluster struct {
	ttl time.Duration

	mu     sync.Mutex
	idle   *sync.Cond // signalled when a delivery ends
	nodes  map[string]*ClusterNode
	order  []string
	leases map[string]*testLease
	busy   int // events queued or being delivered
}

// testLease is a lease of the test cluster.
type testLease struct {
	holder  string
	renewed time.Time
}

// NewCluster makes a cluster whose leases last ttl without a renewal; 0
// keeps them until released, as on a single server (a killed node's
// leases are then freed at once).
func NewCluster(ttl time.Duration) *Cluster {
	c := &Cluster{ttl: ttl, nodes: map[string]*ClusterNode{}, leases: map[string]*testLease{}}
	c.idle = sync.NewCond(&c.mu)
	return c
}

// Node returns the node called name, making it on first use.
func (c *Cluster) Node(name string) *ClusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[name]
	if n == nil {
		n = &ClusterNode{c: c, name: name, wake: make(chan struct{}, 1)}
		c.nodes[name] = n
		c.order = append(c.order, name)
	}
	return n
}

// Holder is the node holding the lease called name now; "" when it is
// free (never taken, released, or lapsed).
func (c *Cluster) Holder(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.liveLease(name, time.Now()); l != nil {
		return l.holder
	}
	return ""
}

// Kill stops a node as when its server dies: its calls fail with
// ErrNodeDown, it publishes and receives nothing from then on, and its
// leases lapse their TTL after their last renewal.
func (c *Cluster) Kill(node string) {
	n := c.Node(node)
	c.mu.Lock()
	defer c.mu.Unlock()
	n.dead = true
	c.busy -= len(n.queue)
	n.queue = nil
	if c.ttl <= 0 {
		for name, l := range c.leases {
			if l.holder == node {
				delete(c.leases, name)
			}
		}
	}
	c.idle.Broadcast()
}

// Flush waits until every event published so far has been handled by
// the modules it went to, or ctx ends.
func (c *Cluster) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.idle.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.busy > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sdktest: flush the cluster: %w", err)
		}
		c.idle.Wait()
	}
	return nil
}

// liveLease is the lease called name unless it is free; c.mu is held.
func (c *Cluster) liveLease(name string, now time.Time) *testLease {
	l := c.leases[name]
	if l == nil || (c.ttl > 0 && !now.Before(l.renewed.Add(c.ttl))) {
		return nil
	}
	return l
}

// ClusterNode is one node of a Cluster; it implements sdk.Cluster.
type ClusterNode struct {
	c    *Cluster
	name string
	wake chan struct{}

	// under c.mu
	dead      bool
	handle    *ModuleHandle
	queue     []sdk.ClusterEvent
	published []sdk.ClusterEvent
}

var _ sdk.Cluster = (*ClusterNode)(nil)

// Name is the node's name.
func (n *ClusterNode) Name() string { return n.name }

// Node returns the node's name.
func (n *ClusterNode) Node(context.Context) (string, error) { return n.name, nil }

// Publish queues the event for the modules attached to every other live
// node, with the host's checks: ErrInvalid for a topic outside the rules
// or data over sdk.DefaultMaxClusterEventBytes.
func (n *ClusterNode) Publish(_ context.Context, topic string, data []byte) error {
	if err := sdk.CheckClusterTopic(topic); err != nil {
		return err
	}
	if len(data) > sdk.DefaultMaxClusterEventBytes {
		return fmt.Errorf("a cluster event carries at most %d bytes, not %d: %w", sdk.DefaultMaxClusterEventBytes, len(data), sdk.ErrInvalid)
	}
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.dead {
		return fmt.Errorf("publish %q on node %s: %w", topic, n.name, ErrNodeDown)
	}
	ev := sdk.ClusterEvent{Node: n.name, Topic: topic, Data: slices.Clone(data)}
	n.published = append(n.published, ev)
	for _, name := range c.order {
		o := c.nodes[name]
		if o == n || o.dead || o.handle == nil {
			continue
		}
		o.queue = append(o.queue, ev)
		c.busy++
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Published are the events the node published so far, in order.
func (n *ClusterNode) Published() []sdk.ClusterEvent {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return slices.Clone(n.published)
}

// Lease takes the lease for this node when it is free (or lapsed) and
// renews it when the node holds it.
func (n *ClusterNode) Lease(_ context.Context, name string) (sdk.Lease, error) {
	if err := sdk.CheckLeaseName(name); err != nil {
		return sdk.Lease{}, err
	}
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.dead {
		return sdk.Lease{}, fmt.Errorf("lease %q on node %s: %w", name, n.name, ErrNodeDown)
	}
	now := time.Now()
	l := c.liveLease(name, now)
	if l == nil || l.holder == n.name {
		l = &testLease{holder: n.name, renewed: now}
		c.leases[name] = l
	}
	return sdk.Lease{Holder: l.holder, Mine: l.holder == n.name, TTL: c.ttl}, nil
}

// Release frees the lease when the node holds it.
func (n *ClusterNode) Release(_ context.Context, name string) error {
	if err := sdk.CheckLeaseName(name); err != nil {
		return err
	}
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.dead {
		return fmt.Errorf("release %q on node %s: %w", name, n.name, ErrNodeDown)
	}
	if l := c.liveLease(name, time.Now()); l != nil && l.holder == n.name {
		delete(c.leases, name)
	}
	return nil
}

// Attach makes h the module of this node: the events the other nodes
// publish from now on reach it, in order, through OnClusterEvent (a
// module that did not declare the hook gets none). Delivery stops when
// the test ends.
func (n *ClusterNode) Attach(t testing.TB, h *ModuleHandle) {
	c := n.c
	c.mu.Lock()
	n.handle = h
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go n.deliver(ctx, h, done)
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// deliver hands the queued events to h until ctx ends.
func (n *ClusterNode) deliver(ctx context.Context, h *ModuleHandle, done chan struct{}) {
	defer close(done)
	c := n.c
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			c.busy -= len(n.queue)
			n.queue, n.handle = nil, nil
			c.idle.Broadcast()
			c.mu.Unlock()
			return
		case <-n.wake:
		}
		c.mu.Lock()
		batch := n.queue
		n.queue = nil
		c.mu.Unlock()
		if len(batch) > 0 {
			// A module that does not take events, or fails, loses them,
			// as on the server.
			_ = h.ClusterEvents(ctx, batch)
		}
		c.mu.Lock()
		c.busy -= len(batch)
		c.idle.Broadcast()
		c.mu.Unlock()
	}
}

// WithCluster is host with c as its Cluster: a test gives a real or fake
// Host API the nodes of a Cluster (c is one of its ClusterNodes).
func WithCluster(host sdk.Host, c sdk.Cluster) sdk.Host {
	return clusterHost{Host: host, cluster: c}
}

type clusterHost struct {
	sdk.Host
	cluster sdk.Cluster
}

func (h clusterHost) Cluster() sdk.Cluster { return h.cluster }
