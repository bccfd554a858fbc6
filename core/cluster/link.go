package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parlorchat/parlor/core/chat"
)

var _ chat.Link = (*Node)(nil)

// Kinds of presenceMsg.
const (
	kindMember = "member" // a member's place (or logout)
	kindHello  = "hello"  // a node started: fetch its members
	kindBeat   = "beat"   // the node's last number, so a gap is seen
	kindBye    = "bye"    // a node left: drop its members
)

// presenceMsg is a node's presence change on the group's presence
// subject, numbered per node (Seq).
type presenceMsg struct {
	Node   string           `json:"node"`
	Run    string           `json:"run"` // the node's run: a node restarted under its name numbers from 0 again
	Seq    uint64           `json:"seq"`
	Kind   string           `json:"kind"`
	Member *chat.MemberInfo `json:"member,omitempty"`
	Room   int64            `json:"room,omitempty"`
	Online bool             `json:"online,omitempty"`
	Conns  int              `json:"conns,omitempty"` // a heartbeat's: the node's connections
}

// snapshot is a node's whole member list at its number Seq.
type snapshot struct {
	Node    string        `json:"node"`
	Run     string        `json:"run"`
	Seq     uint64        `json:"seq"`
	Members []memberState `json:"members"`
}

// memberState is a member and the room it is in.
type memberState struct {
	chat.MemberInfo
	Room int64 `json:"room,omitempty"`
}

// Kinds of groupMsg.
const (
	groupBroadcast = "broadcast"
	groupStop      = "stop"
	groupStart     = "start"
	groupRoom      = "room"
	groupRemoved   = "room_removed"
	groupSanctions = "sanctions"
)

// groupMsg is a change for every node, on the group's "all" subject.
type groupMsg struct {
	Node  string          `json:"node"`
	Kind  string          `json:"kind"`
	Frame json.RawMessage `json:"frame,omitempty"`
	Text  string          `json:"text,omitempty"`
	Room  int64           `json:"room,omitempty"`
}

// Kinds of directMsg: the last token of a node's subject.
const (
	directSnapshot = "snapshot"
	directSend     = "send"
	directClose    = "close"
	directKick     = "kick"
	directMove     = "move"
)

// directMsg is a request to one node about one of its members.
type directMsg struct {
	User   string          `json:"user,omitempty"`
	Frame  json.RawMessage `json:"frame,omitempty"`
	Room   int64           `json:"room,omitempty"`
	Reason string          `json:"reason,omitempty"`
}

// directReply answers a kick or move: empty when it worked.
type directReply struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Headers of what goes to a room's subject: the node that published it,
// and kindFrame for a frame that is not a public message.
const (
	headerNode = "Parlor-Node"
	headerKind = "Parlor-Kind"
	kindFrame  = "frame"
)

// publish sends v as JSON on subj; a failure is logged (NATS buffers
// while it reconnects).
func (n *Node) publish(subj string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		n.log.Error("cluster: encode", "subject", subj, "error", err)
		return
	}
	if err := n.nc.Publish(subj, b); err != nil && !n.closed.Load() {
		n.log.Warn("cluster: publish", "subject", subj, "error", err)
	}
}

// nameKey is the KV key of a user name's claim.
func (n *Node) nameKey(name string) string {
	return groupToken(n.g.Name()) + "." + base64.RawURLEncoding.EncodeToString([]byte(chat.NameKey(name)))
}

