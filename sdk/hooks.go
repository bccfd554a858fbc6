package sdk

import (
	"encoding/json"
	"time"
)

// The types below are what the host and a module exchange about users,
// rooms and messages: hook events and verdicts, client commands and
// notifications. They are plain values; the gRPC encoding lives in
// sdk/proto.

// Role is what a user may do in a room, highest first: a server
// administrator (authenticator code 5), a room moderator (the room's
// owner list), a speaker (the room's speaker list), a user, a guest.
type Role string

// Roles, from the highest.
const (
	RoleAdmin     Role = "admin"
	RoleModerator Role = "moderator"
	RoleSpeaker   Role = "speaker"
	RoleUser      Role = "user"
	RoleGuest     Role = "guest"
)

// Rank orders roles: a higher rank may do more; 0 is not a role.
func (r Role) Rank() int {
	switch r {
	case RoleAdmin:
		return 5
	case RoleModerator:
		return 4
	case RoleSpeaker:
		return 3
	case RoleUser:
		return 2
	case RoleGuest:
		return 1
	}
	return 0
}

// Hook names, as declared in Capabilities.Hooks.
const (
	HookLogin   = "on_login"
	HookJoin    = "on_join"
	HookMessage = "on_message"
	HookNotify  = "notify"
	HookStop    = "stop"
	// HookCluster: events of the plugin's processes on other nodes
	// (ClusterListener).
	HookCluster = "cluster_event"
)

// Caller is the user a hook or command is about.
type Caller struct {
	Name    string
	Display string
	Role    Role // in Room, or admin/user/guest outside a room
	IP      string
	Room    int64 // the room the user is in; 0 for none
}

// Style is the text style of a message; the tags are its form in the
// client protocol.
type Style struct {
	Bold      bool   `json:"b,omitempty"`
	Italic    bool   `json:"i,omitempty"`
	Underline bool   `json:"u,omitempty"`
	Color     string `json:"color,omitempty"` // "#rrggbb" or empty
}

// LoginEvent asks OnLogin about a user whose identity the authenticators
// established.
type LoginEvent struct {
	Name, Display, Email, Avatar string
	Admin, Guest                 bool
	IP                           string
	By                           string // what established the identity: "local", a plugin name, "session", "guest"
}

// LoginVerdict is OnLogin's answer. The zero value allows the login as it
// is.
type LoginVerdict struct {
	Deny   bool
	Reason string // shown to the user when Deny
	// Display, when not empty, replaces the display name.
	Display string
	// Role, when not empty, changes the user's server role: RoleAdmin
	// makes the user an administrator, RoleUser takes that away. Other
	// roles are ignored, with a warning in the host's log (moderator and
	// speaker come from the room).
	Role Role
}

// JoinEvent asks OnJoin whether a user may enter a room.
type JoinEvent struct {
	User Caller // User.Role is the role the user would have in Room
	Room Room
}

// JoinVerdict is OnJoin's answer; the zero value allows the join.
type JoinVerdict struct {
	Deny   bool
	Reason string // shown to the user when Deny
}

// MessageEvent asks OnMessage about a message before anyone sees it.
type MessageEvent struct {
	From  Caller
	Room  int64  // the room of a public message
	To    string // the recipient of a private message; empty for a public one
	Text  string
	Style Style
}

// Action is what OnMessage decides.
type Action int

// Actions of a MessageVerdict. The first Hold, Reject or Drop ends the
// chain of modules; Modify hands the changed message to the next one.
const (
	Pass   Action = iota // deliver as it is
	Modify               // deliver Text and Style instead
	Hold                 // keep for a moderator to release or decline (public messages only)
	Reject               // refuse; the author is told Reason
	Drop                 // refuse silently
)

// MessageVerdict is OnMessage's answer; the zero value passes.
type MessageVerdict struct {
	Action Action
	Text   string // with Modify: the new text
	Style  Style  // with Modify: the new style
	Note   string // with Hold: why it is held; the author sees it (held event), and so do moderators (Held().List)
	Reason string // with Reject: shown to the author
}

