package serverapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/sdk"
)

// The moderation commands act through the Host API as the operator
// (hostapi.API.Operator: source "api"), so that they are checked,
// enforced, told to the users they concern and recorded in the audit log
// exactly as a moderator's actions through the moderation module.

// Moderation limits.
const (
	// maxSanctionMinutes bounds minutes (ten years).
	maxSanctionMinutes = 10 * 366 * 24 * 60
	maxReasonChars     = 500
	maxIPChars         = 64
)

// SetHost gives the dispatcher the Host API its moderation commands act
// through (hostapi.API.Operator()); until then they answer internal.
func (d *Dispatcher) SetHost(h sdk.Host) {
	d.host.Store(&h)
}

func (d *Dispatcher) moderation() (sdk.Host, *Reply) {
	p := d.host.Load()
	if p == nil || *p == nil {
		r := Fail(CodeInternal, "Moderation is not available on this server (no store for sanctions).")
		return nil, &r
	}
	return *p, nil
}

// hostReply turns a Host API refusal into a reply.
func hostReply(err error) Reply {
	msg := sdk.Reason(err)
	for _, s := range []error{sdk.ErrNotFound, sdk.ErrInvalid, sdk.ErrDenied, sdk.ErrExists, sdk.ErrConflict} {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	msg = strings.ReplaceAll(msg, "\n", "; ")
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return Reply{Code: CodeNotFound, Message: msg}
	case errors.Is(err, sdk.ErrInvalid), errors.Is(err, sdk.ErrDenied), errors.Is(err, sdk.ErrConflict):
		return Reply{Code: CodeBadArgument, Message: msg}
	}
	return Reply{Code: CodeInternal, Message: msg}
}

// optRoom reads room_id (or roomid): absent is -1, 0 is every room.
func (a *attrs) optRoom() (int64, error) {
	var id int64 = -1
	for _, n := range []string{"room_id", "roomid"} {
		v, ok, err := a.integer(n, 0, 1<<53)
		if err != nil {
			return 0, err
		}
		if ok {
			if id >= 0 && v != id {
				return 0, fmt.Errorf("room_id=%d and roomid=%d disagree", id, v)
			}
			id = v
		}
	}
	return id, nil
}

// expiry reads minutes (0 or absent: never) or until (RFC 3339).
func (a *attrs) expiry(now time.Time) (time.Time, error) {
	mins, hasMins, err := a.integer("minutes", 0, maxSanctionMinutes)
	if err != nil {
		return time.Time{}, err
	}
	until, hasUntil := a.m["until"]
	switch {
	case hasMins && hasUntil:
		return time.Time{}, errors.New("give minutes or until, not both")
	case hasUntil:
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(until))
		if err != nil {
			return time.Time{}, fmt.Errorf("until=%q is not a time such as 2026-12-31T18:00:00Z", clip(until, 40))
		}
		if !t.After(now) {
			return time.Time{}, fmt.Errorf("until=%s is not in the future", t.UTC().Format(time.RFC3339))
		}
		return t, nil
	case hasMins && mins > 0:
		return now.Add(time.Duration(mins) * time.Minute), nil
	}
	return time.Time{}, nil
}

// actor reads actor, "api" when absent.
func (a *attrs) actor() (string, error) {
	v, _, err := a.str("actor", maxNameChars)
	if err != nil {
		return "", err
	}
	if v = strings.TrimSpace(v); v == "" {
		v = "api"
	}
	return v, nil
}

// knownUser fails unless name has an account or is online.
func knownUser(ctx context.Context, h sdk.Host, g *chat.Group, name string) *Reply {
	if _, ok := g.Online(name); ok {
		return nil
	}
	_, err := h.Users().ByName(ctx, name)
	if err == nil {
		return nil
	}
	if errors.Is(err, sdk.ErrNotFound) {
		r := Fail(CodeNotFound, "There is no user %q: no account has that name and nobody online uses it.", clip(name, 64))
		return &r
	}
	r := hostReply(err)
	return &r
}

