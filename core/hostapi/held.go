package hostapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
)

// Hold keeps a public message a module held for a moderator, in the store
// (so that it survives a restart), and returns its id. It implements
// core/session's Holder.
func (a *API) Hold(ctx context.Context, m chat.Message, note string) (int64, error) {
	return a.HoldBy(ctx, "", m, note)
}

// HoldBy is Hold recording the module that held the message.
func (a *API) HoldBy(ctx context.Context, plugin string, m chat.Message, note string) (int64, error) {
	if a.data == nil {
		return 0, errors.New("host api: the store keeps no held messages")
	}
	if m.From == "" || m.RoomID <= 0 {
		return 0, fmt.Errorf("hold message: it needs an author and a room (from %q, room %d)", m.From, m.RoomID)
	}
	if c := a.chat(); m.Group == "" && c != nil {
		m.Group = c.Name()
	}
	if m.Group == "" {
		m.Group = chat.DefaultGroup
	}
	if r := []rune(note); len(r) > MaxReasonChars {
		note = string(r[:MaxReasonChars])
	}
	m.Time = a.opts.Now()
	rec := store.HeldRecord{Message: m, Note: note, Plugin: plugin}
	id, err := a.data.HoldMessage(ctx, rec)
	if err != nil {
		return 0, fmt.Errorf("host api: %w", err)
	}
	rec.ID = id
	a.log.Info("message held", "plugin", plugin, "id", id, "user", m.From, "room", m.RoomID)
	actor := plugin
	if actor == "" {
		actor = "module"
	}
	a.record(ctx, sdk.AuditEntry{Action: sdk.AuditHold, Actor: actor, Source: actor, Target: m.From, Room: m.RoomID,
		Reason: note, Detail: fmt.Sprintf("held message %d: %s", id, m.Text)})
	a.notifyHeld(sdk.MessageHeld, toHeld(rec), sdk.Resolution{}, nil)
	return id, nil
}

// notifyHeld tells the modules about the held queue.
func (a *API) notifyHeld(kind sdk.NotificationKind, h sdk.HeldMessage, r sdk.Resolution, published *sdk.Message) {
	if a.opts.Notify == nil {
		return
	}
	a.opts.Notify(sdk.Notification{Kind: kind, User: h.Message.From, Room: h.Message.Room, Time: a.opts.Now().UTC(),
		Held: h, Resolution: r, Message: published})
}

type held struct{ h *host }

func (d held) prepare() (Chat, store.HostData, error) {
	c, err := d.h.chat()
	if err != nil {
		return nil, nil, err
	}
	if d.h.api.data == nil {
		return nil, nil, errors.New("host api: the store keeps no held messages")
	}
	return c, d.h.api.data, nil
}

func toHeld(r store.HeldRecord) sdk.HeldMessage {
	m := r.Message.SDK()
	m.ID = 0
	return sdk.HeldMessage{ID: r.ID, Message: m, Note: r.Note, Plugin: r.Plugin}
}

func (d held) List(ctx context.Context, room int64) ([]sdk.HeldMessage, error) {
	c, st, err := d.prepare()
	if err != nil {
		return nil, err
	}
	if room < 0 {
		return nil, invalid("room %d is not a room id (0 is every room)", room)
	}
	list, err := st.HeldMessages(ctx, c.Name(), room)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]sdk.HeldMessage, 0, len(list))
	for _, r := range list {
		out = append(out, toHeld(r))
	}
	return out, nil
}

// find returns held message id if it belongs to this chat group.
func (d held) find(ctx context.Context, c Chat, st store.HostData, id int64) (store.HeldRecord, error) {
	r, err := st.HeldMessage(ctx, id)
	if err != nil {
		return store.HeldRecord{}, storeErr(err)
	}
	if r.Message.Group != c.Name() {
		return store.HeldRecord{}, notFound("there is no held message %d", id)
	}
	return r, nil
}

// resolution checks r and fills in the actor (the caller's name when
// empty).
func (d held) resolution(r *sdk.Resolution) error {
	if err := errors.Join(checkText("the actor", r.Actor, MaxActorChars), checkText("the reason", r.Reason, MaxReasonChars)); err != nil {
		return err
	}
	if r.Actor == "" {
		r.Actor = d.h.source()
	}
	return nil
}

