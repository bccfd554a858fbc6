package sdk

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/sdk/proto"
)

// Several servers ("nodes") may share one chat: they share the store
// (PostgreSQL) and reach each other's members, and every node runs its
// own process of every plugin. Cluster is how those processes of one
// plugin work together: events from one node's process to the others,
// and leases, so that state with one writer has exactly one (docs/plugins.md,
// "Running on several nodes"). On a single server the same calls work:
// every lease is this node's and events go nowhere.

// Cluster limits. A topic and a lease name are 1 to MaxClusterTopicBytes
// (MaxLeaseNameBytes) ASCII letters, digits, '.', '_' or '-'. An event's
// data is at most the host's modules.cluster_event_bytes,
// DefaultMaxClusterEventBytes unless the operator changed it.
const (
	MaxClusterTopicBytes        = 64
	MaxLeaseNameBytes           = 128
	DefaultMaxClusterEventBytes = 128 << 10
)

// Cluster is the plugin's view of the nodes sharing the chat
// (Host.Cluster).
type Cluster interface {
	// Node names this node: the same for every process of the plugin on
	// it, different on every other node.
	Node(ctx context.Context) (string, error)
	// Publish sends an event to the plugin's processes on every other
	// node (not this one), where a ClusterListener module gets it in
	// OnClusterEvent. Delivery is at most once and in order from one
	// node; a node that is down, or a module that is behind, misses
	// events. ErrInvalid for a topic outside the rules or data over the
	// host's limit.
	Publish(ctx context.Context, topic string, data []byte) error
	// Lease takes the plugin's lease called name for this node when it is
	// free, or renews it when this node holds it, and says who holds it.
	// A lease lapses when its holder stops renewing it for its TTL (the
	// node died, or the plugin's process there); renew well within it, or
	// use Leases, which does. Names are the plugin's own: another plugin's
	// lease of the same name is another lease. ErrInvalid for a name
	// outside the rules.
	Lease(ctx context.Context, name string) (Lease, error)
	// Release gives the lease up when this node holds it (nothing
	// otherwise), so that another node can take it at once, such as when
	// the plugin stops.
	Release(ctx context.Context, name string) error
}

// Lease says who holds a lease.
type Lease struct {
	// Holder is the node that holds it.
	Holder string
	// Mine is true when that is this node.
	Mine bool
	// TTL is how long the lease stays the holder's without a renewal; 0
	// means until it is released (a single server).
	TTL time.Duration
}

// ClusterEvent is an event the same plugin published on another node.
type ClusterEvent struct {
	// Node is the node that published it.
	Node  string
	Topic string
	Data  []byte
}

// ClusterListener is a Module that receives the events its processes on
// other nodes publish (Cluster.Publish). OnClusterEvent is called for one
// event at a time, in the order they arrived, and must return promptly:
// the next waits for it, and the host drops events while the module is
// behind (modules.cluster_queue). Hand slow work to a goroutine.
type ClusterListener interface {
	OnClusterEvent(ctx context.Context, ev ClusterEvent)
}

// CheckClusterTopic returns an error wrapping ErrInvalid for a topic the
// host refuses.
func CheckClusterTopic(topic string) error {
	return checkClusterName("cluster event topic", topic, MaxClusterTopicBytes)
}

// CheckLeaseName returns an error wrapping ErrInvalid for a lease name the
// host refuses.
func CheckLeaseName(name string) error {
	return checkClusterName("lease name", name, MaxLeaseNameBytes)
}

func checkClusterName(what, s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("a %s is 1 to %d bytes: %w", what, max, ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%s %q: only ASCII letters, digits, '.', '_' and '-': %w", what, s, ErrInvalid)
		}
	}
	return nil
}

// hostCluster is the plugin side of the cluster calls.
type hostCluster struct{ h *hostClient }

func (h *hostClient) Cluster() Cluster { return hostCluster{h} }

func (c hostCluster) Node(ctx context.Context) (string, error) {
	c.h.nodeMu.Lock()
	defer c.h.nodeMu.Unlock()
	if c.h.node != "" {
		return c.h.node, nil
	}
	resp, err := c.h.rpc.ClusterNode(ctx, &proto.Empty{})
	if err != nil {
		return "", clientError("cluster node", err)
	}
	c.h.node = resp.GetNode()
	return c.h.node, nil
}

