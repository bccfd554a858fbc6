package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/parlorchat/parlor/sdk/schedule"
)

// More Host API errors (see ErrNotFound).
var (
	// ErrDenied: the plugin may not do that (an event type outside the
	// command prefixes it owns, a user the chat will not move, ...).
	ErrDenied = errors.New("denied")
	// ErrConflict: a document is not at the version the caller expected.
	ErrConflict = errors.New("version conflict")
)

// RoomEdit changes the fields of a room that are not nil.
type RoomEdit struct {
	Name, Desc, Owner, Speaker *string
	Max                        *int
	Guests                     *bool
	Password                   *string // "" removes the password
	Open, Moderated            *bool
	Welcome                    *string
	Audio, Video, Whiteboard   *bool
	// Schedule replaces the opening times (an empty slice removes them);
	// each entry is checked as the server API checks roomOpen.
	Schedule *[]schedule.Entry
	// Zone sets the room's own IANA zone ("": the group's).
	Zone *string
}

// Rooms manages the chat's rooms. Changes are stored and reach the users
// online at once, exactly as the server API's add_room, edit_room and
// del_room.
type Rooms interface {
	// List returns every room, by ID, with its head count.
	List(ctx context.Context) ([]Room, error)
	// Get returns a room; ErrNotFound if there is none.
	Get(ctx context.Context, id int64) (Room, error)
	// Create makes a room from r (its ID, Locked and Count are ignored;
	// Open and Guests are taken as given) and returns it with its ID.
	Create(ctx context.Context, r Room) (Room, error)
	// Edit changes a room; ErrNotFound if there is none.
	Edit(ctx context.Context, id int64, e RoomEdit) (Room, error)
	// SetOpen opens or closes a room (a closed room refuses joins).
	SetOpen(ctx context.Context, id int64, open bool) (Room, error)
	// Delete removes a room and its history; its members are moved out
	// and told.
	Delete(ctx context.Context, id int64) error
	// SetSchedule gives a room with opening times the verdict of its
	// timetable (see ScheduleState). It is not stored and does not change
	// the room's definition (en stays the administrator's switch): every
	// node's module computes it from the same rules. ErrInvalid for a
	// room without opening times.
	SetSchedule(ctx context.Context, id int64, s ScheduleState) (Room, error)
}

// ScheduleState is what a room's timetable says now (Rooms.SetSchedule).
type ScheduleState struct {
	// Closed: the timetable closes the room. It refuses joins ("The room
	// is closed; it opens at ...") and the messages of members still in
	// it ("you can read, not write"); administrators may still enter and
	// speak. The room list shows it closed with its next opening.
	Closed bool
	// Next is when that next changes; zero for never.
	Next time.Time
	// MoveOut, with Closed, takes the members out of the room
	// (administrators stay), each told when it opens again; without it
	// they stay, read-only.
	MoveOut bool
}

// Member is a user in a room, with the role they have there.
type Member struct {
	Name    string
	Display string
	Role    Role
	Avatar  string // an http(s) URL, "e1".."e32", or empty
	// IP is the address the member is connected from. Plugins are
	// trusted with it; a module decides who among its users may see it.
	IP string
}

// Members are the users in rooms.
type Members interface {
	// List returns a room's members in join order; ErrNotFound if there
	// is no such room.
	List(ctx context.Context, room int64) ([]Member, error)
	// Kick takes the user out of the room, telling them reason. With a
	// cooldown > 0 they cannot come back for that long (a sanction of
	// kind "kick" with actor as its Actor). ErrNotFound when the user is
	// not in that room.
	Kick(ctx context.Context, name string, room int64, reason, actor string, cooldown time.Duration) error
	// Move puts an online user into another room.
	Move(ctx context.Context, name string, to int64) error
}

// Sanction kinds.
const (
	SanctionBan  = "ban"  // no login (Room 0) or no entry into Room
	SanctionMute = "mute" // no message in Room (0: anywhere, private ones too)
	SanctionKick = "kick" // no entry into Room until Expires (a kick's cooldown)
)

