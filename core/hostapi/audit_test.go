package hostapi_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/sdk"
)

// TestAuditLog: the host records every sanction added and lifted (by a
// module or the server API) and every kick; a module appends its own
// entries; the log filters, is newest first, and survives a restart.
func TestAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	p := newPlatform(t, path, nil, nil)
	ctx := context.Background()
	lobby := p.room(t, "lobby", "mia")
	p.chat.enter("bob", lobby, sdk.RoleUser)
	h := viaGRPC(t, p.api, "moderation")

	mute, err := h.Sanctions().Add(ctx, sdk.Sanction{Kind: sdk.SanctionMute, User: "bob", Room: lobby, Reason: "spam",
		Actor: "mia", Source: "manual", Expires: p.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// bob, online, is told what, why, until when and by whom.
	if got := p.chat.events("bob"); len(got) != 1 || got[0].(chat.SanctionEvent).Type != "sanctioned" || got[0].(chat.SanctionEvent).Kind != sdk.SanctionMute || got[0].(chat.SanctionEvent).Reason != "spam" {
		t.Fatalf("bob got %+v", got)
	}
	op := p.api.Operator()
	ban, err := op.Sanctions().Add(ctx, sdk.Sanction{Kind: sdk.SanctionBan, IP: "2001:db8::/32", Reason: "abuse", Actor: "ops"})
	if err != nil || ban.Source != "api" {
		t.Fatalf("api ban: %+v %v", ban, err)
	}
	p.clock.Add(time.Minute)
	if _, err := op.Sanctions().Lift(ctx, mute.ID, ""); err != nil {
		t.Fatal(err)
	}
	if got := p.chat.events("bob"); len(got) != 2 || got[1].(chat.SanctionEvent).Type != "sanction_lifted" || got[1].(chat.SanctionEvent).By != "api" {
		t.Fatalf("bob got %+v", got)
	}
	if err := h.Members().Kick(ctx, "bob", lobby, "go away", "mia", 0); err != nil {
		t.Fatal(err)
	}
	hit, err := h.Audit().Append(ctx, sdk.AuditEntry{Action: sdk.AuditAutomod, Actor: "caps", Source: "automod", Target: "Bob",
		Room: lobby, Reason: "too many capitals", Detail: "HELLO\nWORLD", Plugin: "forged"})
	if err != nil || hit.ID == 0 || hit.Plugin != "moderation" || hit.Time.IsZero() {
		t.Fatalf("append: %+v %v", hit, err)
	}
	for _, bad := range []sdk.AuditEntry{
		{},
		{Action: "x", Room: -1},
		{Action: "x", Detail: strings.Repeat("d", 5000)},
		{Action: "x", Reason: "a\x00b"},
		{Action: "x", Actor: strings.Repeat("a", 100)},
	} {
		if _, err := h.Audit().Append(ctx, bad); !errors.Is(err, sdk.ErrInvalid) {
			t.Fatalf("append %+v: %v", bad, err)
		}
	}

	// Reopen the store: the log is all there, newest first.
	_ = p.st.Close()
	q := newPlatform(t, path, p.chat, p.clock)
	h = viaGRPC(t, q.api, "moderation")
	all, err := h.Audit().List(ctx, sdk.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range all {
		got = append(got, e.Action+" "+e.Actor+" "+e.Source+" "+e.Target+" "+e.Plugin)
	}
	want := []string{
		"automod caps automod Bob moderation",
		"kick mia moderation bob ",
		"lift api api bob ",
		"ban ops api 2001:db8::/32 ",
		"mute mia manual bob ",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit log\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e := all[4]; e.Room != lobby || e.Reason != "spam" || !strings.Contains(e.Detail, "until") {
		t.Fatalf("mute entry %+v", e)
	}
	if e := all[0]; e.Detail != "HELLO\nWORLD" {
		t.Fatalf("detail %q", e.Detail)
	}
	// Filters: a target however written, an action, a room, a time, a limit.
	if l, _ := h.Audit().List(ctx, sdk.AuditFilter{Target: "BOB"}); len(l) != 4 {
		t.Fatalf("by target: %+v", l)
	}
	if l, _ := h.Audit().List(ctx, sdk.AuditFilter{Action: sdk.SanctionBan}); len(l) != 1 || l[0].ID != all[3].ID {
		t.Fatalf("by action: %+v", l)
	}
	if l, _ := h.Audit().List(ctx, sdk.AuditFilter{Room: lobby}); len(l) != 4 {
		t.Fatalf("by room: %+v", l)
	}
	if l, _ := h.Audit().List(ctx, sdk.AuditFilter{Since: all[2].Time}); len(l) != 3 {
		t.Fatalf("since: %+v", l)
	}
	if l, _ := h.Audit().List(ctx, sdk.AuditFilter{Limit: 2}); len(l) != 2 || l[0].ID != all[0].ID {
		t.Fatalf("limit: %+v", l)
	}
	if _, err := h.Audit().List(ctx, sdk.AuditFilter{Limit: -1}); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("negative limit: %v", err)
	}
}

// TestMembersCarryIP: plugins get the members' addresses.
func TestMembersCarryIP(t *testing.T) {
	p := newPlatform(t, filepath.Join(t.TempDir(), "p.db"), nil, nil)
	lobby := p.room(t, "lobby", "")
	p.chat.mu.Lock()
	p.chat.members[lobby] = []chat.MemberView{{Name: "bob", Role: sdk.RoleUser, IP: "203.0.113.7"}}
	p.chat.mu.Unlock()
	ms, err := viaGRPC(t, p.api, "moderation").Members().List(context.Background(), lobby)
	if err != nil || len(ms) != 1 || ms[0].IP != "203.0.113.7" {
		t.Fatalf("members %+v %v", ms, err)
	}
}
