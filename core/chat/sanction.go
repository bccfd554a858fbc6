package chat

import "time"

// Sanction is a ban, mute or kick cooldown of a user (or, for bans, an
// IP address or CIDR prefix), in one room or (Room 0) everywhere.
type Sanction struct {
	ID                    int64
	Kind                  string // "ban", "mute" or "kick"
	User, IP              string
	Room                  int64
	Reason, Actor, Source string
	Created, Expires      time.Time // Expires zero: never
}

// Sanctions answers which sanction, if any, applies now.
type Sanctions interface {
	// Active returns the sanction of kind that applies to the user name
	// (or, for bans, the address ip) in room at now, or nil.
	Active(kind, name, ip string, room int64, now time.Time) *Sanction
}
