package hostapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
)

// Audit log limits.
const (
	// MaxAuditDetailBytes bounds an audit entry's Detail.
	MaxAuditDetailBytes = 4 << 10
	// MaxAuditActionChars bounds an entry's Action, MaxTargetChars its
	// Target.
	MaxAuditActionChars = 32
	MaxTargetChars      = 128
)

// auditLog returns the store's moderation log, nil when it keeps none.
func (a *API) auditLog() store.AuditLog {
	l, _ := a.st.(store.AuditLog)
	return l
}

// record appends what the host did to the moderation log. The action has
// happened already, so a failure is logged, not returned. Plugin is
// left empty: the host appended it.
func (a *API) record(ctx context.Context, e sdk.AuditEntry) {
	l := a.auditLog()
	if l == nil {
		return
	}
	e.Plugin = ""
	e.Detail = truncateBytes(e.Detail, MaxAuditDetailBytes)
	e.Reason = truncateChars(e.Reason, MaxReasonChars)
	if _, err := l.AppendAudit(context.WithoutCancel(ctx), toAuditRecord(e, a.opts.Now())); err != nil {
		a.log.Warn("audit log append failed", "action", e.Action, "target", e.Target, "error", err)
	}
}

// toAuditRecord is e as stored, dated now.
func toAuditRecord(e sdk.AuditEntry, now time.Time) store.AuditRecord {
	return store.AuditRecord{Time: now, Action: e.Action, Actor: e.Actor, Source: e.Source, Target: e.Target,
		Room: e.Room, Reason: e.Reason, Detail: e.Detail, Plugin: e.Plugin}
}

func truncateChars(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func fromAuditRecord(r store.AuditRecord) sdk.AuditEntry {
	return sdk.AuditEntry{ID: r.ID, Time: r.Time, Action: r.Action, Actor: r.Actor, Source: r.Source,
		Target: r.Target, Room: r.Room, Reason: r.Reason, Detail: r.Detail, Plugin: r.Plugin}
}

type audit struct{ h *host }

func (d audit) log() (store.AuditLog, error) {
	l := d.h.api.auditLog()
	if l == nil {
		return nil, errors.New("host api: the store keeps no audit log")
	}
	return l, nil
}

// checkDetail accepts valid UTF-8 of at most MaxAuditDetailBytes whose
// only control characters are newlines and tabs.
func checkDetail(s string) error {
	if !utf8.ValidString(s) {
		return invalid("the detail is not valid UTF-8")
	}
	if len(s) > MaxAuditDetailBytes {
		return invalid("the detail is too long (%d bytes, at most %d)", len(s), MaxAuditDetailBytes)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return invalid("the detail has a control character other than a newline or a tab")
	}
	return nil
}

func (d audit) Append(ctx context.Context, e sdk.AuditEntry) (sdk.AuditEntry, error) {
	l, err := d.log()
	if err != nil {
		return sdk.AuditEntry{}, err
	}
	var errs []error
	if e.Action == "" {
		errs = append(errs, invalid("give the action"))
	}
	if e.Room < 0 {
		errs = append(errs, invalid("room %d is not a room id (0 is none)", e.Room))
	}
	errs = append(errs, checkText("the action", e.Action, MaxAuditActionChars), checkText("the actor", e.Actor, MaxActorChars),
		checkText("the source", e.Source, MaxActorChars), checkText("the target", e.Target, MaxTargetChars),
		checkText("the reason", e.Reason, MaxReasonChars), checkDetail(e.Detail))
	if err := errors.Join(errs...); err != nil {
		return sdk.AuditEntry{}, err
	}
	if e.Source == "" {
		e.Source = d.h.source()
	}
	e.Plugin = d.h.plugin
	r, err := l.AppendAudit(ctx, toAuditRecord(e, d.h.api.opts.Now()))
	if err != nil {
		return sdk.AuditEntry{}, fmt.Errorf("host api: %w", err)
	}
	return fromAuditRecord(r), nil
}

func (d audit) List(ctx context.Context, f sdk.AuditFilter) ([]sdk.AuditEntry, error) {
	l, err := d.log()
	if err != nil {
		return nil, err
	}
	if f.Room < 0 {
		return nil, invalid("room %d is not a room id (0 is every room)", f.Room)
	}
	if f.Limit < 0 {
		return nil, invalid("the limit %d is negative", f.Limit)
	}
	limit := f.Limit
	if limit == 0 {
		limit = sdk.DefaultAuditList
	}
	limit = min(limit, sdk.MaxAuditList)
	list, err := l.Audit(ctx, store.AuditQuery{Room: f.Room, Target: f.Target, Action: f.Action, Since: f.Since, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("host api: %w", err)
	}
	out := make([]sdk.AuditEntry, 0, len(list))
	for _, r := range list {
		out = append(out, fromAuditRecord(r))
	}
	return out, nil
}
