package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parlorchat/parlor/core/chat"

	// Registers the pure-Go "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
)

// busyTimeout is how long a statement waits for a lock held by another
// connection (for example a second process on the same file) before it
// fails with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// SQLite is a Store kept in one SQLite database file. It is safe for
// concurrent use: all statements go through a single connection, which
// serialises writers inside the process, and the busy timeout covers other
// processes that open the same file.
type SQLite struct {
	db   *sql.DB
	path string
	// accountStmts are the account lookups, prepared once at open: a
	// login asks for its name on every attempt (a guest's too), and
	// compiling the query each time cost more than running it. They read
	// the table at every execution, so a rename or delete is seen at once.
	accountStmts map[accountKey]*sql.Stmt
	// inserts[i] appends 1<<i messages at once, prepared at open.
	inserts [insertSizes]*sql.Stmt
	// names answers most lookups of a name no account has.
	names nameFilter
	// stores is the locked <path>-stores file (see soleWriter); nil
	// where there is no flock.
	stores *os.File
}

var _ Store = (*SQLite)(nil)

// migrations are applied in order; migration i brings the schema from
// version i to version i+1. Only ever append to this slice: an applied
// migration must never change, since databases in the field already
// recorded it as done.
var migrations = []string{
	// 1: rooms and message history.
	`CREATE TABLE rooms (
		id               INTEGER PRIMARY KEY AUTOINCREMENT,
		grp              TEXT    NOT NULL,
		name             TEXT    NOT NULL,
		owner            TEXT    NOT NULL DEFAULT '',
		description      TEXT    NOT NULL DEFAULT '',
		max_members      INTEGER NOT NULL DEFAULT 0,
		speaker          TEXT    NOT NULL DEFAULT '',
		member           INTEGER NOT NULL DEFAULT 0,
		password         TEXT    NOT NULL DEFAULT '',
		pass_all_message INTEGER NOT NULL DEFAULT 0,
		open             INTEGER NOT NULL DEFAULT 0,
		st               INTEGER NOT NULL DEFAULT 0,
		welcome          TEXT    NOT NULL DEFAULT '',
		audio            INTEGER NOT NULL DEFAULT 0,
		video            INTEGER NOT NULL DEFAULT 0,
		whiteboard       INTEGER NOT NULL DEFAULT 0,
		origin           TEXT    NOT NULL DEFAULT ''
	);
	CREATE INDEX rooms_grp_id ON rooms (grp, id);
	CREATE TABLE messages (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		grp        TEXT    NOT NULL,
		room_id    INTEGER NOT NULL,
		sender     TEXT    NOT NULL,
		text       TEXT    NOT NULL,
		b          INTEGER NOT NULL DEFAULT 0,
		i          INTEGER NOT NULL DEFAULT 0,
		u          INTEGER NOT NULL DEFAULT 0,
		color      TEXT    NOT NULL DEFAULT '',
		created_at INTEGER -- Unix nanoseconds (UTC); NULL for the zero time
	);
	CREATE INDEX messages_grp_room_id ON messages (grp, room_id, id);`,
	// 2: accounts, login sessions and the plugins' key-value store
	// (accounts.go).
	migrationAccounts,
	// 3: canonical keys and look-alike skeletons of account names and
	// e-mails (names.go), filled by migrationSteps[3].
	migrationAccountKeys,
	// 4: sanctions, held messages and the plugins' documents
	// (hostdata.go).
	migrationHostData,
	// 5: the moderation log (audit.go).
	migrationAudit,
	// 6: rooms' opening times and zone (the schedule module's rules).
	`ALTER TABLE rooms ADD COLUMN open_times TEXT NOT NULL DEFAULT '';
	ALTER TABLE rooms ADD COLUMN tz TEXT NOT NULL DEFAULT '';`,
}

// migrationSteps holds the Go code some migrations need after their SQL
// (computing values SQL cannot), by the version the migration brings the
// schema to. A step runs in the migration's transaction.
var migrationSteps = map[int]func(context.Context, *sql.Tx) error{
	3: fillAccountKeys,
}

