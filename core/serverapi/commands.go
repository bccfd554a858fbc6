package serverapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// handler is one command type.
type handler struct {
	attrs []string // attributes it takes besides group, api_pwd and type
	times bool     // it takes roomOpen/Time children
	query bool     // it only reads (GET is allowed on the JSON twin)
	run   func(ctx context.Context, d *Dispatcher, g *chat.Group, a *attrs, cmd Command) Reply
}

// roomAttrs are the room properties of add_room and edit_room.
var roomAttrs = []string{"name", "owner", "desc", "max", "speaker", "member", "pwd", "passallmessage",
	"en", "st", "wm", "audio", "video", "wb", "tz"}

// handlers maps each command type to its handler; it is never modified.
var handlers = map[string]handler{
	"add_room":        {attrs: roomAttrs, times: true, run: addRoom},
	"edit_room":       {attrs: append([]string{"roomid", "room_id"}, roomAttrs...), times: true, run: editRoom},
	"del_room":        {attrs: []string{"room_id", "roomid"}, run: delRoom},
	"broadcast":       {attrs: []string{"userid", "msg"}, run: broadcast},
	"private_message": {attrs: []string{"dest_uid", "msg", "avatar", "emotion", "owner_uid", "owner_nick", "b", "i", "u", "color"}, run: privateMessage},
	"start_group":     {run: startGroup},
	"stop_group":      {attrs: []string{"msg"}, run: stopGroup},
	"get_online":      {query: true, run: getOnline},
	"get_rooms":       {query: true, run: getRooms},
	"get_room_users":  {attrs: []string{"room_id", "roomid"}, query: true, run: getRoomUsers},
	// Moderation (moderation.go).
	"kick":          {attrs: []string{"user", "room_id", "roomid", "reason", "minutes", "actor"}, run: kickCmd},
	"ban":           {attrs: []string{"user", "ip", "room_id", "roomid", "minutes", "until", "reason", "actor"}, run: sanctionCmd(sdk.SanctionBan)},
	"mute":          {attrs: []string{"user", "room_id", "roomid", "minutes", "until", "reason", "actor"}, run: sanctionCmd(sdk.SanctionMute)},
	"unban":         {attrs: []string{"id", "user", "ip", "room_id", "roomid", "actor"}, run: liftCmd(sdk.SanctionBan)},
	"unmute":        {attrs: []string{"id", "user", "room_id", "roomid", "actor"}, run: liftCmd(sdk.SanctionMute)},
	"get_sanctions": {attrs: []string{"kind", "user", "ip", "room_id", "roomid", "active"}, query: true, run: getSanctions},
	"get_held":      {attrs: []string{"room_id", "roomid"}, query: true, run: getHeld},
	"approve":       {attrs: []string{"id", "text", "reason", "actor"}, run: approveCmd},
	"decline":       {attrs: []string{"id", "reason", "actor"}, run: declineCmd},
	"get_audit":     {attrs: []string{"room_id", "roomid", "target", "action", "since", "limit"}, query: true, run: getAudit},
}

