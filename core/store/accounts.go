package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parlorchat/parlor/core/chat"
)

// migrationAccounts creates the tables of accounts, login sessions and the
// plugins' key-value store. Names and e-mails are unique without regard to
// case; an account without an e-mail stores NULL. Sessions keep only the
// SHA-256 of their token. Times are Unix milliseconds.
const migrationAccounts = `CREATE TABLE users (
		id            INTEGER PRIMARY KEY AUTOINCREMENT,
		name          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
		email         TEXT    UNIQUE COLLATE NOCASE,
		password_hash TEXT,
		avatar        TEXT    NOT NULL DEFAULT '',
		created       INTEGER NOT NULL
	);
	CREATE TABLE sessions (
		token_hash BLOB    PRIMARY KEY,
		user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
		issuer     TEXT    NOT NULL DEFAULT '',
		expires    INTEGER NOT NULL,
		persistent INTEGER NOT NULL DEFAULT 0,
		created    INTEGER NOT NULL
	);
	CREATE INDEX sessions_user ON sessions (user_id);
	CREATE INDEX sessions_expires ON sessions (expires);
	CREATE TABLE kv (
		plugin  TEXT NOT NULL,
		key     TEXT NOT NULL,
		value   BLOB NOT NULL,
		expires INTEGER, -- NULL: never
		PRIMARY KEY (plugin, key)
	);
	CREATE INDEX kv_expires ON kv (expires);`

// ErrExists is returned (wrapped) when a unique name or e-mail is taken.
var ErrExists = errors.New("already exists")

// ErrInvalid is returned (wrapped) for a name or e-mail that has no
// canonical key (chat.UsableNameKey, chat.EmailKey).
var ErrInvalid = errors.New("invalid")

// Account is one of the chat's own accounts.
type Account struct {
	ID    int64
	Name  string
	Email string // empty: none
	// PasswordHash is a bcrypt hash; empty means the account has no
	// password and logs in only through an issued session.
	PasswordHash string
	Avatar       string
	Created      time.Time
	// NameKey is the canonical key of Name (chat.NameKey), set by the
	// store. It is empty for an account that has none: its name is the
	// same as an older account's, or one the key profile refuses, since
	// the accounts were made before names were compared by key. Such an
	// account logs in again once renamed (docs/operations.md, "Names").
	NameKey string
}

// SessionRecord is a stored login session.
type SessionRecord struct {
	TokenHash  []byte // SHA-256 of the token
	UserID     int64
	Issuer     string // the plugin that issued it ("" for the core)
	Expires    time.Time
	Persistent bool
	Created    time.Time
}