func kickCmd(ctx context.Context, d *Dispatcher, g *chat.Group, a *attrs, _ Command) Reply {
	h, bad := d.moderation()
	if bad != nil {
		return *bad
	}
	user, _, err := a.str("user", maxNameChars)
	if err != nil {
		return failErr(CodeBadArgument, err)
	}
	if user = strings.TrimSpace(user); user == "" {
		return Fail(CodeBadArgument, "Missing attribute user (the name of the user to kick).")
	}
	room, bad := a.roomID("room_id", "roomid")
	if bad != nil {
		return *bad
	}
	var errs []error
	reason, _, err := a.str("reason", maxReasonChars)
	errs = append(errs, err)
	mins, _, err := a.integer("minutes", 0, maxSanctionMinutes)
	errs = append(errs, err)
	actor, err := a.actor()
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return failErr(CodeBadArgument, err)
	}
	if _, ok := g.Online(user); !ok {
		return Fail(CodeNotFound, "%s is not online.", clip(user, 64))
	}
	if err := h.Members().Kick(ctx, user, room, reason, actor, time.Duration(mins)*time.Minute); err != nil {
		return hostReply(err)
	}
	msg := fmt.Sprintf("%s was kicked out of room %d.", user, room)
	if mins > 0 {
		msg = fmt.Sprintf("%s was kicked out of room %d and may not come back for %d minutes.", user, room, mins)
	}
	return Reply{Code: CodeOK, Message: msg}
}

func sanctionCmd(kind string) func(context.Context, *Dispatcher, *chat.Group, *attrs, Command) Reply {
	return func(ctx context.Context, d *Dispatcher, g *chat.Group, a *attrs, _ Command) Reply {
		h, bad := d.moderation()
		if bad != nil {
			return *bad
		}
		var errs []error
		user, _, err := a.str("user", maxNameChars)
		errs = append(errs, err)
		ip, _, err := a.str("ip", maxIPChars)
		errs = append(errs, err)
		reason, _, err := a.str("reason", maxReasonChars)
		errs = append(errs, err)
		room, err := a.optRoom()
		errs = append(errs, err)
		expires, err := a.expiry(time.Now())
		errs = append(errs, err)
		actor, err := a.actor()
		errs = append(errs, err)
		if err := errors.Join(errs...); err != nil {
			return failErr(CodeBadArgument, err)
		}
		user, ip = strings.TrimSpace(user), strings.TrimSpace(ip)
		if user == "" && ip == "" {
			if kind == sdk.SanctionBan {
				return Fail(CodeBadArgument, "Missing attribute user or ip (whom to ban: a user name, an IP address or a CIDR prefix).")
			}
			return Fail(CodeBadArgument, "Missing attribute user (whom to mute).")
		}
		if user != "" {
			if r := knownUser(ctx, h, g, user); r != nil {
				return *r
			}
		}
		s, err := h.Sanctions().Add(ctx, sdk.Sanction{Kind: kind, User: user, IP: ip, Room: max(room, 0),
			Reason: reason, Actor: actor, Expires: expires})
		if err != nil {
			return hostReply(err)
		}
		out := sanctionReply(s, time.Now())
		return Reply{Code: CodeOK, Message: describeSanction(s) + " (sanction " + strconv.FormatInt(s.ID, 10) + ").", Sanction: &out}
	}
}