// commandTypes lists the command types in name order.
func commandTypes() []string {
	out := make([]string, 0, len(handlers))
	for k := range handlers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// isQuery reports whether typ is a command that only reads.
func isQuery(typ string) bool { return handlers[typ].query }

// Limits of attribute values.
const (
	maxNameChars = 64   // room name, owner, speaker, sender names
	maxTextChars = 1000 // desc, wm
	maxPwdChars  = 64
	maxRoomMax   = 100000
)

// attrs reads a command's attributes with their types.
type attrs struct {
	m map[string]string
}

// only fails on an attribute the command does not take.
func (a *attrs) only(known []string) error {
	var unknown []string
	for k := range a.m {
		ok := false
		for _, n := range known {
			if k == n {
				ok = true
				break
			}
		}
		if !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	for i, u := range unknown {
		unknown[i] = clip(u, 32)
	}
	if len(known) == 0 {
		return fmt.Errorf("unknown attribute %s (this command takes none)", strings.Join(unknown, ", "))
	}
	return fmt.Errorf("unknown attribute %s (known: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
}

func (a *attrs) has(name string) bool {
	_, ok := a.m[name]
	return ok
}

// str returns a text attribute of at most max characters.
func (a *attrs) str(name string, max int) (string, bool, error) {
	v, ok := a.m[name]
	if !ok {
		return "", false, nil
	}
	if n := utf8.RuneCountInString(v); n > max {
		return "", true, fmt.Errorf("%s is too long (%d characters, at most %d)", name, n, max)
	}
	return v, true, nil
}

// boolean reads 1/0, true/false, yes/no or on/off.
func (a *attrs) boolean(name string) (bool, bool, error) {
	v, ok := a.m[name]
	if !ok {
		return false, false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, true, nil
	case "0", "false", "no", "off":
		return false, true, nil
	}
	return false, true, fmt.Errorf("%s=%q is not a boolean (use 1 or 0, true or false)", name, clip(v, 32))
}

// integer reads a whole number within lo..hi.
func (a *attrs) integer(name string, lo, hi int64) (int64, bool, error) {
	v, ok := a.m[name]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%s=%q is not a whole number", name, clip(v, 32))
	}
	if n < lo || n > hi {
		return 0, true, fmt.Errorf("%s=%d is outside %d..%d", name, n, lo, hi)
	}
	return n, true, nil
}

// roomID reads a room id given under either of two attribute names; it
// replies with an error when the id is missing or invalid.
func (a *attrs) roomID(names ...string) (int64, *Reply) {
	var id int64
	var from string
	for _, n := range names {
		v, ok, err := a.integer(n, 1, 1<<53)
		if err != nil {
			r := failErr(CodeBadArgument, err)
			return 0, &r
		}
		if !ok {
			continue
		}
		if from != "" && v != id {
			r := Fail(CodeBadArgument, "%s=%d and %s=%d disagree.", from, id, n, v)
			return 0, &r
		}
		id, from = v, n
	}
	if from == "" {
		r := Fail(CodeBadArgument, "Missing attribute %s (the room id).", names[0])
		return 0, &r
	}
	return id, nil
}

// applyRoom sets the room properties given in a onto info and reports
// whether there was any.
func applyRoom(info *chat.RoomInfo, a *attrs) (bool, error) {
	var errs []error
	changed := false
	text := func(name string, max int, dst *string) {
		v, ok, err := a.str(name, max)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			*dst, changed = v, true
		}
	}
	flag := func(name string, dst *bool) {
		v, ok, err := a.boolean(name)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			*dst, changed = v, true
		}
	}
	text("name", maxNameChars, &info.Name)
	text("owner", maxNameChars, &info.Owner)
	text("desc", maxTextChars, &info.Desc)
	text("speaker", maxNameChars, &info.Speaker)
	text("pwd", maxPwdChars, &info.Password)
	text("wm", maxTextChars, &info.Welcome)
	text("tz", maxNameChars, &info.Zone)
	info.Zone = strings.TrimSpace(info.Zone)
	flag("member", &info.Member)
	flag("passallmessage", &info.PassAllMessage)
	flag("en", &info.Open)
	flag("audio", &info.Audio)
	flag("video", &info.Video)
	flag("wb", &info.Whiteboard)
	if v, ok, err := a.integer("max", 0, maxRoomMax); err != nil {
		errs = append(errs, err)
	} else if ok {
		info.Max, changed = int(v), true
	}
	if v, ok, err := a.integer("st", 0, 2); err != nil {
		errs = append(errs, err)
	} else if ok {
		if v == 1 {
			errs = append(errs, errors.New("st=1 is not 0 (text list too) or 2 (avatar client only)"))
		}
		info.ST, changed = int(v), true
	}
	info.Name = strings.TrimSpace(info.Name)
	if a.has("name") && info.Name == "" {
		errs = append(errs, errors.New("name must not be empty"))
	}
	return changed, errors.Join(errs...)
}

