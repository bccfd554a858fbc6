package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ModuleEvent is a plugin's cluster event as it travels between nodes.
type ModuleEvent struct {
	Node   string `json:"node"`
	Plugin string `json:"plugin"`
	Topic  string `json:"topic"`
	Data   []byte `json:"data,omitempty"`
}

// Node names this node (hostapi.Cluster).
func (n *Node) Node() string { return n.name }

// Publish sends a plugin's event to the same plugin on every other node
// (hostapi.Cluster): one message on the group's module subject.
func (n *Node) Publish(ctx context.Context, plugin, topic string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(ModuleEvent{Node: n.name, Plugin: plugin, Topic: topic, Data: data})
	if err != nil {
		return fmt.Errorf("cluster: encode the event %s of %s: %w", topic, plugin, err)
	}
	if err := n.nc.Publish(n.subject("module"), b); err != nil {
		return fmt.Errorf("cluster: publish the event %s of %s: %w", topic, plugin, err)
	}
	return nil
}

// onModule hands another node's module event to Options.ModuleEvent.
func (n *Node) onModule(m *nats.Msg) {
	var ev ModuleEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		n.log.Warn("cluster: a module event that does not decode", "error", err)
		return
	}
	if ev.Node == n.name || n.opts.ModuleEvent == nil {
		return
	}
	n.opts.ModuleEvent(ev)
}

// leaseKey is the KV key of a plugin's lease ("" is the core's).
func leaseKey(plugin, name string) string {
	if plugin == "" {
		return "core." + name
	}
	return "p" + base64.RawURLEncoding.EncodeToString([]byte(plugin)) + "." + name
}

// Lease takes the named lease of plugin for this node when it is free,
// renews it when this node holds it, and takes it over when its holder
// has no node lease any more (it died); it returns the holder and the
// time a lease lasts without a renewal, cluster.lease (hostapi.Cluster).
func (n *Node) Lease(ctx context.Context, plugin, name string) (string, time.Duration, error) {
	key := leaseKey(plugin, name)
	ttl := n.opts.Lease
	_, err := n.leases.Create(ctx, key, []byte(n.name))
	if err == nil {
		return n.name, ttl, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", 0, fmt.Errorf("cluster: take the lease %s: %w", name, err)
	}
	e, err := n.leases.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return n.Lease(ctx, plugin, name) // it lapsed meanwhile
	}
	if err != nil {
		return "", 0, fmt.Errorf("cluster: read the lease %s: %w", name, err)
	}
	holder := string(e.Value())
	if holder != n.name {
		_, err := n.nodes.Get(ctx, holder)
		if err == nil {
			return holder, ttl, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", 0, fmt.Errorf("cluster: is the holder of the lease %s alive: %w", name, err)
		}
	}
	if _, err := n.leases.Update(ctx, key, []byte(n.name), e.Revision()); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Someone else renewed or took it first.
			if e, gerr := n.leases.Get(ctx, key); gerr == nil {
				return string(e.Value()), ttl, nil
			}
		}
		return "", 0, fmt.Errorf("cluster: renew the lease %s: %w", name, err)
	}
	return n.name, ttl, nil
}

// Release frees the named lease of plugin when this node holds it
// (hostapi.Cluster).
func (n *Node) Release(ctx context.Context, plugin, name string) error {
	key := leaseKey(plugin, name)
	e, err := n.leases.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster: read the lease %s: %w", name, err)
	}
	if string(e.Value()) != n.name {
		return nil
	}
	if err := n.leases.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("cluster: release the lease %s: %w", name, err)
	}
	return nil
}
