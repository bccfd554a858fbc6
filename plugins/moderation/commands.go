package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// request is the fields of a mod.* command frame (each command uses some).
type request struct {
	Held     int64   `json:"held"`     // a held message's id
	Text     *string `json:"text"`     // an edited text to approve
	Reason   string  `json:"reason"`   // why
	User     string  `json:"user"`     // whom
	IP       string  `json:"ip"`       // an address or CIDR prefix (bans, administrators)
	Global   bool    `json:"global"`   // every room (bans and mutes, administrators)
	Minutes  *int    `json:"minutes"`  // how long; 0 is until lifted
	Cooldown *int    `json:"cooldown"` // a kick's re-entry cooldown in minutes
	Sanction int64   `json:"sanction"` // a sanction's id
	On       *bool   `json:"on"`       // mod.moderate: pre-moderation on or off
}

// jsonKind names a Go kind as JSON does.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "bool":
		return "boolean (true or false)"
	}
	return kind
}

// refuse is a refusal the caller sees.
func refuse(code, format string, args ...any) error {
	return &sdk.Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
}

// reply encodes v as the command's answer.
func reply(v any) (sdk.Reply, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return sdk.Reply{}, fmt.Errorf("encode the answer: %w", err)
	}
	return sdk.Reply{Data: b}, nil
}

// Command answers the mod.* commands (docs/moderation.md).
func (m *moderation) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	var req request
	if len(cmd.Data) > 0 {
		if err := json.Unmarshal(cmd.Data, &req); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) && typeErr.Field != "" {
				return sdk.Reply{}, refuse("bad_request", "The field %q of %s must be a %s, not a %s.", typeErr.Field, cmd.Type, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
			}
			return sdk.Reply{}, refuse("bad_request", "The %s request is not valid JSON.", cmd.Type)
		}
	}
	if cmd.Type == "mod.counts" {
		return m.counts(ctx, cmd)
	}
	if cmd.Room == 0 {
		return sdk.Reply{}, refuse("no_room", "Give a room, or enter one, for %s.", cmd.Type)
	}
	if r := cmd.Caller.Role; r != sdk.RoleModerator && r != sdk.RoleAdmin {
		return sdk.Reply{}, refuse("not_moderator", "Only the room's moderators and administrators may use %s.", cmd.Type)
	}
	switch cmd.Type {
	case "mod.queue":
		return m.queue(ctx, cmd)
	case "mod.approve":
		return m.approve(ctx, cmd, req)
	case "mod.decline":
		return m.decline(ctx, cmd, req)
	case "mod.kick":
		return m.kick(ctx, cmd, req)
	case "mod.mute":
		return m.sanction(ctx, cmd, req, sdk.SanctionMute)
	case "mod.ban":
		return m.sanction(ctx, cmd, req, sdk.SanctionBan)
	case "mod.unban":
		return m.lift(ctx, cmd, req, sdk.SanctionBan)
	case "mod.unmute":
		return m.lift(ctx, cmd, req, sdk.SanctionMute)
	case "mod.lift":
		return m.lift(ctx, cmd, req, "")
	case "mod.sanctions":
		return m.sanctions(ctx, cmd)
	case "mod.members":
		return m.members(ctx, cmd)
	case "mod.moderate":
		return m.moderate(ctx, cmd, req)
	}
	return sdk.Reply{}, refuse("unknown_command", "The moderation module does not know %s.", cmd.Type)
}

// heldView is a held message as the commands and events give it.
type heldView struct {
	ID    int64     `json:"id"`
	Room  int64     `json:"room"`
	From  string    `json:"from"`
	Text  string    `json:"text"`
	Style sdk.Style `json:"style"`
	Time  time.Time `json:"time"`
	Note  string    `json:"note,omitempty"`
}

func viewHeld(h sdk.HeldMessage) heldView {
	return heldView{ID: h.ID, Room: h.Message.Room, From: h.Message.From, Text: h.Message.Text, Style: h.Message.Style, Time: h.Message.Time, Note: h.Note}
}

// queueView is the answer to mod.queue and the data of mod.queue events.
type queueView struct {
	Room int64      `json:"room"`
	Held []heldView `json:"held"`
	// Count is how many messages the room holds; Held may give fewer (the
	// oldest first) to stay within an event's size.
	Count int `json:"count"`
	// Moderated says whether the room is pre-moderated (passallmessage).
	Moderated bool `json:"moderated"`
}

