package chat

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Link is what a group needs of the other nodes of a cluster
// (core/cluster implements it). Without one (Options.Link nil) the group
// is alone and every member is local.
//
// A member logged in on another node is a remote member (Member.Node is
// that node): it is in the online users, its room's member list and the
// counts, so user lists, room lists, status files and name checks show
// the whole cluster. Room fan-outs skip it, since its own node delivers
// the room's messages and presence to it; a frame sent to it alone (a
// private message, a notice, a module's event) goes through the Link.
//
// The group calls the methods under no lock (Member under the member's
// seat, so one member's changes are told in order); none may block for
// long.
type Link interface {
	// Claim takes the name of a member logging in here for the whole
	// cluster; an error (a *Error with code name_taken) refuses the login.
	Claim(ctx context.Context, m *Member) error
	// Unclaim gives back the name of a local member that logged out (or
	// whose login failed after Claim).
	Unclaim(m *Member)
	// Entering returns once the room roomID, which a local member is
	// about to enter, gets the other nodes' messages and has their
	// latest in its history (a node learns a room's messages only while
	// it has members there); ctx bounds it.
	Entering(ctx context.Context, roomID int64)
	// Member tells the other nodes where local member m is now: in room
	// (0: none) while online, gone when online is false.
	Member(m *Member, room int64, online bool)
	// Delivered publishes a public message said on this node, delivered
	// here as f, to the other nodes.
	Delivered(msg *Message, f *Frame)
	// SendRoom sends f to the room's members on the other nodes (a
	// frame that is not a message, such as a module's event), in order
	// with the room's messages said here.
	SendRoom(roomID int64, f *Frame)
	// Send delivers f to remote member m on its node.
	Send(m *Member, f *Frame) bool
	// Close ends remote member m's connection on its node.
	Close(m *Member, reason string)
	// Kick and Move do Group.Kick and Group.Move on the node of remote
	// member m and return its answer.
	Kick(ctx context.Context, m *Member, room int64, reason string) error
	Move(ctx context.Context, m *Member, to int64) error
	// Broadcast sends f to every connection of the other nodes.
	Broadcast(f *Frame)
	// Stopped tells the other nodes that the group was stopped (with
	// the notice text) or started again.
	Stopped(stopped bool, text string)
	// RoomChanged tells the other nodes that a room's definition changed
	// in the store, or that the room was removed.
	RoomChanged(id int64, removed bool)
	// Conns is how many connections the other nodes have (as they last
	// said), for the counts.
	Conns() int
	// SanctionsChanged tells the other nodes that a sanction was imposed
	// or lifted in the store.
	SanctionsChanged()
}

// IsRemote reports whether m is logged in on another node.
func (m *Member) IsRemote() bool { return m.Node != "" }

// remoteConn is the connection of a remote member: room fan-outs give it
// frames it forgets (its node delivers them), Close ends the member's
// connection on its node.
type remoteConn struct {
	g *Group
	m *Member
}

func (remoteConn) Send(*Frame) bool { return true }
func (c remoteConn) Close(reason string) {
	if l := c.g.opts.Link; l != nil {
		l.Close(c.m, reason)
	}
}

// send sends f to m alone: through its connection, or through the Link
// for a remote member.
func (g *Group) send(m *Member, f *Frame) bool {
	if m.Node != "" && g.opts.Link != nil {
		return g.opts.Link.Send(m, f)
	}
	return m.Conn.Send(f)
}

// tellMember tells the Link where local member m is; the caller holds
// m.seat.
func (g *Group) tellMember(m *Member, room int64, online bool) {
	if g.opts.Link != nil && m.Node == "" && m.Name != "" {
		g.opts.Link.Member(m, room, online)
	}
}

// MemberInfo is who a member is, as nodes tell each other.
type MemberInfo struct {
	Name    string `json:"name"`
	Display string `json:"display,omitempty"`
	Admin   bool   `json:"admin,omitempty"`
	Guest   bool   `json:"guest,omitempty"`
	IP      string `json:"ip,omitempty"`
	Avatar  string `json:"avatar,omitempty"`
}

// Info is who m is.
func (m *Member) Info() MemberInfo {
	return MemberInfo{Name: m.Name, Display: m.Display, Admin: m.Admin, Guest: m.Guest, IP: m.IP, Avatar: m.Avatar}
}

// RemoteMember makes the member for a user logged in on node, to give to
// AddRemote.
func (g *Group) RemoteMember(node string, m MemberInfo) *Member {
	r := &Member{Name: m.Name, Display: m.Display, Admin: m.Admin, Guest: m.Guest, IP: m.IP, Avatar: CleanAvatar(m.Avatar), Node: node}
	r.Conn = remoteConn{g: g, m: r}
	return r
}

