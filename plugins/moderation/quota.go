package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// Quotas: a moderator (or administrator, when configured) may give at
// most quotas[role].kick kicks, .mute mutes and .ban bans per day (UTC).
// The count of each is kept in the plugin's KV under
// quota/<day>/<kind>/<name>, expiring at the end of the day, so that it
// survives a restart of the module. Only sanctions given count; a refused
// one does not.

// quotaKey is the KV key of a day's count.
func quotaKey(day time.Time, kind, name string) string {
	return "quota/" + day.Format("2006-01-02") + "/" + kind + "/" + strings.ToLower(name)
}

// withQuota runs give if the caller has a sanction of kind left today and
// counts it when give succeeds.
func (m *moderation) withQuota(ctx context.Context, caller sdk.Caller, kind string, give func() error) error {
	limit := m.cfg.Quotas[caller.Role].of(kind)
	if limit == 0 {
		return give()
	}
	m.quotaMu.Lock()
	defer m.quotaMu.Unlock()
	now := m.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	key := quotaKey(day, kind, caller.Name)
	n := 0
	if v, found, err := m.host.KV().Get(ctx, key); err != nil {
		return fmt.Errorf("read the quota: %w", err)
	} else if found {
		n, _ = strconv.Atoi(string(v))
	}
	if n >= limit {
		return refuse("quota_exceeded", "You have given %d %ss today, the most a %s may give in a day; the count starts again at midnight UTC.", n, kind, caller.Role)
	}
	if err := give(); err != nil {
		return err
	}
	ttl := day.Add(24 * time.Hour).Sub(now)
	if err := m.host.KV().Set(ctx, key, []byte(strconv.Itoa(n+1)), ttl); err != nil {
		m.log.Warn("could not count a sanction against the quota", "user", caller.Name, "kind", kind, "error", err)
	}
	return nil
}