// Claim implements chat.Link: the name's key in the names bucket is
// created for this node, or taken over when the node holding it has no
// lease any more (it died).
func (n *Node) Claim(ctx context.Context, m *chat.Member) error {
	if !n.nc.IsConnected() {
		n.log.Warn("a login waits for NATS to check its name", "user", m.Name)
		return chat.Errorf(chat.CodeLoginError, "The chat cannot check names right now; try again in a moment.")
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
	defer cancel()
	key := n.nameKey(m.Name)
	rev, err := n.names.Create(ctx, key, []byte(n.name))
	if errors.Is(err, jetstream.ErrKeyExists) {
		var e jetstream.KeyValueEntry
		if e, err = n.names.Get(ctx, key); err == nil {
			holder := string(e.Value())
			if holder != n.name {
				if _, lerr := n.nodes.Get(ctx, holder); lerr == nil {
					return chat.Errorf(chat.CodeNameTaken, "The name %q is in use by someone online.", m.Name)
				} else if !errors.Is(lerr, jetstream.ErrKeyNotFound) {
					err = lerr
				}
			}
			if err == nil {
				rev, err = n.names.Update(ctx, key, []byte(n.name), e.Revision())
			}
		} else if errors.Is(err, jetstream.ErrKeyNotFound) {
			rev, err = n.names.Create(ctx, key, []byte(n.name))
		}
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) {
			return chat.Errorf(chat.CodeNameTaken, "The name %q is in use by someone online.", m.Name)
		}
		n.log.Warn("cannot claim a name in the cluster", "user", m.Name, "error", err)
		return chat.Errorf(chat.CodeLoginError, "The chat cannot check names right now; try again in a moment.")
	}
	n.mu.Lock()
	n.claims[key] = rev
	n.mu.Unlock()
	return nil
}

// Unclaim implements chat.Link: the claim is deleted unless someone took
// it over meanwhile.
func (n *Node) Unclaim(m *chat.Member) {
	key := n.nameKey(m.Name)
	n.mu.Lock()
	rev, ok := n.claims[key]
	delete(n.claims, key)
	n.mu.Unlock()
	if !ok || n.closed.Load() {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestTimeout)
		defer cancel()
		if err := n.names.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			n.log.Debug("cannot release a name", "user", m.Name, "error", err)
		}
	}()
}

// Member implements chat.Link.
func (n *Node) Member(m *chat.Member, room int64, online bool) {
	info := m.Info()
	n.pubMu.Lock()
	defer n.pubMu.Unlock()
	if n.closed.Load() {
		return
	}
	n.seq++
	n.publish(n.subject("presence"), presenceMsg{Node: n.name, Run: n.run, Seq: n.seq, Kind: kindMember, Member: &info, Room: room, Online: online})
}

// announce tells the other nodes this node started.
func (n *Node) announce() {
	n.pubMu.Lock()
	defer n.pubMu.Unlock()
	n.publish(n.subject("presence"), presenceMsg{Node: n.name, Run: n.run, Seq: n.seq, Kind: kindHello})
}

// heartbeat tells the other nodes this node's last number.
func (n *Node) heartbeat() {
	n.pubMu.Lock()
	defer n.pubMu.Unlock()
	n.publish(n.subject("presence"), presenceMsg{Node: n.name, Run: n.run, Seq: n.seq, Kind: kindBeat, Conns: n.g.LocalConns()})
}

// Entering implements chat.Link: the room's subject is subscribed (and
// the subscription flushed to NATS) before its stored history is merged,
// so no message falls between the two.
func (n *Node) Entering(ctx context.Context, room int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.rooms[room]; ok {
		s.used = time.Now()
		return
	}
	subj := n.roomSubject(room)
	sub, err := n.nc.Subscribe(subj, n.onRoom)
	if err != nil {
		n.log.Warn("cannot subscribe to a room", "room", room, "error", err)
		return
	}
	_ = sub.SetPendingLimits(-1, n.opts.PendingBytes)
	rs := &roomSub{sub: sub}
	n.rooms[room] = rs
	// While NATS is away the subscription waits for the reconnect, and
	// the reconnect's resync reads the history again.
	if n.nc.IsConnected() {
		ctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
		if err := n.nc.FlushWithContext(ctx); err != nil {
			n.log.Warn("NATS flush", "room", room, "error", err)
		}
		cancel()
	}
	n.mergeHistory(ctx, room)
	rs.used = time.Now() // the member enters now: the room is not idle
}

// mergeHistory adds the room's stored messages to its history.
func (n *Node) mergeHistory(ctx context.Context, room int64) {
	if n.opts.History == nil {
		return
	}
	msgs, err := n.opts.History(ctx, room)
	if err != nil {
		n.log.Warn("cannot read a room's history", "room", room, "error", err)
		return
	}
	n.g.MergeHistory(room, msgs)
}