// notApplied is added to the replies that show opening times while no
// module applies them.
const notApplied = " The opening times (roomOpen) are stored and shown but not applied: scheduling needs the schedule module."

// timesNote is what a reply adds about opening times: nothing when the
// schedule module applies them, or there are none.
func (d *Dispatcher) timesNote(has bool) string {
	if !has || (d.scheduler != nil && d.scheduler()) {
		return ""
	}
	return notApplied
}

func roomReply(g *chat.Group, info chat.RoomInfo, count int) *Room {
	r := &Room{
		ID: info.ID, Name: info.Name, Owner: info.Owner, Desc: info.Desc, Max: info.Max,
		Speaker: info.Speaker, Member: info.Member, Locked: info.Password != "",
		PassAllMessage: info.PassAllMessage, Open: info.Open, ST: info.ST, Welcome: info.Welcome,
		Audio: info.Audio, Video: info.Video, Whiteboard: info.Whiteboard, Count: count,
	}
	if len(info.Schedule) == 0 {
		return r
	}
	loc := g.Zone()
	if info.Zone != "" {
		if l, err := schedule.LoadZone(info.Zone); err == nil {
			loc = l
		}
	}
	r.Times, r.Zone, r.Schedule = append([]OpenTime{}, info.Schedule...), loc.String(), info.Sched.Word()
	if next := info.Sched.Next; info.Sched.Applied && !next.IsZero() {
		if info.Sched.Closed {
			r.Opens = next.In(loc).Format(time.RFC3339)
		} else {
			r.Closes = next.In(loc).Format(time.RFC3339)
		}
	}
	return r
}

func roomCount(g *chat.Group, id int64) int {
	users, err := g.Users(id)
	if err != nil {
		return 0
	}
	return len(users)
}

func addRoom(ctx context.Context, d *Dispatcher, g *chat.Group, a *attrs, cmd Command) Reply {
	// Defaults of a room the command does not describe fully: open,
	// guests welcome, unlimited, listed in the text client.
	info := chat.RoomInfo{Group: g.Name(), Member: true, Open: true, Origin: chat.OriginAPI, Schedule: cmd.Times}
	if _, err := applyRoom(&info, a); err != nil {
		return failErr(CodeBadArgument, err)
	}
	if !a.has("name") {
		return Fail(CodeBadArgument, "Missing attribute name (the room name).")
	}
	info, err := d.CreateRoom(ctx, info)
	if err != nil {
		return d.roomChangeReply("add_room", 0, err)
	}
	id := info.ID
	if now, ok := g.RoomInfo(id); ok {
		info = now // with the schedule's state, when a module set it meanwhile
	}
	return Reply{Code: CodeOK, Message: fmt.Sprintf("Room %d %q added.", id, info.Name) + d.timesNote(len(info.Schedule) > 0),
		Room: roomReply(g, info, 0)}
}

func editRoom(ctx context.Context, d *Dispatcher, g *chat.Group, a *attrs, cmd Command) Reply {
	id, bad := a.roomID("roomid", "room_id")
	if bad != nil {
		return *bad
	}
	var applyErr error
	nothing := errors.New("nothing to change")
	info, err := d.EditRoom(ctx, g.Name(), id, func(info *chat.RoomInfo) error {
		changed, err := applyRoom(info, a)
		if cmd.HasTimes {
			info.Schedule, changed = cmd.Times, true
		}
		if err == nil && !changed {
			err = nothing
		}
		applyErr = err
		return err
	})
	switch {
	case applyErr == nothing:
		return Fail(CodeBadArgument, "Nothing to change: give at least one of %s, or roomOpen.", strings.Join(roomAttrs, ", "))
	case applyErr != nil:
		return failErr(CodeBadArgument, applyErr)
	case errors.Is(err, store.ErrNotFound):
		return Fail(CodeNotFound, "There is no room %d.", id)
	case err != nil:
		return d.roomChangeReply("edit_room", id, err)
	}
	msg := fmt.Sprintf("Room %d %q changed.", id, info.Name)
	if cmd.HasTimes && len(info.Schedule) == 0 {
		msg += " It has no opening times now: it is always open."
	}
	return Reply{Code: CodeOK, Message: msg + d.timesNote(len(info.Schedule) > 0), Room: roomReply(g, info, roomCount(g, id))}
}

