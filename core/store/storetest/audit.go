package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/store"
)

func testAudit(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	base := time.UnixMilli(1_700_000_000_000).UTC()
	var added []store.AuditRecord
	for i, r := range []store.AuditRecord{
		{Action: "ban", Actor: "mod", Source: "manual", Target: "Élise", Room: 1, Reason: "spam", Detail: "1h"},
		{Action: "mute", Actor: "mod", Source: "automod", Target: "bob", Room: 2},
		{Action: "ban", Actor: "admin", Source: "api", Target: "ÉLISE", Room: 2, Plugin: "moderation"},
		{Action: "note", Actor: "mod", Room: 1},
	} {
		r.Time = base.Add(time.Duration(i) * time.Minute).Add(123456 * time.Nanosecond) // stored to the millisecond
		got, err := s.AppendAudit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID <= 0 || (len(added) > 0 && got.ID <= added[len(added)-1].ID) {
			t.Fatalf("entry %d got id %d after %v", i, got.ID, added)
		}
		if want := base.Add(time.Duration(i) * time.Minute); !got.Time.Equal(want) || got.Time.Location() != time.UTC {
			t.Fatalf("entry %d time %v, want %v in UTC", i, got.Time, want)
		}
		added = append(added, got)
	}
	newestFirst := func(idx ...int) []store.AuditRecord {
		out := []store.AuditRecord{}
		for _, i := range idx {
			out = append(out, added[i])
		}
		return out
	}
	for _, c := range []struct {
		q    store.AuditQuery
		want []store.AuditRecord
	}{
		{store.AuditQuery{Limit: 10}, newestFirst(3, 2, 1, 0)},
		{store.AuditQuery{Limit: 2}, newestFirst(3, 2)},
		{store.AuditQuery{Room: 1, Limit: 10}, newestFirst(3, 0)},
		{store.AuditQuery{Target: "élise", Limit: 10}, newestFirst(2, 0)},
		{store.AuditQuery{Action: "ban", Room: 2, Limit: 10}, newestFirst(2)},
		{store.AuditQuery{Since: base.Add(time.Minute), Limit: 10}, newestFirst(3, 2, 1)},
		{store.AuditQuery{Target: "nobody", Limit: 10}, newestFirst()},
	} {
		got, err := s.Audit(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Audit(%+v):\n got %+v\nwant %+v", c.q, got, c.want)
		}
	}
}