// Accounts is the persistence of accounts, sessions and the plugins' KV
// store. *SQLite and *postgres.Store implement it.
type Accounts interface {
	// AccountByID, AccountByName and AccountByEmail find an account
	// (names and e-mails by their canonical key: chat.NameKey,
	// chat.EmailKey); ErrNotFound if none.
	AccountByID(ctx context.Context, id int64) (Account, error)
	AccountByName(ctx context.Context, name string) (Account, error)
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// AccountLookalike finds the oldest account whose name looks like
	// name (the same chat.NameSkeleton); ErrNotFound if none.
	AccountLookalike(ctx context.Context, name string) (Account, error)
	// KeyConflicts lists the accounts whose name or e-mail has no key
	// (see Account.NameKey), oldest first.
	KeyConflicts(ctx context.Context) ([]KeyConflict, error)
	// CreateAccount inserts a; ErrExists when the name or e-mail key is
	// taken, ErrInvalid when either has no key.
	CreateAccount(ctx context.Context, a Account) (Account, error)
	// UpdateAccount stores every field of a (by a.ID); ErrExists when the
	// name or e-mail key is taken, ErrInvalid when a new name or e-mail
	// has no key, ErrNotFound when there is no such account.
	UpdateAccount(ctx context.Context, a Account) error
	// DeleteAccount removes an account and returns the token hashes of
	// the sessions that ended with it.
	DeleteAccount(ctx context.Context, id int64) ([][]byte, error)
	// CountAccounts is the number of accounts.
	CountAccounts(ctx context.Context) (int, error)

	// CreateSession stores a session.
	CreateSession(ctx context.Context, s SessionRecord) error
	// SessionAccount returns the unexpired session with the token hash and
	// its account; ErrNotFound if there is none (or it expired).
	SessionAccount(ctx context.Context, tokenHash []byte, now time.Time) (SessionRecord, Account, error)
	// DeleteSession removes one session; false when there was none.
	DeleteSession(ctx context.Context, tokenHash []byte) (bool, error)
	// DeleteUserSessions removes the sessions of a user issued by issuer
	// and returns their token hashes.
	DeleteUserSessions(ctx context.Context, userID int64, issuer string) ([][]byte, error)

	// KVGet returns a plugin's unexpired value; found is false otherwise.
	KVGet(ctx context.Context, plugin, key string, now time.Time) (value []byte, found bool, err error)
	// KVSet stores a value; a zero expires keeps it until deleted.
	KVSet(ctx context.Context, plugin, key string, value []byte, expires time.Time) error
	// KVDelete removes a key.
	KVDelete(ctx context.Context, plugin, key string) error

	// PurgeExpired removes expired sessions and KV entries.
	PurgeExpired(ctx context.Context, now time.Time) error
}

var _ Accounts = (*SQLite)(nil)

// CoreKVPrefix starts the KV owner names under which the core keeps
// entries of its own (such as "core.reconnect"), in the table of the
// plugins' KV. No plugin name has a '.' (core/config checks the names of
// plugins.load), and the Host API refuses such owners (IsCoreKVOwner), so
// no plugin reads or writes them.
const CoreKVPrefix = "core."

// IsCoreKVOwner tells whether owner is a KV owner name of the core.
func IsCoreKVOwner(owner string) bool { return strings.HasPrefix(owner, CoreKVPrefix) }

const accountColumns = `id, name, COALESCE(email, ''), COALESCE(password_hash, ''), avatar, created, COALESCE(name_key, '')`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var created int64
	if err := row.Scan(&a.ID, &a.Name, &a.Email, &a.PasswordHash, &a.Avatar, &created, &a.NameKey); err != nil {
		return Account{}, err
	}
	a.Created = time.UnixMilli(created).UTC()
	return a, nil
}

// errNoSuchName is what a lookup the name filter answers returns: no
// account has the name (or one like it).
var errNoSuchName = fmt.Errorf("no account has the name: %w", ErrNotFound)

// accountKey names a column an account is looked up by.
type accountKey string

// The columns of the account lookups (accountBy).
const (
	byID       accountKey = "id"
	byNameKey  accountKey = "name_key"
	byEmailKey accountKey = "email_key"
	bySkeleton accountKey = "name_skeleton"
)

// prepareAccountLookups prepares the account lookup of each column.
func (s *SQLite) prepareAccountLookups(ctx context.Context) error {
	s.accountStmts = map[accountKey]*sql.Stmt{}
	for _, col := range []accountKey{byID, byNameKey, byEmailKey, bySkeleton} {
		st, err := s.db.PrepareContext(ctx, "SELECT "+accountColumns+" FROM users WHERE "+string(col)+" = ? ORDER BY id LIMIT 1")
		if err != nil {
			return fmt.Errorf("prepare the account lookup by %s: %w", col, err)
		}
		s.accountStmts[col] = st
	}
	return nil
}

