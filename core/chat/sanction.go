package chat

import (
	"fmt"
	"net/netip"
	"strings"
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

// SanctionLister is a Sanctions that can also list what is in force
// against a user or an address (core/hostapi implements it).
type SanctionLister interface {
	// InForce returns the sanctions in force at now against the user
	// called name or, for bans, the address ip, in every room.
	InForce(name, ip string, now time.Time) []Sanction
}

// SanctionsInForce returns the sanctions in force against m (mutes, room
// bans, kick cooldowns, by ID), so that a user who logs in learns them;
// nil when the group's Sanctions cannot list them.
func (g *Group) SanctionsInForce(m *Member) []Sanction {
	l, ok := g.opts.Sanctions.(SanctionLister)
	if !ok {
		return nil
	}
	return l.InForce(m.Name, m.IP, g.opts.Now())
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

// EntrySanctions returns the refusal (code banned or kicked) of a
// member banned from room or kicked out of it and in the cooldown, or
// nil: what keeps them out keeps them from acting in it too (module
// commands about the room).
func (g *Group) EntrySanctions(m *Member, room int64) error {
	return g.joinSanctions(m, room)
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

// SanctionEvent tells a user a sanction was imposed on them ("sanctioned")
// or lifted ("sanction_lifted"): what, where, why, until when, by whom,
// and a sentence to show.
type SanctionEvent struct {
	Type   string `json:"type"` // "sanctioned" or "sanction_lifted"
	ID     int64  `json:"id"`
	Kind   string `json:"kind"`           // "ban", "mute" or "kick"
	Room   int64  `json:"room"`           // 0: everywhere
	Reason string `json:"reason"`         // may be empty
	Until  string `json:"until"`          // RFC 3339, UTC; empty: permanent
	By     string `json:"by,omitempty"`   // who imposed (or lifted) it
	Text   string `json:"text,omitempty"` // the sentence, such as "You are muted in Lobby until 14:05 UTC: spamming."
}

// TellSanction sends the user s names, if online, the SanctionEvent of s
// imposed (lifted false, by its Actor) or lifted (by by), and reports
// whether they got it.
//
// With a Link, the other nodes are told first that the sanctions in the
// store changed.
func (g *Group) TellSanction(s Sanction, lifted bool, by string) bool {
	if g.opts.Link != nil {
		g.opts.Link.SanctionsChanged()
	}
	if s.User == "" {
		return false
	}
	return g.SendUser(s.User, NewFrame(g.sanctionEvent(s, lifted, by)))
}

// SanctionFrame is the sanctioned event of s, for a member it covers by
// address (whom TellSanction does not reach).
func (g *Group) SanctionFrame(s Sanction) *Frame {
	return NewFrame(g.sanctionEvent(s, false, ""))
}

func (g *Group) sanctionEvent(s Sanction, lifted bool, by string) SanctionEvent {
	ev := SanctionEvent{Type: "sanctioned", ID: s.ID, Kind: s.Kind, Room: s.Room, Reason: s.Reason, By: s.Actor}
	if !s.Expires.IsZero() {
		ev.Until = s.Expires.UTC().Format(time.RFC3339)
	}
	where := "everywhere in this chat"
	if s.Room != 0 {
		where = fmt.Sprintf("room %d", s.Room)
		g.mu.RLock()
		if r, ok := g.rooms[s.Room]; ok {
			where = r.info.Name
		}
		g.mu.RUnlock()
	}
	if lifted {
		ev.Type, ev.By = "sanction_lifted", by
		switch s.Kind {
		case SanctionMute:
			ev.Text = fmt.Sprintf("You may speak again (%s).", where)
		case SanctionBan:
			ev.Text = fmt.Sprintf("Your ban was lifted (%s).", where)
		default:
			ev.Text = fmt.Sprintf("You may enter %s again.", where)
		}
		return ev
	}
	var what string
	switch s.Kind {
	case SanctionMute:
		what = "You are muted"
		if s.Room != 0 {
			what += " in " + where
		}
	case SanctionBan:
		what = "You are banned from " + where
		if s.Room == 0 {
			what = "You are banned from this chat"
		}
	default:
		what = "You were kicked out of " + where
	}
	if s.Actor != "" {
		what += " by " + s.Actor
	}
	code := CodeMuted
	if s.Kind == SanctionKick {
		code = CodeKicked
	}
	ev.Text = g.sanctionError(&s, code, what).Message
	return ev
}

// ParseSanctionIP reads an address or a CIDR prefix as a (masked) prefix.
func ParseSanctionIP(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, fmt.Errorf("%q is wider than the IPv4-mapped range", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	addr = addr.Unmap().WithZone("")
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// CanonicalSanctionIP writes an address or prefix the way the index compares it.
func CanonicalSanctionIP(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
