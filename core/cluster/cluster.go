// Package cluster makes a chat group one node of several that share a
// PostgreSQL store and a NATS server (docs/clustering.md).
//
// What crosses between nodes:
//   - A public message is saved to the shared store, delivered to this
//     node's members, and its encoded frame is published once to the
//     room's subject; every other node with members in the room delivers
//     those bytes to its own members (a node subscribes only to the rooms
//     it has members in).
//   - Presence: every node tells the others where each of its members is
//     (login, room changes, logout) on the group's presence subject, each
//     change numbered per node. A node keeps the others' members as
//     remote members of its group (chat.Link), so user lists, the room
//     list, status files and the server API show everyone. A gap in a
//     node's numbers, a NATS reconnect or a slow-consumer error makes the
//     node ask that node (or every node) for its whole member list.
//   - Leases on JetStream KV: each node renews its key in the nodes
//     bucket; a node whose key lapsed (it died) loses its members on
//     every other node. A node also holds a slot (which makes its message
//     ids unique) and the names of its members (a name is logged in once
//     in the cluster).
//   - Direct frames (private messages, notices, module events to one
//     user), kicks, moves and connection closes of a remote member go to
//     its node; broadcasts, stop/start and room and sanction changes go to
//     every node.
package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parlorchat/parlor/core/chat"
)

// Defaults of Options.
const (
	DefaultLease          = 15 * time.Second
	DefaultPrefix         = "parlor"
	DefaultRequestTimeout = 5 * time.Second
	DefaultPendingBytes   = 64 << 20
)

// Options configures a Node.
type Options struct {
	// URL is the NATS server (nats://host:port, several separated by
	// commas).
	URL string
	// Name names this node (letters, digits, '-' and '_'); a random one
	// when empty. Two running nodes must not share a name.
	Name string
	// Prefix starts every subject and bucket name of the cluster, so
	// several clusters can share a NATS server.
	Prefix string
	// Lease is how long a node that stopped renewing its lease (it died,
	// or lost NATS) keeps its members, names and slot.
	Lease time.Duration
	// RequestTimeout bounds a request to another node (a member list, a
	// kick or a move).
	RequestTimeout time.Duration
	// PendingBytes bounds what may wait unread on one subscription; past
	// it NATS drops and reports a slow consumer, and the node resyncs.
	PendingBytes int
	// History reads the last messages of a room from the shared store.
	History func(ctx context.Context, room int64) ([]chat.Message, error)
	// RoomChanged reloads a room from the shared store (removed: drop
	// it) after another node changed it.
	RoomChanged func(ctx context.Context, room int64, removed bool)
	// SanctionsChanged reloads the sanctions from the shared store after
	// another node imposed or lifted one.
	SanctionsChanged func(ctx context.Context)
	// ModuleEvent, if set, gets the cluster events that the plugins of
	// the other nodes publish (Publish); it must not block.
	ModuleEvent func(ModuleEvent)
	// Log receives what goes wrong.
	Log hclog.Logger
}

// Node is this node of the cluster; it implements chat.Link. Connect it
// with New, give it to the group (chat.Options.Link and Slot), then Start
// it with the group; Leave it at shutdown.
type Node struct {
	opts   Options
	name   string
	slot   int
	nc     *nats.Conn
	nodes  jetstream.KeyValue // node leases
	slots  jetstream.KeyValue // message id slots
	names  jetstream.KeyValue // who holds each name
	leases jetstream.KeyValue // the modules' and the core's leases
	log    hclog.Logger

	run    string // this run of the node (random), so a restart under the same name is seen
	g      *chat.Group
	prefix string // subjects: prefix.group.

	pubMu sync.Mutex // orders presence changes with their numbers
	seq   uint64     // the last presence change told; guarded by pubMu

	applyMu sync.Mutex       // serializes changes of other nodes' members
	peers   map[string]*peer // other nodes by name; guarded by applyMu

	mu       sync.Mutex
	rooms    map[int64]*roomSub
	claims   map[string]uint64 // name key -> revision of our claim
	slotRev  uint64
	resync   atomic.Bool  // a slow consumer or reconnect asks for a full resync
	grace    atomic.Int64 // no node is taken for dead before this (Unix ns), after a reconnect
	subs     []*nats.Subscription
	stop     chan struct{}
	done     chan struct{}
	started  bool
	closed   atomic.Bool
	Counters Counters
}