// Size budgets of a queue: a mod.queue event (the host takes at most
// 64 KiB of data) and a mod.queue answer.
const (
	queueEventBytes  = 48 << 10
	queueAnswerBytes = 1 << 20
)

// queueOf is a room's queue, the oldest held messages first, as many as
// fit in budget bytes of JSON.
func (m *moderation) queueOf(ctx context.Context, room int64, budget int) (queueView, error) {
	held, err := m.heldIn(ctx, room)
	if err != nil {
		return queueView{}, err
	}
	r, err := m.room(ctx, room)
	if err != nil {
		return queueView{}, err
	}
	q := queueView{Room: room, Held: held, Count: len(held), Moderated: r.moderated}
	size := 0
	for i, h := range held {
		b, _ := json.Marshal(h)
		if size += len(b) + 1; size > budget {
			q.Held = held[:i]
			break
		}
	}
	return q, nil
}

func (m *moderation) heldIn(ctx context.Context, room int64) ([]heldView, error) {
	list, err := m.host.Held().List(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("list the held messages of room %d: %w", room, err)
	}
	out := make([]heldView, 0, len(list))
	for _, h := range list {
		out = append(out, viewHeld(h))
	}
	return out, nil
}

func (m *moderation) queue(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	q, err := m.queueOf(ctx, cmd.Room, queueAnswerBytes)
	if err != nil {
		return sdk.Reply{}, err
	}
	return reply(q)
}

// counts answers mod.counts: the queue length of each room the caller
// moderates ({"counts":{"3":2}}; rooms without held messages left out).
func (m *moderation) counts(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	out := map[int64]int{}
	admin := cmd.Caller.Role == sdk.RoleAdmin
	var mine map[int64]bool
	if !admin {
		rooms, err := m.host.Rooms().List(ctx)
		if err != nil {
			return sdk.Reply{}, fmt.Errorf("list rooms: %w", err)
		}
		mine = map[int64]bool{}
		for _, r := range rooms {
			if inList(r.Owner, cmd.Caller.Name) {
				mine[r.ID] = true
			}
		}
		if len(mine) == 0 {
			return reply(map[string]any{"counts": out})
		}
	}
	list, err := m.host.Held().List(ctx, 0)
	if err != nil {
		return sdk.Reply{}, fmt.Errorf("list held messages: %w", err)
	}
	for _, h := range list {
		if admin || mine[h.Message.Room] {
			out[h.Message.Room]++
		}
	}
	return reply(map[string]any{"counts": out})
}

// inList reports whether name is in a comma-separated list of names.
func inList(list, name string) bool {
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" && strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// findHeld returns a held message of the command's room.
func (m *moderation) findHeld(ctx context.Context, cmd sdk.Command, id int64) (sdk.HeldMessage, error) {
	if id <= 0 {
		return sdk.HeldMessage{}, refuse("bad_request", "Give the id of the held message as \"held\".")
	}
	list, err := m.host.Held().List(ctx, cmd.Room)
	if err != nil {
		return sdk.HeldMessage{}, fmt.Errorf("list the held messages of room %d: %w", cmd.Room, err)
	}
	for _, h := range list {
		if h.ID == id {
			return h, nil
		}
	}
	return sdk.HeldMessage{}, refuse("not_found", "There is no held message %d in this room (another moderator may have handled it).", id)
}

// hostRefusal turns a Host API refusal into one the caller sees; other
// errors stay errors.
func hostRefusal(err error) error {
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return refuse("not_found", "%s", sdk.Reason(err))
	case errors.Is(err, sdk.ErrInvalid), errors.Is(err, sdk.ErrDenied):
		return refuse("refused", "%s", sdk.Reason(err))
	}
	return err
}

