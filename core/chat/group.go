package chat

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
	"golang.org/x/text/unicode/norm"
)

// Member is a logged-in user on one connection.
type Member struct {
	Name    string // login name, unique in the group (by NameKey)
	Display string // shown name; the login name when empty
	Admin   bool
	Guest   bool
	IP      string // the client's address, for sanctions by address
	// Avatar is the account or SSO picture: an http(s) URL or a built-in
	// picture "e1".."e32". Login cleans it (CleanAvatar).
	Avatar string
	Conn   Conn
	// Node is the cluster node the member is logged in on when that is
	// another node (a remote member, see Link); empty for a member of
	// this node.
	Node string

	// seat serializes this member's room changes (join, leave, kick,
	// move, logout, room removal). Lock order: seat, Group.mu, Room.mu
	// (two Room.mu in room id order); nobody waits for Group.mu while
	// holding a Room.mu.
	seat    sync.Mutex
	room    atomic.Pointer[Room] // written under seat and the room's mu
	hasList atomic.Bool          // got the whole room list (SendRoomList), so gets its deltas
	// deltaGen is the generation of the last delta sent with its room's
	// presence (flushRoomList), so it is not sent the same delta twice.
	deltaGen atomic.Uint64
	since    uint64 // Room.seq when it joined its room (it knows what came before); guarded by the room's mu
	unsaved  int    // messages said but not saved yet; guarded by Group.commits.mu
	// lastBatch is the batch holding m's latest unsaved message (nil
	// when none waits); guarded by Group.commits.mu.
	lastBatch *commitBatch
}

// view is m as clients see it in a room with the given definition.
func (m *Member) view(info RoomInfo) MemberView {
	return MemberView{Name: m.Name, Display: m.shownName(), Role: RoleIn(m, info), Avatar: m.Avatar}
}

// shownName is m's display name as views carry it: empty when it is the
// login name (a guest's always is), which clients then show.
func (m *Member) shownName() string {
	if m.Display == m.Name {
		return ""
	}
	return m.Display
}

// Room is a room of a group with its members and recent history.
//
// Everything sent to a room's members (messages, presence, room events)
// is sent under its mu, so every member sees the same order, and a fan-out
// in one room holds no lock another room needs. The member list is copy
// on write: readers (user lists, counts, snapshots) never wait for a
// fan-out.
type Room struct {
	id   int64          // never changes
	info RoomInfo       // guarded by Group.mu
	loc  *time.Location // the zone of its times (its own or the group's); guarded by Group.mu
	// closed is info.Sched.Closed, read on the message path without
	// Group.mu.
	closed atomic.Bool

	mu      sync.Mutex                // serializes sends to the room and member changes
	members atomic.Pointer[[]*Member] // in join order; replaced, never changed, under mu
	lists   listJSON                  // the member list as joined events carry it
	// historyJSON is recent encoded (encodedHistory), nil until asked for
	// and whenever recent changed; guarded by mu.
	historyJSON []byte
	recent      []Message    // last History messages, a ring from oldest; guarded by mu
	oldest      int          // index of the oldest message in recent once it is full
	removed     bool         // the room was removed; guarded by mu
	said        atomic.Int64 // messages delivered; added to under mu, moved to Group.messages on removal

	outMu    sync.Mutex // guards outbox, spare and draining
	outbox   []outMsg   // saved messages waiting for delivery, in id order
	spare    []outMsg   // the drained outbox, emptied, for the next one to reuse
	draining bool       // a goroutine delivers the outbox

	posting []outMsg // this room's part of the batch being posted; the save loop's only

	pend []pendingFrame // presence not sent yet, in order (Group.presence); guarded by mu
	seq  uint64         // numbers presence; guarded by mu
}

// pendingFrame is a presence frame waiting to go to the members who were
// in the room before it happened.
type pendingFrame struct {
	f   *Frame
	seq uint64
}

func newRoom(info RoomInfo, history []Message) *Room {
	r := &Room{id: info.ID, info: info, recent: history}
	r.members.Store(&[]*Member{})
	return r
}

// list returns the members in join order; the slice must not be changed.
func (r *Room) list() []*Member { return *r.members.Load() }

// count is the number of members.
func (r *Room) count() int { return len(r.list()) }

func (r *Room) view() RoomView { return roomView(r.info, r.count(), r.loc) }

// roomView is the view of a room with definition i and n members, its
// times read in loc.
func roomView(i RoomInfo, n int, loc *time.Location) RoomView {
	v := RoomView{
		ID: i.ID, Name: i.Name, Desc: i.Desc, Owner: i.Owner, Count: n, Max: i.Max,
		Locked: i.Password != "", Open: i.Open && !i.Sched.Closed, Guests: i.Member, ST: i.ST,
		Audio: i.Audio, Video: i.Video, WB: i.Whiteboard,
	}
	if len(i.Schedule) > 0 {
		v.Schedule, v.Zone = i.Sched.Word(), loc.String()
		if next := i.Sched.Next; !next.IsZero() && i.Sched.Applied {
			if i.Sched.Closed {
				v.Opens = next.In(loc).Format(time.RFC3339)
			} else {
				v.Closes = next.In(loc).Format(time.RFC3339)
			}
		}
	}
	return v
}

func names(members []*Member) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.Name
	}
	return out
}

// seesIP reports whether m may see the members' addresses in the room
// info: its moderators and the administrators, when the group allows it.
func (g *Group) seesIP(m *Member, info RoomInfo) bool {
	return g.opts.ModeratorsSeeIP && RoleIn(m, info).Rank() >= sdk.RoleModerator.Rank()
}

