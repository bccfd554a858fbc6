package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parlorchat/parlor/core/chat"
)

// migrationHostData creates the tables of the richer Host API: sanctions
// (lifted ones stay, with who lifted them and when), messages held for a
// moderator, and the plugins' document store (values past the KV limit,
// with a version for optimistic concurrency). Times are Unix
// milliseconds; NULL is "never" (expires) or "not yet" (lifted_at).
const migrationHostData = `CREATE TABLE sanctions (
		id        INTEGER PRIMARY KEY AUTOINCREMENT,
		kind      TEXT    NOT NULL,
		user_name TEXT    NOT NULL DEFAULT '',
		user_key  TEXT    NOT NULL DEFAULT '',
		ip        TEXT    NOT NULL DEFAULT '',
		room_id   INTEGER NOT NULL DEFAULT 0,
		reason    TEXT    NOT NULL DEFAULT '',
		actor     TEXT    NOT NULL DEFAULT '',
		source    TEXT    NOT NULL DEFAULT '',
		created   INTEGER NOT NULL,
		expires   INTEGER,
		lifted_at INTEGER,
		lifted_by TEXT    NOT NULL DEFAULT ''
	);
	CREATE INDEX sanctions_user ON sanctions (user_key);
	CREATE TABLE held_messages (
		id      INTEGER PRIMARY KEY AUTOINCREMENT,
		grp     TEXT    NOT NULL,
		room_id INTEGER NOT NULL,
		sender  TEXT    NOT NULL,
		text    TEXT    NOT NULL,
		style   TEXT    NOT NULL DEFAULT '{}',
		emotion TEXT    NOT NULL DEFAULT '',
		note    TEXT    NOT NULL DEFAULT '',
		held_at INTEGER NOT NULL,
		plugin  TEXT    NOT NULL DEFAULT ''
	);
	CREATE INDEX held_messages_room ON held_messages (grp, room_id, id);
	CREATE TABLE docs (
		plugin  TEXT    NOT NULL,
		key     TEXT    NOT NULL,
		value   BLOB    NOT NULL,
		version INTEGER NOT NULL,
		updated INTEGER NOT NULL,
		PRIMARY KEY (plugin, key)
	);`

// ErrConflict is returned (wrapped) when a document's version is not the
// one the caller expected.
var ErrConflict = errors.New("version conflict")

// AnyVersion, as the expected version of DocPut or DocDelete, skips the
// version check.
const AnyVersion int64 = -1

// SanctionRecord is a stored sanction with its lifting, if any.
type SanctionRecord struct {
	chat.Sanction
	// UserKey is chat.NameKey(User), set by the store.
	UserKey  string
	Lifted   time.Time // zero: in force (until Expires)
	LiftedBy string
}

// SanctionQuery selects sanctions; the zero value selects all.
type SanctionQuery struct {
	Kind string
	User string // compared by chat.NameKey
	// Room, when not 0, selects the sanctions that apply in that room:
	// those of the room and those of every room (room 0).
	Room int64
	// ActiveAt, when not zero, keeps the sanctions neither lifted nor
	// expired at that time.
	ActiveAt time.Time
}

// HeldRecord is a message held for a moderator.
type HeldRecord struct {
	ID      int64
	Message chat.Message // Group, RoomID, From, Text, Style, Emotion; Time is when it was held
	Note    string
	Plugin  string // the module that held it; empty when unknown
}

// DocRecord is a document of a plugin's document store.
type DocRecord struct {
	Key     string
	Value   []byte // nil in listings
	Size    int
	Version int64 // 1 for a new document, +1 at every Put
	Updated time.Time
}