// Counters count what the node saw go wrong or had to repair.
type Counters struct {
	SlowConsumer atomic.Int64 // slow-consumer errors from NATS
	Resyncs      atomic.Int64 // full member lists fetched from another node
	NodesLost    atomic.Int64 // nodes whose lease lapsed
	Reconnects   atomic.Int64 // NATS reconnects
}

// peer is another node and its members as this node knows them.
type peer struct {
	seq     uint64                  // its last presence change applied
	members map[string]*chat.Member // by name key
	rooms   map[string]int64        // the room each member is in, as its node said (by name key)
	synced  bool                    // its member list was fetched once
	conns   int                     // its connections, as its last heartbeat said
	run     string                  // its run whose numbers seq counts
}

// roomSub is this node's subscription to a room's messages.
type roomSub struct {
	sub  *nats.Subscription
	used time.Time // a member entered last
}

// New connects to NATS, makes the buckets and takes a slot. ctx bounds
// the connection and setup.
func New(ctx context.Context, opts Options) (*Node, error) {
	if opts.URL == "" {
		return nil, errors.New("cluster: no NATS URL (cluster.nats.url)")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.PendingBytes <= 0 {
		opts.PendingBytes = DefaultPendingBytes
	}
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	if opts.Name == "" {
		opts.Name = "node-" + strings.ToLower(nats.NewInbox()[len(nats.InboxPrefix):][:10])
	}
	if !validToken(opts.Name) {
		return nil, fmt.Errorf("cluster: node name %q: use letters, digits, '-' and '_' (cluster.node)", opts.Name)
	}
	if !validToken(opts.Prefix) {
		return nil, fmt.Errorf("cluster: prefix %q: use letters, digits, '-' and '_' (cluster.prefix)", opts.Prefix)
	}
	n := &Node{opts: opts, name: opts.Name, run: nats.NewInbox()[len(nats.InboxPrefix):], log: opts.Log, peers: map[string]*peer{}, rooms: map[int64]*roomSub{},
		claims: map[string]uint64{}, stop: make(chan struct{}), done: make(chan struct{})}
	nc, err := nats.Connect(opts.URL,
		nats.Name("parlor "+opts.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.Timeout(opts.RequestTimeout),
		nats.ErrorHandler(n.natsError),
		nats.ReconnectHandler(func(*nats.Conn) {
			n.Counters.Reconnects.Add(1)
			n.log.Warn("NATS connection back; resyncing", "url", opts.URL)
			n.resync.Store(true)
			// The other nodes renew their leases now too: a lease that
			// lapsed while NATS was away is not a dead node yet.
			n.grace.Store(time.Now().Add(n.opts.Lease / 2).UnixNano())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if !n.closed.Load() {
				n.log.Warn("NATS connection lost; reconnecting", "error", err)
			}
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS at %s (cluster.nats.url): %w", opts.URL, err)
	}
	n.nc = nc
	if err := n.setup(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return n, nil
}

// validToken reports whether s can be a NATS subject token and a KV key.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// setup makes the KV buckets and takes a slot.
func (n *Node) setup(ctx context.Context) error {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return fmt.Errorf("cluster: JetStream: %w", err)
	}
	bucket := func(kind string, ttl time.Duration) (jetstream.KeyValue, error) {
		name := bucketName(n.opts.Prefix, kind)
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, TTL: ttl, History: 1})
		if err != nil {
			return nil, fmt.Errorf("cluster: JetStream KV bucket %s (is JetStream enabled on the NATS server?): %w", name, err)
		}
		return kv, nil
	}
	if n.nodes, err = bucket(bucketNodes, n.opts.Lease); err != nil {
		return err
	}
	if n.slots, err = bucket(bucketSlots, n.opts.Lease); err != nil {
		return err
	}
	if n.names, err = bucket(bucketNames, 0); err != nil {
		return err
	}
	if n.leases, err = bucket(bucketLeases, n.opts.Lease); err != nil {
		return err
	}
	if err := n.renew(ctx); err != nil {
		return err
	}
	for i := range chat.MaxSlots {
		key := strconv.Itoa(i)
		rev, err := n.slots.Create(ctx, key, []byte(n.name))
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Ours still, from before a crash: take it back.
			if e, gerr := n.slots.Get(ctx, key); gerr == nil && string(e.Value()) == n.name {
				rev, err = n.slots.Update(ctx, key, []byte(n.name), e.Revision())
			}
		}
		if err == nil {
			n.slot, n.slotRev = i, rev
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("cluster: take a slot: %w", err)
		}
	}
	return fmt.Errorf("cluster: all %d slots are taken: a cluster has at most %d nodes", chat.MaxSlots, chat.MaxSlots)
}

// Name is this node's name.
func (n *Node) Name() string { return n.name }

// Slot is this node's slot, for chat.Options.Slot.
func (n *Node) Slot() int { return n.slot }

// subject is the subject of a group's kind of traffic.
func (n *Node) subject(parts ...string) string {
	return n.prefix + strings.Join(parts, ".")
}

// Start subscribes to the group's subjects, fetches the other nodes'
// members and keeps the lease; ctx bounds the first fetch, whose every
// request also waits at most Options.RequestTimeout.
func (n *Node) Start(ctx context.Context, g *chat.Group) error {
	n.g = g
	n.prefix = n.opts.Prefix + "." + groupToken(g.Name()) + "."
	sub := func(subj string, h nats.MsgHandler) error {
		s, err := n.nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", subj, err)
		}
		if err := s.SetPendingLimits(-1, n.opts.PendingBytes); err != nil {
			return fmt.Errorf("cluster: %s: %w", subj, err)
		}
		n.subs = append(n.subs, s)
		return nil
	}
	if err := sub(n.subject("presence"), n.onPresence); err != nil {
		return err
	}
	if err := sub(n.subject("all"), n.onGroup); err != nil {
		return err
	}
	if err := sub(n.subject("node", n.name, ">"), n.onDirect); err != nil {
		return err
	}
	if err := sub(n.subject("module"), n.onModule); err != nil {
		return err
	}
	// NATS needs a deadline to flush; the server's start-up context has
	// none, so each step waits at most RequestTimeout.
	fctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
	err := n.nc.FlushWithContext(fctx)
	cancel()
	if err != nil {
		return fmt.Errorf("cluster: NATS flush: %w", err)
	}
	n.announce()
	n.syncAll(ctx)
	n.mu.Lock()
	n.started = true
	n.mu.Unlock()
	go n.loop()
	n.log.Info("joined the cluster", "node", n.name, "slot", n.slot, "nats", n.nc.ConnectedUrlRedacted())
	return nil
}