// accountBy finds the oldest account whose column col is arg, with its
// prepared statement.
func (s *SQLite) accountBy(ctx context.Context, what string, col accountKey, arg any) (Account, error) {
	a, err := scanAccount(s.accountStmts[col].QueryRowContext(ctx, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("account %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", what, err)
	}
	return a, nil
}

// AccountByID finds an account by its id.
func (s *SQLite) AccountByID(ctx context.Context, id int64) (Account, error) {
	return s.accountBy(ctx, fmt.Sprint(id), byID, id)
}

// AccountByName finds the account whose name has the canonical key of
// name (chat.NameKey).
func (s *SQLite) AccountByName(ctx context.Context, name string) (Account, error) {
	key, err := chat.UsableNameKey(name)
	if err != nil {
		return Account{}, fmt.Errorf("account %q: the name has no key: %w", name, ErrNotFound)
	}
	if !s.names.mayHave(ctx, 'k', key) {
		return Account{}, errNoSuchName
	}
	return s.accountBy(ctx, fmt.Sprintf("%q", name), byNameKey, key)
}

// AccountByEmail finds the account whose e-mail has the canonical key of
// email (chat.EmailKey).
func (s *SQLite) AccountByEmail(ctx context.Context, email string) (Account, error) {
	if email == "" {
		return Account{}, fmt.Errorf("account with an empty e-mail: %w", ErrNotFound)
	}
	key, err := chat.EmailKey(email)
	if err != nil {
		return Account{}, fmt.Errorf("account with e-mail %q: the address has no key: %w", email, ErrNotFound)
	}
	return s.accountBy(ctx, fmt.Sprintf("with e-mail %q", email), byEmailKey, key)
}

// AccountLookalike finds the oldest account whose name has the
// chat.NameSkeleton of name.
func (s *SQLite) AccountLookalike(ctx context.Context, name string) (Account, error) {
	skel := chat.NameSkeleton(name)
	if !s.names.mayHave(ctx, 's', skel) {
		return Account{}, errNoSuchName
	}
	return s.accountBy(ctx, fmt.Sprintf("looking like %q", name), bySkeleton, skel)
}

// nullable stores "" as NULL.
func nullable(v string) sql.NullString { return sql.NullString{String: v, Valid: v != ""} }

// uniqueErr turns a UNIQUE constraint failure into ErrExists naming the
// field at fault.
func uniqueErr(err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "UNIQUE constraint failed") {
		return err
	}
	switch {
	case strings.Contains(msg, "users.email"):
		return fmt.Errorf("the e-mail belongs to another account: %w", ErrExists)
	case strings.Contains(msg, "users.name"):
		return fmt.Errorf("the name belongs to another account: %w", ErrExists)
	}
	return fmt.Errorf("%v: %w", err, ErrExists)
}

// CreateAccount inserts a and returns it with its id and creation time
// (now when a.Created is zero).
func (s *SQLite) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if a.Created.IsZero() {
		a.Created = time.Now()
	}
	a.Created = time.UnixMilli(a.Created.UnixMilli()).UTC()
	nameKey, emailKey, err := accountKeys(a.Name, a.Email)
	if err != nil {
		return Account{}, fmt.Errorf("create account %q: %w", a.Name, err)
	}
	s.names.add(ctx, s, nameKey, chat.NameSkeleton(a.Name))
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (name, email, password_hash, avatar, created, name_key, email_key, name_skeleton)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Name, nullable(a.Email), nullable(a.PasswordHash), a.Avatar, a.Created.UnixMilli(), nameKey, emailKey, chat.NameSkeleton(a.Name))
	if err != nil {
		return Account{}, fmt.Errorf("create account %q: %w", a.Name, uniqueErr(err))
	}
	if a.ID, err = res.LastInsertId(); err != nil {
		return Account{}, fmt.Errorf("create account %q: read id: %w", a.Name, err)
	}
	a.NameKey = nameKey
	return a, nil
}