func delRoom(ctx context.Context, d *Dispatcher, g *chat.Group, a *attrs, _ Command) Reply {
	id, bad := a.roomID("room_id", "roomid")
	if bad != nil {
		return *bad
	}
	info, err := d.DeleteRoom(ctx, g.Name(), id)
	if errors.Is(err, store.ErrNotFound) {
		return Fail(CodeNotFound, "There is no room %d.", id)
	}
	if err != nil {
		var ce *chat.Error
		if errors.As(err, &ce) {
			return chatReply(ce)
		}
		return d.roomChangeReply("del_room", id, err)
	}
	msg := fmt.Sprintf("Room %d %q deleted.", id, info.Name)
	if info.Origin == chat.OriginConfig {
		msg += " It is defined in the configuration file and comes back at the next start unless it is removed there."
	}
	return Reply{Code: CodeOK, Message: msg, Room: roomReply(g, info, 0)}
}

// roomChangeReply answers a room command whose change failed: a refused
// value, or the store.
func (d *Dispatcher) roomChangeReply(cmd string, id int64, err error) Reply {
	if errors.Is(err, store.ErrInvalid) {
		return failErr(CodeBadArgument, errors.New(strings.TrimSuffix(err.Error(), ": "+store.ErrInvalid.Error())))
	}
	d.log.Error(cmd+": store", "room", id, "error", err)
	return Fail(CodeInternal, "The room could not be stored: %v", err)
}

func broadcast(_ context.Context, _ *Dispatcher, g *chat.Group, a *attrs, _ Command) Reply {
	from, _, err := a.str("userid", maxNameChars)
	if err != nil {
		return failErr(CodeBadArgument, err)
	}
	if !a.has("msg") {
		return Fail(CodeBadArgument, "Missing attribute msg (the message).")
	}
	text, err := g.CleanText(a.m["msg"])
	if err != nil {
		return chatReply(err)
	}
	n := g.BroadcastFrom(strings.TrimSpace(from), text)
	return Reply{Code: CodeOK, Message: fmt.Sprintf("Broadcast sent to %d connections.", n), Count: &n}
}

func privateMessage(_ context.Context, _ *Dispatcher, g *chat.Group, a *attrs, _ Command) Reply {
	var errs []error
	get := func(name string, max int) string {
		v, _, err := a.str(name, max)
		if err != nil {
			errs = append(errs, err)
		}
		return strings.TrimSpace(v)
	}
	dest := get("dest_uid", maxNameChars)
	nick := get("owner_nick", maxNameChars)
	uid := get("owner_uid", maxNameChars)
	get("avatar", maxNameChars)
	get("emotion", maxNameChars)
	var style chat.Style
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"b", &style.Bold}, {"i", &style.Italic}, {"u", &style.Underline}} {
		v, _, err := a.boolean(f.name)
		if err != nil {
			errs = append(errs, err)
		}
		*f.dst = v
	}
	if c, ok := a.m["color"]; ok && c != "" {
		color, err := parseColor(c)
		if err != nil {
			errs = append(errs, err)
		}
		style.Color = color
	}
	if err := errors.Join(errs...); err != nil {
		return failErr(CodeBadArgument, err)
	}
	if dest == "" {
		return Fail(CodeBadArgument, "Missing attribute dest_uid (the recipient's user name).")
	}
	if !a.has("msg") {
		return Fail(CodeBadArgument, "Missing attribute msg (the message).")
	}
	from := nick
	if from == "" {
		from = uid
	}
	if from == "" {
		from = "Server"
	}
	if err := g.PrivateFrom(from, dest, a.m["msg"], style); err != nil {
		return chatReply(err)
	}
	return Reply{Code: CodeOK, Message: fmt.Sprintf("Private message delivered to %s.", dest)}
}