// OpenSQLite opens (creating if needed) the SQLite database at path,
// creating its parent directory, and brings its schema up to date. The
// database runs in WAL mode with a busy timeout and foreign keys enforced.
// ctx bounds the opening and the migration only.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	// The driver splits its parameters off at the first '?'.
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite %q: path must not contain '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite %q: create directory: %w", path, err)
	}
	dsn := path + "?" + strings.Join([]string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()),
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		// Write transactions take the write lock at BEGIN, so they wait
		// on busy_timeout instead of failing on a read-to-write upgrade.
		"_txlock=immediate",
	}, "&")
	// Before anything is written: the other stores on the file learn of
	// this one, or this one that it is alone.
	sole, stores, err := openStores(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		closeFile(stores)
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	// SQLite allows one writer at a time; one connection serialises all
	// access in-process, so writers never contend with each other for the
	// file lock. Keep it open for the life of the store.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	s := &SQLite{db: db, path: path, stores: stores}
	if err := s.init(ctx, sole); err != nil {
		_ = db.Close()
		closeFile(stores)
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	return s, nil
}

// closeFile closes f unless it is nil.
func closeFile(f *os.File) {
	if f != nil {
		_ = f.Close()
	}
}

// init checks the connection settings, applies pending migrations and
// builds the name filter if the store is alone on its file (sole).
func (s *SQLite) init(ctx context.Context, sole *soleWriter) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the filesystem local?)", mode)
	}
	// In WAL mode synchronous=NORMAL makes a transaction durable once
	// COMMIT returns as far as the process is concerned: it is in the WAL
	// file, which survives a kill -9 of the server. It does not fsync at
	// every commit, so the last commits before a power loss or an OS
	// crash may be lost (the database stays consistent). OFF would lose
	// even that, so it is refused.
	var sync int
	if err := s.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if sync < 1 {
		return fmt.Errorf("synchronous is %d, want 1 (NORMAL) or more", sync)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.prepareAccountLookups(ctx); err != nil {
		return err
	}
	if err := s.prepareInserts(ctx); err != nil {
		return err
	}
	s.names.build(ctx, s, sole)
	return nil
}

