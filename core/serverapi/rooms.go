package serverapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// The room changes of add_room, edit_room and del_room, for the server
// API and for the Host API (core/hostapi) alike: the store first, then the
// chat group, serialised. Errors wrap store.ErrNotFound (no such room or
// group) or store.ErrInvalid (a value CheckRoom refuses).

// CheckRoom refuses a room definition the server API would not accept:
// an empty name, texts over their length limits, a capacity out of range
// or an st other than 0 and 2. The error wraps store.ErrInvalid.
func CheckRoom(info chat.RoomInfo) error { return checkRoomChange(nil, info) }

// checkRoomChange is CheckRoom for a room that was before (nil for a new
// one): a value it already had passes (a room of the config file may
// hold what the commands would refuse, such as a long owner list).
func checkRoomChange(before *chat.RoomInfo, info chat.RoomInfo) error {
	var errs []error
	var old chat.RoomInfo
	if before != nil {
		old = *before
	}
	text := func(name, v, was string, max int) {
		if n := utf8.RuneCountInString(v); n > max && (before == nil || v != was) {
			errs = append(errs, fmt.Errorf("%s is too long (%d characters, at most %d)", name, n, max))
		}
	}
	if strings.TrimSpace(info.Name) == "" {
		errs = append(errs, errors.New("name must not be empty"))
	}
	text("name", info.Name, old.Name, maxNameChars)
	text("owner", info.Owner, old.Owner, maxNameChars)
	text("speaker", info.Speaker, old.Speaker, maxNameChars)
	text("desc", info.Desc, old.Desc, maxTextChars)
	text("wm", info.Welcome, old.Welcome, maxTextChars)
	text("pwd", info.Password, old.Password, maxPwdChars)
	if (info.Max < 0 || info.Max > maxRoomMax) && (before == nil || before.Max != info.Max) {
		errs = append(errs, fmt.Errorf("max=%d is not between 0 and %d", info.Max, maxRoomMax))
	}
	if info.ST != 0 && info.ST != 2 && (before == nil || before.ST != info.ST) {
		errs = append(errs, fmt.Errorf("st=%d is not 0 (text list too) or 2 (avatar client only)", info.ST))
	}
	if len(info.Schedule) > maxTimes {
		errs = append(errs, fmt.Errorf("roomOpen: more than %d opening times", maxTimes))
	} else if _, err := schedule.ParseAll(info.Schedule); err != nil {
		errs = append(errs, fmt.Errorf("roomOpen: %w", err))
	}
	if info.Zone != "" {
		if _, err := schedule.LoadZone(info.Zone); err != nil {
			errs = append(errs, fmt.Errorf("tz: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", err, store.ErrInvalid)
	}
	return nil
}

// normalTimes writes valid opening times as sdk/schedule does (HH:MM
// becomes HH:MM:SS, day names lower case); invalid ones are left for
// CheckRoom to refuse.
func normalTimes(times []OpenTime) []OpenTime {
	rules, err := schedule.ParseAll(times)
	if err != nil || len(rules) == 0 {
		return times
	}
	out := make([]OpenTime, len(rules))
	for i, r := range rules {
		out[i] = r.Entry()
	}
	return out
}

// group returns the chat group called name ("" for the default one).
func (d *Dispatcher) group(name string) (*chat.Group, error) {
	if name == "" {
		name = d.defaultGroup
	}
	t, ok := d.groups[name]
	if !ok {
		return nil, fmt.Errorf("group %q: %w", name, store.ErrNotFound)
	}
	return t.chat, nil
}

// CreateRoom stores a new room (info.ID is ignored, info.Group names the
// group, "" for the default one) as changed at run time, puts it in the
// chat group and returns it with its ID.
func (d *Dispatcher) CreateRoom(ctx context.Context, info chat.RoomInfo) (chat.RoomInfo, error) {
	g, err := d.group(info.Group)
	if err != nil {
		return chat.RoomInfo{}, err
	}
	info.ID, info.Group, info.Name, info.Origin = 0, g.Name(), strings.TrimSpace(info.Name), chat.OriginAPI
	info.Schedule, info.Sched = normalTimes(info.Schedule), chat.ScheduleState{}
	if err := CheckRoom(info); err != nil {
		return chat.RoomInfo{}, err
	}
	d.roomMu.Lock()
	defer d.roomMu.Unlock()
	id, err := d.store.SaveRoom(ctx, info)
	if err != nil {
		return chat.RoomInfo{}, fmt.Errorf("create room %q: %w", info.Name, err)
	}
	info.ID = id
	g.PutRoom(info, nil)
	g.RoomStored(id, false)
	return info, nil
}

// EditRoom applies edit to room id of group ("" for the default one),
// stores the result as changed at run time and puts it in the chat group.
// An error from edit is returned as it is, and nothing changes.
func (d *Dispatcher) EditRoom(ctx context.Context, group string, id int64, edit func(*chat.RoomInfo) error) (chat.RoomInfo, error) {
	g, err := d.group(group)
	if err != nil {
		return chat.RoomInfo{}, err
	}
	d.roomMu.Lock()
	defer d.roomMu.Unlock()
	info, ok := g.RoomInfo(id)
	if !ok {
		return chat.RoomInfo{}, fmt.Errorf("there is no room %d: %w", id, store.ErrNotFound)
	}
	before := info
	if err := edit(&info); err != nil {
		return chat.RoomInfo{}, err
	}
	info.ID, info.Group, info.Name, info.Origin = id, g.Name(), strings.TrimSpace(info.Name), chat.OriginAPI
	info.Schedule = normalTimes(info.Schedule)
	if err := checkRoomChange(&before, info); err != nil {
		return chat.RoomInfo{}, err
	}
	if _, err := d.store.SaveRoom(ctx, info); err != nil {
		return chat.RoomInfo{}, fmt.Errorf("edit room %d: %w", id, err)
	}
	g.PutRoom(info, nil)
	g.RoomStored(id, false)
	return info, nil
}

// DeleteRoom removes room id of group ("" for the default one) from the
// store and the chat group (its members are moved out and told) and
// returns what it was.
func (d *Dispatcher) DeleteRoom(ctx context.Context, group string, id int64) (chat.RoomInfo, error) {
	g, err := d.group(group)
	if err != nil {
		return chat.RoomInfo{}, err
	}
	d.roomMu.Lock()
	defer d.roomMu.Unlock()
	info, ok := g.RoomInfo(id)
	if !ok {
		return chat.RoomInfo{}, fmt.Errorf("there is no room %d: %w", id, store.ErrNotFound)
	}
	if err := d.store.DeleteRoom(ctx, g.Name(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return chat.RoomInfo{}, fmt.Errorf("delete room %d: %w", id, err)
	}
	if err := g.RemoveRoom(id); err != nil {
		return chat.RoomInfo{}, fmt.Errorf("delete room %d: %w", id, err)
	}
	g.RoomStored(id, true)
	return info, nil
}
