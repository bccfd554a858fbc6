package chat

import (
	"context"
	"crypto/subtle"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Member is a logged-in user on one connection.
type Member struct {
	Name    string // login name, unique in the group (by NameKey)
	Display string // shown name; the login name when empty
	Admin   bool
	Guest   bool
	// IP is the remote address the member logged in from.
	IP string
	// Avatar is an http(s) URL or a built-in picture "e1".."e32"; empty
	// for none.
	Avatar string
	Conn   Conn

	room    *Room // guarded by Group.mu
	unsaved int   // messages said but not saved yet; guarded by Group.commits.mu
}

// Room is a room of a group with its members and recent history.
type Room struct {
	info    RoomInfo
	members []*Member // in join order
	recent  []Message // last History messages, oldest first
}

func (r *Room) view() RoomView {
	i := r.info
	return RoomView{
		ID: i.ID, Name: i.Name, Desc: i.Desc, Owner: i.Owner, Count: len(r.members), Max: i.Max,
		Locked: i.Password != "", Open: i.Open, Guests: i.Member, ST: i.ST,
		Audio: i.Audio, Video: i.Video, WB: i.Whiteboard,
	}
}

func (r *Room) names() []string {
	out := make([]string, len(r.members))
	for i, m := range r.members {
		out[i] = m.Name
	}
	return out
}

func (r *Room) remove(m *Member) {
	for i, x := range r.members {
		if x == m {
			r.members = append(r.members[:i], r.members[i+1:]...)
			return
		}
	}
}

// send delivers f to every member of r; members whose queue is full are
// returned so the caller can drop them outside the loop.
func (r *Room) send(f *Frame, slow []*Member) []*Member {
	for _, m := range r.members {
		if !m.Conn.Send(f) {
			slow = append(slow, m)
		}
	}
	return slow
}

// Options configures a Group.
type Options struct {
	Name            string
	History         int  // messages kept per room and shown on enter
	MaxMessageChars int  // longest message text
	Guests          bool // the group admits guests
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
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Group is an independent chat community: its rooms, its online users and
// every connection to it. All methods are safe for concurrent use.
type Group struct {
	opts Options

	mu      sync.RWMutex
	rooms   map[int64]*Room
	users   map[string]*Member // by NameKey
	skels   map[string]int     // NameSkeleton of online users -> how many
	conns   map[Conn]struct{}  // every connection, logged in or not
	stopped bool

	lastID     atomic.Int64 // last message id
	commits    committer    // group commit of public messages (commit.go)
	messages   atomic.Int64 // messages said since start
	roomsDirty atomic.Bool  // a room list push is scheduled
}

// roomsPushDelay coalesces room list pushes: a burst of joins sends the
// list once, not once per join to every user.
const roomsPushDelay = 200 * time.Millisecond

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
	return &Group{opts: opts, rooms: map[int64]*Room{}, users: map[string]*Member{}, skels: map[string]int{}, conns: map[Conn]struct{}{}}
}

// Name returns the group's name.
func (g *Group) Name() string { return g.opts.Name }

// GuestsAllowed reports whether the group admits guests.
func (g *Group) GuestsAllowed() bool { return g.opts.Guests }

// Counts returns the number of connections, logged-in users and rooms.
func (g *Group) Counts() (conns, users, rooms int) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.conns), len(g.users), len(g.rooms)
}

// MessagesSaid returns the number of public messages said since start.
func (g *Group) MessagesSaid() int64 { return g.messages.Load() }

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
// fails when the name is online already (by NameKey) and, for a guest,
// when the name looks like an online user's (by NameSkeleton).
func (g *Group) Login(m *Member) (err error) {
	key := NameKey(m.Name)
	skel := NameSkeleton(m.Name)
	defer func() {
		if err == nil {
			g.changed() // after the unlock below
		}
	}()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return Errorf(CodeGroupStopped, "The chat is closed at the moment.")
	}
	if _, ok := g.users[key]; ok {
		return Errorf(CodeNameTaken, "The name %q is in use by someone online.", m.Name)
	}
	if m.Guest && g.skels[skel] > 0 {
		return Errorf(CodeNameConfusable, "The name %q looks like the name of someone online; choose another name.", m.Name)
	}
	g.users[key] = m
	g.skels[skel]++
	return nil
}