// migrate applies, in one transaction, every migration the database has
// not recorded in schema_version yet.
func (s *SQLite) migrate(ctx context.Context) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: create schema_version: %w", err)
	}
	var version int
	if err = tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&version); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if _, err = tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
		if step := migrationSteps[v+1]; step != nil {
			if err = step(ctx, tx); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v+1, err)
			}
		}
		if _, err = tx.ExecContext(ctx, "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
			v+1, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("migrate to version %d: record version: %w", v+1, err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// Rooms lists the rooms of group ordered by ID. It returns an empty,
// non-nil slice when the group has none.
func (s *SQLite) Rooms(ctx context.Context, group string) ([]chat.RoomInfo, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+RoomColumns+" FROM rooms WHERE grp = ? ORDER BY id", group)
	if err != nil {
		return nil, fmt.Errorf("list rooms of group %q: %w", group, err)
	}
	defer rows.Close()
	rooms := []chat.RoomInfo{}
	for rows.Next() {
		r, err := ScanRoom(rows)
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
// included).
func (s *SQLite) SaveRoom(ctx context.Context, r chat.RoomInfo) (int64, error) {
	if r.ID < 0 {
		return 0, fmt.Errorf("save room %d: negative id", r.ID)
	}
	args, err := RoomValues(r)
	if err != nil {
		return 0, fmt.Errorf("save room: %w", err)
	}
	if r.ID == 0 {
		res, err := s.db.ExecContext(ctx, `INSERT INTO rooms (grp, name, owner, description, max_members,
			speaker, member, password, pass_all_message, open, st, welcome, audio, video, whiteboard, origin,
			open_times, tz)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		if err != nil {
			return 0, fmt.Errorf("save new room %q: %w", r.Name, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return 0, fmt.Errorf("save new room %q: read id: %w", r.Name, err)
		}
		return id, nil
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO rooms (id, grp, name, owner, description, max_members,
		speaker, member, password, pass_all_message, open, st, welcome, audio, video, whiteboard, origin,
		open_times, tz)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			grp = excluded.grp, name = excluded.name, owner = excluded.owner,
			description = excluded.description, max_members = excluded.max_members,
			speaker = excluded.speaker, member = excluded.member, password = excluded.password,
			pass_all_message = excluded.pass_all_message, open = excluded.open, st = excluded.st,
			welcome = excluded.welcome, audio = excluded.audio, video = excluded.video,
			whiteboard = excluded.whiteboard, origin = excluded.origin,
			open_times = excluded.open_times, tz = excluded.tz`,
		append([]any{r.ID}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("save room %d: %w", r.ID, err)
	}
	return r.ID, nil
}

// DeleteRoom removes room id of group and its message history. It returns
// an error wrapping ErrNotFound when group has no room with that id.
func (s *SQLite) DeleteRoom(ctx context.Context, group string, id int64) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete room %d: begin: %w", id, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, "DELETE FROM rooms WHERE grp = ? AND id = ?", group, id)
	if err != nil {
		return fmt.Errorf("delete room %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete room %d: %w", id, err)
	}
	if n == 0 {
		err = fmt.Errorf("delete room %d of group %q: %w", id, group, ErrNotFound)
		return err
	}
	if _, err = tx.ExecContext(ctx, "DELETE FROM messages WHERE grp = ? AND room_id = ?", group, id); err != nil {
		return fmt.Errorf("delete room %d: history: %w", id, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("delete room %d: commit: %w", id, err)
	}
	return nil
}

// AppendMessages stores msgs, in order, in one transaction: either all are
// stored or none. A message with a non-zero ID is stored under that ID (the
// chat group numbers messages, see LastMessageID); one with ID 0 gets a new
// increasing ID. msgs is not modified. Times are stored
// to the nanosecond and must lie between the years 1678 and 2262, or be
// the zero time.
func (s *SQLite) AppendMessages(ctx context.Context, msgs []chat.Message) (err error) {
	if len(msgs) == 0 {
		return nil
	}
	created := make([]sql.NullInt64, len(msgs))
	for i, m := range msgs {
		if created[i], err = unixNano(m.Time); err != nil {
			return fmt.Errorf("append %d messages: message %d: %w", len(msgs), i, err)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append %d messages: begin: %w", len(msgs), err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// Rows go in statements of several rows each (a whole batch in a few
	// executions): per row, one execution of its own cost more than the
	// insert itself.
	args := make([]any, 0, messageColumns*min(len(msgs), maxInsertRows))
	for done := 0; done < len(msgs); {
		n := insertRows(len(msgs) - done)
		stmt := s.inserts[bits.TrailingZeros(uint(n))]
		args = args[:0]
		for i, m := range msgs[done : done+n] {
			args = append(args, sql.NullInt64{Int64: m.ID, Valid: m.ID != 0}, m.Group, m.RoomID, m.From, m.Text,
				m.Style.Bold, m.Style.Italic, m.Style.Underline, m.Style.Color, created[done+i])
		}
		if _, err = tx.StmtContext(ctx, stmt).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("append %d messages: messages %d to %d (room %d): %w", len(msgs), done, done+n-1, msgs[done].RoomID, err)
		}
		done += n
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("append %d messages: commit: %w", len(msgs), err)
	}
	return nil
}

// messageColumns is the number of columns an appended message fills.
const messageColumns = 10

// maxInsertRows is the most rows one INSERT of messages carries, and
// insertSizes the number of statements: one for each power of two up to it.
const (
	maxInsertRows = 1 << (insertSizes - 1)
	insertSizes   = 7
)

// insertRows is how many of n rows the next INSERT takes: a power of two,
// so that a few statements serve every batch size.
func insertRows(n int) int {
	return 1 << (bits.Len(uint(min(n, maxInsertRows))) - 1)
}

// prepareInserts prepares the INSERT of 1, 2, 4 ... maxInsertRows
// messages, at open: the store's one connection is a transaction's while
// it appends.
func (s *SQLite) prepareInserts(ctx context.Context) error {
	for i := range s.inserts {
		var b strings.Builder
		b.WriteString("INSERT INTO messages (id, grp, room_id, sender, text, b, i, u, color, created_at) VALUES ")
		for r := range 1 << i {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		}
		st, err := s.db.PrepareContext(ctx, b.String())
		if err != nil {
			return fmt.Errorf("prepare the insert of %d messages: %w", 1<<i, err)
		}
		s.inserts[i] = st
	}
	return nil
}

// LastMessageID returns the highest message ID ever stored (0 for none), so
// that new messages can be numbered above it.
func (s *SQLite) LastMessageID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'messages'`).Scan(&id); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("last message id: %w", err)
	}
	return id.Int64, nil
}

// RecentMessages returns the last n messages of room roomID in group,
// oldest first, with their IDs and times (in UTC). It returns an empty,
// non-nil slice when there are none or n <= 0.
func (s *SQLite) RecentMessages(ctx context.Context, group string, roomID int64, n int) ([]chat.Message, error) {
	if n <= 0 {
		return []chat.Message{}, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, room_id, sender, text, b, i, u, color, created_at
		FROM messages WHERE grp = ? AND room_id = ? ORDER BY id DESC LIMIT ?`, group, roomID, n)
	if err != nil {
		return nil, fmt.Errorf("recent messages of room %d: %w", roomID, err)
	}
	defer rows.Close()
	msgs := make([]chat.Message, 0, min(n, 256))
	for rows.Next() {
		m := chat.Message{Group: group}
		var created sql.NullInt64
		if err := rows.Scan(&m.ID, &m.RoomID, &m.From, &m.Text, &m.Style.Bold, &m.Style.Italic,
			&m.Style.Underline, &m.Style.Color, &created); err != nil {
			return nil, fmt.Errorf("recent messages of room %d: scan: %w", roomID, err)
		}
		if created.Valid {
			m.Time = time.Unix(0, created.Int64).UTC()
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

// Close closes the database. The store must not be used afterwards.
func (s *SQLite) Close() error {
	for _, st := range s.accountStmts {
		_ = st.Close()
	}
	for _, st := range s.inserts {
		if st != nil {
			_ = st.Close()
		}
	}
	err := s.db.Close()
	closeFile(s.stores) // after the last write: the next store may be alone
	if err != nil {
		return fmt.Errorf("close sqlite %q: %w", s.path, err)
	}
	return nil
}

// Bounds of the times UnixNano represents exactly.
var (
	minNanoTime = time.Unix(0, -1<<63)
	maxNanoTime = time.Unix(0, 1<<63-1)
)

// unixNano converts t for the created_at column: NULL for the zero time,
// otherwise Unix nanoseconds.
func unixNano(t time.Time) (sql.NullInt64, error) {
	if t.IsZero() {
		return sql.NullInt64{}, nil
	}
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return sql.NullInt64{}, fmt.Errorf("time %s out of range", t.Format(time.RFC3339Nano))
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}, nil
}