func views(members []*Member, info RoomInfo) []MemberView {
	out := make([]MemberView, len(members))
	for i, m := range members {
		out[i] = m.view(info)
	}
	return out
}

// add appends m to the members; the caller holds r.mu. The list grows in
// place when its array has room: every list published so far is at most
// as long as the current one (remove copies into a new array), so no
// reader of an earlier list sees the slot m takes. A burst of joins into
// a big room so copies the list a few times rather than at every join.
func (r *Room) add(m *Member) {
	next := append(r.list(), m)
	r.members.Store(&next)
}

// remove takes m out of the members; the caller holds r.mu.
func (r *Room) remove(m *Member) {
	r.lists.remove(m)
	old := r.list()
	for i, x := range old {
		if x == m {
			next := make([]*Member, 0, len(old)-1)
			next = append(next, old[:i]...)
			next = append(next, old[i+1:]...)
			r.members.Store(&next)
			return
		}
	}
}

// send delivers f to every member of r, after the presence that waits;
// members whose queue is full are returned so the caller can drop them
// outside the loop. The caller holds r.mu.
func (r *Room) send(f *Frame, slow []*Member) []*Member {
	slow = r.flushPresence(slow)
	for _, m := range r.list() {
		if !m.Conn.Send(f) {
			slow = append(slow, m)
		}
	}
	return slow
}

// flushPresence sends the presence that waits to the members that were
// in the room before it happened. The waiting events are cut into runs of
// presenceChunk, each sent as one PresenceBatchEvent that every member
// who heard none of the run shares; a member who joined inside a run gets
// the rest of that run as a batch of its own. A member of a busy room
// thus gets a few frames (one write) carrying about half the bytes of
// separate events, and the frames of a flush take memory in proportion
// to the events, not to the events times the members. A member with a
// single event to hear gets a plain PresenceEvent. The caller holds r.mu.
func (r *Room) flushPresence(slow []*Member) []*Member { return r.flushPresenceThen(slow, nil, 0) }

// flushPresenceThen is flushPresence, and sends each member that has the
// room list the delta right after its presence (in the same write), and
// marks it with the delta's generation gen.
func (r *Room) flushPresenceThen(slow []*Member, delta *Frame, gen uint64) []*Member {
	if len(r.pend) == 0 && delta == nil {
		return slow
	}
	var b presenceBatches
	for _, m := range r.list() {
		ok := b.send(r, m)
		if ok && delta != nil && m.hasList.Load() && m.deltaGen.Load() != gen {
			ok = m.Conn.Send(delta)
			m.deltaGen.Store(gen)
		}
		if !ok {
			slow = append(slow, m)
		}
	}
	clear(r.pend)
	r.pend = r.pend[:0]
	return slow
}

// presenceChunk is how many presence events one PresenceBatchEvent of a
// flush carries at most: with the most that may wait (config allows
// 1000), a member gets at most 33 frames, one write's worth.
const presenceChunk = 32

// presenceBatches holds, during one flush, the frames of a room's waiting
// presence, each made when a member first needs it.
type presenceBatches struct {
	runs  []*Frame // runs[j]: the events from j*presenceChunk to the next run
	heads []*Frame // heads[k]: the events from k to the next run, for a member who joined inside a run
}

// send queues to m the waiting presence of r it has not heard; false when
// its queue is full. r.mu is held.
func (b *presenceBatches) send(r *Room, m *Member) bool {
	n := len(r.pend)
	k := sort.Search(n, func(i int) bool { return r.pend[i].seq > m.since })
	if k == n {
		return true
	}
	if k%presenceChunk != 0 {
		end := min(k-k%presenceChunk+presenceChunk, n)
		if b.heads == nil {
			b.heads = make([]*Frame, n)
		}
		if b.heads[k] == nil {
			b.heads[k] = batchFrame(r, k, end)
		}
		if !m.Conn.Send(b.heads[k]) {
			return false
		}
		k = end
	}
	for ; k < n; k += presenceChunk {
		j := k / presenceChunk
		if b.runs == nil {
			b.runs = make([]*Frame, (n+presenceChunk-1)/presenceChunk)
		}
		if b.runs[j] == nil {
			b.runs[j] = batchFrame(r, k, min(k+presenceChunk, n))
		}
		if !m.Conn.Send(b.runs[j]) {
			return false
		}
	}
	return true
}

// batchFrame is the frame of r's waiting presence from to to: its single
// PresenceEvent, or a PresenceBatchEvent of them all with the count after
// the last.
func batchFrame(r *Room, from, to int) *Frame {
	if to-from == 1 {
		return r.pend[from].f
	}
	last, _ := r.pend[to-1].f.event.(PresenceEvent)
	count := last.Count
	changes := make([]PresenceChange, 0, to-from)
	size := 64
	for i := from; i < to; i++ {
		ev, _ := r.pend[i].f.event.(PresenceEvent)
		c := ev.change()
		changes = append(changes, c)
		size += len(c.User) + len(c.Role) + len(c.Display) + len(c.Avatar) + 64
	}
	out := make([]byte, 0, size)
	out = append(out, `{"type":"presence_batch","room":`...)
	out = strconv.AppendInt(out, r.id, 10)
	out = append(out, `,"count":`...)
	out = strconv.AppendInt(out, int64(count), 10)
	out = append(out, `,"events":`...)
	out = appendList(out, len(changes), func(b []byte, i int) []byte { return changes[i].appendJSON(b) })
	out = append(out, '}')
	return encodedFrame(PresenceBatchEvent{Type: "presence_batch", Room: r.id, Count: count, Events: changes}, out)
}

