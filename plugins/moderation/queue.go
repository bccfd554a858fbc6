package main

import (
	"context"
	"unicode/utf8"

	"github.com/parlorchat/parlor/sdk"
)

// resolvedView is the data of a mod.resolved event.
type resolvedView struct {
	Room   int64  `json:"room"`
	ID     int64  `json:"id"`
	Action string `json:"action"` // released or declined
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	Text   string `json:"text,omitempty"` // the text published, when released
}

// maxTextBytes bounds an edited text (the chat's own limit applies too).
const maxTextBytes = 4096

func (m *moderation) approve(ctx context.Context, cmd sdk.Command, req request) (sdk.Reply, error) {
	h, err := m.findHeld(ctx, cmd, req.Held)
	if err != nil {
		return sdk.Reply{}, err
	}
	text := h.Message.Text
	if req.Text != nil {
		if *req.Text == "" || len(*req.Text) > maxTextBytes || !utf8.ValidString(*req.Text) {
			return sdk.Reply{}, refuse("bad_request", "The edited text must be 1 to %d bytes of UTF-8.", maxTextBytes)
		}
		text = *req.Text
	}
	res := sdk.Resolution{Actor: cmd.Caller.Name, Reason: req.Reason}
	if text != h.Message.Text {
		res.Text = text
	}
	// The host records the approval in the audit log and notifies it
	// (OnNotify tells the moderators).
	msg, err := m.host.Held().Release(ctx, h.ID, res)
	if err != nil {
		return sdk.Reply{}, hostRefusal(err)
	}
	return reply(map[string]any{"released": h.ID, "message": map[string]any{"id": msg.ID, "from": msg.From, "text": msg.Text}})
}

func (m *moderation) decline(ctx context.Context, cmd sdk.Command, req request) (sdk.Reply, error) {
	h, err := m.findHeld(ctx, cmd, req.Held)
	if err != nil {
		return sdk.Reply{}, err
	}
	// The host tells the author (a notice with the reason), records the
	// decline and notifies it.
	if err := m.host.Held().Decline(ctx, h.ID, sdk.Resolution{Actor: cmd.Caller.Name, Reason: req.Reason}); err != nil {
		return sdk.Reply{}, hostRefusal(err)
	}
	return reply(map[string]any{"declined": h.ID})
}

// notifyHeld tells the moderators of the room about a held message
// (mod.held) or its resolution (mod.resolved), whoever resolved it, and
// reports whether the room's queue changed.
func (m *moderation) notifyHeld(ctx context.Context, n sdk.Notification) bool {
	var err error
	switch n.Kind {
	case sdk.MessageHeld:
		err = m.event(ctx, sdk.ToModerators(n.Room), "mod.held", n.Room, viewHeld(n.Held))
	case sdk.MessageReleased, sdk.MessageDeclined:
		v := resolvedView{Room: n.Room, ID: n.Held.ID, Action: string(n.Kind), By: n.Resolution.Actor, Reason: n.Resolution.Reason}
		if n.Kind == sdk.MessageReleased {
			v.Text = n.Held.Message.Text
		}
		err = m.event(ctx, sdk.ToModerators(n.Room), "mod.resolved", n.Room, v)
	default:
		return false
	}
	if err != nil {
		m.log.Warn("could not tell the moderators about a held message", "room", n.Room, "error", err)
	}
	return true
}

// announceQueue sends a room's queue to its moderators (mod.queue).
func (m *moderation) announceQueue(ctx context.Context, room int64) {
	q, err := m.queueOf(ctx, room, queueEventBytes)
	if err == nil {
		err = m.event(ctx, sdk.ToModerators(room), "mod.queue", room, q)
	}
	if err != nil {
		m.log.Warn("could not announce the queue", "room", room, "error", err)
	}
}