// Sanction is a ban, mute or kick cooldown.
type Sanction struct {
	ID   int64
	Kind string // SanctionBan, SanctionMute or SanctionKick
	User string // the user's name (compared as the chat compares names)
	// IP is an address or a CIDR prefix ("203.0.113.0/24"); bans only.
	// A sanction has a User, an IP or both.
	IP     string
	Room   int64 // 0: everywhere
	Reason string
	Actor  string // who decided it, such as a moderator's name
	// Source is where it comes from: "manual", "automod", "api" or a
	// plugin name. A plugin may give "manual" or "automod"; empty takes
	// the plugin's name.
	Source   string
	Created  time.Time
	Expires  time.Time // zero: never
	Lifted   time.Time // zero: not lifted
	LiftedBy string
}

// SanctionFilter selects sanctions; the zero value selects all.
type SanctionFilter struct {
	Kind string
	User string
	// Room, when not 0, selects what applies in that room: its own
	// sanctions and those of every room.
	Room int64
	// Active keeps the sanctions neither lifted nor expired.
	Active bool
}

// Sanctions are bans, mutes and kick cooldowns; the chat enforces them at
// login, join, say, private message and module commands.
type Sanctions interface {
	// Add stores a sanction (ID, Created, Lifted are set by the host) and
	// returns it. A global ban of a user who is online ends their session.
	Add(ctx context.Context, s Sanction) (Sanction, error)
	// Lift ends a sanction now, recording by; ErrNotFound if there is no
	// such sanction, ErrInvalid if it was lifted before.
	Lift(ctx context.Context, id int64, by string) (Sanction, error)
	// List returns the sanctions f selects, oldest first.
	List(ctx context.Context, f SanctionFilter) ([]Sanction, error)
}

// Audience is who a notice or custom event reaches; make one with
// ToUser, ToRoom, ToModerators or ToEveryone.
type Audience struct {
	Kind string // "user", "room", "moderators" or "all"
	User string
	Room int64
}

// ToUser is the audience of one online user.
func ToUser(name string) Audience { return Audience{Kind: "user", User: name} }

// ToRoom is the audience of a room's members.
func ToRoom(id int64) Audience { return Audience{Kind: "room", Room: id} }

// ToModerators is the audience of a room's moderators online: server
// administrators and the users in its owner list, wherever they are.
func ToModerators(room int64) Audience { return Audience{Kind: "moderators", Room: room} }

// ToEveryone is the audience of every logged-in user.
func ToEveryone() Audience { return Audience{Kind: "all"} }

// Event is a module's custom event; clients get
// {"type":Type,"module":...,"room":Room,"data":Data}.
type Event struct {
	// Type must start with a command prefix the module declared
	// ("dice.rolled" for "dice."); ErrDenied otherwise.
	Type string
	// Room is the room the event is about; with ToRoom and ToModerators
	// it is that room.
	Room int64
	Data json.RawMessage // a JSON value, or empty
}

// Say is a public message a module says as a user.
type Say struct {
	From    string // the user it is said as; need not be online
	Room    int64
	Text    string
	Style   Style
	Emotion string // "e1".."e32" or empty
}

// Messages send to users.
type Messages interface {
	// Notice sends a server notice and returns how many users got it.
	Notice(ctx context.Context, to Audience, text string) (int, error)
	// Event sends a custom event and returns how many users got it.
	Event(ctx context.Context, to Audience, ev Event) (int, error)
	// SayAs says a public message in a room as a user, through the same
	// checks, history and notifications as a message the user types.
	SayAs(ctx context.Context, s Say) (Message, error)
}

// HeldMessage is a public message a module held for a moderator.
type HeldMessage struct {
	ID      int64
	Message Message // Time is when it was held; ID is 0
	Note    string  // why it is held (the author was told it too)
	Plugin  string  // the module that held it, when known
}

// Resolution is how a moderator resolved a held message: who did it
// and why, and, for a release, an edit of the text.
type Resolution struct {
	Actor  string // who resolved it (a moderator's name); empty takes the plugin's name
	Reason string // why; with Decline the author is told it
	// Text, with Release, replaces the message's text when not empty (an
	// edit before approval). Decline ignores it.
	Text string
}