// presence sends a presence frame to r's members: at once when the group
// does not gather changes (Options.RoomListDelay negative), else with the
// next room list delta, or sooner when Options.PresenceBatch frames wait.
// The caller holds r.mu.
func (g *Group) presence(r *Room, f *Frame, slow []*Member) []*Member {
	if g.opts.RoomListDelay < 0 {
		return r.send(f, slow)
	}
	r.seq++
	r.pend = append(r.pend, pendingFrame{f: f, seq: r.seq})
	if len(r.pend) >= g.opts.PresenceBatch {
		slow = r.flushPresence(slow)
	}
	return slow
}

// lockRooms locks a and b (either may be nil or both the same) in id
// order, and returns the unlock.
func lockRooms(a, b *Room) func() {
	if a == nil || a == b {
		a, b = b, nil
	}
	if a == nil {
		return func() {}
	}
	if b != nil && b.id < a.id {
		a, b = b, a
	}
	a.mu.Lock()
	if b != nil {
		b.mu.Lock()
	}
	return func() {
		if b != nil {
			b.mu.Unlock()
		}
		a.mu.Unlock()
	}
}

// Options configures a Group.
type Options struct {
	Name            string
	History         int  // messages kept per room and shown on enter
	MaxMessageChars int  // longest message text
	Guests          bool // the group admits guests
	// ModeratorsSeeIP adds each member's address (MemberView.IP) to the
	// member list of the joined event a room's moderators and the
	// administrators get, and sends them a member_ip event for each member
	// who joins after them. Nobody else ever gets an address.
	ModeratorsSeeIP bool
	// SaveMessages, if set, stores public messages (in id order) before
	// any member gets them: the group commit of commit.go calls it, under
	// no lock, with everything said while the previous call ran, bounded
	// by SaveTimeout. When it fails the messages are not delivered and
	// their speakers' Say returns a not_saved error.
	SaveMessages func(ctx context.Context, msgs []Message) error
	// SaveTimeout bounds one SaveMessages call; DefaultSaveTimeout when 0.
	SaveTimeout time.Duration
	// MaxUnsaved is how many of one member's messages may wait to be saved
	// before its Say waits for its own; DefaultMaxUnsaved when 0.
	MaxUnsaved int
	// OnChange, if set, is called (synchronously, under no lock) after the
	// connections, the online users, the rooms or their members changed;
	// it must not block (core/status only schedules a rewrite).
	OnChange func()
	// Observe, if set, is told (synchronously, under no lock) that a
	// member joined or left a room (its own leave, a kick, a move, the
	// room removed), logged out, that a public message was delivered, or
	// that a room was created, changed or removed. It must not block.
	Observe func(sdk.Notification)
	// Sanctions, if set, answers whether a ban, mute or kick cooldown
	// applies; Login, Join, Say and Private enforce them.
	Sanctions Sanctions
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// RoomListDelay is how long changes of the room list (head counts,
	// rooms added, changed or removed) are gathered before they go out
	// to the logged-in users as one RoomsDeltaEvent;
	// DefaultRoomListDelay when 0, each change at once when negative.
	RoomListDelay time.Duration
	// PresenceBatch is how many presence frames of a room may wait for
	// the next room list delta before they are sent at once;
	// DefaultPresenceBatch when 0.
	PresenceBatch int
	// TimeZone is the IANA zone rooms' opening times are read in unless
	// a room names its own; UTC when empty or not a zone (core/config
	// refuses those).
	TimeZone string
	// DeltaWrites bounds what the deltas cost: each one is about one
	// write per logged-in user, so with more than RoomListDelay x
	// DeltaWrites users online the changes are gathered longer, users /
	// DeltaWrites seconds (at most MaxRoomListDelay). 0 keeps
	// RoomListDelay whatever the number of users.
	DeltaWrites int
	// Link, if set, makes the group one node of a cluster (see Link).
	Link Link
	// Slot is this node's slot (0 to MaxSlots-1) when Link is set: it
	// makes the ids of its messages unique in the cluster.
	Slot int
}

// Group is an independent chat community: its rooms, its online users and
// every connection to it. All methods are safe for concurrent use.
//
// Group.mu guards the maps; it is never held while frames are sent. What
// goes to a room's members is sent under that room's lock (see Room).
type Group struct {
	opts Options

	mu      sync.RWMutex
	rooms   map[int64]*Room
	users   map[string]*Member // by NameKey
	skels   map[string]int     // NameSkeleton of online users -> how many
	conns   map[Conn]struct{}  // every connection, logged in or not
	stopped bool

	lastID   atomic.Int64   // last message id
	commits  committer      // group commit of public messages (commit.go)
	messages atomic.Int64   // messages said since start in rooms removed since (see Room.said)
	list     roomList       // the room list's deltas (roomlist.go)
	clock    idClock        // message ids of a node of a cluster (remote.go)
	zone     *time.Location // Options.TimeZone
}

// NewGroup makes an empty group.
func NewGroup(opts Options) *Group {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Name == "" {
		opts.Name = DefaultGroup
	}
	if opts.SaveTimeout <= 0 {
		opts.SaveTimeout = DefaultSaveTimeout
	}
	if opts.MaxUnsaved <= 0 {
		opts.MaxUnsaved = DefaultMaxUnsaved
	}
	if opts.RoomListDelay == 0 {
		opts.RoomListDelay = DefaultRoomListDelay
	}
	if opts.PresenceBatch <= 0 {
		opts.PresenceBatch = DefaultPresenceBatch
	}
	zone := time.UTC
	if opts.TimeZone != "" {
		if loc, err := schedule.LoadZone(opts.TimeZone); err == nil {
			zone = loc
		}
	}
	return &Group{opts: opts, rooms: map[int64]*Room{}, users: map[string]*Member{}, skels: map[string]int{}, conns: map[Conn]struct{}{}, zone: zone}
}

