package hostapi

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// Cluster is what the Host API needs of the nodes sharing the chat: the
// plugins' events to their processes on the other nodes, and leases, one
// holder node at a time. core/cluster implements it over NATS; OneNode is
// the single server's. plugin is the configured plugin name; topics and
// lease names follow sdk.CheckClusterTopic and sdk.CheckLeaseName (ASCII
// letters, digits, '.', '_', '-'), checked before these are called, and
// the names of two plugins never meet: the lease (plugin, name) is not
// another plugin's lease of the same name. The core takes leases of its
// own under the plugin name CoreLeases ("").
type Cluster interface {
	// Node names this node, differently from every other node.
	Node() string
	// Publish sends a plugin's event to the same plugin on every other
	// node (not this one), where the receiving node hands it to
	// (*modules.Pipeline).ClusterEvent as sdk.ClusterEvent{Node: the
	// publishing node, Topic, Data}. At most once, in order from one node.
	Publish(ctx context.Context, plugin, topic string, data []byte) error
	// Lease takes the lease for this node when it is free, or renews it
	// when this node already holds it, and returns its holder (Node() when
	// this node holds it) and how long it stays the holder's without a
	// renewal (0: until released). A lease lapses when its holder stops
	// renewing it for ttl: the node died, or its plugin process did.
	Lease(ctx context.Context, plugin, name string) (holder string, ttl time.Duration, err error)
	// Release frees the lease when this node holds it; nothing otherwise.
	Release(ctx context.Context, plugin, name string) error
}

// CoreLeases is the plugin name of the core's own leases (Cluster.Lease
// and Release): "held.<room>", held while a node resolves one of the
// room's held messages, so that two nodes never publish one twice. No
// plugin has an empty name.
const CoreLeases = ""

// heldLease is the core's lease of a room's held messages.
func heldLease(room int64) string { return "held." + strconv.FormatInt(room, 10) }

// exclusiveWait bounds the wait between two tries of a lease another
// node holds (exclusive).
const exclusiveWait = 200 * time.Millisecond

// exclusive runs fn while this node holds the core's lease called name,
// waiting (up to ctx) while another node holds it, and gives the lease
// up after. On one node it only runs fn.
func (a *API) exclusive(ctx context.Context, name string, fn func() error) error {
	nodes := a.opts.Cluster
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, exclusiveWait) {
		holder, _, err := nodes.Lease(ctx, CoreLeases, name)
		if err != nil {
			return fmt.Errorf("take the lease %s: %w", name, err)
		}
		if holder == nodes.Node() {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("node %s holds the lease %s: %w", holder, name, ctx.Err())
		case <-t.C:
		}
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := nodes.Release(rctx, CoreLeases, name); err != nil {
			a.log.Warn("give up a lease; it lapses by itself", "lease", name, "error", err)
		}
	}()
	return fn()
}

// OneNode is the Cluster of a single server, the default: every lease is
// this node's, for ever, and events go nowhere (there is no other node).
type OneNode struct {
	// Name is the node's name; "local" when empty.
	Name string
}

// Node returns the name.
func (o OneNode) Node() string {
	if o.Name == "" {
		return "local"
	}
	return o.Name
}

// Publish delivers to nobody.
func (OneNode) Publish(context.Context, string, string, []byte) error { return nil }

// Lease is always this node's and never lapses.
func (o OneNode) Lease(context.Context, string, string) (string, time.Duration, error) {
	return o.Node(), 0, nil
}

// Release has nothing to free.
func (OneNode) Release(context.Context, string, string) error { return nil }

// cluster is one plugin's view of the nodes.
type cluster struct{ h *host }

func (h *host) Cluster() sdk.Cluster { return cluster{h} }

func (c cluster) nodes() Cluster { return c.h.api.opts.Cluster }

func (c cluster) Node(context.Context) (string, error) { return c.nodes().Node(), nil }

func (c cluster) Publish(ctx context.Context, topic string, data []byte) error {
	if err := sdk.CheckClusterTopic(topic); err != nil {
		return err
	}
	if limit := c.h.api.opts.MaxClusterEventBytes; len(data) > limit {
		return invalid("a cluster event carries at most %d bytes (modules.cluster_event_bytes), not %d", limit, len(data))
	}
	if c.h.plugin == "" {
		return fmt.Errorf("publish cluster event %q: only plugins publish: %w", topic, sdk.ErrDenied)
	}
	if err := c.nodes().Publish(ctx, c.h.plugin, topic, data); err != nil {
		return fmt.Errorf("publish cluster event %q: %w", topic, err)
	}
	return nil
}

func (c cluster) Lease(ctx context.Context, name string) (sdk.Lease, error) {
	if err := sdk.CheckLeaseName(name); err != nil {
		return sdk.Lease{}, err
	}
	if c.h.plugin == "" {
		return sdk.Lease{}, fmt.Errorf("lease %q: only plugins hold leases: %w", name, sdk.ErrDenied)
	}
	holder, ttl, err := c.nodes().Lease(ctx, c.h.plugin, name)
	if err != nil {
		return sdk.Lease{}, fmt.Errorf("lease %q: %w", name, err)
	}
	return sdk.Lease{Holder: holder, Mine: holder == c.nodes().Node(), TTL: ttl}, nil
}

func (c cluster) Release(ctx context.Context, name string) error {
	if err := sdk.CheckLeaseName(name); err != nil {
		return err
	}
	if c.h.plugin == "" {
		return fmt.Errorf("release lease %q: only plugins hold leases: %w", name, sdk.ErrDenied)
	}
	if err := c.nodes().Release(ctx, c.h.plugin, name); err != nil {
		return fmt.Errorf("release lease %q: %w", name, err)
	}
	return nil
}
