package chat

import (
	"encoding/json"
	"strconv"
)

// jsonAppender is an event that appends its own JSON encoding, the same
// bytes json.Marshal gives, without reflection: the events whose size
// grows with a room (the member lists of joined and users), which are
// encoded under the room's lock.
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, error)
}

// appendJSON encodes e as json.Marshal does; its room and history, of
// bounded size, go through json.Marshal.
func (e JoinedEvent) appendJSON(b []byte) ([]byte, error) {
	room, err := json.Marshal(e.Room)
	if err != nil {
		return nil, err
	}
	history := e.historyJSON
	if history == nil {
		if history, err = json.Marshal(e.History); err != nil {
			return nil, err
		}
	}
	if b == nil {
		size := listSize(e.Users, e.Members)
		if e.list != nil {
			size = e.list.size()
		}
		b = make([]byte, 0, 64+len(e.ID)+len(room)+len(history)+len(e.Welcome)+size)
	}
	b = append(b, `{"type":`...)
	b = appendString(b, e.Type)
	b = appendOptional(b, `,"id":`, e.ID)
	b = append(b, `,"room":`...)
	b = append(b, room...)
	if e.list != nil {
		b = e.list.appendJSON(b)
	} else {
		b = append(b, `,"users":`...)
		b = appendStrings(b, e.Users)
		b = append(b, `,"members":`...)
		b = appendMembers(b, e.Members)
	}
	b = append(b, `,"history":`...)
	b = append(b, history...)
	b = appendOptional(b, `,"welcome":`, e.Welcome)
	return append(b, '}'), nil
}

// appendJSON encodes e as json.Marshal does.
func (e UsersEvent) appendJSON(b []byte) ([]byte, error) {
	if b == nil {
		b = make([]byte, 0, 128+listSize(e.Users, e.Members))
	}
	b = append(b, `{"type":`...)
	b = appendString(b, e.Type)
	b = appendOptional(b, `,"id":`, e.ID)
	b = append(b, `,"room":`...)
	b = strconv.AppendInt(b, e.Room, 10)
	b = append(b, `,"users":`...)
	b = appendStrings(b, e.Users)
	b = append(b, `,"members":`...)
	b = appendMembers(b, e.Members)
	return append(b, '}'), nil
}

// appendJSON encodes c as json.Marshal does.
func (c PresenceChange) appendJSON(b []byte) []byte {
	b = append(b, `{"user":`...)
	b = appendString(b, c.User)
	b = append(b, `,"event":`...)
	b = appendString(b, c.Event)
	if c.Offline {
		b = append(b, `,"offline":true`...)
	}
	b = appendOptional(b, `,"role":`, string(c.Role))
	b = appendOptional(b, `,"display":`, c.Display)
	b = appendOptional(b, `,"avatar":`, c.Avatar)
	return append(b, '}')
}

// size is about the bytes of l's users and members lists.
func (l *memberList) size() int {
	if l.cache != nil {
		return l.cache.size(l.members, l.info)
	}
	n := 32
	for _, m := range l.members {
		n += len(m.Name) + 3 + memberSize(m.Name, m.shownName(), RoleIn(m, l.info), m.Avatar, "")
		if l.ips && m.IP != "" {
			n += len(m.IP) + 8
		}
	}
	return n
}

// memberSize is the length of a member's JSON when no string needs
// escaping, with the comma after it.
func memberSize(name, display string, role Role, avatar, ip string) int {
	n := 22 + len(name) + len(role) // {"name":"","role":""},
	if display != "" {
		n += 13 + len(display) // ,"display":""
	}
	if avatar != "" {
		n += 12 + len(avatar)
	}
	if ip != "" {
		n += 8 + len(ip)
	}
	return n
}

// appendJSON appends the users and members fields of a joined event,
// as appendStrings and appendMembers would for l.values().
func (l *memberList) appendJSON(b []byte) []byte {
	if l.cache != nil {
		return l.cache.appendJSON(b, l.members, l.info)
	}
	b = append(b, `,"users":`...)
	b = appendList(b, len(l.members), func(b []byte, i int) []byte { return appendString(b, l.members[i].Name) })
	b = append(b, `,"members":`...)
	return appendList(b, len(l.members), func(b []byte, i int) []byte {
		m := l.members[i]
		v := m.view(l.info)
		if l.ips {
			v.IP = m.IP
		}
		return appendMember(b, v)
	})
}

// listSize is about the bytes of the users and members lists, when no
// string needs escaping: the buffer is made once.
func listSize(users []string, members []MemberView) int {
	n := 32
	for _, u := range users {
		n += len(u) + 3 // quotes, comma
	}
	for _, m := range members {
		n += memberSize(m.Name, m.Display, m.Role, m.Avatar, m.IP)
	}
	return n
}

// appendMembers encodes a member list as json.Marshal does.
func appendMembers(b []byte, ms []MemberView) []byte {
	if ms == nil {
		return append(b, "null"...)
	}
	return appendList(b, len(ms), func(b []byte, i int) []byte { return appendMember(b, ms[i]) })
}

// appendMember encodes one member as json.Marshal does.
func appendMember(b []byte, m MemberView) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, m.Name)
	b = appendOptional(b, `,"display":`, m.Display)
	b = append(b, `,"role":`...)
	b = appendString(b, string(m.Role))
	b = appendOptional(b, `,"avatar":`, m.Avatar)
	b = appendOptional(b, `,"ip":`, m.IP)
	return append(b, '}')
}

// appendOptional appends key (such as `,"display":`) and v, unless v is
// empty: a field with omitempty.
func appendOptional(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(append(b, key...), v)
}

// appendStrings encodes a list of strings as json.Marshal does.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	return appendList(b, len(ss), func(b []byte, i int) []byte { return appendString(b, ss[i]) })
}

// appendList encodes a JSON array of n items, each appended by item.
func appendList(b []byte, n int, item func(b []byte, i int) []byte) []byte {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = item(b, i)
	}
	return append(b, ']')
}

// plainJSON marks the bytes json.Marshal copies into a string as they
// are: printable ASCII but the quote, the backslash and <, >, &.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString encodes s as json.Marshal does: printable ASCII other
// than the characters it escapes is copied, anything else is left to
// json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