// memberRole is the role a user has in a room: from the members there,
// or else from the room's lists (a server administrator who is not in
// the room is not known and counts as a user).
func (m *moderation) memberRole(ctx context.Context, room int64, name string) (sdk.Role, error) {
	members, err := m.host.Members().List(ctx, room)
	if err != nil {
		return "", fmt.Errorf("list the members of room %d: %w", room, err)
	}
	for _, mem := range members {
		if strings.EqualFold(mem.Name, name) {
			return mem.Role, nil
		}
	}
	r, err := m.host.Rooms().Get(ctx, room)
	if err != nil {
		return "", fmt.Errorf("look up room %d: %w", room, err)
	}
	switch {
	case inList(r.Owner, name):
		return sdk.RoleModerator, nil
	case inList(r.Speaker, name):
		return sdk.RoleSpeaker, nil
	}
	return sdk.RoleUser, nil
}

// mayTarget refuses a sanction of the caller, or of someone of the
// caller's rank or above (a moderator cannot sanction a moderator or an
// administrator).
func (m *moderation) mayTarget(ctx context.Context, cmd sdk.Command, name string) error {
	if name == "" {
		return nil
	}
	if strings.EqualFold(name, cmd.Caller.Name) {
		return refuse("refused", "You cannot sanction yourself.")
	}
	role, err := m.memberRole(ctx, cmd.Room, name)
	if err != nil {
		return err
	}
	if role.Rank() >= cmd.Caller.Role.Rank() {
		return refuse("not_allowed", "You cannot sanction %s (%s here): only a higher role may.", name, role)
	}
	return nil
}

// minutes is the length a command asks for (def when it gives none),
// checked against max_minutes for moderators. 0 is until lifted.
func (m *moderation) minutes(cmd sdk.Command, asked *int, def int, what string) (int, error) {
	n := def
	if asked != nil {
		n = *asked
	}
	if n < 0 {
		return 0, refuse("bad_request", "The %s must be 0 or more minutes.", what)
	}
	if cmd.Caller.Role != sdk.RoleAdmin && m.cfg.MaxMinutes > 0 && (n > m.cfg.MaxMinutes || (n == 0 && what != "cooldown")) {
		if n == 0 && what == "ban" && m.cfg.ModeratorsMayBanForever {
			return 0, nil
		}
		return 0, refuse("too_long", "Moderators may give a %s of at most %d minutes.", what, m.cfg.MaxMinutes)
	}
	return n, nil
}

// sanctionView is a sanction as the commands and events give it.
type sanctionView struct {
	ID      int64      `json:"id"`
	Kind    string     `json:"kind"`
	User    string     `json:"user,omitempty"`
	IP      string     `json:"ip,omitempty"`
	Room    int64      `json:"room"`
	Reason  string     `json:"reason,omitempty"`
	Actor   string     `json:"actor,omitempty"`
	Source  string     `json:"source,omitempty"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires,omitempty"`
	Lifted  *time.Time `json:"lifted,omitempty"`
}

func viewSanction(s sdk.Sanction) sanctionView {
	v := sanctionView{ID: s.ID, Kind: s.Kind, User: s.User, IP: s.IP, Room: s.Room, Reason: s.Reason, Actor: s.Actor, Source: s.Source, Created: s.Created}
	if !s.Expires.IsZero() {
		e := s.Expires
		v.Expires = &e
	}
	if !s.Lifted.IsZero() {
		l := s.Lifted
		v.Lifted = &l
	}
	return v
}

func (m *moderation) kick(ctx context.Context, cmd sdk.Command, req request) (sdk.Reply, error) {
	if req.User == "" {
		return sdk.Reply{}, refuse("bad_request", "Give the user to kick as \"user\".")
	}
	if err := m.mayTarget(ctx, cmd, req.User); err != nil {
		return sdk.Reply{}, err
	}
	cooldown, err := m.minutes(cmd, req.Cooldown, m.cfg.KickCooldownMinutes, "cooldown")
	if err != nil {
		return sdk.Reply{}, err
	}
	err = m.withQuota(ctx, cmd.Caller, sdk.SanctionKick, func() error {
		return m.host.Members().Kick(ctx, req.User, cmd.Room, req.Reason, cmd.Caller.Name, time.Duration(cooldown)*time.Minute)
	})
	if err != nil {
		return sdk.Reply{}, hostRefusal(err)
	}
	m.announceSanctions(ctx, cmd.Room)
	return reply(map[string]any{"kicked": req.User, "cooldown": cooldown})
}

