package chat

import "sort"

// Snapshot is a consistent view of a group's occupancy at one moment.
type Snapshot struct {
	Conns int         // connections, logged in or not
	Users int         // logged-in users
	Rooms []RoomUsers // every room, ordered by id
}

// RoomUsers is a room and the login names of its members in join order.
type RoomUsers struct {
	ID    int64
	Name  string
	Users []string
}

// Snapshot returns the connections, users and rooms with their members,
// read under the group's lock (each room's member list as it is at that
// moment).
func (g *Group) Snapshot() Snapshot {
	remote := g.remoteConns()
	g.mu.RLock()
	defer g.mu.RUnlock()
	s := Snapshot{Conns: len(g.conns) + remote, Users: len(g.users), Rooms: make([]RoomUsers, 0, len(g.rooms))}
	for _, r := range g.rooms {
		s.Rooms = append(s.Rooms, RoomUsers{ID: r.info.ID, Name: r.info.Name, Users: names(r.list())})
	}
	sort.Slice(s.Rooms, func(i, j int) bool { return s.Rooms[i].ID < s.Rooms[j].ID })
	return s
}

// Stop closes the group: from now on logins are refused (group_stopped)
// and every connection is sent a notice with text and closed (transports
// write what is queued before they close). It returns how many
// connections it closes.
func (g *Group) Stop(text string) int {
	n := g.stop(text)
	if g.opts.Link != nil {
		g.opts.Link.Stopped(true, text)
	}
	return n
}

// stop is Stop on this node only.
func (g *Group) stop(text string) int {
	g.mu.Lock()
	g.stopped = true
	conns := make([]Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	f := NewFrame(NoticeEvent{Type: "notice", Text: text})
	for _, c := range conns {
		c.Send(f)
	}
	for _, c := range conns {
		c.Close("group stopped")
	}
	return len(conns)
}

// Start opens a stopped group to logins again. It reports whether the
// group was stopped.
func (g *Group) Start() bool {
	was := g.start()
	if g.opts.Link != nil {
		g.opts.Link.Stopped(false, "")
	}
	return was
}

// start is Start on this node only.
func (g *Group) start() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	was := g.stopped
	g.stopped = false
	return was
}

// Stopped reports whether the group refuses logins (see Stop).
func (g *Group) Stopped() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.stopped
}

// BroadcastFrom sends a notice naming its sender to every connection of
// the group, logged in or not, and returns how many it reached.
func (g *Group) BroadcastFrom(from, text string) int {
	return g.broadcastFrame(NewFrame(NoticeEvent{Type: "notice", Text: text, From: from}))
}

// broadcastFrame sends f to every connection of the cluster and returns
// how many of this node's it reached.
func (g *Group) broadcastFrame(f *Frame) int {
	if g.opts.Link != nil {
		g.opts.Link.Broadcast(f)
	}
	return g.broadcastLocal(f)
}

// broadcastLocal sends f to every connection of this node.
func (g *Group) broadcastLocal(f *Frame) int {
	g.mu.RLock()
	conns := make([]Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.RUnlock()
	n := 0
	var slow []Conn
	for _, c := range conns {
		if c.Send(f) {
			n++
		} else {
			slow = append(slow, c)
		}
	}
	for _, c := range slow {
		c.Close(ReasonSlowConsumer)
	}
	return n
}

// PrivateFrom delivers a private message from a sender that is not a
// member of the group (the server API) to the user logged in as to. The
// text is checked like a user's message and the style cleaned.
func (g *Group) PrivateFrom(from, to, text string, style Style) error {
	return g.private(from, nil, to, text, style, "")
}

// changed calls the OnChange hook, if any. Callers hold no lock.
func (g *Group) changed() {
	if g.opts.OnChange != nil {
		g.opts.OnChange()
	}
}
