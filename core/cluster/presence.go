package cluster

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parlorchat/parlor/core/chat"
)

// onPresence applies another node's presence change.
func (n *Node) onPresence(m *nats.Msg) {
	var ev presenceMsg
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		n.log.Warn("cluster: a presence change that does not decode", "error", err)
		return
	}
	if ev.Node == n.name || ev.Node == "" {
		return
	}
	switch ev.Kind {
	case kindBye:
		n.dropPeer(ev.Node)
		return
	case kindHello:
		n.resyncPeer(ev.Node)
		return
	}
	n.applyMu.Lock()
	p := n.peers[ev.Node]
	if p != nil && ev.Kind == kindBeat && p.run == ev.Run {
		p.conns = ev.Conns
	}
	switch {
	case p == nil || !p.synced || p.run != ev.Run:
		// Not known yet: fetch the whole list (it has this change).
		n.applyMu.Unlock()
		n.resyncPeer(ev.Node)
		return
	case ev.Seq <= p.seq:
		n.applyMu.Unlock() // seen (in a member list fetched since)
		return
	case ev.Kind == kindBeat || ev.Seq != p.seq+1:
		// A heartbeat ahead of us, or a gap: changes were lost.
		n.applyMu.Unlock()
		n.log.Warn("presence changes of a node were lost; fetching its members", "node", ev.Node, "have", p.seq, "got", ev.Seq)
		n.resyncPeer(ev.Node)
		return
	}
	p.seq = ev.Seq
	if ev.Member != nil {
		n.applyMember(ev.Node, p, memberState{MemberInfo: *ev.Member, Room: ev.Room}, ev.Online)
	}
	n.applyMu.Unlock()
}

// resyncPeer fetches a node's member list, bounded by the request timeout.
func (n *Node) resyncPeer(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestTimeout)
	defer cancel()
	n.sync(ctx, name)
}

// applyMember makes a remote member's place what its node says; the
// caller holds applyMu.
func (n *Node) applyMember(node string, p *peer, st memberState, online bool) {
	key := chat.NameKey(st.Name)
	m := p.members[key]
	if !online {
		if m != nil {
			delete(p.members, key)
			delete(p.rooms, key)
			n.g.RemoveRemote(m)
		}
		return
	}
	if m == nil {
		m = n.g.RemoteMember(node, st.MemberInfo)
		if !n.g.AddRemote(m) {
			n.log.Warn("a member of another node has the name of a member here; the name claims disagree", "user", st.Name, "node", node)
			return
		}
		// A remote member of another node that had the name is gone
		// from this group now.
		for other, q := range n.peers {
			if other != node {
				delete(q.members, key)
			}
		}
		p.members[key] = m
	}
	p.rooms[key] = st.Room
	n.g.RemoteEnter(m, st.Room)
}

// RoomLoaded puts the remote members that are in room id into it: a room
// another node created may reach this node after its first members do.
func (n *Node) RoomLoaded(id int64) {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	for _, p := range n.peers {
		for key, room := range p.rooms {
			if m := p.members[key]; room == id && m != nil && n.g.RoomOf(m) != id {
				n.g.RemoteEnter(m, id)
			}
		}
	}
}

// sync fetches a node's member list and makes its members here match it.
func (n *Node) sync(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout) // a node that does not answer holds up no one
	defer cancel()
	reply, err := n.nc.RequestWithContext(ctx, n.subject("node", name, directSnapshot), nil)
	if err != nil {
		n.log.Warn("cannot fetch the members of a node", "node", name, "error", err)
		return
	}
	var s snapshot
	if err := json.Unmarshal(reply.Data, &s); err != nil {
		n.log.Warn("cluster: a member list that does not decode", "node", name, "error", err)
		return
	}
	n.Counters.Resyncs.Add(1)
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	p := n.peers[name]
	if p == nil {
		p = &peer{members: map[string]*chat.Member{}, rooms: map[string]int64{}}
		n.peers[name] = p
	}
	if p.synced && p.run == s.Run && s.Seq < p.seq {
		return // older than what was applied since
	}
	p.seq, p.synced, p.run = s.Seq, true, s.Run
	keep := map[string]bool{}
	for _, st := range s.Members {
		keep[chat.NameKey(st.Name)] = true
		n.applyMember(name, p, st, true)
	}
	for key, m := range p.members {
		if !keep[key] {
			delete(p.members, key)
			delete(p.rooms, key)
			n.g.RemoveRemote(m)
		}
	}
}

// syncAll fetches the member list of every node with a lease.
func (n *Node) syncAll(ctx context.Context) {
	live, err := n.alive(ctx)
	if err != nil {
		n.log.Warn("cannot list the nodes", "error", err)
		return
	}
	for name := range live {
		if name != n.name {
			n.sync(ctx, name)
		}
	}
}

// dropPeer removes a node's members (it left, or its lease lapsed) and
// returns their names.
func (n *Node) dropPeer(name string) []string {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	p := n.peers[name]
	delete(n.peers, name)
	if p == nil {
		return nil
	}
	names := make([]string, 0, len(p.members))
	for _, m := range p.members {
		names = append(names, m.Name)
		n.g.RemoveRemote(m)
	}
	return names
}

// freeNames deletes the claims a dead node still holds on names, so the
// names bucket does not keep them for ever (a login would take them over
// anyway). Every node may do it at once: a claim is deleted only at the
// revision that names the dead node.
func (n *Node) freeNames(ctx context.Context, node string, names []string) {
	for _, name := range names {
		key := n.nameKey(name)
		e, err := n.names.Get(ctx, key)
		if err != nil || string(e.Value()) != node {
			continue
		}
		if err := n.names.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			n.log.Debug("cannot free a dead node's name", "user", name, "node", node, "error", err)
		}
	}
}

// Peers lists the other nodes this node knows and how many of their
// members it has.
func (n *Node) Peers() map[string]int {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	out := map[string]int{}
	for name, p := range n.peers {
		out[name] = len(p.members)
	}
	return out
}