// sanction answers mod.mute and mod.ban.
func (m *moderation) sanction(ctx context.Context, cmd sdk.Command, req request, kind string) (sdk.Reply, error) {
	admin := cmd.Caller.Role == sdk.RoleAdmin
	s := sdk.Sanction{Kind: kind, User: req.User, Room: cmd.Room, Reason: req.Reason, Actor: cmd.Caller.Name, Source: "manual"}
	if req.IP != "" {
		if kind != sdk.SanctionBan {
			return sdk.Reply{}, refuse("bad_request", "Only bans take an IP address.")
		}
		if !admin {
			return sdk.Reply{}, refuse("not_allowed", "Only administrators may ban an IP address or range.")
		}
		if _, err := netip.ParsePrefix(req.IP); err != nil {
			if _, err := netip.ParseAddr(req.IP); err != nil {
				return sdk.Reply{}, refuse("bad_request", "%q is not an IP address or a CIDR prefix such as 203.0.113.0/24.", req.IP)
			}
		}
		s.IP = req.IP
	}
	if s.User == "" && s.IP == "" {
		return sdk.Reply{}, refuse("bad_request", "Give the user as \"user\"%s.", map[bool]string{true: " or an address as \"ip\""}[admin])
	}
	if req.Global {
		if !admin {
			return sdk.Reply{}, refuse("not_allowed", "Only administrators may %s in every room.", kind)
		}
		s.Room = 0
	}
	if err := m.mayTarget(ctx, cmd, s.User); err != nil {
		return sdk.Reply{}, err
	}
	def := 0
	if kind == sdk.SanctionMute {
		def = m.cfg.MuteMinutes
	}
	n, err := m.minutes(cmd, req.Minutes, def, kind)
	if err != nil {
		return sdk.Reply{}, err
	}
	if n > 0 {
		s.Expires = m.now().Add(time.Duration(n) * time.Minute)
	}
	err = m.withQuota(ctx, cmd.Caller, kind, func() error {
		var err error
		s, err = m.host.Sanctions().Add(ctx, s)
		return err
	})
	if err != nil {
		return sdk.Reply{}, hostRefusal(err)
	}
	m.announceSanctions(ctx, cmd.Room)
	return reply(viewSanction(s))
}

// lift answers mod.unban, mod.unmute (kind) and mod.lift (any kind): by
// sanction id, or every active one of the user in the room.
func (m *moderation) lift(ctx context.Context, cmd sdk.Command, req request, kind string) (sdk.Reply, error) {
	if req.Sanction == 0 && req.User == "" {
		return sdk.Reply{}, refuse("bad_request", "Give the sanction's id as \"sanction\" or the user as \"user\".")
	}
	active, err := m.host.Sanctions().List(ctx, sdk.SanctionFilter{Room: cmd.Room, Kind: kind, User: req.User, Active: true})
	if err != nil {
		return sdk.Reply{}, fmt.Errorf("list sanctions: %w", err)
	}
	var todo []sdk.Sanction
	for _, s := range active {
		if req.Sanction != 0 && s.ID != req.Sanction {
			continue
		}
		if s.Room == 0 && cmd.Caller.Role != sdk.RoleAdmin {
			if req.Sanction != 0 {
				return sdk.Reply{}, refuse("not_allowed", "Sanction %d applies in every room; only administrators may lift it.", s.ID)
			}
			continue
		}
		todo = append(todo, s)
	}
	if len(todo) == 0 {
		what := fmt.Sprintf("sanction %d", req.Sanction)
		if req.Sanction == 0 {
			what = req.User
		}
		return sdk.Reply{}, refuse("not_found", "There is no active %s of %s in this room that you may lift.", map[string]string{"": "sanction", sdk.SanctionBan: "ban", sdk.SanctionMute: "mute"}[kind], what)
	}
	lifted := make([]sanctionView, 0, len(todo))
	for _, s := range todo {
		l, err := m.host.Sanctions().Lift(ctx, s.ID, cmd.Caller.Name)
		if err != nil {
			return sdk.Reply{}, hostRefusal(err)
		}
		lifted = append(lifted, viewSanction(l))
	}
	m.announceSanctions(ctx, cmd.Room)
	return reply(map[string]any{"lifted": lifted})
}