// groupToken is a group name as one subject token.
func groupToken(name string) string {
	if validToken(name) {
		return name
	}
	return "g" + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// Leave leaves the cluster: the lease, slot and names are given back so
// the other nodes drop this node's members at once.
func (n *Node) Leave() {
	if n.closed.Swap(true) {
		return
	}
	n.mu.Lock()
	started := n.started
	n.mu.Unlock()
	close(n.stop)
	if started {
		<-n.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestTimeout)
	defer cancel()
	n.pubMu.Lock()
	n.seq++
	n.publish(n.subject("presence"), presenceMsg{Node: n.name, Run: n.run, Seq: n.seq, Kind: kindBye})
	n.pubMu.Unlock()
	n.mu.Lock()
	claims := n.claims
	n.claims = map[string]uint64{}
	n.mu.Unlock()
	for key, rev := range claims {
		_ = n.names.Delete(ctx, key, jetstream.LastRevision(rev))
	}
	_ = n.slots.Delete(ctx, strconv.Itoa(n.slot), jetstream.LastRevision(n.slotRev))
	_ = n.nodes.Delete(ctx, n.name)
	_ = n.nc.FlushTimeout(n.opts.RequestTimeout)
	n.nc.Close()
}

// Kill drops the NATS connection without leaving (a crash, for tests):
// the other nodes drop this node's members when its lease lapses.
func (n *Node) Kill() {
	if n.closed.Swap(true) {
		return
	}
	close(n.stop)
	n.nc.Close()
}

// natsError counts slow-consumer errors and asks for a resync.
func (n *Node) natsError(_ *nats.Conn, s *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) {
		n.Counters.SlowConsumer.Add(1)
		subj := ""
		if s != nil {
			subj = s.Subject
		}
		n.log.Warn("NATS slow consumer: messages were dropped; resyncing", "subject", subj)
		n.resync.Store(true)
		return
	}
	n.log.Warn("NATS error", "error", err)
}