// parseColor turns the seed's 0xRRGGBB (or #RRGGBB) into "#rrggbb".
func parseColor(s string) (string, error) {
	h := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(h, "0x"), strings.HasPrefix(h, "0X"):
		h = h[2:]
	case strings.HasPrefix(h, "#"):
		h = h[1:]
	default:
		return "", fmt.Errorf("color=%q must be 0x followed by six hex digits, such as 0xFF0000", clip(s, 16))
	}
	if len(h) != 6 {
		return "", fmt.Errorf("color=%q must be 0x followed by six hex digits, such as 0xFF0000", clip(s, 16))
	}
	if _, err := strconv.ParseUint(h, 16, 32); err != nil {
		return "", fmt.Errorf("color=%q must be 0x followed by six hex digits, such as 0xFF0000", clip(s, 16))
	}
	return "#" + strings.ToLower(h), nil
}

func startGroup(_ context.Context, _ *Dispatcher, g *chat.Group, _ *attrs, _ Command) Reply {
	if g.Start() {
		return Reply{Code: CodeOK, Message: fmt.Sprintf("Group %s started; logins are accepted again.", g.Name())}
	}
	return Reply{Code: CodeOK, Message: fmt.Sprintf("Group %s was running already.", g.Name())}
}

func stopGroup(_ context.Context, _ *Dispatcher, g *chat.Group, a *attrs, _ Command) Reply {
	text, _, err := a.str("msg", maxTextChars)
	if err != nil {
		return failErr(CodeBadArgument, err)
	}
	if strings.TrimSpace(text) == "" {
		text = "The chat has been closed by the administrator."
	}
	was := g.Stopped()
	n := g.Stop(text)
	msg := fmt.Sprintf("Group %s stopped; %d connections closed; logins are refused until start_group.", g.Name(), n)
	if was {
		msg = fmt.Sprintf("Group %s was stopped already; %d connections closed.", g.Name(), n)
	}
	return Reply{Code: CodeOK, Message: msg, Count: &n}
}

func getOnline(_ context.Context, _ *Dispatcher, g *chat.Group, _ *attrs, _ Command) Reply {
	c, u, r := g.Counts()
	return Reply{Code: CodeOK, Message: fmt.Sprintf("%d connections, %d users logged in, %d rooms.", c, u, r),
		Online: &Online{Connections: c, Users: u, Rooms: r}}
}

func getRooms(_ context.Context, d *Dispatcher, g *chat.Group, _ *attrs, _ Command) Reply {
	snap := g.Snapshot()
	rooms := make([]Room, 0, len(snap.Rooms))
	timed := false
	for _, ru := range snap.Rooms {
		info, ok := g.RoomInfo(ru.ID)
		if !ok {
			continue // removed meanwhile
		}
		timed = timed || len(info.Schedule) > 0
		rooms = append(rooms, *roomReply(g, info, len(ru.Users)))
	}
	return Reply{Code: CodeOK, Message: fmt.Sprintf("%d rooms.", len(rooms)) + d.timesNote(timed), Rooms: rooms}
}

func getRoomUsers(_ context.Context, _ *Dispatcher, g *chat.Group, a *attrs, _ Command) Reply {
	id, bad := a.roomID("room_id", "roomid")
	if bad != nil {
		return *bad
	}
	users, err := g.Users(id)
	if err != nil {
		return chatReply(err)
	}
	return Reply{Code: CodeOK, Message: fmt.Sprintf("%d users in room %d.", len(users), id),
		Users: &RoomUsers{Room: id, Users: users}}
}
