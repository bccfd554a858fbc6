package hostapi

import (
	"context"
	"errors"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
)

type rooms struct{ h *host }

func (r rooms) changer() (RoomChanger, error) {
	ch := r.h.api.parts.Load().rooms
	if ch == nil {
		return nil, errNoChat
	}
	return ch, nil
}

func (r rooms) List(ctx context.Context) ([]sdk.Room, error) {
	c, err := r.h.chat()
	if err != nil {
		return nil, err
	}
	views := c.Rooms()
	out := make([]sdk.Room, 0, len(views))
	for _, v := range views {
		if room, ok := c.Room(v.ID); ok {
			out = append(out, room)
		}
	}
	return out, ctx.Err()
}

func (r rooms) Get(ctx context.Context, id int64) (sdk.Room, error) {
	c, err := r.h.chat()
	if err != nil {
		return sdk.Room{}, err
	}
	room, ok := c.Room(id)
	if !ok {
		return sdk.Room{}, notFound("there is no room %d", id)
	}
	return room, ctx.Err()
}

func (r rooms) Create(ctx context.Context, room sdk.Room) (sdk.Room, error) {
	ch, err := r.changer()
	if err != nil {
		return sdk.Room{}, err
	}
	info, err := ch.CreateRoom(ctx, chat.RoomInfo{
		Name: room.Name, Desc: room.Desc, Owner: room.Owner, Speaker: room.Speaker, Max: room.Max,
		Member: room.Guests, Password: room.Password, Open: room.Open, PassAllMessage: room.Moderated,
		Welcome: room.Welcome, Audio: room.Audio, Video: room.Video, Whiteboard: room.Whiteboard,
		Schedule: room.Schedule, Zone: room.OwnZone,
	})
	if err != nil {
		return sdk.Room{}, storeErr(err)
	}
	r.h.api.log.Info("room created", "plugin", r.h.plugin, "room", info.ID, "name", info.Name)
	return r.view(info, 0), nil
}

// view is the room as plugins see it, from the chat group when it has it
// (with its zone and count), else from info.
func (r rooms) view(info chat.RoomInfo, count int) sdk.Room {
	if c, err := r.h.chat(); err == nil {
		if room, ok := c.Room(info.ID); ok {
			return room
		}
	}
	return info.SDK(count, info.Zone)
}

// errNothing refuses an edit that changes nothing.
var errNothing = invalid("nothing to change: give at least one field")

func applyEdit(info *chat.RoomInfo, e sdk.RoomEdit) error {
	changed := false
	str := func(dst *string, v *string) {
		if v != nil {
			*dst, changed = *v, true
		}
	}
	flag := func(dst *bool, v *bool) {
		if v != nil {
			*dst, changed = *v, true
		}
	}
	str(&info.Name, e.Name)
	str(&info.Desc, e.Desc)
	str(&info.Owner, e.Owner)
	str(&info.Speaker, e.Speaker)
	str(&info.Password, e.Password)
	str(&info.Welcome, e.Welcome)
	flag(&info.Member, e.Guests)
	flag(&info.Open, e.Open)
	flag(&info.PassAllMessage, e.Moderated)
	flag(&info.Audio, e.Audio)
	flag(&info.Video, e.Video)
	flag(&info.Whiteboard, e.Whiteboard)
	if e.Max != nil {
		info.Max, changed = *e.Max, true
	}
	if e.Schedule != nil {
		info.Schedule, changed = append([]schedule.Entry(nil), *e.Schedule...), true
	}
	str(&info.Zone, e.Zone)
	if !changed {
		return errNothing
	}
	return nil
}

func (r rooms) Edit(ctx context.Context, id int64, e sdk.RoomEdit) (sdk.Room, error) {
	ch, err := r.changer()
	if err != nil {
		return sdk.Room{}, err
	}
	info, err := ch.EditRoom(ctx, "", id, func(info *chat.RoomInfo) error { return applyEdit(info, e) })
	if errors.Is(err, errNothing) {
		return sdk.Room{}, err
	}
	if err != nil {
		return sdk.Room{}, storeErr(err)
	}
	r.h.api.log.Info("room changed", "plugin", r.h.plugin, "room", id, "name", info.Name)
	return r.view(info, 0), nil
}