// Held are messages held for a moderator; they survive a restart.
type Held interface {
	// List returns the held messages of a room (0: every room), oldest
	// first.
	List(ctx context.Context, room int64) ([]HeldMessage, error)
	// Release says the message in its room as its author (who need not
	// be online), with its original time (it goes into history with that
	// time), and forgets it; r.Text, when not empty, replaces its text.
	// ErrNotFound if there is none. The release is recorded in the audit
	// log and notified (MessageReleased).
	Release(ctx context.Context, id int64, r Resolution) (Message, error)
	// Decline forgets the message; its author, if online, gets a notice
	// with r.Reason. The decline is recorded in the audit log and
	// notified (MessageDeclined).
	Decline(ctx context.Context, id int64, r Resolution) error
}

// Audit actions the host records; modules may record others (such as
// AuditAutomod and AuditSetting). A sanction added is recorded with its
// kind as the action (SanctionBan, SanctionMute, SanctionKick).
const (
	AuditLift    = "lift"    // a sanction was lifted
	AuditHold    = "hold"    // a message was held for a moderator
	AuditApprove = "approve" // a held message was released
	AuditDecline = "decline" // a held message was declined
	AuditAutomod = "automod" // an automod rule acted (recorded by the module)
	AuditSetting = "setting" // a moderation setting changed (recorded by the module)
)

// Audit log limits: the most entries one List returns, and how many when
// the filter gives no Limit.
const (
	MaxAuditList     = 1000
	DefaultAuditList = 100
)

// AuditEntry is one record of the moderation log.
type AuditEntry struct {
	ID     int64
	Time   time.Time // set by the host
	Action string    // "ban", "mute", "kick", "lift", "hold", "approve", "decline", "automod", "setting", ...
	Actor  string    // who acted: a moderator's name, "api", an automod rule's name
	Source string    // "manual", "automod", "api", or a plugin's name; empty takes the plugin's name
	Target string    // a user's name, or an IP address or CIDR prefix
	Room   int64     // 0: not about one room
	Reason string
	Detail string // free text, at most 4 KiB
	Plugin string // set by the host: the plugin that appended it ("" for the core)
}

// AuditFilter selects audit entries; the zero value selects the newest
// DefaultAuditList.
type AuditFilter struct {
	Room   int64  // 0: every room
	Target string // compared as the chat compares names
	Action string
	Since  time.Time // zero: from the start
	Limit  int       // 0: DefaultAuditList; at most MaxAuditList
}

// Audit is the append-only moderation log, kept by the host. The host
// itself records every sanction added and lifted and every hold, release
// and decline, whatever asked for it (a module, the server API).
type Audit interface {
	// Append records what only a module knows, such as an automod hit
	// or a setting change; the host sets ID, Time and Plugin.
	Append(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// List returns the entries f selects, newest first.
	List(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// AnyVersion, as the expected version of Docs.Put or Docs.Delete,
// skips the version check.
const AnyVersion int64 = -1

// Document is a value of a plugin's document store.
type Document struct {
	Key     string
	Value   []byte // nil in listings
	Size    int
	Version int64 // 1 when created, one more at every Put
	Updated time.Time
}

// Docs is a store of larger values (up to the host's limit, 16 MiB by
// default) private to one plugin, with versions for optimistic
// concurrency: read, change, Put with the version read; a writer that
// came in between makes the Put fail with ErrConflict.
type Docs interface {
	// Get returns a document; ErrNotFound if absent.
	Get(ctx context.Context, key string) (Document, error)
	// Put stores value if the document is at version expect (0: it must
	// not exist; AnyVersion: whatever it is) and returns its new version;
	// ErrConflict otherwise.
	Put(ctx context.Context, key string, value []byte, expect int64) (int64, error)
	// Delete removes a document at version expect (or AnyVersion);
	// ErrNotFound if absent, ErrConflict at another version.
	Delete(ctx context.Context, key string, expect int64) error
	// List returns the documents whose key starts with prefix, by key,
	// without their values.
	List(ctx context.Context, prefix string) ([]Document, error)
}