// UpdateAccount stores the name, e-mail, password hash and avatar of a,
// with the keys of a new name or e-mail. An unchanged name or e-mail
// keeps its key, or its lack of one (Account.NameKey): an account that
// has none gets one only by a new name (or e-mail).
func (s *SQLite) UpdateAccount(ctx context.Context, a Account) (err error) {
	// A new name is known to the filter before it is written (an
	// unchanged one is there already).
	if key, kerr := chat.UsableNameKey(a.Name); kerr == nil {
		s.names.add(ctx, s, key, chat.NameSkeleton(a.Name))
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update account %d: begin: %w", a.ID, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var oldName string
	var oldEmail, nameKey, emailKey sql.NullString
	err = tx.QueryRowContext(ctx, "SELECT name, email, name_key, email_key FROM users WHERE id = ?", a.ID).
		Scan(&oldName, &oldEmail, &nameKey, &emailKey)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("update account %d: %w", a.ID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("update account %d: %w", a.ID, err)
	}
	if a.Name != oldName {
		k, err := chat.UsableNameKey(a.Name)
		if err != nil {
			return fmt.Errorf("update account %d: %v: %w", a.ID, err, ErrInvalid)
		}
		nameKey = sql.NullString{String: k, Valid: true}
	}
	if a.Email != oldEmail.String {
		if emailKey, err = emailKeyOf(a.Email); err != nil {
			return fmt.Errorf("update account %d: %w", a.ID, err)
		}
	}
	if _, err = tx.ExecContext(ctx, `UPDATE users SET name = ?, email = ?, password_hash = ?, avatar = ?,
		name_key = ?, email_key = ?, name_skeleton = ? WHERE id = ?`,
		a.Name, nullable(a.Email), nullable(a.PasswordHash), a.Avatar,
		nameKey, emailKey, chat.NameSkeleton(a.Name), a.ID); err != nil {
		return fmt.Errorf("update account %d: %w", a.ID, uniqueErr(err))
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("update account %d: commit: %w", a.ID, err)
	}
	return nil
}

// DeleteAccount removes an account and its sessions, returning the token
// hashes of those sessions.
func (s *SQLite) DeleteAccount(ctx context.Context, id int64) (_ [][]byte, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete account %d: begin: %w", id, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	hashes, err := sessionHashes(ctx, tx, "SELECT token_hash FROM sessions WHERE user_id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("delete account %d: %w", id, err)
	}
	if _, err = tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ?", id); err != nil {
		return nil, fmt.Errorf("delete account %d: sessions: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("delete account %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, fmt.Errorf("delete account %d: %w", id, err)
	}
	if n == 0 {
		err = fmt.Errorf("delete account %d: %w", id, ErrNotFound)
		return nil, err
	}
	if err = tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete account %d: commit: %w", id, err)
	}
	return hashes, nil
}

// CountAccounts is the number of accounts.
func (s *SQLite) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts: %w", err)
	}
	return n, nil
}