// HostData is the persistence of sanctions, held messages and the
// plugins' documents. *SQLite and *postgres.Store implement it.
type HostData interface {
	// AddSanction stores s (its ID and UserKey are set) and returns it.
	AddSanction(ctx context.Context, s SanctionRecord) (SanctionRecord, error)
	// LiftSanction records that by lifted sanction id at at; ErrNotFound
	// if there is no such sanction, ErrInvalid if it was lifted before.
	LiftSanction(ctx context.Context, id int64, by string, at time.Time) (SanctionRecord, error)
	// Sanctions lists the sanctions q selects, oldest first.
	Sanctions(ctx context.Context, q SanctionQuery) ([]SanctionRecord, error)

	// HoldMessage stores h and returns its new ID.
	HoldMessage(ctx context.Context, h HeldRecord) (int64, error)
	// HeldMessages lists the held messages of a group's room (every room
	// for 0), oldest first.
	HeldMessages(ctx context.Context, group string, room int64) ([]HeldRecord, error)
	// HeldMessage returns a held message; ErrNotFound if there is none
	// with that id.
	HeldMessage(ctx context.Context, id int64) (HeldRecord, error)
	// TakeHeld removes a held message and returns it; ErrNotFound if
	// there is none with that id.
	TakeHeld(ctx context.Context, id int64) (HeldRecord, error)

	// DocGet returns a plugin's document; ErrNotFound if absent.
	DocGet(ctx context.Context, plugin, key string) (DocRecord, error)
	// DocPut stores a document when its current version is expect (0:
	// it must not exist; AnyVersion: whatever it is) and returns the new
	// version; ErrConflict otherwise.
	DocPut(ctx context.Context, plugin, key string, value []byte, expect int64, now time.Time) (int64, error)
	// DocDelete removes a document when its version is expect (or
	// AnyVersion); ErrNotFound if absent, ErrConflict on another version.
	DocDelete(ctx context.Context, plugin, key string, expect int64) error
	// DocList lists a plugin's documents whose key starts with prefix,
	// by key, without their values.
	DocList(ctx context.Context, plugin, prefix string) ([]DocRecord, error)
}

var _ HostData = (*SQLite)(nil)