// AddRemote adds a remote member (RemoteMember) to the online users. It
// reports false when a member of the same name is online already; a
// remote one of another node is replaced (the cluster's name claims
// decide who holds a name; core/cluster resolves a late conflict).
func (g *Group) AddRemote(m *Member) bool {
	key := NameKey(m.Name)
	g.mu.Lock()
	if old, ok := g.users[key]; ok && (old.Node == "" || old.Node == m.Node) {
		g.mu.Unlock()
		return false
	}
	old := g.users[key]
	g.users[key] = m
	if old == nil {
		g.skels[NameSkeleton(m.Name)]++
	}
	g.mu.Unlock()
	if old != nil {
		g.RemoveRemote(old)
	}
	g.changed()
	return true
}

// RemoteEnter puts remote member m into the room roomID (0: out of any)
// as its node says it is: the local members of the rooms it leaves and
// enters get presence, nobody is checked or told anything else. An
// unknown room leaves m in none.
func (g *Group) RemoteEnter(m *Member, roomID int64) {
	m.seat.Lock()
	var r *Room
	var info RoomInfo
	if roomID != 0 {
		g.mu.RLock() // before any room lock (see Member.seat)
		if r = g.rooms[roomID]; r != nil {
			info = r.info
		}
		g.mu.RUnlock()
	}
	old := m.room.Load()
	if old == r {
		m.seat.Unlock()
		return
	}
	unlock := lockRooms(old, r)
	var slow []*Member
	if old != nil {
		old.remove(m)
		if !old.removed {
			slow = g.presence(old, NewFrame(PresenceEvent{Type: "presence", Room: old.id, User: m.Name, Event: "leave", Count: old.count()}), slow)
		}
	}
	m.room.Store(nil)
	if r != nil && !r.removed {
		m.room.Store(r)
		r.add(m)
		v := m.view(info)
		slow = g.presence(r, NewFrame(PresenceEvent{Type: "presence", Room: r.id, User: m.Name, Event: "join", Count: r.count(),
			Role: v.Role, Display: v.Display, Avatar: v.Avatar}), slow)
		if g.opts.ModeratorsSeeIP && m.IP != "" {
			ipf := NewFrame(MemberIPEvent{Type: "member_ip", Room: r.id, User: m.Name, IP: m.IP})
			for _, o := range r.list() {
				if o != m && !o.IsRemote() && g.seesIP(o, info) && !o.Conn.Send(ipf) {
					slow = append(slow, o)
				}
			}
		}
	}
	unlock()
	m.seat.Unlock()
	g.drop(slow)
	if old != nil {
		g.roomCountChanged(old.id)
	}
	if r != nil {
		g.roomCountChanged(r.id)
	}
	g.changed()
}

// RemoveRemote takes remote member m out of its room (with presence to
// the local members, as a logout) and out of the online users.
func (g *Group) RemoveRemote(m *Member) {
	m.seat.Lock()
	_, r, slow := g.offline(m)
	m.seat.Unlock()
	g.drop(slow)
	if r != nil {
		g.roomCountChanged(r.id)
	}
	g.changed()
}

// DeliverRemote delivers a public message said on another node, encoded
// as f there, to the local members of its room, and keeps it in the
// room's history in id order. It reports false when the room is unknown
// here or the message is in the history already.
func (g *Group) DeliverRemote(msg Message, f *Frame) bool {
	g.mu.RLock()
	r, ok := g.rooms[msg.RoomID]
	g.mu.RUnlock()
	if !ok {
		return false
	}
	g.SetLastMessageID(msg.ID)
	r.mu.Lock()
	if !g.insertHistory(r, msg) {
		r.mu.Unlock()
		return false
	}
	slow := r.send(f, nil)
	g.count(r, 1)
	r.mu.Unlock()
	g.drop(slow)
	return true
}

// MergeHistory adds stored messages of a room to its history (those it
// lacks, in id order): a node that had no member in a room received none
// of its messages, and reads them from the shared store before a member
// enters.
func (g *Group) MergeHistory(roomID int64, msgs []Message) {
	g.mu.RLock()
	r, ok := g.rooms[roomID]
	g.mu.RUnlock()
	if !ok {
		return
	}
	r.mu.Lock()
	for _, msg := range msgs {
		g.SetLastMessageID(msg.ID)
		g.insertHistory(r, msg)
	}
	r.mu.Unlock()
}

// insertHistory puts msg into r's history at its place by id, unless a
// message of that id is there; the caller holds r.mu. It reports whether
// msg is new (a message older than the whole history is new, though it
// is not kept).
func (g *Group) insertHistory(r *Room, msg Message) bool {
	if g.opts.History == 0 {
		return true
	}
	if n := len(r.recent); n == 0 || r.recent[(r.oldest+n-1)%n].ID < msg.ID {
		g.remember(r, msg) // the newest: the usual case, no copy
		return true
	}
	h := r.history()
	i := sort.Search(len(h), func(i int) bool { return h[i].ID >= msg.ID })
	if i < len(h) && h[i].ID == msg.ID {
		return false
	}
	if i == len(h) {
		g.remember(r, msg)
		return true
	}
	h = append(h[:i], append([]Message{msg}, h[i:]...)...)
	if len(h) > g.opts.History {
		h = h[len(h)-g.opts.History:]
	}
	r.recent, r.oldest, r.historyJSON = h, 0, nil
	return true
}