// activeIn is the sanctions in force in a room (its own and global).
func (m *moderation) activeIn(ctx context.Context, room int64) ([]sanctionView, error) {
	list, err := m.host.Sanctions().List(ctx, sdk.SanctionFilter{Room: room, Active: true})
	if err != nil {
		return nil, fmt.Errorf("list the sanctions of room %d: %w", room, err)
	}
	out := make([]sanctionView, 0, len(list))
	for _, s := range list {
		out = append(out, viewSanction(s))
	}
	return out, nil
}

// sanctionsView is the answer to mod.sanctions and the data of
// mod.sanctions events.
type sanctionsView struct {
	Room      int64          `json:"room"`
	Sanctions []sanctionView `json:"sanctions"`
}

func (m *moderation) sanctions(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	list, err := m.activeIn(ctx, cmd.Room)
	if err != nil {
		return sdk.Reply{}, err
	}
	return reply(sanctionsView{Room: cmd.Room, Sanctions: list})
}

// announceSanctions sends a room's sanctions in force to its moderators
// (mod.sanctions), so that their user lists mark who is muted.
func (m *moderation) announceSanctions(ctx context.Context, room int64) {
	list, err := m.activeIn(ctx, room)
	if err == nil {
		err = m.event(ctx, sdk.ToModerators(room), "mod.sanctions", room, sanctionsView{Room: room, Sanctions: list})
	}
	if err != nil {
		m.log.Warn("could not announce the sanctions", "room", room, "error", err)
	}
}

// event sends a custom event.
func (m *moderation) event(ctx context.Context, to sdk.Audience, typ string, room int64, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := m.host.Messages().Event(ctx, to, sdk.Event{Type: typ, Room: room, Data: b}); err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("send %s: %w", typ, err)
	}
	return nil
}

// memberView is a member as mod.members gives it.
type memberView struct {
	Name    string   `json:"name"`
	Display string   `json:"display,omitempty"`
	Role    sdk.Role `json:"role"`
	IP      string   `json:"ip,omitempty"`
}

// members answers mod.members: the room's members, with their addresses
// for administrators and, when show_ip allows it, for moderators.
func (m *moderation) members(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	list, err := m.host.Members().List(ctx, cmd.Room)
	if err != nil {
		return sdk.Reply{}, hostRefusal(err)
	}
	showIP := cmd.Caller.Role == sdk.RoleAdmin || m.cfg.ShowIP
	out := make([]memberView, 0, len(list))
	for _, mem := range list {
		v := memberView{Name: mem.Name, Display: mem.Display, Role: mem.Role}
		if showIP {
			v.IP = mem.IP
		}
		out = append(out, v)
	}
	return reply(map[string]any{"room": cmd.Room, "members": out, "ips": showIP})
}

// moderate answers mod.moderate: pre-moderation of the room on or off
// (the room's passallmessage, stored as changed at run time), recorded in
// the audit log as a setting.
func (m *moderation) moderate(ctx context.Context, cmd sdk.Command, req request) (sdk.Reply, error) {
	if req.On == nil {
		return sdk.Reply{}, refuse("bad_request", "Give \"on\": true or false.")
	}
	before, err := m.host.Rooms().Get(ctx, cmd.Room)
	if err != nil {
		return sdk.Reply{}, hostRefusal(err)
	}
	r, err := m.host.Rooms().Edit(ctx, cmd.Room, sdk.RoomEdit{Moderated: req.On})
	if err != nil {
		return sdk.Reply{}, hostRefusal(err)
	}
	// The room_changed notification follows; until then the cache must
	// not answer with the old setting.
	m.rooms.forget(cmd.Room)
	if before.Moderated != r.Moderated {
		_, err := m.host.Audit().Append(ctx, sdk.AuditEntry{
			Action: sdk.AuditSetting, Actor: cmd.Caller.Name, Source: "manual", Room: cmd.Room, Reason: req.Reason,
			Detail: fmt.Sprintf("passallmessage %v -> %v", before.Moderated, r.Moderated),
		})
		if err != nil {
			m.log.Warn("could not record a setting change", "room", cmd.Room, "error", err)
		}
	}
	m.announceQueue(ctx, cmd.Room)
	return reply(map[string]any{"room": r.ID, "moderated": r.Moderated})
}
