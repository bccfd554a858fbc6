package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// speaksFreely reports whether a role speaks directly in a moderated
// room: speakers, moderators and administrators.
func speaksFreely(r sdk.Role) bool { return r.Rank() >= sdk.RoleSpeaker.Rank() }

// OnMessage runs automod on public messages, then holds those of users
// and guests in moderated rooms. Private messages pass.
func (m *moderation) OnMessage(ctx context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error) {
	if ev.To != "" || ev.Room == 0 {
		return sdk.MessageVerdict{Action: sdk.Pass}, nil
	}
	v := sdk.MessageVerdict{Action: sdk.Pass}
	if h := m.automod.check(ev.From, ev.Text); h != nil {
		var stop bool
		v, stop = m.enforce(ctx, ev, h)
		if stop {
			return v, nil
		}
	}
	if speaksFreely(ev.From.Role) {
		return v, nil
	}
	room, err := m.room(ctx, ev.Room)
	if err != nil {
		// No answer: the host's fail policy decides (closed for a
		// moderated room).
		return sdk.MessageVerdict{}, err
	}
	if !room.moderated {
		return v, nil
	}
	return sdk.MessageVerdict{Action: sdk.Hold, Note: m.cfg.HoldNote}, nil
}

// enforce applies an automod hit: the verdict, and whether it ends the
// message's way (everything but a mask).
func (m *moderation) enforce(ctx context.Context, ev sdk.MessageEvent, h *hit) (sdk.MessageVerdict, bool) {
	m.auditAutomod(ctx, ev, h)
	switch h.Action {
	case actMask:
		return sdk.MessageVerdict{Action: sdk.Modify, Text: h.Text, Style: ev.Style}, false
	case actHold:
		return sdk.MessageVerdict{Action: sdk.Hold, Note: "held for a moderator: " + h.Why}, true
	case actMute:
		until := m.now().Add(time.Duration(h.Minutes) * time.Minute)
		_, err := m.host.Sanctions().Add(ctx, sdk.Sanction{
			Kind: sdk.SanctionMute, User: ev.From.Name, Room: ev.Room,
			Reason: h.Why, Actor: h.Rule, Source: "automod", Expires: until,
		})
		if err != nil {
			m.log.Warn("automod could not mute", "rule", h.Rule, "user", ev.From.Name, "room", ev.Room, "error", err)
			return sdk.MessageVerdict{Action: sdk.Reject, Reason: "Message not sent: " + h.Why + "."}, true
		}
		m.announceSanctions(ctx, ev.Room)
		return sdk.MessageVerdict{Action: sdk.Reject, Reason: fmt.Sprintf(
			"Message not sent: %s. You are muted in this room for %d minutes.", h.Why, h.Minutes)}, true
	}
	return sdk.MessageVerdict{Action: sdk.Reject, Reason: "Message not sent: " + h.Why + "."}, true
}

// OnNotify keeps the room cache fresh and tells moderators about their
// queues: each held message and resolution as it comes, then each
// changed queue once per batch.
func (m *moderation) OnNotify(ctx context.Context, batch []sdk.Notification) {
	var changed []int64
	for _, n := range batch {
		if n.Kind == sdk.RoomChanged {
			m.rooms.forget(n.Room)
		}
		if m.notifyHeld(ctx, n) && !slices.Contains(changed, n.Room) {
			changed = append(changed, n.Room)
		}
	}
	for _, room := range changed {
		m.announceQueue(ctx, room)
	}
}