// ApplyStopped stops or starts the group as another node said, without
// telling the Link.
func (g *Group) ApplyStopped(stopped bool, text string) {
	if stopped {
		g.stop(text)
		return
	}
	g.start()
}

// BroadcastLocal sends f to every connection of this node (a broadcast
// another node made), and returns how many it reached.
func (g *Group) BroadcastLocal(f *Frame) int { return g.broadcastLocal(f) }

// LocalMembers returns the members logged in on this node, with the
// rooms they are in (0: none).
func (g *Group) LocalMembers() []LocalMember {
	g.mu.RLock()
	out := make([]LocalMember, 0, len(g.users))
	for _, m := range g.users {
		if m.Node == "" {
			out = append(out, LocalMember{Member: m})
		}
	}
	g.mu.RUnlock()
	for i := range out {
		if r := out[i].Member.room.Load(); r != nil {
			out[i].Room = r.id
		}
	}
	return out
}

// LocalMember is a member logged in on this node and the room it is in.
type LocalMember struct {
	Member *Member
	Room   int64
}

// idBits are the low bits of a message id that name the node's slot when
// the group is one node of a cluster (Options.Slot).
const idBits = 4

// MaxSlots is how many nodes a cluster can have: each numbers its
// messages in its own slot.
const MaxSlots = 1 << idBits

// idEpoch is the start of the clock of clustered message ids.
var idEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// idClock numbers messages when the group is a node of a cluster: an id
// is a counter (at least the milliseconds since idEpoch times 256, so ids
// of different nodes follow the clock) times MaxSlots plus the node's
// slot, so no two nodes give the same id and each node's ids increase.
type idClock struct {
	mu   sync.Mutex
	last int64 // the counter of the last id
}

// nextID numbers a new message.
func (g *Group) nextID() int64 {
	if g.opts.Link == nil {
		return g.lastID.Add(1)
	}
	c := &g.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	n := max(c.last+1, g.opts.Now().Sub(idEpoch).Milliseconds()<<8, g.lastID.Load()>>idBits+1)
	c.last = n
	return n<<idBits | int64(g.opts.Slot)
}

// LocalMember returns the member of this node logged in as name.
func (g *Group) LocalMember(name string) (*Member, bool) {
	m, ok := g.Online(name)
	if !ok || m.IsRemote() {
		return nil, false
	}
	return m, true
}

// SendLocal sends f to the member of this node logged in as name (a frame
// another node sent it) and reports whether it was queued.
func (g *Group) SendLocal(name string, f *Frame) bool {
	m, ok := g.LocalMember(name)
	if !ok {
		return false
	}
	return g.sendMembers(f, []*Member{m}) == 1
}

// CloseLocal closes the connection of the member of this node logged in
// as name (another node asked).
func (g *Group) CloseLocal(name, reason string) {
	if m, ok := g.LocalMember(name); ok {
		m.Conn.Close(reason)
	}
}

// RoomStored tells the other nodes that the definition of room id
// changed in the shared store (removed: it was deleted), after this node
// put it in the group (PutRoom, RemoveRoom).
func (g *Group) RoomStored(id int64, removed bool) {
	if g.opts.Link != nil {
		g.opts.Link.RoomChanged(id, removed)
	}
}

// SendRoomLocal sends f to the members of this node in room roomID (a
// frame another node sent to the room) and returns how many it reached.
func (g *Group) SendRoomLocal(roomID int64, f *Frame) int {
	n, _ := g.sendRoom(roomID, f)
	return n
}

// LocalConns is how many connections this node has, logged in or not.
func (g *Group) LocalConns() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.conns)
}

// remoteConns is how many connections the other nodes have.
func (g *Group) remoteConns() int {
	if g.opts.Link == nil {
		return 0
	}
	return g.opts.Link.Conns()
}

// keep puts a message delivered here into r's history: in id order on a
// node of a cluster, where another node's message with a higher id may
// have come first; the caller holds r.mu.
func (g *Group) keep(r *Room, msg Message) {
	if g.opts.Link == nil {
		g.remember(r, msg)
		return
	}
	g.insertHistory(r, msg)
}

// SendMember sends f to m alone, wherever m is logged in, and reports
// whether it was queued.
func (g *Group) SendMember(m *Member, f *Frame) bool { return g.sendMembers(f, []*Member{m}) == 1 }