func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMillis(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

const sanctionColumns = `id, kind, user_name, user_key, ip, room_id, reason, actor, source, created, expires, lifted_at, lifted_by`

func scanSanction(row interface{ Scan(...any) error }) (SanctionRecord, error) {
	var s SanctionRecord
	var created int64
	var expires, lifted sql.NullInt64
	if err := row.Scan(&s.ID, &s.Kind, &s.User, &s.UserKey, &s.IP, &s.Room, &s.Reason, &s.Actor, &s.Source,
		&created, &expires, &lifted, &s.LiftedBy); err != nil {
		return SanctionRecord{}, err
	}
	s.Created = time.UnixMilli(created).UTC()
	s.Expires = fromMillis(expires)
	s.Lifted = fromMillis(lifted)
	return s, nil
}

// AddSanction stores a sanction under a new ID.
func (s *SQLite) AddSanction(ctx context.Context, r SanctionRecord) (SanctionRecord, error) {
	r.UserKey = ""
	if r.User != "" {
		r.UserKey = chat.NameKey(r.User)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO sanctions (kind, user_name, user_key, ip, room_id, reason, actor,
		source, created, expires, lifted_at, lifted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Kind, r.User, r.UserKey, r.IP, r.Room, r.Reason, r.Actor, r.Source, r.Created.UnixMilli(),
		nullMillis(r.Expires), nullMillis(r.Lifted), r.LiftedBy)
	if err != nil {
		return SanctionRecord{}, fmt.Errorf("add %s sanction: %w", r.Kind, err)
	}
	if r.ID, err = res.LastInsertId(); err != nil {
		return SanctionRecord{}, fmt.Errorf("add %s sanction: read id: %w", r.Kind, err)
	}
	r.Created = time.UnixMilli(r.Created.UnixMilli()).UTC()
	r.Expires = fromMillis(nullMillis(r.Expires))
	return r, nil
}

// LiftSanction marks a sanction lifted, keeping its row.
func (s *SQLite) LiftSanction(ctx context.Context, id int64, by string, at time.Time) (_ SanctionRecord, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return SanctionRecord{}, fmt.Errorf("lift sanction %d: begin: %w", id, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	r, err := scanSanction(tx.QueryRowContext(ctx, "SELECT "+sanctionColumns+" FROM sanctions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return SanctionRecord{}, fmt.Errorf("lift sanction %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return SanctionRecord{}, fmt.Errorf("lift sanction %d: %w", id, err)
	}
	if !r.Lifted.IsZero() {
		err = fmt.Errorf("lift sanction %d: it was lifted at %s by %q: %w", id, r.Lifted.Format(time.RFC3339), r.LiftedBy, ErrInvalid)
		return SanctionRecord{}, err
	}
	if _, err = tx.ExecContext(ctx, "UPDATE sanctions SET lifted_at = ?, lifted_by = ? WHERE id = ?", at.UnixMilli(), by, id); err != nil {
		return SanctionRecord{}, fmt.Errorf("lift sanction %d: %w", id, err)
	}
	if err = tx.Commit(); err != nil {
		return SanctionRecord{}, fmt.Errorf("lift sanction %d: commit: %w", id, err)
	}
	r.Lifted, r.LiftedBy = time.UnixMilli(at.UnixMilli()).UTC(), by
	return r, nil
}

// Sanctions lists the sanctions q selects, by ID.
func (s *SQLite) Sanctions(ctx context.Context, q SanctionQuery) ([]SanctionRecord, error) {
	var where []string
	var args []any
	if q.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, q.Kind)
	}
	if q.User != "" {
		where, args = append(where, "user_key = ?"), append(args, chat.NameKey(q.User))
	}
	if q.Room != 0 {
		where, args = append(where, "room_id IN (0, ?)"), append(args, q.Room)
	}
	if !q.ActiveAt.IsZero() {
		ms := q.ActiveAt.UnixMilli()
		where, args = append(where, "lifted_at IS NULL AND (expires IS NULL OR expires > ?)"), append(args, ms)
	}
	query := "SELECT " + sanctionColumns + " FROM sanctions"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, query+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list sanctions: %w", err)
	}
	defer rows.Close()
	out := []SanctionRecord{}
	for rows.Next() {
		r, err := scanSanction(rows)
		if err != nil {
			return nil, fmt.Errorf("list sanctions: scan: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sanctions: %w", err)
	}
	return out, nil
}

// HoldMessage stores a held message under a new ID.
func (s *SQLite) HoldMessage(ctx context.Context, h HeldRecord) (int64, error) {
	style, err := json.Marshal(h.Message.Style)
	if err != nil {
		return 0, fmt.Errorf("hold message: style: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO held_messages (grp, room_id, sender, text, style, emotion, note, held_at, plugin)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, h.Message.Group, h.Message.RoomID, h.Message.From, h.Message.Text,
		string(style), h.Message.Emotion, h.Note, h.Message.Time.UnixMilli(), h.Plugin)
	if err != nil {
		return 0, fmt.Errorf("hold message of %q in room %d: %w", h.Message.From, h.Message.RoomID, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("hold message: read id: %w", err)
	}
	return id, nil
}

const heldColumns = `id, grp, room_id, sender, text, style, emotion, note, held_at, plugin`

func scanHeld(row interface{ Scan(...any) error }) (HeldRecord, error) {
	var h HeldRecord
	var style string
	var held int64
	if err := row.Scan(&h.ID, &h.Message.Group, &h.Message.RoomID, &h.Message.From, &h.Message.Text, &style,
		&h.Message.Emotion, &h.Note, &held, &h.Plugin); err != nil {
		return HeldRecord{}, err
	}
	if err := json.Unmarshal([]byte(style), &h.Message.Style); err != nil {
		return HeldRecord{}, fmt.Errorf("held message %d: style: %w", h.ID, err)
	}
	h.Message.Time = time.UnixMilli(held).UTC()
	return h, nil
}

// HeldMessages lists the held messages of a room (every room for 0).
func (s *SQLite) HeldMessages(ctx context.Context, group string, room int64) ([]HeldRecord, error) {
	query, args := "SELECT "+heldColumns+" FROM held_messages WHERE grp = ?", []any{group}
	if room != 0 {
		query, args = query+" AND room_id = ?", append(args, room)
	}
	rows, err := s.db.QueryContext(ctx, query+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list held messages of room %d: %w", room, err)
	}
	defer rows.Close()
	out := []HeldRecord{}
	for rows.Next() {
		h, err := scanHeld(rows)
		if err != nil {
			return nil, fmt.Errorf("list held messages of room %d: %w", room, err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list held messages of room %d: %w", room, err)
	}
	return out, nil
}

// HeldMessage returns held message id.
func (s *SQLite) HeldMessage(ctx context.Context, id int64) (HeldRecord, error) {
	h, err := scanHeld(s.db.QueryRowContext(ctx, "SELECT "+heldColumns+" FROM held_messages WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return HeldRecord{}, fmt.Errorf("held message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return HeldRecord{}, fmt.Errorf("held message %d: %w", id, err)
	}
	return h, nil
}

// TakeHeld removes a held message and returns it.
func (s *SQLite) TakeHeld(ctx context.Context, id int64) (_ HeldRecord, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return HeldRecord{}, fmt.Errorf("take held message %d: begin: %w", id, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	h, err := scanHeld(tx.QueryRowContext(ctx, "SELECT "+heldColumns+" FROM held_messages WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return HeldRecord{}, fmt.Errorf("held message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return HeldRecord{}, fmt.Errorf("take held message %d: %w", id, err)
	}
	if _, err = tx.ExecContext(ctx, "DELETE FROM held_messages WHERE id = ?", id); err != nil {
		return HeldRecord{}, fmt.Errorf("take held message %d: %w", id, err)
	}
	if err = tx.Commit(); err != nil {
		return HeldRecord{}, fmt.Errorf("take held message %d: commit: %w", id, err)
	}
	return h, nil
}

// DocGet returns plugin's document key.
func (s *SQLite) DocGet(ctx context.Context, plugin, key string) (DocRecord, error) {
	d := DocRecord{Key: key}
	var updated int64
	err := s.db.QueryRowContext(ctx, "SELECT value, version, updated FROM docs WHERE plugin = ? AND key = ?", plugin, key).
		Scan(&d.Value, &d.Version, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return DocRecord{}, fmt.Errorf("document %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return DocRecord{}, fmt.Errorf("get document %s/%q: %w", plugin, key, err)
	}
	if d.Value == nil {
		d.Value = []byte{}
	}
	d.Size, d.Updated = len(d.Value), time.UnixMilli(updated).UTC()
	return d, nil
}

// docVersion reads the version of a document in tx; 0 when absent.
func docVersion(ctx context.Context, tx *sql.Tx, plugin, key string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, "SELECT version FROM docs WHERE plugin = ? AND key = ?", plugin, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

func conflict(key string, have, expect int64) error {
	if have == 0 {
		return fmt.Errorf("document %q does not exist, version %d was expected: %w", key, expect, ErrConflict)
	}
	if expect == 0 {
		return fmt.Errorf("document %q exists (version %d), none was expected: %w", key, have, ErrConflict)
	}
	return fmt.Errorf("document %q is at version %d, not %d: %w", key, have, expect, ErrConflict)
}

// DocPut stores plugin's document key if its version is expect.
func (s *SQLite) DocPut(ctx context.Context, plugin, key string, value []byte, expect int64, now time.Time) (_ int64, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("put document %s/%q: begin: %w", plugin, key, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	have, err := docVersion(ctx, tx, plugin, key)
	if err != nil {
		return 0, fmt.Errorf("put document %s/%q: %w", plugin, key, err)
	}
	if expect != AnyVersion && expect != have {
		err = conflict(key, have, expect)
		return 0, err
	}
	if value == nil {
		value = []byte{}
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO docs (plugin, key, value, version, updated) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, version = excluded.version, updated = excluded.updated`,
		plugin, key, value, have+1, now.UnixMilli()); err != nil {
		return 0, fmt.Errorf("put document %s/%q: %w", plugin, key, err)
	}
	if err = tx.Commit(); err != nil {
		return 0, fmt.Errorf("put document %s/%q: commit: %w", plugin, key, err)
	}
	return have + 1, nil
}

// DocDelete removes plugin's document key if its version is expect.
func (s *SQLite) DocDelete(ctx context.Context, plugin, key string, expect int64) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete document %s/%q: begin: %w", plugin, key, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	have, err := docVersion(ctx, tx, plugin, key)
	if err != nil {
		return fmt.Errorf("delete document %s/%q: %w", plugin, key, err)
	}
	if have == 0 {
		err = fmt.Errorf("document %q: %w", key, ErrNotFound)
		return err
	}
	if expect != AnyVersion && expect != have {
		err = conflict(key, have, expect)
		return err
	}
	if _, err = tx.ExecContext(ctx, "DELETE FROM docs WHERE plugin = ? AND key = ?", plugin, key); err != nil {
		return fmt.Errorf("delete document %s/%q: %w", plugin, key, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("delete document %s/%q: commit: %w", plugin, key, err)
	}
	return nil
}

// DocList lists plugin's documents whose key starts with prefix.
func (s *SQLite) DocList(ctx context.Context, plugin, prefix string) ([]DocRecord, error) {
	// substr compares the prefix exactly, where LIKE would treat % and _ (and
	// ASCII case) specially.
	rows, err := s.db.QueryContext(ctx, `SELECT key, length(value), version, updated FROM docs
		WHERE plugin = ? AND substr(key, 1, length(?)) = ? ORDER BY key`, plugin, prefix, prefix)
	if err != nil {
		return nil, fmt.Errorf("list documents %s/%q: %w", plugin, prefix, err)
	}
	defer rows.Close()
	out := []DocRecord{}
	for rows.Next() {
		var d DocRecord
		var updated int64
		if err := rows.Scan(&d.Key, &d.Size, &d.Version, &updated); err != nil {
			return nil, fmt.Errorf("list documents %s/%q: scan: %w", plugin, prefix, err)
		}
		d.Updated = time.UnixMilli(updated).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list documents %s/%q: %w", plugin, prefix, err)
	}
	return out, nil
}
