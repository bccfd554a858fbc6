package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
)

// nullMillis is a time for a nullable column: nil (NULL) for the zero
// time, otherwise Unix milliseconds.
func nullMillis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// fromMillis reads a nullable time column.
func fromMillis(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return time.UnixMilli(*v).UTC()
}

// where builds a WHERE clause with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends a condition in which each "?" is the next parameter, and
// the parameters' values.
func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

// String is " WHERE ..." or "" for no condition.
func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// next is the placeholder of the parameter after those of w.
func (w *where) next() string { return fmt.Sprintf("$%d", len(w.args)+1) }

const sanctionColumns = `id, kind, user_name, user_key, ip, room_id, reason, actor, source, created, expires, lifted_at, lifted_by`

func scanSanction(row pgx.Row) (store.SanctionRecord, error) {
	var s store.SanctionRecord
	var created int64
	var expires, lifted *int64
	if err := row.Scan(&s.ID, &s.Kind, &s.User, &s.UserKey, &s.IP, &s.Room, &s.Reason, &s.Actor, &s.Source,
		&created, &expires, &lifted, &s.LiftedBy); err != nil {
		return store.SanctionRecord{}, err
	}
	s.Created = time.UnixMilli(created).UTC()
	s.Expires = fromMillis(expires)
	s.Lifted = fromMillis(lifted)
	return s, nil
}

// AddSanction stores a sanction under a new ID.
func (s *Store) AddSanction(ctx context.Context, r store.SanctionRecord) (store.SanctionRecord, error) {
	r.UserKey = ""
	if r.User != "" {
		r.UserKey = chat.NameKey(r.User)
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO sanctions (kind, user_name, user_key, ip, room_id, reason, actor,
		source, created, expires, lifted_at, lifted_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING id`,
		r.Kind, r.User, r.UserKey, r.IP, r.Room, r.Reason, r.Actor, r.Source, r.Created.UnixMilli(),
		nullMillis(r.Expires), nullMillis(r.Lifted), r.LiftedBy).Scan(&r.ID)
	if err != nil {
		return store.SanctionRecord{}, fmt.Errorf("add %s sanction: %w", r.Kind, err)
	}
	r.Created = time.UnixMilli(r.Created.UnixMilli()).UTC()
	r.Expires = fromMillis(nullMillis(r.Expires))
	return r, nil
}

// LiftSanction marks a sanction lifted, keeping its row. Of moderators
// lifting the same sanction at once, one does; the others get
// store.ErrInvalid.
func (s *Store) LiftSanction(ctx context.Context, id int64, by string, at time.Time) (store.SanctionRecord, error) {
	r, err := scanSanction(s.pool.QueryRow(ctx, `UPDATE sanctions SET lifted_at = $2, lifted_by = $3
		WHERE id = $1 AND lifted_at IS NULL RETURNING `+sanctionColumns, id, at.UnixMilli(), by))
	if err == nil {
		return r, nil
	}
	if !errNoRows(err) {
		return store.SanctionRecord{}, fmt.Errorf("lift sanction %d: %w", id, err)
	}
	// Nothing was lifted: there is no such sanction, or it was lifted.
	r, err = scanSanction(s.pool.QueryRow(ctx, "SELECT "+sanctionColumns+" FROM sanctions WHERE id = $1", id))
	if errNoRows(err) {
		return store.SanctionRecord{}, fmt.Errorf("lift sanction %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.SanctionRecord{}, fmt.Errorf("lift sanction %d: %w", id, err)
	}
	return store.SanctionRecord{}, fmt.Errorf("lift sanction %d: it was lifted at %s by %q: %w",
		id, r.Lifted.Format(time.RFC3339), r.LiftedBy, store.ErrInvalid)
}

// Sanctions lists the sanctions q selects, by ID.
func (s *Store) Sanctions(ctx context.Context, q store.SanctionQuery) ([]store.SanctionRecord, error) {
	var w where
	if q.Kind != "" {
		w.add("kind = ?", q.Kind)
	}
	if q.User != "" {
		w.add("user_key = ?", chat.NameKey(q.User))
	}
	if q.Room != 0 {
		w.add("room_id IN (0, ?)", q.Room)
	}
	if !q.ActiveAt.IsZero() {
		w.add("lifted_at IS NULL AND (expires IS NULL OR expires > ?)", q.ActiveAt.UnixMilli())
	}
	rows, err := s.pool.Query(ctx, "SELECT "+sanctionColumns+" FROM sanctions"+w.String()+" ORDER BY id", w.args...)
	if err != nil {
		return nil, fmt.Errorf("list sanctions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.SanctionRecord, error) { return scanSanction(r) })
	if err != nil {
		return nil, fmt.Errorf("list sanctions: %w", err)
	}
	if out == nil {
		out = []store.SanctionRecord{}
	}
	return out, nil
}

// HoldMessage stores a held message under a new ID. A NUL character in
// its texts is stored as U+FFFD.
func (s *Store) HoldMessage(ctx context.Context, h store.HeldRecord) (int64, error) {
	style, err := json.Marshal(h.Message.Style)
	if err != nil {
		return 0, fmt.Errorf("hold message: style: %w", err)
	}
	var id int64
	err = s.pool.QueryRow(ctx, `INSERT INTO held_messages (grp, room_id, sender, text, style, emotion, note, held_at, plugin)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		storable(h.Message.Group), h.Message.RoomID, storable(h.Message.From), storable(h.Message.Text),
		string(style), storable(h.Message.Emotion), storable(h.Note), h.Message.Time.UnixMilli(), h.Plugin).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("hold message of %q in room %d: %w", h.Message.From, h.Message.RoomID, err)
	}
	return id, nil
}

