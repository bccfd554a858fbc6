package session

// The events below are the session's own frames of docs/protocol.md;
// the chat events are in core/chat.

// HelloEvent is the first frame of every connection.
type HelloEvent struct {
	Type     string   `json:"type"` // "hello"
	Server   string   `json:"server"`
	Version  string   `json:"version"`
	Protocol int      `json:"protocol"`
	Guests   bool     `json:"guests"`
	Modules  []string `json:"modules"`
	// Extensions are the ES modules the web client imports.
	Extensions []Extension `json:"extensions"`
	// Commands are the command prefixes modules own ("dice.").
	Commands []string `json:"commands"`
}

// Extension is a web client extension a module ships.
type Extension struct {
	Module string `json:"module"`
	URL    string `json:"url"` // "/plugins/dice/main.js"
}

// PongEvent answers a ping.
type PongEvent struct {
	Type string `json:"type"` // "pong"
	ID   string `json:"id,omitempty"`
}

// LoginOKEvent answers a successful login. Token is the reconnect token
// of a password login: the client logs in with it after a dropped
// connection instead of keeping the password.
type LoginOKEvent struct {
	Type  string    `json:"type"` // "login_ok"
	ID    string    `json:"id,omitempty"`
	User  LoginUser `json:"user"`
	Token string    `json:"token,omitempty"`
}

// LoginUser is who a connection logged in as.
type LoginUser struct {
	Name    string `json:"name"`
	Display string `json:"display"`
	Admin   bool   `json:"admin"`
	Guest   bool   `json:"guest"`
	Avatar  string `json:"avatar,omitempty"`
}

// LoggedOutEvent tells a client its login ended: its own logout, or a
// session or account that was ended.
type LoggedOutEvent struct {
	Type   string `json:"type"` // "logged_out"
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}
