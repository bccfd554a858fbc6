package chat

import (
	"fmt"
	"time"
)

// Sanction kinds.
const (
	SanctionBan  = "ban"  // may not log in (Room 0) or enter the room
	SanctionMute = "mute" // may not speak in the room (Room 0: anywhere, nor privately)
	SanctionKick = "kick" // was kicked out of the room: may not come back before Expires
)

// Sanction is a ban, mute or kick cooldown of a user (by name) or, for a
// ban, of an address (IP: an address or a CIDR). It mirrors the Host
// API's sdk.Sanction.
type Sanction struct {
	ID     int64
	Kind   string // SanctionBan, SanctionMute or SanctionKick
	User   string // login name; empty for an address ban
	IP     string // address or CIDR, bans only
	Room   int64  // 0: everywhere
	Reason string
	Actor  string // who imposed it
	Source string // "manual", "automod", "api" or a plugin name
	// Created is when it was imposed; Expires when it ends (zero: never).
	Created, Expires time.Time
}

// Sanctions answers which sanctions apply; core/hostapi implements it over
// the store, in memory.
type Sanctions interface {
	// Active returns a sanction of kind in force at now against the user
	// called name or the address ip, that applies in room: one of that
	// room or one of everywhere (Room 0). Room 0 asks for the sanctions of
	// everywhere only. It returns nil when none applies; matching ip
	// against a CIDR is the implementation's job. It must not block.
	Active(kind, name, ip string, room int64, now time.Time) *Sanction
}

// Sanctioned returns the sanction of kind that applies to m in room (0:
// of everywhere only), or nil; it is nil when the group has no
// Options.Sanctions.
func (g *Group) Sanctioned(m *Member, kind string, room int64) *Sanction {
	if g.opts.Sanctions == nil {
		return nil
	}
	return g.opts.Sanctions.Active(kind, m.Name, m.IP, room, g.opts.Now())
}

// Muted returns the refusal (code muted) of a mute of m in room, or of
// everywhere (room 0 asks for those only), or nil.
func (g *Group) Muted(m *Member, room int64) error {
	s := g.Sanctioned(m, SanctionMute, room)
	if s == nil {
		return nil
	}
	what := "You are muted in this room"
	if s.Room == 0 {
		what = "You are muted"
	}
	return g.sanctionError(s, CodeMuted, what)
}

// RoomOf returns the id of the room m is in, or 0.
func (g *Group) RoomOf(m *Member) int64 {
	if r := m.room.Load(); r != nil {
		return r.id
	}
	return 0
}

// joinSanctions refuses a join of a banned member (in the room or
// everywhere) or of one kicked out of the room whose cooldown runs.
func (g *Group) joinSanctions(m *Member, room int64) error {
	if s := g.Sanctioned(m, SanctionBan, room); s != nil {
		what := "You are banned from this room"
		if s.Room == 0 {
			what = "You are banned from this chat"
		}
		return g.sanctionError(s, CodeBanned, what)
	}
	if s := g.Sanctioned(m, SanctionKick, room); s != nil {
		return g.sanctionError(s, CodeKicked, "You were kicked out of this room")
	}
	return nil
}

// sanctionError is the refusal of a sanction: what it is, until when, and
// why ("You are muted in this room until 14:05 UTC: spamming."). A kick
// says when to come back and carries it as RetryAfter.
func (g *Group) sanctionError(s *Sanction, code, what string) *Error {
	now := g.opts.Now()
	msg := what
	var retry time.Duration
	if !s.Expires.IsZero() {
		if code == CodeKicked {
			retry = max(s.Expires.Sub(now), time.Second)
			msg += "; you may come back in " + waitWords(retry)
		} else {
			msg += " until " + untilWords(s.Expires, now)
		}
	}
	if s.Reason != "" {
		msg += ": " + s.Reason
	}
	return &Error{Code: code, Message: msg + ".", RetryAfter: retry}
}

// untilWords says an end time in UTC: "14:05 UTC" today, "3 Dec 14:05
// UTC" another day this year, "3 Dec 2027 14:05 UTC" otherwise.
func untilWords(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	switch {
	case t.YearDay() == now.YearDay() && t.Year() == now.Year():
		return t.Format("15:04") + " UTC"
	case t.Year() == now.Year():
		return t.Format("2 Jan 15:04") + " UTC"
	}
	return fmt.Sprintf("%s UTC", t.Format("2 Jan 2006 15:04"))
}