// loop renews the lease, drops nodes whose lease lapsed, resyncs when
// asked, and unsubscribes rooms with no members here.
func (n *Node) loop() {
	defer close(n.done)
	tick := time.NewTicker(max(n.opts.Lease/5, 200*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestTimeout)
		if err := n.renew(ctx); err != nil {
			n.log.Warn("cannot renew the node's lease", "error", err)
		}
		n.heartbeat()
		n.reap(ctx)
		if n.resync.Swap(false) {
			n.syncAll(ctx)
			n.refreshRooms(ctx)
		}
		n.unsubscribeIdle()
		cancel()
	}
}

// renew renews this node's lease and slot.
func (n *Node) renew(ctx context.Context) error {
	if _, err := n.nodes.Put(ctx, n.name, []byte(strconv.Itoa(n.slot))); err != nil {
		return fmt.Errorf("cluster: renew lease: %w", err)
	}
	if n.slotRev == 0 {
		return nil
	}
	rev, err := n.slots.Update(ctx, strconv.Itoa(n.slot), []byte(n.name), n.slotRev)
	if err != nil {
		// The slot lapsed (NATS was away longer than the lease): take it
		// again if it is free.
		if rev, err = n.slots.Create(ctx, strconv.Itoa(n.slot), []byte(n.name)); err != nil {
			return fmt.Errorf("cluster: slot %d lapsed and is taken: message ids may repeat; restart this node: %w", n.slot, err)
		}
	}
	n.slotRev = rev
	return nil
}

// alive lists the nodes whose lease holds.
func (n *Node) alive(ctx context.Context) (map[string]bool, error) {
	keys, err := n.nodes.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: list nodes: %w", err)
	}
	out := map[string]bool{}
	for k := range keys.Keys() {
		out[k] = true
	}
	return out, nil
}

// reap drops the members of nodes whose lease lapsed and fetches the
// member lists of nodes not known yet.
func (n *Node) reap(ctx context.Context) {
	if time.Now().UnixNano() < n.grace.Load() {
		return
	}
	live, err := n.alive(ctx)
	if err != nil {
		n.log.Warn("cannot list the nodes", "error", err)
		return
	}
	n.applyMu.Lock()
	var gone, fresh []string
	for name := range n.peers {
		if !live[name] {
			gone = append(gone, name)
		}
	}
	for name := range live {
		if p, ok := n.peers[name]; name != n.name && (!ok || !p.synced) {
			fresh = append(fresh, name)
		}
	}
	n.applyMu.Unlock()
	for _, name := range gone {
		n.Counters.NodesLost.Add(1)
		n.log.Warn("node's lease lapsed; its members leave", "node", name)
		n.freeNames(ctx, name, n.dropPeer(name))
	}
	for _, name := range fresh {
		n.sync(ctx, name)
	}
}