// Command is a client request whose type starts with a prefix the module
// declared ("dice.roll" for "dice."), with who sent it.
type Command struct {
	Type   string
	Caller Caller
	Room   int64           // the "room" of the request, or else the caller's room
	Data   json.RawMessage // the whole request frame as the client sent it
}

// Reply is a module's answer to a Command. Data (a JSON value, or empty
// for none) reaches the caller as {"type":"result","id":...,"data":...}.
type Reply struct {
	Data json.RawMessage
}

// Refusal is an error a module returns from a hook or command to refuse
// with a code and a sentence the user sees ({"type":"error","code":...}).
// Any other error is shown as "module_error" with a generic sentence.
type Refusal struct {
	Code    string
	Message string
}

// Error returns the sentence.
func (r *Refusal) Error() string { return r.Message }

// NotificationKind says what a Notification reports.
type NotificationKind string

// Notification kinds.
const (
	Joined      NotificationKind = "joined"       // User entered Room
	Left        NotificationKind = "left"         // User left Room
	LoggedOut   NotificationKind = "logged_out"   // User left the chat
	Delivered   NotificationKind = "delivered"    // a public message was delivered in Room
	RoomChanged NotificationKind = "room_changed" // Room was created, edited, opened, closed or deleted
	// MessageHeld: a public message was held for a moderator (Held; User
	// is its author, Room its room).
	MessageHeld NotificationKind = "held"
	// MessageReleased: a held message was approved and published (Held,
	// with the text as published, and Resolution; Message is the
	// published message).
	MessageReleased NotificationKind = "released"
	// MessageDeclined: a held message was declined (Held and Resolution).
	MessageDeclined NotificationKind = "declined"
)

// NotificationKinds are the kinds a Notification may have, in the order
// above.
func NotificationKinds() []NotificationKind {
	return []NotificationKind{Joined, Left, LoggedOut, Delivered, RoomChanged, MessageHeld, MessageReleased, MessageDeclined}
}

// Notification tells a module that something happened. Notifications
// never wait for the module: when its stream is full they are dropped
// (and counted).
type Notification struct {
	Kind NotificationKind
	User string
	Room int64
	// Message is the delivered message, with Delivered and
	// MessageReleased.
	Message *Message
	Time    time.Time
	// Held is the held message, with MessageHeld, MessageReleased and
	// MessageDeclined, whatever resolved it (a module, the server API).
	Held HeldMessage
	// Resolution is who released or declined it and why, with
	// MessageReleased and MessageDeclined.
	Resolution Resolution
}

// Message is a public message as the Host API and notifications give it.
type Message struct {
	ID    int64
	Room  int64
	From  string
	Text  string
	Style Style
	Time  time.Time
	// Emotion is the seed's emoticon, "e1".."e32", or empty.
	Emotion string
}

// Capabilities is what a plugin serves, declared once when it starts.
// Hooks it does not declare are never called.
type Capabilities struct {
	Authenticator bool
	Module        bool
	Hooks         []string // Hook* names
	// Commands are the client command prefixes the module owns, each
	// ending in '.' ("mod.", "wb.").
	Commands []string
	// Quiet are command types (or prefixes) a muted user may still send:
	// reads such as "wb.sync".
	Quiet []string
	// HTTPPrefix is the URL path the module serves, such as "/sso/";
	// empty for none.
	HTTPPrefix string
	// Assets are the web client files the module ships, served at
	// /plugins/<name>/<path>; Client is the ES module the web client
	// imports ("main.js"), empty for none.
	Assets map[string][]byte
	Client string
	// FailClosed makes the host refuse what a declared hook would decide
	// while the module is down or late, instead of letting it pass.
	FailClosed bool
	// Notify are the notification kinds the module wants, with HookNotify;
	// empty means every kind. The host queues no other kind for it.
	Notify []NotificationKind
}