func (r rooms) SetSchedule(ctx context.Context, id int64, s sdk.ScheduleState) (sdk.Room, error) {
	c, err := r.h.chat()
	if err != nil {
		return sdk.Room{}, err
	}
	info, err := c.SetSchedule(id, chat.ScheduleState{Closed: s.Closed, Next: s.Next}, s.MoveOut)
	if err != nil {
		return sdk.Room{}, chatErr(err)
	}
	return r.view(info, 0), ctx.Err()
}

func (r rooms) SetOpen(ctx context.Context, id int64, open bool) (sdk.Room, error) {
	return r.Edit(ctx, id, sdk.RoomEdit{Open: &open})
}

func (r rooms) Delete(ctx context.Context, id int64) error {
	ch, err := r.changer()
	if err != nil {
		return err
	}
	info, err := ch.DeleteRoom(ctx, "", id)
	if err != nil {
		return chatErr(storeErr(err))
	}
	r.h.api.log.Info("room deleted", "plugin", r.h.plugin, "room", id, "name", info.Name)
	return nil
}

type members struct{ h *host }

func (m members) List(ctx context.Context, room int64) ([]sdk.Member, error) {
	c, err := m.h.chat()
	if err != nil {
		return nil, err
	}
	views, err := c.Members(room)
	if err != nil {
		return nil, chatErr(err)
	}
	out := make([]sdk.Member, 0, len(views))
	for _, v := range views {
		out = append(out, sdk.Member{Name: v.Name, Display: v.Display, Role: v.Role, Avatar: v.Avatar, IP: v.IP})
	}
	return out, ctx.Err()
}

func (m members) Kick(ctx context.Context, name string, room int64, reason, actor string, cooldown time.Duration) error {
	c, err := m.h.chat()
	if err != nil {
		return err
	}
	if name == "" {
		return invalid("kick: give the user's name")
	}
	if room <= 0 {
		return invalid("kick: give the room (a positive id)")
	}
	if cooldown < 0 {
		return invalid("kick: negative cooldown %s", cooldown)
	}
	if err := errors.Join(checkText("the reason", reason, MaxReasonChars), checkText("the actor", actor, MaxActorChars)); err != nil {
		return err
	}
	if cooldown > 0 {
		// The cooldown's sanction must not fail after the kick.
		if err := checkName(name); err != nil {
			return err
		}
	}
	if err := c.Kick(name, room, reason); err != nil {
		return chatErr(err)
	}
	m.h.api.log.Info("user kicked", "plugin", m.h.plugin, "user", name, "room", room, "cooldown", cooldown)
	if cooldown == 0 {
		// No sanction to record it: the kick is recorded as it is.
		if actor == "" {
			actor = m.h.source()
		}
		m.h.api.record(ctx, sdk.AuditEntry{Action: sdk.SanctionKick, Actor: actor, Source: m.h.source(), Target: name,
			Room: room, Reason: reason, Detail: "kick without cooldown"})
		return nil
	}
	_, err = m.h.Sanctions().Add(ctx, sdk.Sanction{Kind: sdk.SanctionKick, User: name, Room: room, Reason: reason,
		Actor: actor, Expires: m.h.api.opts.Now().Add(cooldown)})
	return err
}

func (m members) Move(ctx context.Context, name string, to int64) error {
	c, err := m.h.chat()
	if err != nil {
		return err
	}
	if name == "" || to <= 0 {
		return invalid("move: give the user's name and the room (a positive id)")
	}
	if err := c.Move(name, to); err != nil {
		return chatErr(err)
	}
	m.h.api.log.Info("user moved", "plugin", m.h.plugin, "user", name, "room", to)
	return ctx.Err()
}