// Name returns the group's name.
func (g *Group) Name() string { return g.opts.Name }

// GuestsAllowed reports whether the group admits guests.
func (g *Group) GuestsAllowed() bool { return g.opts.Guests }

// Counts returns the number of connections, logged-in users and rooms
// (of the whole cluster with a Link; the other nodes' connections as they
// last told).
func (g *Group) Counts() (conns, users, rooms int) {
	remote := g.remoteConns()
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.conns) + remote, len(g.users), len(g.rooms)
}

// MessagesSaid returns the number of public messages said since start.
func (g *Group) MessagesSaid() int64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.messages.Load()
	for _, r := range g.rooms {
		n += r.said.Load()
	}
	return n
}

// count counts n messages delivered in r (each room counts its own, so
// rooms share no counter); the caller holds r.mu.
func (g *Group) count(r *Room, n int64) {
	if r.removed {
		g.messages.Add(n)
		return
	}
	r.said.Add(n)
}

// Connect registers a connection (before login) so broadcasts reach it.
func (g *Group) Connect(c Conn) {
	g.mu.Lock()
	g.conns[c] = struct{}{}
	g.mu.Unlock()
	g.changed()
}

// Disconnect forgets a connection and logs its member out, if any.
func (g *Group) Disconnect(c Conn, m *Member) {
	if m != nil {
		g.Logout(m)
	}
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	g.changed()
}

var nameRE = regexp.MustCompile(`^[\p{L}\p{N}_.\- ]{1,32}$`)

// ValidName reports whether name is an acceptable user name: 1 to 32
// letters, digits, spaces, '_', '-' or '.', not starting or ending with a
// space. Letters are counted composed (NFC), so a decomposed "E\u0301"
// is the letter "É".
func ValidName(name string) bool {
	return nameRE.MatchString(norm.NFC.String(name)) && strings.TrimSpace(name) == name
}

// Login adds a member whose identity the auth pipeline has established. It
// fails when the user is banned from the chat (code banned), when the
// name is online already (by NameKey) and, for a guest, when the name
// looks like an online user's (by NameSkeleton). It cleans m.Avatar.
func (g *Group) Login(m *Member) (err error) {
	key := NameKey(m.Name)
	skel := NameSkeleton(m.Name)
	m.Avatar = CleanAvatar(m.Avatar)
	if s := g.Sanctioned(m, SanctionBan, 0); s != nil {
		return g.sanctionError(s, CodeBanned, "You are banned from this chat")
	}
	check := func() error {
		if g.stopped {
			return Errorf(CodeGroupStopped, "The chat is closed at the moment.")
		}
		if _, ok := g.users[key]; ok {
			return Errorf(CodeNameTaken, "The name %q is in use by someone online.", m.Name)
		}
		if m.Guest && g.skels[skel] > 0 {
			return Errorf(CodeNameConfusable, "The name %q looks like the name of someone online; choose another name.", m.Name)
		}
		return nil
	}
	if l := g.opts.Link; l != nil {
		// The name is taken for the cluster first (a network round trip,
		// under no lock), then checked again here.
		g.mu.RLock()
		err := check()
		g.mu.RUnlock()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.opts.SaveTimeout)
		err = l.Claim(ctx, m)
		cancel()
		if err != nil {
			return err
		}
	}
	g.mu.Lock()
	if err := check(); err != nil {
		g.mu.Unlock()
		if g.opts.Link != nil {
			g.opts.Link.Unclaim(m)
		}
		return err
	}
	g.users[key] = m
	g.skels[skel]++
	g.mu.Unlock()
	m.seat.Lock()
	g.tellMember(m, 0, true)
	m.seat.Unlock()
	g.changed()
	return nil
}

// Logout removes a member from its room and from the online users.
func (g *Group) Logout(m *Member) {
	m.seat.Lock()
	wasOnline, r, slow := g.offline(m)
	if wasOnline {
		g.tellMember(m, 0, false)
	}
	m.seat.Unlock()
	g.drop(slow)
	if wasOnline && g.opts.Link != nil && !m.IsRemote() {
		g.opts.Link.Unclaim(m)
	}
	if r != nil {
		g.observe(sdk.Left, m.Name, r.id, nil)
		g.roomCountChanged(r.id)
	}
	if wasOnline {
		g.observe(sdk.LoggedOut, m.Name, 0, nil)
	}
	g.changed()
}

// offline takes m out of the online users and out of its room, with a
// presence leave to the others; the caller holds m.seat and drops slow.
// It returns whether m was online and the room it was in (nil: none).
func (g *Group) offline(m *Member) (wasOnline bool, r *Room, slow []*Member) {
	g.mu.Lock()
	if key := NameKey(m.Name); g.users[key] == m {
		wasOnline = true
		delete(g.users, key)
		skel := NameSkeleton(m.Name)
		if g.skels[skel]--; g.skels[skel] <= 0 {
			delete(g.skels, skel)
		}
	}
	g.mu.Unlock()
	r = m.room.Load()
	if r != nil {
		r.mu.Lock()
		r.remove(m)
		m.room.Store(nil)
		if !r.removed {
			slow = g.presence(r, NewFrame(PresenceEvent{Type: "presence", Room: r.id, User: m.Name, Event: "leave", Count: r.count(), Offline: true}), nil)
		}
		r.mu.Unlock()
	}
	return wasOnline, r, slow
}

