// Package chat holds the chat domain: groups, rooms, members, messages and
// the fan-out hub. It performs no I/O: transports deliver frames to members
// through the Conn interface and persistence is wired in by core/server.
package chat

import (
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// DefaultGroup is the name of the group every server has.
const DefaultGroup = "default"

// Origin tells where a room's definition comes from.
type Origin string

const (
	// OriginConfig marks a room defined in the configuration file; it is
	// reset to its configured values at start-up.
	OriginConfig Origin = "config"
	// OriginAPI marks a room created or edited at run time (server API,
	// plugins); the store is its record.
	OriginAPI Origin = "api"
)

// RoomInfo is a room's definition, with the properties of the seed's
// add_room command.
type RoomInfo struct {
	ID             int64  `json:"id"`
	Group          string `json:"group"`
	Name           string `json:"name"`
	Owner          string `json:"owner"`
	Desc           string `json:"desc"`
	Max            int    `json:"max"`            // capacity; 0 means unlimited
	Speaker        string `json:"speaker"`        // user allowed to speak when the room is moderated
	Member         bool   `json:"member"`         // guests may enter
	Password       string `json:"-"`              // entry password; empty means none
	PassAllMessage bool   `json:"passallmessage"` // moderated chat mode
	Open           bool   `json:"en"`             // room is open
	ST             int    `json:"st"`             // 0 text list too, 2 avatar client only
	Welcome        string `json:"wm"`             // welcome message shown on enter
	Audio          bool   `json:"audio"`
	Video          bool   `json:"video"`
	Whiteboard     bool   `json:"wb"`
	Origin         Origin `json:"-"`
	// Schedule is the room's opening times (sdk/schedule entries, checked
	// by schedule.ParseAll before they get here); empty for a room that
	// is always open. Stored with the room.
	Schedule []schedule.Entry `json:"roomOpen,omitempty"`
	// Zone is the room's own IANA zone for its times; empty: the group's
	// (Options.TimeZone). Stored with the room.
	Zone string `json:"tz,omitempty"`
	// Sched is what a module that applies the schedule said about the
	// room (Group.SetSchedule); not stored: every node's module computes
	// it from the same rules.
	Sched ScheduleState `json:"-"`
}

// Style is the text style of a message; the sdk's type, so that modules
// and the core speak of the same value.
type Style = sdk.Style

// Message is a public message said in a room.
type Message struct {
	ID     int64  `json:"id"`
	Group  string `json:"-"`
	RoomID int64  `json:"room"`
	From   string `json:"from"`
	Text   string `json:"text"`
	Style  Style  `json:"style"`
	// Emotion is a built-in emoticon "e1".."e32" drawn with the text;
	// empty for none. The store does not keep it (yet): it is in the
	// recent history of a running server only.
	Emotion string    `json:"emotion,omitempty"`
	Time    time.Time `json:"ts"`
}

// SDK returns the message as the Host API and notifications give it.
func (m Message) SDK() sdk.Message {
	return sdk.Message{ID: m.ID, Room: m.RoomID, From: m.From, Text: m.Text, Style: m.Style, Time: m.Time, Emotion: m.Emotion}
}

// SDK returns the room's definition as modules see it: no password (Locked
// says whether there is one), with count members and its times read in
// zone (the room's own or the group's).
func (i RoomInfo) SDK(count int, zone string) sdk.Room {
	return sdk.Room{
		ID: i.ID, Name: i.Name, Desc: i.Desc, Owner: i.Owner, Speaker: i.Speaker, Max: i.Max,
		Guests: i.Member, Locked: i.Password != "", Open: i.Open, Moderated: i.PassAllMessage,
		Welcome: i.Welcome, Audio: i.Audio, Video: i.Video, Whiteboard: i.Whiteboard, Count: count,
		Schedule: append([]schedule.Entry(nil), i.Schedule...), Zone: zone, OwnZone: i.Zone,
		Scheduled: i.Sched.Applied, ScheduleClosed: i.Sched.Closed, NextChange: i.Sched.Next,
	}
}
