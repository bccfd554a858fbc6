package main

import (
	"context"

	"github.com/parlorchat/parlor/sdk"
)

// auditEntry is one line of the moderation log.
type auditEntry struct {
	Action string // kick, mute, ban, lift, approve, decline, automod, setting
	Actor  string
	Target string
	Room   int64
	Reason string
	Detail string
}

// audit appends an entry to the server's audit log.
func (m *moderation) audit(ctx context.Context, e auditEntry) {
	m.log.Info("moderation", "action", e.Action, "actor", e.Actor, "target", e.Target, "room", e.Room, "reason", e.Reason, "detail", e.Detail)
}

// auditAutomod records an automod hit.
func (m *moderation) auditAutomod(ctx context.Context, ev sdk.MessageEvent, h *hit) {
	m.audit(ctx, auditEntry{Action: "automod", Actor: h.Rule, Target: ev.From.Name, Room: ev.Room, Reason: h.Why, Detail: h.Action})
}

// memberIP is a member's address, when the host gives it.
func memberIP(mem sdk.Member) string { return "" }