func (c hostCluster) Publish(ctx context.Context, topic string, data []byte) error {
	if _, err := c.h.rpc.ClusterPublish(ctx, &proto.HostClusterEvent{Topic: topic, Data: data}); err != nil {
		return clientError(fmt.Sprintf("publish cluster event %q", topic), err)
	}
	return nil
}

func (c hostCluster) Lease(ctx context.Context, name string) (Lease, error) {
	resp, err := c.h.rpc.ClusterLease(ctx, &proto.HostLeaseName{Name: name})
	if err != nil {
		return Lease{}, clientError(fmt.Sprintf("lease %q", name), err)
	}
	return Lease{Holder: resp.GetHolder(), Mine: resp.GetMine(), TTL: time.Duration(resp.GetTtlMs()) * time.Millisecond}, nil
}

func (c hostCluster) Release(ctx context.Context, name string) error {
	if _, err := c.h.rpc.ClusterRelease(ctx, &proto.HostLeaseName{Name: name}); err != nil {
		return clientError(fmt.Sprintf("release lease %q", name), err)
	}
	return nil
}

// The host side of the cluster calls.

func (s *hostServer) ClusterNode(ctx context.Context, _ *proto.Empty) (*proto.HostClusterNode, error) {
	node, err := s.impl.Cluster().Node(ctx)
	if err != nil {
		return nil, hostError(err)
	}
	return &proto.HostClusterNode{Node: node}, nil
}

func (s *hostServer) ClusterPublish(ctx context.Context, req *proto.HostClusterEvent) (*proto.Empty, error) {
	if err := s.impl.Cluster().Publish(ctx, req.GetTopic(), req.GetData()); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

func (s *hostServer) ClusterLease(ctx context.Context, req *proto.HostLeaseName) (*proto.HostLease, error) {
	l, err := s.impl.Cluster().Lease(ctx, req.GetName())
	if err != nil {
		return nil, hostError(err)
	}
	return &proto.HostLease{Holder: l.Holder, Mine: l.Mine, TtlMs: l.TTL.Milliseconds()}, nil
}

func (s *hostServer) ClusterRelease(ctx context.Context, req *proto.HostLeaseName) (*proto.Empty, error) {
	if err := s.impl.Cluster().Release(ctx, req.GetName()); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

// The module side of cluster events.

func (s *moduleServer) ClusterEvents(ctx context.Context, req *proto.ClusterEventBatch) (*proto.ClusterEventsResult, error) {
	l, ok := s.impl.(ClusterListener)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the module has no OnClusterEvent")
	}
	if err := s.ready(); err != nil {
		return nil, err
	}
	for _, e := range req.GetEvents() {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		s.clusterEvent(ctx, l, ClusterEvent{Node: e.GetNode(), Topic: e.GetTopic(), Data: e.GetData()})
	}
	return &proto.ClusterEventsResult{}, nil
}

// clusterEvent hands one event to the module; a panic loses that event
// only.
func (s *moduleServer) clusterEvent(ctx context.Context, l ClusterListener, ev ClusterEvent) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("plugin panicked", "method", "on cluster event", "topic", ev.Topic, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	l.OnClusterEvent(ctx, ev)
}

// ClusterEvents hands the module a batch of events its processes on other
// nodes published, and returns once it has handled them. A module that
// is not a ClusterListener answers an error wrapping ErrNotServed.
func (c *ModuleClient) ClusterEvents(ctx context.Context, batch []ClusterEvent) error {
	req := &proto.ClusterEventBatch{Events: make([]*proto.ClusterEvent, 0, len(batch))}
	for _, e := range batch {
		req.Events = append(req.Events, &proto.ClusterEvent{Node: e.Node, Topic: e.Topic, Data: e.Data})
	}
	if _, err := c.rpc.ClusterEvents(ctx, req); err != nil {
		return rpcError("cluster events", err)
	}
	return nil
}

// nodeCache is the node name a hostClient learned (Cluster().Node).
type nodeCache struct {
	nodeMu sync.Mutex
	node   string
}