// Logout removes a member from its room and from the online users.
func (g *Group) Logout(m *Member) {
	g.mu.Lock()
	r := m.room
	if r != nil {
		r.remove(m)
		m.room = nil
	}
	if key := NameKey(m.Name); g.users[key] == m {
		delete(g.users, key)
		skel := NameSkeleton(m.Name)
		if g.skels[skel]--; g.skels[skel] <= 0 {
			delete(g.skels, skel)
		}
	}
	var slow []*Member
	if r != nil {
		slow = r.send(NewFrame(PresenceEvent{Type: "presence", Room: r.info.ID, User: m.Name, Event: "leave", Count: len(r.members), Offline: true}), nil)
	}
	g.mu.Unlock()
	g.drop(slow)
	if r != nil {
		g.pushRooms()
	}
	g.changed()
}

// Online returns the member logged in under name, if any.
func (g *Group) Online(name string) (*Member, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	m, ok := g.users[NameKey(name)]
	return m, ok
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

// Users returns the names of a room's members in join order.
func (g *Group) Users(roomID int64) ([]string, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	r, ok := g.rooms[roomID]
	if !ok {
		return nil, Errorf(CodeNoSuchRoom, "There is no room %d.", roomID)
	}
	return r.names(), nil
}

// PutRoom adds a room or replaces the definition of an existing one
// (members stay), with the given recent history when the room is new, and
// tells logged-in users.
func (g *Group) PutRoom(info RoomInfo, history []Message) {
	g.mu.Lock()
	info.Group = g.opts.Name
	if r, ok := g.rooms[info.ID]; ok {
		r.info = info
	} else {
		if len(history) > g.opts.History {
			history = history[len(history)-g.opts.History:]
		}
		g.rooms[info.ID] = &Room{info: info, recent: append([]Message(nil), history...)}
		for _, m := range history {
			if m.ID > g.lastID.Load() {
				g.lastID.Store(m.ID)
			}
		}
	}
	g.mu.Unlock()
	g.pushRooms()
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
	f := NewFrame(NoticeEvent{Type: "notice", Text: "The room " + r.info.Name + " has been removed."})
	left := NewFrame(map[string]any{"type": "left", "room": id})
	var slow []*Member
	for _, m := range r.members {
		m.room = nil
		if !m.Conn.Send(f) || !m.Conn.Send(left) {
			slow = append(slow, m)
		}
	}
	r.members = nil
	g.mu.Unlock()
	g.drop(slow)
	g.pushRooms()
	g.changed()
	return nil
}

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
// the capacity, password and closed-room checks.
func (g *Group) Join(m *Member, roomID int64, password string) (JoinedEvent, error) {
	g.mu.Lock()
	r, ok := g.rooms[roomID]
	if !ok {
		g.mu.Unlock()
		return JoinedEvent{}, Errorf(CodeNoSuchRoom, "There is no room %d.", roomID)
	}
	if err := admit(r, m, password); err != nil {
		g.mu.Unlock()
		return JoinedEvent{}, err
	}
	var slow []*Member
	if old := m.room; old != nil && old != r {
		old.remove(m)
		slow = old.send(NewFrame(PresenceEvent{Type: "presence", Room: old.info.ID, User: m.Name, Event: "leave", Count: len(old.members)}), slow)
	}
	if m.room != r {
		m.room = r
		r.members = append(r.members, m)
		slow = r.send(NewFrame(PresenceEvent{Type: "presence", Room: r.info.ID, User: m.Name, Event: "join", Count: len(r.members)}), slow)
	}
	ev := JoinedEvent{
		Type: "joined", Room: r.view(), Users: r.names(),
		History: append([]Message{}, r.recent...), Welcome: r.info.Welcome,
	}
	g.mu.Unlock()
	g.drop(slow)
	g.pushRooms()
	g.changed()
	return ev, nil
}

func admit(r *Room, m *Member, password string) error {
	i := r.info
	if m.room == r {
		return nil
	}
	if m.Guest && !i.Member {
		return Errorf(CodeMembersOnly, "The room %q is for registered users only.", i.Name)
	}
	if m.Admin {
		return nil
	}
	if !i.Open {
		return Errorf(CodeRoomClosed, "The room %q is closed.", i.Name)
	}
	if i.Max > 0 && len(r.members) >= i.Max {
		return Errorf(CodeRoomFull, "The room %q is full (%d of %d).", i.Name, len(r.members), i.Max)
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
	g.mu.Lock()
	r := m.room
	if r == nil {
		g.mu.Unlock()
		return 0
	}
	r.remove(m)
	m.room = nil
	slow := r.send(NewFrame(PresenceEvent{Type: "presence", Room: r.info.ID, User: m.Name, Event: "leave", Count: len(r.members)}), nil)
	g.mu.Unlock()
	g.drop(slow)
	g.pushRooms()
	g.changed()
	return r.info.ID
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

// Say publishes a public message from m to the room m is in. The message
// is saved (Options.SaveMessages, with whatever else was said meanwhile)
// before any member gets it, and delivered in id order; the frame is
// encoded once and the same bytes go to every member.
//
// With a store, Say returns once the message is numbered and queued,
// unless m has Options.MaxUnsaved messages waiting to be saved: it then returns
// once its own is saved, or with a not_saved error. A queued message that
// cannot be saved is delivered to nobody, and m gets an error event with
// code not_saved naming it. Without a store, Say returns after delivery.
func (g *Group) Say(m *Member, text string, style Style) (Message, error) {
	text, err := g.CleanText(text)
	if err != nil {
		return Message{}, err
	}
	g.mu.RLock()
	r := m.room
	var roomID int64
	if r != nil {
		roomID = r.info.ID
	}
	g.mu.RUnlock()
	if r == nil {
		return Message{}, Errorf(CodeNotInRoom, "Join a room before you speak.")
	}
	b, msg, start, wait := g.commits.queue(g, r, m, Message{
		Group: g.opts.Name, RoomID: roomID, From: m.Name,
		Text: text, Style: CleanStyle(style),
	})
	switch {
	case start && g.opts.SaveMessages == nil:
		g.commits.lead(g)
	case start:
		go g.commits.saveLoop(g)
	}
	if wait {
		<-b.done
		if b.err != nil {
			return Message{}, b.err
		}
	}
	return msg, nil
}

func (g *Group) remember(r *Room, msg Message) {
	if g.opts.History == 0 {
		return
	}
	if len(r.recent) >= g.opts.History {
		copy(r.recent, r.recent[1:])
		r.recent[len(r.recent)-1] = msg
		return
	}
	r.recent = append(r.recent, msg)
}

// Private sends a private message from m to the user named to; the sender
// gets the same event back.
func (g *Group) Private(m *Member, to, text string, style Style) error {
	return g.private(m.Name, m, to, text, style)
}

// private delivers a private message to the user logged in as to, and
// echoes it to echo (the sending member) when that is someone else.
func (g *Group) private(from string, echo *Member, to, text string, style Style) error {
	text, err := g.CleanText(text)
	if err != nil {
		return err
	}
	dest, ok := g.Online(to)
	if !ok {
		return Errorf(CodeNotOnline, "%s is not online.", to)
	}
	f := NewFrame(PrivateEvent{Type: "private", From: from, To: dest.Name, Text: text, Style: CleanStyle(style), Time: g.opts.Now().UTC()})
	var slow []*Member
	if !dest.Conn.Send(f) {
		slow = append(slow, dest)
	}
	if echo != nil && echo != dest && !echo.Conn.Send(f) {
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

// pushRooms schedules one push of the room list to every logged-in member.
func (g *Group) pushRooms() {
	if g.roomsDirty.CompareAndSwap(false, true) {
		time.AfterFunc(roomsPushDelay, g.pushRoomsNow)
	}
}

func (g *Group) pushRoomsNow() {
	g.roomsDirty.Store(false)
	g.mu.RLock()
	f := NewFrame(RoomsEvent{Type: "rooms", Rooms: g.roomsLocked()})
	var slow []*Member
	for _, m := range g.users {
		if !m.Conn.Send(f) {
			slow = append(slow, m)
		}
	}
	g.mu.RUnlock()
	g.drop(slow)
}

// drop closes the connections of members that could not keep up. The
// transport's close path calls Disconnect, which logs them out.
func (g *Group) drop(slow []*Member) {
	for _, m := range slow {
		m.Conn.Close(ReasonSlowConsumer)
	}
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
