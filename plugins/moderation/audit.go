package main

import (
	"context"

	"github.com/parlorchat/parlor/sdk"
)

// The host records every sanction added and lifted, every kick and every
// hold, release and decline in the audit log, whoever asked for it; the
// module records what only it knows: automod hits.

// maxAuditText bounds the message text quoted in an automod entry.
const maxAuditText = 500

// auditAutomod records an automod hit: Actor is the rule, Source
// "automod", Target the author, Detail the action and the message.
func (m *moderation) auditAutomod(ctx context.Context, ev sdk.MessageEvent, h *hit) {
	text := []rune(ev.Text)
	if len(text) > maxAuditText {
		text = append(text[:maxAuditText], '…')
	}
	_, err := m.host.Audit().Append(ctx, sdk.AuditEntry{
		Action: sdk.AuditAutomod, Actor: h.Rule, Source: "automod", Target: ev.From.Name, Room: ev.Room,
		Reason: h.Why, Detail: h.Action + ": " + string(text),
	})
	if err != nil {
		m.log.Warn("could not record an automod hit", "rule", h.Rule, "user", ev.From.Name, "error", err)
	}
}