const heldColumns = `id, grp, room_id, sender, text, style, emotion, note, held_at, plugin`

func scanHeld(row pgx.Row) (store.HeldRecord, error) {
	var h store.HeldRecord
	var style string
	var held int64
	if err := row.Scan(&h.ID, &h.Message.Group, &h.Message.RoomID, &h.Message.From, &h.Message.Text, &style,
		&h.Message.Emotion, &h.Note, &held, &h.Plugin); err != nil {
		return store.HeldRecord{}, err
	}
	if err := json.Unmarshal([]byte(style), &h.Message.Style); err != nil {
		return store.HeldRecord{}, fmt.Errorf("held message %d: style: %w", h.ID, err)
	}
	h.Message.Time = time.UnixMilli(held).UTC()
	return h, nil
}

// HeldMessages lists the held messages of a room (every room for 0).
func (s *Store) HeldMessages(ctx context.Context, group string, room int64) ([]store.HeldRecord, error) {
	var w where
	w.add("grp = ?", group)
	if room != 0 {
		w.add("room_id = ?", room)
	}
	rows, err := s.pool.Query(ctx, "SELECT "+heldColumns+" FROM held_messages"+w.String()+" ORDER BY id", w.args...)
	if err != nil {
		return nil, fmt.Errorf("list held messages of room %d: %w", room, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.HeldRecord, error) { return scanHeld(r) })
	if err != nil {
		return nil, fmt.Errorf("list held messages of room %d: %w", room, err)
	}
	if out == nil {
		out = []store.HeldRecord{}
	}
	return out, nil
}