// refreshRooms merges the stored history of every subscribed room (after
// a reconnect or dropped messages).
func (n *Node) refreshRooms(ctx context.Context) {
	n.mu.Lock()
	rooms := make([]int64, 0, len(n.rooms))
	for id := range n.rooms {
		rooms = append(rooms, id)
	}
	n.mu.Unlock()
	for _, id := range rooms {
		n.mergeHistory(ctx, id)
	}
}

// unsubscribeIdle unsubscribes the rooms that have had no member here for
// a lease.
func (n *Node) unsubscribeIdle() {
	used := map[int64]bool{}
	for _, lm := range n.g.LocalMembers() {
		used[lm.Room] = true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, s := range n.rooms {
		if used[id] {
			s.used = time.Now()
		} else if time.Since(s.used) > n.opts.Lease {
			_ = s.sub.Unsubscribe()
			delete(n.rooms, id)
		}
	}
}

// Delivered implements chat.Link: the frame's bytes go to the room's
// subject once.
func (n *Node) Delivered(msg *chat.Message, f *chat.Frame) {
	if n.closed.Load() {
		return
	}
	m := &nats.Msg{Subject: n.roomSubject(msg.RoomID), Header: nats.Header{headerNode: []string{n.name}}, Data: f.JSON()}
	if err := n.nc.PublishMsg(m); err != nil {
		n.log.Warn("cluster: publish a message", "room", msg.RoomID, "error", err)
	}
}

// SendRoom implements chat.Link: the frame goes to the room's subject,
// marked as not a message.
func (n *Node) SendRoom(roomID int64, f *chat.Frame) {
	if n.closed.Load() {
		return
	}
	m := &nats.Msg{Subject: n.roomSubject(roomID), Header: nats.Header{headerNode: []string{n.name}, headerKind: []string{kindFrame}}, Data: f.JSON()}
	if err := n.nc.PublishMsg(m); err != nil {
		n.log.Warn("cluster: publish to a room", "room", roomID, "error", err)
	}
}

// roomSubject is the subject of a room's messages and frames.
func (n *Node) roomSubject(roomID int64) string {
	return n.subject("room", strconv.FormatInt(roomID, 10))
}

// onRoom delivers a message said on another node, or a frame sent to
// the room there.
func (n *Node) onRoom(m *nats.Msg) {
	if m.Header.Get(headerNode) == n.name {
		return
	}
	if m.Header.Get(headerKind) == kindFrame {
		id, err := strconv.ParseInt(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:], 10, 64)
		if err == nil {
			n.g.SendRoomLocal(id, chat.RawFrame(m.Data))
		}
		return
	}
	var ev chat.MessageEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Type != "message" {
		n.log.Warn("cluster: a room message that does not decode", "subject", m.Subject, "error", err)
		return
	}
	ev.Message.Group = n.g.Name()
	n.g.DeliverRemote(ev.Message, chat.RawFrame(m.Data))
}

// direct sends a request about a remote member to its node.
func (n *Node) direct(m *chat.Member, kind string, d directMsg) {
	n.publish(n.subject("node", m.Node, kind), d)
}

// Send implements chat.Link.
func (n *Node) Send(m *chat.Member, f *chat.Frame) bool {
	n.direct(m, directSend, directMsg{User: m.Name, Frame: f.JSON()})
	return true
}

// Close implements chat.Link.
func (n *Node) Close(m *chat.Member, reason string) {
	n.direct(m, directClose, directMsg{User: m.Name, Reason: reason})
}

// Kick implements chat.Link.
func (n *Node) Kick(ctx context.Context, m *chat.Member, room int64, reason string) error {
	return n.ask(ctx, m, directKick, directMsg{User: m.Name, Room: room, Reason: reason})
}

// Move implements chat.Link.
func (n *Node) Move(ctx context.Context, m *chat.Member, to int64) error {
	return n.ask(ctx, m, directMove, directMsg{User: m.Name, Room: to})
}

// ask sends a request to m's node and returns its answer as an error.
func (n *Node) ask(ctx context.Context, m *chat.Member, kind string, d directMsg) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("cluster: encode %s: %w", kind, err)
	}
	reply, err := n.nc.RequestWithContext(ctx, n.subject("node", m.Node, kind), b)
	if err != nil {
		return chat.Errorf(chat.CodeNotOnline, "%s is on another node that does not answer.", m.Name)
	}
	var r directReply
	if err := json.Unmarshal(reply.Data, &r); err != nil {
		return fmt.Errorf("cluster: %s answer: %w", kind, err)
	}
	if r.Code != "" {
		return &chat.Error{Code: r.Code, Message: r.Message}
	}
	return nil
}

