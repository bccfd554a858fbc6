package chat

import (
	"encoding/json"
	"time"
)

// The events below are the server-to-client half of docs/protocol.md. Their
// JSON form is the WebSocket protocol; other transports encode the same
// values their own way.

// RoomView is a room as clients see it: no password, with its head count.
type RoomView struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Desc   string `json:"desc"`
	Owner  string `json:"owner"`
	Count  int    `json:"count"`
	Max    int    `json:"max"`
	Locked bool   `json:"locked"`
	Open   bool   `json:"open"`
	Guests bool   `json:"guests"`
	ST     int    `json:"st"`
	Audio  bool   `json:"audio"`
	Video  bool   `json:"video"`
	WB     bool   `json:"wb"`
	// Schedule is set for a room with opening times: "open" or "closed"
	// by its timetable as a module applies it, "off" while none does.
	// Zone is the zone its times are read in; Opens (while closed) or
	// Closes (while open) is the next change, RFC 3339 in that zone.
	Schedule string `json:"schedule,omitempty"`
	Zone     string `json:"tz,omitempty"`
	Opens    string `json:"opens,omitempty"`
	Closes   string `json:"closes,omitempty"`
}

// MessageEvent carries a public message.
type MessageEvent struct {
	Type string `json:"type"` // "message"
	Message
}

// PrivateEvent carries a private message; it goes to the recipient and back
// to the sender.
type PrivateEvent struct {
	Type  string `json:"type"` // "private"
	From  string `json:"from"`
	To    string `json:"to"`
	Text  string `json:"text"`
	Style Style  `json:"style"`
	// Emotion is a built-in emoticon "e1".."e32" drawn with the text;
	// empty for none.
	Emotion string    `json:"emotion,omitempty"`
	Time    time.Time `json:"ts"`
}

// PresenceEvent tells a room's members that someone came or went.
type PresenceEvent struct {
	Type  string `json:"type"` // "presence"
	Room  int64  `json:"room"`
	User  string `json:"user"`
	Event string `json:"event"` // "join" or "leave"
	Count int    `json:"count"`
	// Offline marks a leave because the user left the chat (logged out or
	// lost the connection), not just the room.
	Offline bool `json:"offline,omitempty"`
	// Role, Display and Avatar describe who joined (join only).
	Role    Role   `json:"role,omitempty"`
	Display string `json:"display,omitempty"`
	Avatar  string `json:"avatar,omitempty"`
}

// change is the event as a PresenceBatchEvent lists it.
func (e PresenceEvent) change() PresenceChange {
	return PresenceChange{User: e.User, Event: e.Event, Offline: e.Offline, Role: e.Role, Display: e.Display, Avatar: e.Avatar}
}

// PresenceBatchEvent is several presence events of one room in one frame,
// in the order they happened: what a member of a busy room gets instead
// of a PresenceEvent each. Count is the room's head count after the last.
type PresenceBatchEvent struct {
	Type   string           `json:"type"` // "presence_batch"
	Room   int64            `json:"room"`
	Count  int              `json:"count"`
	Events []PresenceChange `json:"events"`
}

// PresenceChange is one event of a PresenceBatchEvent: a PresenceEvent
// without the room and the count.
type PresenceChange struct {
	User    string `json:"user"`
	Event   string `json:"event"` // "join" or "leave"
	Offline bool   `json:"offline,omitempty"`
	Role    Role   `json:"role,omitempty"`
	Display string `json:"display,omitempty"`
	Avatar  string `json:"avatar,omitempty"`
}

// RoomsEvent is the room list.
type RoomsEvent struct {
	Type  string     `json:"type"` // "rooms"
	ID    string     `json:"id,omitempty"`
	Rooms []RoomView `json:"rooms"`
}

// RoomsDeltaEvent tells a logged-in user what changed in the room list
// since the last RoomsDeltaEvent (or the RoomsEvent of the login): the
// head counts that changed, rooms added or changed (whole), rooms
// removed. Changes are gathered over a short time (Options.RoomListDelay)
// and the counts are those at the time of sending, so a client that
// applies every delta to the list of its last RoomsEvent has the
// server's list. Each part is ordered by room id and left out when empty.
type RoomsDeltaEvent struct {
	Type    string      `json:"type"` // "rooms_delta"
	Counts  []RoomCount `json:"counts,omitempty"`
	Changed []RoomView  `json:"changed,omitempty"`
	Removed []int64     `json:"removed,omitempty"`
}