// Online returns the member logged in under name, if any.
func (g *Group) Online(name string) (*Member, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	m, ok := g.users[NameKey(name)]
	return m, ok
}

// Everyone returns the logged-in members, in no order.
func (g *Group) Everyone() []*Member {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*Member, 0, len(g.users))
	for _, m := range g.users {
		out = append(out, m)
	}
	return out
}

// Rooms returns the room list with head counts, ordered by id.
func (g *Group) Rooms() []RoomView {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.roomsLocked()
}

func (g *Group) roomsLocked() []RoomView {
	out := make([]RoomView, 0, len(g.rooms))
	for _, r := range g.rooms {
		out = append(out, r.view())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RoomInfo returns a room's definition.
func (g *Group) RoomInfo(id int64) (RoomInfo, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	r, ok := g.rooms[id]
	if !ok {
		return RoomInfo{}, false
	}
	return r.info, true
}

// Room returns a room as modules see it, with its head count.
func (g *Group) Room(id int64) (sdk.Room, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	r, ok := g.rooms[id]
	if !ok {
		return sdk.Room{}, false
	}
	return r.info.SDK(r.count(), r.loc.String()), true
}

// room returns a room and its definition.
func (g *Group) room(id int64) (*Room, RoomInfo, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	r, ok := g.rooms[id]
	if !ok {
		return nil, RoomInfo{}, Errorf(CodeNoSuchRoom, "There is no room %d.", id)
	}
	return r, r.info, nil
}

// roomZone returns a room, its definition and the zone of its times.
func (g *Group) roomZone(id int64) (*Room, RoomInfo, *time.Location, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	r, ok := g.rooms[id]
	if !ok {
		return nil, RoomInfo{}, nil, Errorf(CodeNoSuchRoom, "There is no room %d.", id)
	}
	return r, r.info, r.loc, nil
}

// Users returns the names of a room's members in join order.
func (g *Group) Users(roomID int64) ([]string, error) {
	r, _, err := g.room(roomID)
	if err != nil {
		return nil, err
	}
	return names(r.list()), nil
}

// Members returns a room's members in join order with their roles in
// the room and their addresses (for the Host API; clients never get IP
// from it).
func (g *Group) Members(roomID int64) ([]MemberView, error) {
	r, info, err := g.room(roomID)
	if err != nil {
		return nil, err
	}
	list := r.list()
	out := views(list, info)
	for i, m := range list {
		out[i].IP = m.IP
		out[i].Display = m.Display // plugins get it whole, as before
	}
	return out, nil
}

// PutRoom adds a room or replaces the definition of an existing one
// (members stay), with the given recent history when the room is new, and
// tells logged-in users.
func (g *Group) PutRoom(info RoomInfo, history []Message) {
	g.mu.Lock()
	info.Group = g.opts.Name
	if len(info.Schedule) == 0 {
		info.Sched = ScheduleState{}
	}
	r, ok := g.rooms[info.ID]
	if ok {
		r.info = info
	} else {
		if len(history) > g.opts.History {
			history = history[len(history)-g.opts.History:]
		}
		r = newRoom(info, append([]Message(nil), history...))
		g.rooms[info.ID] = r
		for _, m := range history {
			g.SetLastMessageID(m.ID)
		}
	}
	r.loc = g.zoneOf(info)
	r.closed.Store(info.Sched.Closed)
	g.mu.Unlock()
	g.observe(sdk.RoomChanged, "", info.ID, nil)
	g.roomChanged(info.ID)
	g.changed()
}

// RemoveRoom deletes a room; its members are moved out of it and told.
func (g *Group) RemoveRoom(id int64) error {
	g.mu.Lock()
	r, ok := g.rooms[id]
	if !ok {
		g.mu.Unlock()
		return Errorf(CodeNoSuchRoom, "There is no room %d.", id)
	}
	delete(g.rooms, id)
	name := r.info.Name
	g.mu.Unlock()
	r.mu.Lock()
	r.removed = true
	clear(r.pend) // its members leave it: presence in it no longer matters
	r.pend = nil
	g.messages.Add(r.said.Swap(0))
	members := r.list()
	r.mu.Unlock()
	notice := NewFrame(NoticeEvent{Type: "notice", Text: "The room " + name + " has been removed."})
	left := NewFrame(LeftEvent{Type: "left", Room: id, Reason: ReasonRoomRemoved})
	var slow, gone []*Member
	for _, m := range members {
		m.seat.Lock()
		if m.room.Load() == r {
			r.mu.Lock()
			r.remove(m)
			m.room.Store(nil)
			r.mu.Unlock()
			gone = append(gone, m)
			if !m.Conn.Send(notice) || !m.Conn.Send(left) {
				slow = append(slow, m)
			}
			g.tellMember(m, 0, true)
		}
		m.seat.Unlock()
	}
	g.drop(slow)
	for _, m := range gone {
		if !m.IsRemote() {
			g.observe(sdk.Left, m.Name, id, nil)
		}
	}
	g.observe(sdk.RoomChanged, "", id, nil)
	g.roomChanged(id)
	g.changed()
	return nil
}

// Reasons of a LeftEvent that was not the member's own leave.
const (
	ReasonRoomRemoved = "room removed"
	ReasonMoved       = "moved"
	ReasonKicked      = "kicked" // when the moderator gave no reason
)

// SetLastMessageID makes new messages get ids above id (the store's last).
func (g *Group) SetLastMessageID(id int64) {
	for {
		cur := g.lastID.Load()
		if id <= cur || g.lastID.CompareAndSwap(cur, id) {
			return
		}
	}
}

// Join puts m into a room, leaving the room it was in. Administrators pass
// the capacity, password and closed-room checks. A ban of the room or of
// the chat refuses the join (code banned), and so does a kick cooldown
// (code kicked, with the time left as RetryAfter).
func (g *Group) Join(m *Member, roomID int64, password string) (JoinedEvent, error) {
	return g.join(m, roomID, password, joinHow{values: true})
}

// Enter is Join for a client's request: the joined event, answering
// requestID, goes to m's connection under the room's lock, so it comes
// after the presence of every member it lists and before the presence of
// anyone who joins later. A client that replaces its user list with the
// joined event's misses nobody.
func (g *Group) Enter(m *Member, roomID int64, password, requestID string) error {
	_, err := g.join(m, roomID, password, joinHow{answer: true, id: requestID})
	return err
}

// joinHow says how join treats the member.
type joinHow struct {
	// force (a moderator's move) passes the capacity, password,
	// closed-room and sanction checks but not the registered-users rule,
	// and sends m a left event for the room it was in and the joined
	// event.
	force bool
	// answer sends m the joined event answering the request id.
	answer bool
	id     string
	// values fills the returned event's Users and Members.
	values bool
}

// join is Join, Enter and a moderator's move (see joinHow).
func (g *Group) join(m *Member, roomID int64, password string, how joinHow) (JoinedEvent, error) {
	force := how.force
	m.seat.Lock()
	r, info, loc, err := g.roomZone(roomID)
	if err != nil {
		m.seat.Unlock()
		return JoinedEvent{}, err
	}
	old := m.room.Load()
	if old != r && !force {
		if err := g.joinSanctions(m, roomID); err != nil {
			m.seat.Unlock()
			return JoinedEvent{}, err
		}
	}
	if old != r && g.opts.Link != nil && !m.IsRemote() {
		ctx, cancel := context.WithTimeout(context.Background(), g.opts.SaveTimeout)
		g.opts.Link.Entering(ctx, roomID)
		cancel()
	}
	unlock := lockRooms(old, r)
	if r.removed {
		unlock()
		m.seat.Unlock()
		return JoinedEvent{}, Errorf(CodeNoSuchRoom, "There is no room %d.", roomID)
	}
	if err := admit(r, info, m, password, force, loc); err != nil {
		unlock()
		m.seat.Unlock()
		return JoinedEvent{}, err
	}
	var slow []*Member
	moved := old != r
	if moved && old != nil {
		old.remove(m)
		if !old.removed {
			slow = g.presence(old, NewFrame(PresenceEvent{Type: "presence", Room: old.id, User: m.Name, Event: "leave", Count: old.count()}), slow)
		}
	}
	if moved {
		m.room.Store(r)
		r.add(m)
		v := m.view(info)
		f := NewFrame(PresenceEvent{Type: "presence", Room: r.id, User: m.Name, Event: "join", Count: r.count(),
			Role: v.Role, Display: v.Display, Avatar: v.Avatar})
		// m knows everyone the joined event lists, and gets its own
		// presence now, before joined; the others get it with the
		// room's next presence.
		m.since = r.seq + 1
		slow = g.presence(r, f, slow)
		if g.opts.RoomListDelay >= 0 && !m.Conn.Send(f) {
			slow = append(slow, m)
		}
	}
	members := r.list()
	// The frame encodes the users and members from the list; the value
	// Join returns has them as Go values.
	ev := JoinedEvent{
		Type: "joined", Room: roomView(info, len(members), loc),
		History: r.history(), Welcome: info.Welcome, ID: how.id,
		list: &memberList{members: members, info: info, ips: g.seesIP(m, info)},
	}
	if !ev.list.ips {
		ev.list.cache = &r.lists
	}
	if b, err := r.encodedHistory(); err == nil {
		ev.historyJSON = b
	}
	if moved && g.opts.ModeratorsSeeIP && m.IP != "" {
		ipf := NewFrame(MemberIPEvent{Type: "member_ip", Room: r.id, User: m.Name, IP: m.IP})
		for _, o := range members {
			if o != m && g.seesIP(o, info) && !o.Conn.Send(ipf) {
				slow = append(slow, o)
			}
		}
	}
	if force {
		// A moved member learns it before the new room's next message.
		if moved && old != nil && !m.Conn.Send(NewFrame(LeftEvent{Type: "left", Room: old.id, Reason: ReasonMoved})) ||
			!m.Conn.Send(NewFrame(ev)) {
			slow = append(slow, m)
		}
	} else if how.answer && !m.Conn.Send(NewFrame(ev)) {
		slow = append(slow, m)
	}
	unlock()
	if moved {
		g.tellMember(m, r.id, true)
	}
	m.seat.Unlock()
	g.drop(slow)
	if how.values {
		ev.Users, ev.Members = ev.list.values()
		ev.list = nil
	}
	ev.historyJSON = nil // the value returned is encoded from its fields
	if moved {
		if old != nil {
			g.observe(sdk.Left, m.Name, old.id, nil)
			g.roomCountChanged(old.id)
		}
		g.observe(sdk.Joined, m.Name, r.id, nil)
		g.roomCountChanged(r.id)
	}
	g.changed()
	return ev, nil
}

// admit checks whether m may enter r (whose lock the caller holds); loc
// is the zone of r's times.
func admit(r *Room, i RoomInfo, m *Member, password string, force bool, loc *time.Location) error {
	if m.room.Load() == r {
		return nil
	}
	if m.Guest && !i.Member {
		return Errorf(CodeMembersOnly, "The room %q is for registered users only.", i.Name)
	}
	if m.Admin || force {
		return nil
	}
	if !i.Open {
		return Errorf(CodeRoomClosed, "The room %q is closed.", i.Name)
	}
	if i.Sched.Closed {
		return Errorf(CodeRoomClosed, "The room %q is closed%s.", i.Name, i.Sched.until(loc, "; it opens at "))
	}
	if n := r.count(); i.Max > 0 && n >= i.Max {
		return Errorf(CodeRoomFull, "The room %q is full (%d of %d).", i.Name, n, i.Max)
	}
	if i.Password != "" && subtle.ConstantTimeCompare([]byte(i.Password), []byte(password)) != 1 {
		if password == "" {
			return Errorf(CodeRoomPassword, "The room %q needs a password.", i.Name)
		}
		return Errorf(CodeRoomPassword, "Wrong password for the room %q.", i.Name)
	}
	return nil
}

// Leave takes m out of its room, if any, and returns the room id it left.
func (g *Group) Leave(m *Member) int64 {
	r, _ := g.takeOut(m, 0, nil)
	if r == nil {
		return 0
	}
	return r.id
}

// takeOut takes m out of its room (when roomID is not 0, only out of that
// room) with a presence leave to the others, and sends m the frames of
// tell; it returns the room, or nil when m was not in one (or not in
// roomID).
func (g *Group) takeOut(m *Member, roomID int64, tell func(r *Room) []*Frame) (*Room, []*Member) {
	m.seat.Lock()
	r := m.room.Load()
	if r == nil || (roomID != 0 && r.id != roomID) {
		m.seat.Unlock()
		return nil, nil
	}
	r.mu.Lock()
	r.remove(m)
	m.room.Store(nil)
	var slow []*Member
	if !r.removed {
		slow = g.presence(r, NewFrame(PresenceEvent{Type: "presence", Room: r.id, User: m.Name, Event: "leave", Count: r.count()}), nil)
	}
	r.mu.Unlock()
	if tell != nil {
		for _, f := range tell(r) {
			if !m.Conn.Send(f) {
				slow = append(slow, m)
				break
			}
		}
	}
	g.tellMember(m, 0, true)
	m.seat.Unlock()
	g.drop(slow)
	g.observe(sdk.Left, m.Name, r.id, nil)
	g.roomCountChanged(r.id)
	g.changed()
	return r, slow
}

// CleanText validates a message text: trimmed, not empty, not too long.
func (g *Group) CleanText(text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", Errorf(CodeEmpty, "The message is empty.")
	}
	if n := utf8.RuneCountInString(text); n > g.opts.MaxMessageChars {
		return "", Errorf(CodeTooLong, "The message is too long (%d characters, at most %d).", n, g.opts.MaxMessageChars)
	}
	return text, nil
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// CleanStyle drops a color that is not #rrggbb.
func CleanStyle(s Style) Style {
	if !colorRE.MatchString(s.Color) {
		s.Color = ""
	}
	s.Color = strings.ToLower(s.Color)
	return s
}

// Say publishes a public message from m to the room m is in, with an
// emoticon (CleanEmotion; anything else is dropped). A mute of the room
// or of the chat refuses it (code muted). The message is saved
// (Options.SaveMessages, with whatever else was said meanwhile) before
// any member gets it, and delivered in id order; the frame is encoded
// once and the same bytes go to every member.
//
// With a store, Say returns once the message is numbered and queued,
// unless m has Options.MaxUnsaved messages waiting to be saved: it then returns
// once its own is saved, or with a not_saved error. A queued message that
// cannot be saved is delivered to nobody, and m gets an error event with
// code not_saved naming it. Without a store, Say returns after delivery.
func (g *Group) Say(m *Member, text string, style Style, emotion string) (Message, error) {
	return g.say(m, text, style, emotion, waitBehind)
}

// Post is Say that never waits for the store: for a caller that must not
// block (the goroutine reading a module's answers), which bounds the
// member's unsaved messages itself with CatchUp before it lets the
// member say more.
func (g *Group) Post(m *Member, text string, style Style, emotion string) (Message, error) {
	return g.say(m, text, style, emotion, waitNever)
}

// say is Say and Post, whose wait mode says when it returns.
func (g *Group) say(m *Member, text string, style Style, emotion string, mode waitMode) (Message, error) {
	text, err := g.CleanText(text)
	if err != nil {
		return Message{}, err
	}
	r := m.room.Load()
	if r == nil {
		return Message{}, Errorf(CodeNotInRoom, "Join a room before you speak.")
	}
	if err := g.Muted(m, r.id); err != nil {
		return Message{}, err
	}
	if r.closed.Load() && !m.Admin {
		return Message{}, g.closedToWriters(r)
	}
	return g.publish(r, m, Message{
		Group: g.opts.Name, RoomID: r.id, From: m.Name,
		Text: text, Style: CleanStyle(style), Emotion: CleanEmotion(emotion),
	}, mode)
}

// CatchUp returns once the store has caught up with m, so that m has at
// most Options.MaxUnsaved messages waiting to be saved (at once when it
// has), or when ctx ends: the wait Say makes when a member gets ahead of
// the store, for messages said with Post.
func (g *Group) CatchUp(ctx context.Context, m *Member) error {
	if g.opts.SaveMessages == nil {
		return nil
	}
	g.commits.mu.Lock()
	var b *commitBatch
	if m.unsaved > g.opts.MaxUnsaved {
		b = m.lastBatch
	}
	g.commits.mu.Unlock()
	if b == nil {
		return nil
	}
	select {
	case <-b.delivered:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitMode says when publish returns.
type waitMode int

const (
	waitBehind waitMode = iota // once delivered when the member has too many unsaved (Say)
	waitAlways                 // once delivered, or failed to be saved
	waitNever                  // at once (Post)
)

// publish numbers msg and delivers it to r (see Say); mode says whether
// it returns only once msg is delivered, or failed to be saved.
func (g *Group) publish(r *Room, m *Member, msg Message, mode waitMode) (Message, error) {
	if g.opts.SaveMessages == nil {
		return g.fanout(r, msg), nil
	}
	b, msg, start, waits := g.commits.queue(g, r, m, msg, mode)
	if start {
		go g.commits.saveLoop(g)
	}
	if waits {
		<-b.delivered
		if b.err != nil {
			return Message{}, b.err
		}
	}
	return msg, nil
}

// fanout numbers msg and delivers it to r at once (no store): numbering
// under r's lock keeps the room's ids increasing in delivery order.
func (g *Group) fanout(r *Room, msg Message) Message {
	r.mu.Lock()
	msg.ID = g.nextID()
	if msg.Time.IsZero() { // SayAt may give the time
		msg.Time = g.opts.Now().UTC()
	}
	g.keep(r, msg)
	f := newMessageFrame(&msg)
	slow := r.send(f, nil)
	g.count(r, 1)
	r.mu.Unlock()
	g.drop(slow)
	if g.opts.Link != nil {
		g.opts.Link.Delivered(&msg, f)
	}
	if g.opts.Observe != nil {
		g.observe(sdk.Delivered, msg.From, msg.RoomID, &msg)
	}
	return msg
}

// remember keeps msg in r's recent history; the caller holds r.mu.
func (g *Group) remember(r *Room, msg Message) {
	if g.opts.History == 0 {
		return
	}
	r.historyJSON = nil
	if len(r.recent) >= g.opts.History {
		r.recent[r.oldest] = msg
		r.oldest = (r.oldest + 1) % len(r.recent)
		return
	}
	r.recent = append(r.recent, msg)
}

// encodedHistory returns r's recent messages, oldest first, as JSON
// (what json.Marshal gives for history), encoded once until they change:
// every joiner of a busy room gets the same; the caller holds r.mu.
func (r *Room) encodedHistory() ([]byte, error) {
	if r.historyJSON == nil {
		b, err := json.Marshal(r.history())
		if err != nil {
			return nil, err
		}
		r.historyJSON = b
	}
	return r.historyJSON, nil
}

// history returns a copy of r's recent messages, oldest first; the
// caller holds r.mu.
func (r *Room) history() []Message {
	out := make([]Message, 0, len(r.recent))
	out = append(out, r.recent[r.oldest:]...)
	return append(out, r.recent[:r.oldest]...)
}

// Private sends a private message from m to the user named to, with an
// emoticon (CleanEmotion); the sender gets the same event back. A mute of
// the chat refuses it (code muted).
func (g *Group) Private(m *Member, to, text string, style Style, emotion string) error {
	if err := g.Muted(m, 0); err != nil {
		return err
	}
	return g.private(m.Name, m, to, text, style, emotion)
}

// private delivers a private message to the user logged in as to, and
// echoes it to echo (the sending member) when that is someone else.
func (g *Group) private(from string, echo *Member, to, text string, style Style, emotion string) error {
	text, err := g.CleanText(text)
	if err != nil {
		return err
	}
	dest, ok := g.Online(to)
	if !ok {
		return Errorf(CodeNotOnline, "%s is not online.", to)
	}
	f := NewFrame(PrivateEvent{Type: "private", From: from, To: dest.Name, Text: text, Style: CleanStyle(style),
		Emotion: CleanEmotion(emotion), Time: g.opts.Now().UTC()})
	var slow []*Member
	if !g.send(dest, f) {
		slow = append(slow, dest)
	}
	if echo != nil && echo != dest && !g.send(echo, f) {
		slow = append(slow, echo)
	}
	g.drop(slow)
	return nil
}

// Broadcast sends a notice to every connection of the group, logged in or
// not, and returns how many it reached.
func (g *Group) Broadcast(text string) int {
	return g.BroadcastFrom("", text)
}

// onlineUsers returns the logged-in members that keep (nil: all).
func (g *Group) onlineUsers(keep func(*Member) bool) []*Member {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*Member, 0, len(g.users))
	for _, m := range g.users {
		if keep == nil || keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// sendMembers sends f to each of ms (under no lock), drops those that
// cannot keep up, and returns how many it reached.
func (g *Group) sendMembers(f *Frame, ms []*Member) int {
	var slow []*Member
	for _, m := range ms {
		if !g.send(m, f) {
			slow = append(slow, m)
		}
	}
	g.drop(slow)
	return len(ms) - len(slow)
}

// drop closes the connections of members that could not keep up. The
// transport's close path calls Disconnect, which logs them out.
func (g *Group) drop(slow []*Member) {
	for _, m := range slow {
		m.Conn.Close(ReasonSlowConsumer)
	}
}

// observe tells Options.Observe, if any; callers hold no lock.
func (g *Group) observe(kind sdk.NotificationKind, user string, room int64, msg *Message) {
	if g.opts.Observe == nil {
		return
	}
	n := sdk.Notification{Kind: kind, User: user, Room: room, Time: g.opts.Now().UTC()}
	if msg != nil {
		m := msg.SDK()
		n.Message = &m
	}
	g.opts.Observe(n)
}

// CloseAll closes every connection of the group (server shutdown).
func (g *Group) CloseAll(reason string) {
	g.mu.RLock()
	conns := make([]Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.RUnlock()
	for _, c := range conns {
		c.Close(reason)
	}
}
