package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
)

// AppendAudit stores an audit entry under a new ID.
func (s *Store) AppendAudit(ctx context.Context, r store.AuditRecord) (store.AuditRecord, error) {
	key := ""
	if r.Target != "" {
		key = chat.NameKey(r.Target)
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO audit_log (at, action, actor, source, target, target_key, room_id,
		reason, detail, plugin) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		r.Time.UnixMilli(), r.Action, r.Actor, r.Source, r.Target, key, r.Room, r.Reason, r.Detail, r.Plugin).Scan(&r.ID)
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("append %q to the audit log: %w", r.Action, err)
	}
	r.Time = time.UnixMilli(r.Time.UnixMilli()).UTC()
	return r, nil
}

// Audit lists audit entries, newest first.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	var w where
	if q.Room != 0 {
		w.add("room_id = ?", q.Room)
	}
	if q.Target != "" {
		w.add("target_key = ?", chat.NameKey(q.Target))
	}
	if q.Action != "" {
		w.add("action = ?", q.Action)
	}
	if !q.Since.IsZero() {
		w.add("at >= ?", q.Since.UnixMilli())
	}
	query := "SELECT id, at, action, actor, source, target, room_id, reason, detail, plugin FROM audit_log" +
		w.String() + " ORDER BY id DESC LIMIT " + w.next()
	rows, err := s.pool.Query(ctx, query, append(w.args, max(q.Limit, 1))...)
	if err != nil {
		return nil, fmt.Errorf("list the audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditRecord, error) {
		var r store.AuditRecord
		var at int64
		if err := row.Scan(&r.ID, &at, &r.Action, &r.Actor, &r.Source, &r.Target, &r.Room, &r.Reason, &r.Detail, &r.Plugin); err != nil {
			return store.AuditRecord{}, err
		}
		r.Time = time.UnixMilli(at).UTC()
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the audit log: %w", err)
	}
	if out == nil {
		out = []store.AuditRecord{}
	}
	return out, nil
}