// RoomCount is a room's head count in a RoomsDeltaEvent.
type RoomCount struct {
	ID    int64 `json:"id"`
	Count int   `json:"count"`
}

// NoticeEvent is a server notice, such as a broadcast.
type NoticeEvent struct {
	Type string `json:"type"` // "notice"
	Text string `json:"text"`
	From string `json:"from,omitempty"` // who sent it, for a broadcast that names a sender
}

// JoinedEvent answers a successful join.
type JoinedEvent struct {
	Type  string   `json:"type"` // "joined"
	ID    string   `json:"id,omitempty"`
	Room  RoomView `json:"room"`
	Users []string `json:"users"`
	// Members are the same members as Users with their roles.
	Members []MemberView `json:"members"`
	History []Message    `json:"history"`
	Welcome string       `json:"welcome,omitempty"`

	// list, when set, is where the frame a member gets encodes Users and
	// Members from (they are nil then): the room's member list as it was
	// at the join, encoded without making a view of each member.
	list *memberList
	// historyJSON, when set, is History encoded: the room's, shared by
	// its joiners (Room.encodedHistory).
	historyJSON []byte
}

// memberList is a room's members at one moment, as a joined event lists
// them.
type memberList struct {
	members []*Member
	info    RoomInfo
	ips     bool // the addresses are shown (the joining member sees them)
	// cache, when set (ips is false), is the room's encoded list that
	// the lists are taken from.
	cache *listJSON
}

// values returns the list as a JoinedEvent's Users and Members.
func (l *memberList) values() ([]string, []MemberView) {
	vs := views(l.members, l.info)
	if l.ips {
		for i, m := range l.members {
			vs[i].IP = m.IP
		}
	}
	return names(l.members), vs
}

// ErrorEvent reports a refused request.
type ErrorEvent struct {
	Type    string `json:"type"` // "error"
	ID      string `json:"id,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfterMS, with code rate_limited, is how many milliseconds the
	// client must wait before the same request can pass.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

// MemberView is a room member as clients and modules see it.
type MemberView struct {
	Name    string `json:"name"`
	Display string `json:"display,omitempty"`
	Role    Role   `json:"role"`
	// Avatar is an http(s) URL or a built-in picture "e1".."e32"; empty
	// for none.
	Avatar string `json:"avatar,omitempty"`
	// IP is the member's address: only in what the Host API gives plugins
	// (Group.Members) and, when the group allows it (Options.ModeratorsSeeIP),
	// in the member lists sent to the room's moderators and to
	// administrators.
	IP string `json:"ip,omitempty"`
}

// MemberIPEvent tells a room's moderator (and the administrators) the
// address of a member who joined, when the group allows it
// (Options.ModeratorsSeeIP).
type MemberIPEvent struct {
	Type string `json:"type"` // "member_ip"
	Room int64  `json:"room"`
	User string `json:"user"`
	IP   string `json:"ip"`
}

// LeftEvent answers a leave, and tells a member it was taken out of a
// room (kicked, moved, or the room was removed).
type LeftEvent struct {
	Type   string `json:"type"` // "left"
	ID     string `json:"id,omitempty"`
	Room   int64  `json:"room"`
	Reason string `json:"reason,omitempty"` // why, when it was not the member's own leave
}

// UsersEvent answers a users request: the names of a room's members in
// join order and the same members with their roles.
type UsersEvent struct {
	Type    string       `json:"type"` // "users"
	ID      string       `json:"id,omitempty"`
	Room    int64        `json:"room"`
	Users   []string     `json:"users"`
	Members []MemberView `json:"members"`
}

// ResultEvent answers a module command: Data is the module's reply.
type ResultEvent struct {
	Type string          `json:"type"` // "result"
	ID   string          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// HeldEvent tells an author that a module held the message for a
// moderator to release or decline.
type HeldEvent struct {
	Type string `json:"type"` // "held"
	ID   string `json:"id,omitempty"`
	Room int64  `json:"room"`
	Held int64  `json:"held"` // the held message's id
	Note string `json:"note,omitempty"`
}

// ModuleEvent is a custom event of a module. Type starts with a command
// prefix the module owns ("dice.rolled").
type ModuleEvent struct {
	Type   string          `json:"type"`
	Module string          `json:"module"`
	Room   int64           `json:"room,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}
