package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
)

// Rooms lists the rooms of group ordered by ID. It returns an empty,
// non-nil slice when the group has none.
func (s *Store) Rooms(ctx context.Context, group string) ([]chat.RoomInfo, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+store.RoomColumns+" FROM rooms WHERE grp = $1 ORDER BY id", group)
	if err != nil {
		return nil, fmt.Errorf("list rooms of group %q: %w", group, err)
	}
	defer rows.Close()
	rooms := []chat.RoomInfo{}
	for rows.Next() {
		r, err := store.ScanRoom(rows)
		if err != nil {
			return nil, fmt.Errorf("list rooms of group %q: %w", group, err)
		}
		rooms = append(rooms, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list rooms of group %q: %w", group, err)
	}
	return rooms, nil
}

// SaveRoom inserts or replaces a room and returns its ID. A room with ID 0
// is inserted under a new ID, never one a deleted room had; any other ID is
// inserted or, when it exists, overwritten with every field of r (its group
// included). New IDs continue after the largest one ever saved.
func (s *Store) SaveRoom(ctx context.Context, r chat.RoomInfo) (int64, error) {
	if r.ID < 0 {
		return 0, fmt.Errorf("save room %d: negative id", r.ID)
	}
	values, err := store.RoomValues(r)
	if err != nil {
		return 0, fmt.Errorf("save room: %w", err)
	}
	// $1 is the id: 0 takes the next one. The counter's row lock, held
	// until the statement commits, orders the rooms saved at once by
	// several nodes. Data-modifying CTEs run whether or not the main
	// query reads them.
	const q = `WITH h AS (
			UPDATE id_high SET high = CASE WHEN $1::bigint = 0 THEN high + 1 ELSE GREATEST(high, $1::bigint) END
			WHERE name = 'rooms' RETURNING high
		)
		INSERT INTO rooms (id, grp, name, owner, description, max_members, speaker, member, password,
			pass_all_message, open, st, welcome, audio, video, whiteboard, origin, open_times, tz)
		SELECT CASE WHEN $1::bigint = 0 THEN h.high ELSE $1::bigint END,
			$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 FROM h
		ON CONFLICT (id) DO UPDATE SET
			grp = excluded.grp, name = excluded.name, owner = excluded.owner,
			description = excluded.description, max_members = excluded.max_members,
			speaker = excluded.speaker, member = excluded.member, password = excluded.password,
			pass_all_message = excluded.pass_all_message, open = excluded.open, st = excluded.st,
			welcome = excluded.welcome, audio = excluded.audio, video = excluded.video,
			whiteboard = excluded.whiteboard, origin = excluded.origin,
			open_times = excluded.open_times, tz = excluded.tz
		RETURNING id`
	var id int64
	if err := s.pool.QueryRow(ctx, q, append([]any{r.ID}, values...)...).Scan(&id); err != nil {
		if r.ID == 0 {
			return 0, fmt.Errorf("save new room %q: %w", r.Name, err)
		}
		return 0, fmt.Errorf("save room %d: %w", r.ID, err)
	}
	return id, nil
}