// describeSanction says what s is: "bob is banned from every room until
// 2026-12-01T18:00:00Z".
func describeSanction(s sdk.Sanction) string {
	who := s.User
	if who == "" {
		who = s.IP
	} else if s.IP != "" {
		who += " and " + s.IP
	}
	verb := map[string]string{sdk.SanctionBan: "banned from", sdk.SanctionMute: "muted in", sdk.SanctionKick: "kept out of"}[s.Kind]
	where := "every room"
	if s.Room != 0 {
		where = "room " + strconv.FormatInt(s.Room, 10)
	}
	until := " until lifted"
	if !s.Expires.IsZero() {
		until = " until " + s.Expires.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s is %s %s%s", who, verb, where, until)
}

func liftCmd(kind string) func(context.Context, *Dispatcher, *chat.Group, *attrs, Command) Reply {
	return func(ctx context.Context, d *Dispatcher, _ *chat.Group, a *attrs, _ Command) Reply {
		h, bad := d.moderation()
		if bad != nil {
			return *bad
		}
		var errs []error
		id, hasID, err := a.integer("id", 1, 1<<53)
		errs = append(errs, err)
		user, _, err := a.str("user", maxNameChars)
		errs = append(errs, err)
		ip, _, err := a.str("ip", maxIPChars)
		errs = append(errs, err)
		room, err := a.optRoom()
		errs = append(errs, err)
		actor, err := a.actor()
		errs = append(errs, err)
		if err := errors.Join(errs...); err != nil {
			return failErr(CodeBadArgument, err)
		}
		user, ip = strings.TrimSpace(user), strings.TrimSpace(ip)
		var ids []int64
		switch {
		case hasID && (user != "" || ip != "" || room >= 0):
			return Fail(CodeBadArgument, "Give id, or user/ip with an optional room_id, not both.")
		case hasID:
			list, err := h.Sanctions().List(ctx, sdk.SanctionFilter{Kind: kind})
			if err != nil {
				return hostReply(err)
			}
			found := false
			for _, s := range list {
				if s.ID == id {
					found = true
				}
			}
			if !found {
				return Fail(CodeNotFound, "There is no %s with id %d.", kind, id)
			}
			ids = []int64{id}
		case user == "" && ip == "":
			return Fail(CodeBadArgument, "Missing attribute id, user or ip (which %s to lift).", kind)
		default:
			list, err := h.Sanctions().List(ctx, sdk.SanctionFilter{Kind: kind, User: user, Active: true})
			if err != nil {
				return hostReply(err)
			}
			canon, err := canonicalAddr(ip)
			if err != nil {
				return failErr(CodeBadArgument, err)
			}
			for _, s := range list {
				if (user == "" || s.User != "") && (ip == "" || s.IP == canon) && (room < 0 || s.Room == room) {
					ids = append(ids, s.ID)
				}
			}
			if len(ids) == 0 {
				return Fail(CodeNotFound, "No %s in force matches (user %q, ip %q%s).", kind, user, ip, roomWords(room))
			}
		}
		var lifted []Sanction
		for _, id := range ids {
			s, err := h.Sanctions().Lift(ctx, id, actor)
			if err != nil {
				return hostReply(err)
			}
			lifted = append(lifted, sanctionReply(s, time.Now()))
		}
		n := len(lifted)
		return Reply{Code: CodeOK, Message: fmt.Sprintf("%d %s lifted.", n, plural(n, kind)), Count: &n, Sanctions: lifted}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func roomWords(room int64) string {
	switch {
	case room < 0:
		return ""
	case room == 0:
		return ", every room"
	}
	return ", room " + strconv.FormatInt(room, 10)
}

// canonicalAddr writes an address or CIDR prefix as sanctions store it
// (the Host API's canonical form), "" for "".
func canonicalAddr(ip string) (string, error) {
	if ip == "" {
		return "", nil
	}
	p, err := chat.ParseSanctionIP(ip)
	if err != nil {
		return "", fmt.Errorf("ip=%q is not an IP address or a CIDR prefix", clip(ip, 64))
	}
	return chat.CanonicalSanctionIP(p), nil
}

func getSanctions(ctx context.Context, d *Dispatcher, _ *chat.Group, a *attrs, _ Command) Reply {
	h, bad := d.moderation()
	if bad != nil {
		return *bad
	}
	var errs []error
	kind, _, err := a.str("kind", 16)
	errs = append(errs, err)
	user, _, err := a.str("user", maxNameChars)
	errs = append(errs, err)
	ip, _, err := a.str("ip", maxIPChars)
	errs = append(errs, err)
	room, err := a.optRoom()
	errs = append(errs, err)
	active, hasActive, err := a.boolean("active")
	errs = append(errs, err)
	canon, err := canonicalAddr(strings.TrimSpace(ip))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return failErr(CodeBadArgument, err)
	}
	if !hasActive {
		active = true
	}
	list, err := h.Sanctions().List(ctx, sdk.SanctionFilter{Kind: strings.TrimSpace(kind), User: strings.TrimSpace(user), Room: max(room, 0), Active: active})
	if err != nil {
		return hostReply(err)
	}
	now := time.Now()
	out := []Sanction{}
	for _, s := range list {
		if (canon == "" || s.IP == canon) && (room != 0 || s.Room == 0) {
			out = append(out, sanctionReply(s, now))
		}
	}
	what := "sanctions in force"
	if !active {
		what = "sanctions"
	}
	return Reply{Code: CodeOK, Message: fmt.Sprintf("%d %s.", len(out), what), Sanctions: out}
}

func getHeld(ctx context.Context, d *Dispatcher, _ *chat.Group, a *attrs, _ Command) Reply {
	h, bad := d.moderation()
	if bad != nil {
		return *bad
	}
	room, err := a.optRoom()
	if err != nil {
		return failErr(CodeBadArgument, err)
	}
	list, err := h.Held().List(ctx, max(room, 0))
	if err != nil {
		return hostReply(err)
	}
	out := make([]Held, 0, len(list))
	for _, m := range list {
		out = append(out, heldReply(m))
	}
	return Reply{Code: CodeOK, Message: fmt.Sprintf("%d held %s%s.", len(out), plural(len(out), "message"), roomWords(room)), Held: out}
}

// heldID reads the id of a held message and the resolution attributes.
func heldID(a *attrs) (int64, sdk.Resolution, *Reply) {
	var errs []error
	id, hasID, err := a.integer("id", 1, 1<<53)
	errs = append(errs, err)
	reason, _, err := a.str("reason", maxReasonChars)
	errs = append(errs, err)
	text, _, err := a.str("text", maxTextChars)
	errs = append(errs, err)
	actor, err := a.actor()
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		r := failErr(CodeBadArgument, err)
		return 0, sdk.Resolution{}, &r
	}
	if !hasID {
		r := Fail(CodeBadArgument, "Missing attribute id (the held message's id, from get_held).")
		return 0, sdk.Resolution{}, &r
	}
	return id, sdk.Resolution{Actor: actor, Reason: reason, Text: text}, nil
}

func approveCmd(ctx context.Context, d *Dispatcher, _ *chat.Group, a *attrs, _ Command) Reply {
	h, bad := d.moderation()
	if bad != nil {
		return *bad
	}
	id, res, bad := heldID(a)
	if bad != nil {
		return *bad
	}
	if a.has("text") && strings.TrimSpace(res.Text) == "" {
		return Fail(CodeBadArgument, "text is empty: leave it out to publish the message as it was written.")
	}
	m, err := h.Held().Release(ctx, id, res)
	if err != nil {
		return hostReply(err)
	}
	out := heldReply(sdk.HeldMessage{ID: id, Message: m})
	return Reply{Code: CodeOK, Message: fmt.Sprintf("Held message %d published in room %d as message %d.", id, m.Room, m.ID), Held: []Held{out}}
}

func declineCmd(ctx context.Context, d *Dispatcher, _ *chat.Group, a *attrs, _ Command) Reply {
	h, bad := d.moderation()
	if bad != nil {
		return *bad
	}
	id, res, bad := heldID(a)
	if bad != nil {
		return *bad
	}
	if err := h.Held().Decline(ctx, id, res); err != nil {
		return hostReply(err)
	}
	return Reply{Code: CodeOK, Message: fmt.Sprintf("Held message %d declined; its author was told.", id)}
}

func getAudit(ctx context.Context, d *Dispatcher, _ *chat.Group, a *attrs, _ Command) Reply {
	h, bad := d.moderation()
	if bad != nil {
		return *bad
	}
	var errs []error
	room, err := a.optRoom()
	errs = append(errs, err)
	target, _, err := a.str("target", maxIPChars)
	errs = append(errs, err)
	action, _, err := a.str("action", 32)
	errs = append(errs, err)
	limit, _, err := a.integer("limit", 1, sdk.MaxAuditList)
	errs = append(errs, err)
	var since time.Time
	if v, ok := a.m["since"]; ok {
		since, err = time.Parse(time.RFC3339, strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("since=%q is not a time such as 2026-12-01T00:00:00Z", clip(v, 40)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return failErr(CodeBadArgument, err)
	}
	list, err := h.Audit().List(ctx, sdk.AuditFilter{Room: max(room, 0), Target: strings.TrimSpace(target),
		Action: strings.TrimSpace(action), Since: since, Limit: int(limit)})
	if err != nil {
		return hostReply(err)
	}
	out := make([]AuditEntry, 0, len(list))
	for _, e := range list {
		out = append(out, auditReply(e))
	}
	return Reply{Code: CodeOK, Message: fmt.Sprintf("%d audit %s, newest first.", len(out), map[bool]string{true: "entry", false: "entries"}[len(out) == 1]), Audit: out}
}

// Sanction is a sanction in a reply. Times are RFC 3339 in UTC; empty
// expires is "never", empty lifted "not lifted".
type Sanction struct {
	ID       int64  `json:"id"`
	Kind     string `json:"kind"`
	User     string `json:"user"`
	IP       string `json:"ip"`
	Room     int64  `json:"room"`
	Reason   string `json:"reason"`
	Actor    string `json:"actor"`
	Source   string `json:"source"`
	Created  string `json:"created"`
	Expires  string `json:"expires"`
	Lifted   string `json:"lifted"`
	LiftedBy string `json:"lifted_by"`
	Active   bool   `json:"active"` // neither lifted nor expired
}

// Held is a held message in a reply (get_held), or the message an
// approve published (id is then the held id, message the new message id).
type Held struct {
	ID      int64  `json:"id"`
	Message int64  `json:"message,omitempty"`
	Room    int64  `json:"room"`
	From    string `json:"from"`
	Text    string `json:"text"`
	Note    string `json:"note"`
	Plugin  string `json:"plugin"`
	Time    string `json:"time"` // when it was written
}

// AuditEntry is an entry of the moderation log in a reply.
type AuditEntry struct {
	ID     int64  `json:"id"`
	Time   string `json:"time"`
	Action string `json:"action"`
	Actor  string `json:"actor"`
	Source string `json:"source"`
	Target string `json:"target"`
	Room   int64  `json:"room"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	Plugin string `json:"plugin"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func sanctionReply(s sdk.Sanction, now time.Time) Sanction {
	return Sanction{ID: s.ID, Kind: s.Kind, User: s.User, IP: s.IP, Room: s.Room, Reason: s.Reason, Actor: s.Actor,
		Source: s.Source, Created: rfc3339(s.Created), Expires: rfc3339(s.Expires), Lifted: rfc3339(s.Lifted),
		LiftedBy: s.LiftedBy, Active: s.Lifted.IsZero() && (s.Expires.IsZero() || s.Expires.After(now))}
}

func heldReply(h sdk.HeldMessage) Held {
	out := Held{ID: h.ID, Room: h.Message.Room, From: h.Message.From, Text: h.Message.Text, Note: h.Note,
		Plugin: h.Plugin, Time: rfc3339(h.Message.Time)}
	out.Message = h.Message.ID
	return out
}

func auditReply(e sdk.AuditEntry) AuditEntry {
	return AuditEntry{ID: e.ID, Time: rfc3339(e.Time), Action: e.Action, Actor: e.Actor, Source: e.Source,
		Target: e.Target, Room: e.Room, Reason: e.Reason, Detail: e.Detail, Plugin: e.Plugin}
}

func (s Sanction) xml(b *bytes.Buffer) {
	b.WriteString("<Sanction")
	attr(b, "id", strconv.FormatInt(s.ID, 10))
	attr(b, "kind", s.Kind)
	attr(b, "user", s.User)
	attr(b, "ip", s.IP)
	attr(b, "room", strconv.FormatInt(s.Room, 10))
	attr(b, "reason", s.Reason)
	attr(b, "actor", s.Actor)
	attr(b, "source", s.Source)
	attr(b, "created", s.Created)
	attr(b, "expires", s.Expires)
	attr(b, "lifted", s.Lifted)
	attr(b, "lifted_by", s.LiftedBy)
	attr(b, "active", map[bool]string{true: "1", false: "0"}[s.Active])
	b.WriteString("/>\n")
}

func (h Held) xml(b *bytes.Buffer) {
	b.WriteString("<Held")
	attr(b, "id", strconv.FormatInt(h.ID, 10))
	if h.Message != 0 {
		attr(b, "message", strconv.FormatInt(h.Message, 10))
	}
	attr(b, "room", strconv.FormatInt(h.Room, 10))
	attr(b, "from", h.From)
	attr(b, "text", h.Text)
	attr(b, "note", h.Note)
	attr(b, "plugin", h.Plugin)
	attr(b, "time", h.Time)
	b.WriteString("/>\n")
}

func (e AuditEntry) xml(b *bytes.Buffer) {
	b.WriteString("<Entry")
	attr(b, "id", strconv.FormatInt(e.ID, 10))
	attr(b, "time", e.Time)
	attr(b, "action", e.Action)
	attr(b, "actor", e.Actor)
	attr(b, "source", e.Source)
	attr(b, "target", e.Target)
	attr(b, "room", strconv.FormatInt(e.Room, 10))
	attr(b, "reason", e.Reason)
	attr(b, "detail", e.Detail)
	attr(b, "plugin", e.Plugin)
	b.WriteString("/>\n")
}