// HeldMessage returns held message id.
func (s *Store) HeldMessage(ctx context.Context, id int64) (store.HeldRecord, error) {
	h, err := scanHeld(s.pool.QueryRow(ctx, "SELECT "+heldColumns+" FROM held_messages WHERE id = $1", id))
	if errNoRows(err) {
		return store.HeldRecord{}, fmt.Errorf("held message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.HeldRecord{}, fmt.Errorf("held message %d: %w", id, err)
	}
	return h, nil
}

// TakeHeld removes a held message and returns it, in one statement: of
// moderators taking the same message at once, on any node, one gets it
// and the others store.ErrNotFound.
func (s *Store) TakeHeld(ctx context.Context, id int64) (store.HeldRecord, error) {
	h, err := scanHeld(s.pool.QueryRow(ctx, "DELETE FROM held_messages WHERE id = $1 RETURNING "+heldColumns, id))
	if errNoRows(err) {
		return store.HeldRecord{}, fmt.Errorf("held message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.HeldRecord{}, fmt.Errorf("take held message %d: %w", id, err)
	}
	return h, nil
}

// DocGet returns plugin's document key.
func (s *Store) DocGet(ctx context.Context, plugin, key string) (store.DocRecord, error) {
	d := store.DocRecord{Key: key}
	var updated int64
	err := s.pool.QueryRow(ctx, "SELECT value, version, updated FROM docs WHERE plugin = $1 AND key = $2", plugin, key).
		Scan(&d.Value, &d.Version, &updated)
	if errNoRows(err) {
		return store.DocRecord{}, fmt.Errorf("document %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.DocRecord{}, fmt.Errorf("get document %s/%q: %w", plugin, key, err)
	}
	if d.Value == nil {
		d.Value = []byte{}
	}
	d.Size, d.Updated = len(d.Value), time.UnixMilli(updated).UTC()
	return d, nil
}

// docVersion reads the version of a document; 0 when absent.
func (s *Store) docVersion(ctx context.Context, plugin, key string) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, "SELECT version FROM docs WHERE plugin = $1 AND key = $2", plugin, key).Scan(&v)
	if errNoRows(err) {
		return 0, nil
	}
	return v, err
}

func conflict(key string, have, expect int64) error {
	if have == 0 {
		return fmt.Errorf("document %q does not exist, version %d was expected: %w", key, expect, store.ErrConflict)
	}
	if expect == 0 {
		return fmt.Errorf("document %q exists (version %d), none was expected: %w", key, have, store.ErrConflict)
	}
	return fmt.Errorf("document %q is at version %d, not %d: %w", key, have, expect, store.ErrConflict)
}

// DocPut stores plugin's document key if its version is expect, in one
// statement that checks the version and writes: of writers putting at
// the same version at once, on any node, one succeeds and the others get
// store.ErrConflict.
func (s *Store) DocPut(ctx context.Context, plugin, key string, value []byte, expect int64, now time.Time) (int64, error) {
	if value == nil {
		value = []byte{}
	}
	var q string
	args := []any{plugin, key, value, now.UnixMilli()}
	switch {
	case expect == store.AnyVersion:
		q = `INSERT INTO docs (plugin, key, value, version, updated) VALUES ($1, $2, $3, 1, $4)
			ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, version = docs.version + 1,
				updated = excluded.updated
			RETURNING version`
	case expect == 0:
		q = `INSERT INTO docs (plugin, key, value, version, updated) VALUES ($1, $2, $3, 1, $4)
			ON CONFLICT (plugin, key) DO NOTHING RETURNING version`
	default:
		q = `UPDATE docs SET value = $3, version = version + 1, updated = $4
			WHERE plugin = $1 AND key = $2 AND version = $5 RETURNING version`
		args = append(args, expect)
	}
	var v int64
	err := s.pool.QueryRow(ctx, q, args...).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errNoRows(err) {
		return 0, fmt.Errorf("put document %s/%q: %w", plugin, key, err)
	}
	have, err := s.docVersion(ctx, plugin, key)
	if err != nil {
		return 0, fmt.Errorf("put document %s/%q: %w", plugin, key, err)
	}
	return 0, conflict(key, have, expect)
}

// DocDelete removes plugin's document key if its version is expect.
func (s *Store) DocDelete(ctx context.Context, plugin, key string, expect int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM docs WHERE plugin = $1 AND key = $2 AND ($3::bigint = -1 OR version = $3::bigint)`,
		plugin, key, expect)
	if err != nil {
		return fmt.Errorf("delete document %s/%q: %w", plugin, key, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	have, err := s.docVersion(ctx, plugin, key)
	if err != nil {
		return fmt.Errorf("delete document %s/%q: %w", plugin, key, err)
	}
	if have == 0 {
		return fmt.Errorf("document %q: %w", key, store.ErrNotFound)
	}
	return conflict(key, have, expect)
}

// DocList lists plugin's documents whose key starts with prefix, in byte
// order of their keys.
func (s *Store) DocList(ctx context.Context, plugin, prefix string) ([]store.DocRecord, error) {
	// starts_with compares the prefix exactly, where LIKE would treat %
	// and _ specially.
	rows, err := s.pool.Query(ctx, `SELECT key, length(value), version, updated FROM docs
		WHERE plugin = $1 AND starts_with(key, $2) ORDER BY key`, plugin, prefix)
	if err != nil {
		return nil, fmt.Errorf("list documents %s/%q: %w", plugin, prefix, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.DocRecord, error) {
		var d store.DocRecord
		var updated int64
		if err := r.Scan(&d.Key, &d.Size, &d.Version, &updated); err != nil {
			return store.DocRecord{}, err
		}
		d.Updated = time.UnixMilli(updated).UTC()
		return d, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list documents %s/%q: %w", plugin, prefix, err)
	}
	if out == nil {
		out = []store.DocRecord{}
	}
	return out, nil
}