// DeleteRoom removes room id of group and its message history. It returns
// an error wrapping store.ErrNotFound when group has no room with that id.
// The highest id of the history is kept (id_high), so that LastMessageID
// does not go back.
func (s *Store) DeleteRoom(ctx context.Context, group string, id int64) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM rooms WHERE grp = $1 AND id = $2", group, id)
		if err != nil {
			return fmt.Errorf("delete room %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("delete room %d of group %q: %w", id, group, store.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `UPDATE id_high SET high = m.high
			FROM (SELECT MAX(id) AS high FROM messages WHERE grp = $1 AND room_id = $2) m
			WHERE name = 'messages' AND m.high > id_high.high`, group, id); err != nil {
			return fmt.Errorf("delete room %d: keep the last message id: %w", id, err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM messages WHERE grp = $1 AND room_id = $2", group, id); err != nil {
			return fmt.Errorf("delete room %d: history: %w", id, err)
		}
		return nil
	})
}

// Bounds of the times UnixNano represents exactly.
var (
	minNanoTime = time.Unix(0, -1<<63)
	maxNanoTime = time.Unix(0, 1<<63-1)
)

// unixNano converts t for the created_at column: nil (NULL) for the zero
// time, otherwise Unix nanoseconds.
func unixNano(t time.Time) (*int64, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return nil, fmt.Errorf("time %s out of range", t.Format(time.RFC3339Nano))
	}
	n := t.UnixNano()
	return &n, nil
}

// insertMessages is one INSERT of every message, column by column as
// arrays.
const insertMessages = `INSERT INTO messages (id, grp, room_id, sender, text, b, i, u, color, created_at)
	SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[],
		$6::boolean[], $7::boolean[], $8::boolean[], $9::text[], $10::bigint[])`

// AppendMessages stores msgs, in order, in one statement: either all are
// stored or none. A message with a non-zero ID is stored under that ID
// (the chat group numbers messages, several nodes each their own); an
// ID that is taken fails the batch. One with ID 0 gets a new ID above
// every ID stored before it (in the batch too): such batches wait for
// each other. msgs is not modified. Times are stored to the nanosecond
// and must lie between the years 1678 and 2262, or be the zero time. A
// NUL character in a text is stored as U+FFFD.
func (s *Store) AppendMessages(ctx context.Context, msgs []chat.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	n := len(msgs)
	var (
		id, room        = make([]int64, n), make([]int64, n)
		grp, from, text = make([]string, n), make([]string, n), make([]string, n)
		color           = make([]string, n)
		b, i, u         = make([]bool, n), make([]bool, n), make([]bool, n)
		created         = make([]*int64, n)
		numbered        = true
	)
	for k, m := range msgs {
		var err error
		if created[k], err = unixNano(m.Time); err != nil {
			return fmt.Errorf("append %d messages: message %d: %w", n, k, err)
		}
		id[k], room[k] = m.ID, m.RoomID
		grp[k], from[k], text[k], color[k] = storable(m.Group), storable(m.From), storable(m.Text), storable(m.Style.Color)
		b[k], i[k], u[k] = m.Style.Bold, m.Style.Italic, m.Style.Underline
		numbered = numbered && m.ID != 0
	}
	insert := func(q execer) error {
		if _, err := q.Exec(ctx, insertMessages, id, grp, room, from, text, b, i, u, color, created); err != nil {
			return fmt.Errorf("append %d messages: %w", n, err)
		}
		return nil
	}
	if numbered {
		return insert(s.pool)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// The counter's row lock orders the batches that need new ids.
		var high int64
		if err := tx.QueryRow(ctx, `SELECT GREATEST(h.high, (SELECT COALESCE(MAX(id), 0) FROM messages))
			FROM id_high h WHERE h.name = 'messages' FOR UPDATE`).Scan(&high); err != nil {
			return fmt.Errorf("append %d messages: next id: %w", n, err)
		}
		for k := range id {
			if id[k] == 0 {
				high++
				id[k] = high
			} else {
				high = max(high, id[k])
			}
		}
		if err := insert(tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE id_high SET high = $1 WHERE name = 'messages'", high); err != nil {
			return fmt.Errorf("append %d messages: keep the last id: %w", n, err)
		}
		return nil
	})
}

// LastMessageID returns the highest message ID ever stored (0 for none),
// those of deleted rooms included, so that new messages can be numbered
// above it.
func (s *Store) LastMessageID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT GREATEST(h.high, (SELECT COALESCE(MAX(id), 0) FROM messages))
		FROM id_high h WHERE h.name = 'messages'`).Scan(&id); err != nil {
		return 0, fmt.Errorf("last message id: %w", err)
	}
	return id, nil
}

// RecentMessages returns the last n messages of room roomID in group by
// ID, oldest first, with their IDs and times (in UTC). It returns an
// empty, non-nil slice when there are none or n <= 0.
func (s *Store) RecentMessages(ctx context.Context, group string, roomID int64, n int) ([]chat.Message, error) {
	if n <= 0 {
		return []chat.Message{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, room_id, sender, text, b, i, u, color, created_at
		FROM messages WHERE grp = $1 AND room_id = $2 ORDER BY id DESC LIMIT $3`, group, roomID, n)
	if err != nil {
		return nil, fmt.Errorf("recent messages of room %d: %w", roomID, err)
	}
	defer rows.Close()
	msgs := make([]chat.Message, 0, min(n, 256))
	for rows.Next() {
		m := chat.Message{Group: group}
		var created *int64
		if err := rows.Scan(&m.ID, &m.RoomID, &m.From, &m.Text, &m.Style.Bold, &m.Style.Italic,
			&m.Style.Underline, &m.Style.Color, &created); err != nil {
			return nil, fmt.Errorf("recent messages of room %d: scan: %w", roomID, err)
		}
		if created != nil {
			m.Time = time.Unix(0, *created).UTC()
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent messages of room %d: %w", roomID, err)
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, nil
}

// errNoRows reports whether err is the "no row" of a QueryRow.
func errNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