func (d held) Release(ctx context.Context, id int64, res sdk.Resolution) (sdk.Message, error) {
	c, st, err := d.prepare()
	if err != nil {
		return sdk.Message{}, err
	}
	if err := d.resolution(&res); err != nil {
		return sdk.Message{}, err
	}
	d.h.api.heldMu.Lock()
	defer d.h.api.heldMu.Unlock()
	r, err := d.find(ctx, c, st, id)
	if err != nil {
		return sdk.Message{}, err
	}
	var msg chat.Message
	err = d.h.api.exclusive(ctx, heldLease(r.Message.RoomID), func() error {
		// Read again under the lease: another node may have resolved it
		// in the meantime.
		if r, err = d.find(ctx, c, st, id); err != nil {
			return err
		}
		text := r.Message.Text
		if res.Text != "" {
			text = res.Text
		}
		// Said first, forgotten after: a failure keeps the message held.
		// It keeps its author and the time it was written.
		if msg, err = c.SayAt(r.Message.From, r.Message.RoomID, text, r.Message.Style, r.Message.Emotion, r.Message.Time); err != nil {
			return chatErr(err)
		}
		if _, err := st.TakeHeld(ctx, id); err != nil {
			return fmt.Errorf("released held message %d, but it could not be forgotten: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return sdk.Message{}, err
	}
	d.h.api.log.Info("held message released", "plugin", d.h.plugin, "id", id, "user", r.Message.From, "room", r.Message.RoomID, "by", res.Actor)
	detail := fmt.Sprintf("held message %d, published as message %d", id, msg.ID)
	if msg.Text != r.Message.Text {
		detail += fmt.Sprintf("; edited from %q to %q", r.Message.Text, msg.Text)
	}
	d.h.api.record(ctx, sdk.AuditEntry{Action: sdk.AuditApprove, Actor: res.Actor, Source: d.h.source(), Target: r.Message.From,
		Room: r.Message.RoomID, Reason: res.Reason, Detail: detail})
	out := msg.SDK()
	h := toHeld(r)
	h.Message.Text = msg.Text
	d.h.api.notifyHeld(sdk.MessageReleased, h, res, &out)
	return out, nil
}

func (d held) Decline(ctx context.Context, id int64, res sdk.Resolution) error {
	c, st, err := d.prepare()
	if err != nil {
		return err
	}
	if err := d.resolution(&res); err != nil {
		return err
	}
	res.Text = ""
	d.h.api.heldMu.Lock()
	defer d.h.api.heldMu.Unlock()
	r, err := d.find(ctx, c, st, id)
	if err != nil {
		return err
	}
	err = d.h.api.exclusive(ctx, heldLease(r.Message.RoomID), func() error {
		if _, err := d.find(ctx, c, st, id); err != nil {
			return err
		}
		r, err = st.TakeHeld(ctx, id)
		return storeErr(err)
	})
	if err != nil {
		return err
	}
	room := fmt.Sprintf("room %d", r.Message.RoomID)
	if info, ok := c.RoomInfo(r.Message.RoomID); ok {
		room = info.Name
	}
	text := fmt.Sprintf("Your message in %s was not published.", room)
	if res.Reason != "" {
		text = fmt.Sprintf("Your message in %s was not published: %s", room, res.Reason)
	}
	c.SendUser(r.Message.From, chat.NewFrame(chat.NoticeEvent{Type: "notice", Text: text}))
	d.h.api.log.Info("held message declined", "plugin", d.h.plugin, "id", id, "user", r.Message.From, "room", r.Message.RoomID, "by", res.Actor)
	d.h.api.record(ctx, sdk.AuditEntry{Action: sdk.AuditDecline, Actor: res.Actor, Source: d.h.source(), Target: r.Message.From,
		Room: r.Message.RoomID, Reason: res.Reason, Detail: fmt.Sprintf("held message %d: %s", id, r.Message.Text)})
	d.h.api.notifyHeld(sdk.MessageDeclined, toHeld(r), res, nil)
	return nil
}
