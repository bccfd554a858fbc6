package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/parlorchat/parlor/core/chat"
)

// migrationAudit creates the moderation log: append-only, one row per
// action (a sanction added or lifted, a message held, released or
// declined, what a module records). target_key is chat.NameKey(target),
// so that a name is found however it is written. Times are Unix
// milliseconds.
const migrationAudit = `CREATE TABLE audit_log (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		at         INTEGER NOT NULL,
		action     TEXT    NOT NULL,
		actor      TEXT    NOT NULL DEFAULT '',
		source     TEXT    NOT NULL DEFAULT '',
		target     TEXT    NOT NULL DEFAULT '',
		target_key TEXT    NOT NULL DEFAULT '',
		room_id    INTEGER NOT NULL DEFAULT 0,
		reason     TEXT    NOT NULL DEFAULT '',
		detail     TEXT    NOT NULL DEFAULT '',
		plugin     TEXT    NOT NULL DEFAULT ''
	);
	CREATE INDEX audit_log_room ON audit_log (room_id, id);
	CREATE INDEX audit_log_target ON audit_log (target_key, id);`

// AuditRecord is one entry of the moderation log.
type AuditRecord struct {
	ID     int64
	Time   time.Time
	Action string
	Actor  string
	Source string
	Target string
	Room   int64
	Reason string
	Detail string
	Plugin string // the plugin that appended it; empty for the server itself
}

// AuditQuery selects audit entries; zero fields select all. Limit must
// be positive.
type AuditQuery struct {
	Room   int64
	Target string // compared by chat.NameKey
	Action string
	Since  time.Time // zero: from the start
	Limit  int
}

// AuditLog is the persistence of the moderation log. *SQLite and
// *postgres.Store implement it.
type AuditLog interface {
	// AppendAudit stores r under a new ID and returns it.
	AppendAudit(ctx context.Context, r AuditRecord) (AuditRecord, error)
	// Audit lists the entries q selects, newest first.
	Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
}

var _ AuditLog = (*SQLite)(nil)

// AppendAudit stores an audit entry.
func (s *SQLite) AppendAudit(ctx context.Context, r AuditRecord) (AuditRecord, error) {
	key := ""
	if r.Target != "" {
		key = chat.NameKey(r.Target)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO audit_log (at, action, actor, source, target, target_key, room_id,
		reason, detail, plugin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.Time.UnixMilli(), r.Action, r.Actor, r.Source,
		r.Target, key, r.Room, r.Reason, r.Detail, r.Plugin)
	if err != nil {
		return AuditRecord{}, fmt.Errorf("append %q to the audit log: %w", r.Action, err)
	}
	if r.ID, err = res.LastInsertId(); err != nil {
		return AuditRecord{}, fmt.Errorf("append to the audit log: read id: %w", err)
	}
	r.Time = time.UnixMilli(r.Time.UnixMilli()).UTC()
	return r, nil
}

// Audit lists audit entries, newest first.
func (s *SQLite) Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, error) {
	var where []string
	var args []any
	if q.Room != 0 {
		where, args = append(where, "room_id = ?"), append(args, q.Room)
	}
	if q.Target != "" {
		where, args = append(where, "target_key = ?"), append(args, chat.NameKey(q.Target))
	}
	if q.Action != "" {
		where, args = append(where, "action = ?"), append(args, q.Action)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, q.Since.UnixMilli())
	}
	query := "SELECT id, at, action, actor, source, target, room_id, reason, detail, plugin FROM audit_log"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, query+" ORDER BY id DESC LIMIT ?", append(args, max(q.Limit, 1))...)
	if err != nil {
		return nil, fmt.Errorf("list the audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditRecord{}
	for rows.Next() {
		var r AuditRecord
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.Action, &r.Actor, &r.Source, &r.Target, &r.Room, &r.Reason, &r.Detail, &r.Plugin); err != nil {
			return nil, fmt.Errorf("list the audit log: scan: %w", err)
		}
		r.Time = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the audit log: %w", err)
	}
	return out, nil
}