// Broadcast implements chat.Link.
func (n *Node) Broadcast(f *chat.Frame) {
	n.publish(n.subject("all"), groupMsg{Node: n.name, Kind: groupBroadcast, Frame: f.JSON()})
}

// Stopped implements chat.Link.
func (n *Node) Stopped(stopped bool, text string) {
	kind := groupStart
	if stopped {
		kind = groupStop
	}
	n.publish(n.subject("all"), groupMsg{Node: n.name, Kind: kind, Text: text})
}

// RoomChanged implements chat.Link.
func (n *Node) RoomChanged(id int64, removed bool) {
	kind := groupRoom
	if removed {
		kind = groupRemoved
	}
	n.publish(n.subject("all"), groupMsg{Node: n.name, Kind: kind, Room: id})
}

// Conns implements chat.Link: the other nodes' connections as their
// last heartbeats said.
func (n *Node) Conns() int {
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	c := 0
	for _, p := range n.peers {
		c += p.conns
	}
	return c
}

// SanctionsChanged implements chat.Link.
func (n *Node) SanctionsChanged() {
	n.publish(n.subject("all"), groupMsg{Node: n.name, Kind: groupSanctions})
}

// onGroup applies another node's change for every node.
func (n *Node) onGroup(m *nats.Msg) {
	var ev groupMsg
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		n.log.Warn("cluster: a group change that does not decode", "error", err)
		return
	}
	if ev.Node == n.name {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.RequestTimeout)
	defer cancel()
	switch ev.Kind {
	case groupBroadcast:
		n.g.BroadcastLocal(chat.RawFrame(ev.Frame))
	case groupStop:
		n.g.ApplyStopped(true, ev.Text)
	case groupStart:
		n.g.ApplyStopped(false, "")
	case groupRoom, groupRemoved:
		if n.opts.RoomChanged != nil {
			n.opts.RoomChanged(ctx, ev.Room, ev.Kind == groupRemoved)
		}
	case groupSanctions:
		if n.opts.SanctionsChanged != nil {
			n.opts.SanctionsChanged(ctx)
		}
	}
}

// onDirect answers a request to this node.
func (n *Node) onDirect(m *nats.Msg) {
	kind := m.Subject[len(n.subject("node", n.name))+1:]
	if kind == directSnapshot {
		n.reply(m, n.snapshot())
		return
	}
	var d directMsg
	if err := json.Unmarshal(m.Data, &d); err != nil {
		n.log.Warn("cluster: a request that does not decode", "subject", m.Subject, "error", err)
		return
	}
	switch kind {
	case directSend:
		n.g.SendLocal(d.User, chat.RawFrame(d.Frame))
	case directClose:
		n.g.CloseLocal(d.User, d.Reason)
	case directKick, directMove:
		var err error
		if _, ok := n.g.LocalMember(d.User); !ok {
			err = chat.Errorf(chat.CodeNotOnline, "%s is not online.", d.User)
		} else if kind == directKick {
			err = n.g.Kick(d.User, d.Room, d.Reason)
		} else {
			err = n.g.Move(d.User, d.Room)
		}
		var r directReply
		if err != nil {
			r.Code, r.Message = chat.CodeRefused, err.Error()
			var ce *chat.Error
			if errors.As(err, &ce) {
				r.Code = ce.Code
			}
		}
		n.reply(m, r)
	}
}

// reply answers a request.
func (n *Node) reply(m *nats.Msg, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = m.Respond(b)
	}
	if err != nil {
		n.log.Warn("cluster: answer a request", "subject", m.Subject, "error", err)
	}
}

// snapshot is this node's member list with its number.
func (n *Node) snapshot() snapshot {
	n.pubMu.Lock()
	defer n.pubMu.Unlock()
	s := snapshot{Node: n.name, Run: n.run, Seq: n.seq}
	for _, lm := range n.g.LocalMembers() {
		s.Members = append(s.Members, memberState{MemberInfo: lm.Member.Info(), Room: lm.Room})
	}
	return s
}
