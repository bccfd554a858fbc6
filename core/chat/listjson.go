package chat

import (
	"slices"
	"sync"
)

// listJSON holds a room's users and members lists as joined events carry
// them to members who do not see addresses, so that a burst of joins into
// a big room encodes each member once rather than once for every later
// joiner. It grows with the list while members only join, a member who
// leaves is cut out of it, and it starts again when the list is not an
// extension of what it holds or the room's owner or speaker list changed
// (they decide the roles it holds). Members' names, display names and
// avatars do not change while they are in a room.
type listJSON struct {
	mu             sync.Mutex
	members        []*Member // encoded so far, in join order
	owner, speaker string    // the room's lists the roles were taken from
	users          []byte    // the names, comma-separated, as appendString writes them
	views          []byte    // the member objects, comma-separated, as appendMember writes them
	ends           []listEnd // where each member's items end in users and views
}

// listEnd is where a member's items end in listJSON's users and views.
type listEnd struct{ users, views int }

// size is the length of what appendJSON appends for members.
func (c *listJSON) size(members []*Member, info RoomInfo) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, v := c.lists(members, info)
	return len(`,"users":[],"members":[]`) + len(u) + len(v)
}

// appendJSON appends the users and members fields of a joined event
// listing members, as memberList.appendJSON does without addresses.
func (c *listJSON) appendJSON(b []byte, members []*Member, info RoomInfo) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, v := c.lists(members, info)
	b = append(b, `,"users":[`...)
	b = append(b, u...)
	b = append(b, `],"members":[`...)
	b = append(b, v...)
	return append(b, ']')
}

// remove cuts m's items out of what c holds, as the room's list drops
// it, so that c still extends to the list and keeps no member that left.
func (c *listJSON) remove(m *Member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.members, m)
	if i < 0 {
		return
	}
	// Item i goes with the comma before it, or the first with the comma
	// after it.
	var from, to listEnd
	if i > 0 {
		from = c.ends[i-1]
	}
	to = c.ends[i]
	if i == 0 && len(c.members) > 1 {
		to.users++
		to.views++
	}
	c.users = slices.Delete(c.users, from.users, to.users)
	c.views = slices.Delete(c.views, from.views, to.views)
	for j := i + 1; j < len(c.ends); j++ {
		c.ends[j].users -= to.users - from.users
		c.ends[j].views -= to.views - from.views
	}
	c.members = slices.Delete(c.members, i, i+1)
	c.ends = slices.Delete(c.ends, i, i+1)
}

// lists returns the items of both lists for members, encoding those c
// does not hold yet. The caller holds c.mu.
func (c *listJSON) lists(members []*Member, info RoomInfo) (users, views []byte) {
	if info.Owner != c.owner || info.Speaker != c.speaker || !samePrefix(c.members, members) {
		c.members, c.users, c.views, c.ends = nil, nil, nil, nil
		c.owner, c.speaker = info.Owner, info.Speaker
	}
	for i := len(c.members); i < len(members); i++ {
		m := members[i]
		if len(c.members) > 0 {
			c.users, c.views = append(c.users, ','), append(c.views, ',')
		}
		c.users = appendString(c.users, m.Name)
		c.views = appendMember(c.views, m.view(info))
		c.members = append(c.members, m)
		c.ends = append(c.ends, listEnd{len(c.users), len(c.views)})
	}
	if len(members) == 0 {
		return nil, nil
	}
	e := c.ends[len(members)-1]
	return c.users[:e.users], c.views[:e.views]
}

// samePrefix reports whether the shorter of a and b begins the longer.
func samePrefix(a, b []*Member) bool {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