func sessionHashes(ctx context.Context, tx *sql.Tx, query string, args ...any) ([][]byte, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("list sessions: scan: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// CreateSession stores a session (created now when s.Created is zero).
func (s *SQLite) CreateSession(ctx context.Context, rec SessionRecord) error {
	if len(rec.TokenHash) == 0 {
		return errors.New("create session: empty token hash")
	}
	if rec.Created.IsZero() {
		rec.Created = time.Now()
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, issuer, expires, persistent, created) VALUES (?, ?, ?, ?, ?, ?)`,
		rec.TokenHash, rec.UserID, rec.Issuer, rec.Expires.UnixMilli(), rec.Persistent, rec.Created.UnixMilli()); err != nil {
		return fmt.Errorf("create session for account %d: %w", rec.UserID, err)
	}
	return nil
}

// SessionAccount returns the session with tokenHash, unexpired at now, and
// its account.
func (s *SQLite) SessionAccount(ctx context.Context, tokenHash []byte, now time.Time) (SessionRecord, Account, error) {
	row := s.db.QueryRowContext(ctx, `SELECT s.user_id, s.issuer, s.expires, s.persistent, s.created,
		u.id, u.name, COALESCE(u.email, ''), COALESCE(u.password_hash, ''), u.avatar, u.created, COALESCE(u.name_key, '')
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.expires > ?`, tokenHash, now.UnixMilli())
	rec := SessionRecord{TokenHash: tokenHash}
	var a Account
	var expires, created, ucreated int64
	err := row.Scan(&rec.UserID, &rec.Issuer, &expires, &rec.Persistent, &created,
		&a.ID, &a.Name, &a.Email, &a.PasswordHash, &a.Avatar, &ucreated, &a.NameKey)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionRecord{}, Account{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return SessionRecord{}, Account{}, fmt.Errorf("session: %w", err)
	}
	rec.Expires, rec.Created = time.UnixMilli(expires).UTC(), time.UnixMilli(created).UTC()
	a.Created = time.UnixMilli(ucreated).UTC()
	return rec, a, nil
}

// DeleteSession removes the session with tokenHash.
func (s *SQLite) DeleteSession(ctx context.Context, tokenHash []byte) (bool, error) {
	res, err := s.db.ExecContext(ctx, "DELETE FROM sessions WHERE token_hash = ?", tokenHash)
	if err != nil {
		return false, fmt.Errorf("delete session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete session: %w", err)
	}
	return n > 0, nil
}

// DeleteUserSessions removes the sessions of userID issued by issuer.
func (s *SQLite) DeleteUserSessions(ctx context.Context, userID int64, issuer string) (_ [][]byte, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete sessions of account %d: begin: %w", userID, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	hashes, err := sessionHashes(ctx, tx, "SELECT token_hash FROM sessions WHERE user_id = ? AND issuer = ?", userID, issuer)
	if err != nil {
		return nil, fmt.Errorf("delete sessions of account %d: %w", userID, err)
	}
	if _, err = tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ? AND issuer = ?", userID, issuer); err != nil {
		return nil, fmt.Errorf("delete sessions of account %d: %w", userID, err)
	}
	if err = tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete sessions of account %d: commit: %w", userID, err)
	}
	return hashes, nil
}

// KVGet returns the value plugin stored under key, unless it expired.
func (s *SQLite) KVGet(ctx context.Context, plugin, key string, now time.Time) ([]byte, bool, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM kv WHERE plugin = ? AND key = ? AND (expires IS NULL OR expires > ?)`,
		plugin, key, now.UnixMilli()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("kv get %s/%q: %w", plugin, key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// KVSet stores value under plugin and key until expires (zero: forever).
func (s *SQLite) KVSet(ctx context.Context, plugin, key string, value []byte, expires time.Time) error {
	exp := sql.NullInt64{}
	if !expires.IsZero() {
		exp = sql.NullInt64{Int64: expires.UnixMilli(), Valid: true}
	}
	if value == nil {
		value = []byte{}
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO kv (plugin, key, value, expires) VALUES (?, ?, ?, ?)
		ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, expires = excluded.expires`,
		plugin, key, value, exp); err != nil {
		return fmt.Errorf("kv set %s/%q: %w", plugin, key, err)
	}
	return nil
}

// KVDelete removes plugin's key.
func (s *SQLite) KVDelete(ctx context.Context, plugin, key string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM kv WHERE plugin = ? AND key = ?", plugin, key); err != nil {
		return fmt.Errorf("kv delete %s/%q: %w", plugin, key, err)
	}
	return nil
}

// PurgeExpired removes the sessions and KV entries expired at now.
func (s *SQLite) PurgeExpired(ctx context.Context, now time.Time) error {
	ms := now.UnixMilli()
	if _, err := s.db.ExecContext(ctx, "DELETE FROM sessions WHERE expires <= ?", ms); err != nil {
		return fmt.Errorf("purge expired sessions: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", ms); err != nil {
		return fmt.Errorf("purge expired kv entries: %w", err)
	}
	return nil
}
