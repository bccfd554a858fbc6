package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
)

const accountColumns = `id, name, COALESCE(email, ''), COALESCE(password_hash, ''), avatar, created, COALESCE(name_key, '')`

func scanAccount(row pgx.Row) (store.Account, error) {
	var a store.Account
	var created int64
	if err := row.Scan(&a.ID, &a.Name, &a.Email, &a.PasswordHash, &a.Avatar, &created, &a.NameKey); err != nil {
		return store.Account{}, err
	}
	a.Created = time.UnixMilli(created).UTC()
	return a, nil
}

// accountBy finds the oldest account whose column col is arg. col is one
// of this file's constants, never input.
func (s *Store) accountBy(ctx context.Context, what, col string, arg any) (store.Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, "SELECT "+accountColumns+" FROM users WHERE "+col+" = $1 ORDER BY id LIMIT 1", arg))
	if errNoRows(err) {
		return store.Account{}, fmt.Errorf("account %s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("account %s: %w", what, err)
	}
	return a, nil
}

// AccountByID finds an account by its id.
func (s *Store) AccountByID(ctx context.Context, id int64) (store.Account, error) {
	return s.accountBy(ctx, fmt.Sprint(id), "id", id)
}

// AccountByName finds the account whose name has the canonical key of
// name (chat.NameKey).
func (s *Store) AccountByName(ctx context.Context, name string) (store.Account, error) {
	key, err := chat.UsableNameKey(name)
	if err != nil {
		return store.Account{}, fmt.Errorf("account %q: the name has no key: %w", name, store.ErrNotFound)
	}
	return s.accountBy(ctx, fmt.Sprintf("%q", name), "name_key", key)
}

// AccountByEmail finds the account whose e-mail has the canonical key of
// email (chat.EmailKey).
func (s *Store) AccountByEmail(ctx context.Context, email string) (store.Account, error) {
	if email == "" {
		return store.Account{}, fmt.Errorf("account with an empty e-mail: %w", store.ErrNotFound)
	}
	key, err := chat.EmailKey(email)
	if err != nil {
		return store.Account{}, fmt.Errorf("account with e-mail %q: the address has no key: %w", email, store.ErrNotFound)
	}
	return s.accountBy(ctx, fmt.Sprintf("with e-mail %q", email), "email_key", key)
}

// AccountLookalike finds the oldest account whose name has the
// chat.NameSkeleton of name.
func (s *Store) AccountLookalike(ctx context.Context, name string) (store.Account, error) {
	return s.accountBy(ctx, fmt.Sprintf("looking like %q", name), "name_skeleton", chat.NameSkeleton(name))
}

// deref reads a nullable text, "" for NULL.
func deref(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

// nullable stores "" as NULL.
func nullable(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// accountKeys returns the keys of a new account's name and e-mail (nil
// for no e-mail), or an error wrapping store.ErrInvalid.
func accountKeys(name, email string) (string, *string, error) {
	nameKey, err := chat.UsableNameKey(name)
	if err != nil {
		return "", nil, fmt.Errorf("%v: %w", err, store.ErrInvalid)
	}
	emailKey, err := emailKeyOf(email)
	if err != nil {
		return "", nil, err
	}
	return nameKey, emailKey, nil
}

// emailKeyOf is the e-mail key column's value: nil for no e-mail, or an
// error wrapping store.ErrInvalid for an address without a key.
func emailKeyOf(email string) (*string, error) {
	if email == "" {
		return nil, nil
	}
	k, err := chat.EmailKey(email)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, store.ErrInvalid)
	}
	return &k, nil
}

// CreateAccount inserts a and returns it with its id and creation time
// (now when a.Created is zero).
func (s *Store) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	if a.Created.IsZero() {
		a.Created = time.Now()
	}
	a.Created = time.UnixMilli(a.Created.UnixMilli()).UTC()
	nameKey, emailKey, err := accountKeys(a.Name, a.Email)
	if err != nil {
		return store.Account{}, fmt.Errorf("create account %q: %w", a.Name, err)
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO users (name, email, password_hash, avatar, created, name_key, email_key, name_skeleton)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		a.Name, nullable(a.Email), nullable(a.PasswordHash), a.Avatar, a.Created.UnixMilli(), nameKey, emailKey,
		chat.NameSkeleton(a.Name)).Scan(&a.ID)
	if err != nil {
		return store.Account{}, fmt.Errorf("create account %q: %w", a.Name, uniqueErr(err))
	}
	a.NameKey = nameKey
	return a, nil
}

// UpdateAccount stores the name, e-mail, password hash and avatar of a,
// with the keys of a new name or e-mail. An unchanged name or e-mail
// keeps its key, or its lack of one (store.Account.NameKey): an account
// that has none gets one only by a new name (or e-mail).
func (s *Store) UpdateAccount(ctx context.Context, a store.Account) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var oldName string
		var oldEmail, nameKey, emailKey *string
		err := tx.QueryRow(ctx, "SELECT name, email, name_key, email_key FROM users WHERE id = $1 FOR UPDATE", a.ID).
			Scan(&oldName, &oldEmail, &nameKey, &emailKey)
		if errNoRows(err) {
			return fmt.Errorf("update account %d: %w", a.ID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("update account %d: %w", a.ID, err)
		}
		if a.Name != oldName {
			k, err := chat.UsableNameKey(a.Name)
			if err != nil {
				return fmt.Errorf("update account %d: %v: %w", a.ID, err, store.ErrInvalid)
			}
			nameKey = &k
		}
		if a.Email != deref(oldEmail) {
			if emailKey, err = emailKeyOf(a.Email); err != nil {
				return fmt.Errorf("update account %d: %w", a.ID, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET name = $1, email = $2, password_hash = $3, avatar = $4,
			name_key = $5, email_key = $6, name_skeleton = $7 WHERE id = $8`,
			a.Name, nullable(a.Email), nullable(a.PasswordHash), a.Avatar,
			nameKey, emailKey, chat.NameSkeleton(a.Name), a.ID); err != nil {
			return fmt.Errorf("update account %d: %w", a.ID, uniqueErr(err))
		}
		return nil
	})
}

// DeleteAccount removes an account and its sessions, returning the token
// hashes of those sessions.
func (s *Store) DeleteAccount(ctx context.Context, id int64) ([][]byte, error) {
	var hashes [][]byte
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if hashes, err = tokenHashes(ctx, tx, "DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash", id); err != nil {
			return fmt.Errorf("delete account %d: sessions: %w", id, err)
		}
		tag, err := tx.Exec(ctx, "DELETE FROM users WHERE id = $1", id)
		if err != nil {
			return fmt.Errorf("delete account %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("delete account %d: %w", id, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hashes, nil
}

// CountAccounts is the number of accounts.
func (s *Store) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts: %w", err)
	}
	return n, nil
}

// tokenHashes runs query (one that returns token_hash) and collects them.
func tokenHashes(ctx context.Context, tx pgx.Tx, query string, args ...any) ([][]byte, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateSession stores a session (created now when rec.Created is zero).
func (s *Store) CreateSession(ctx context.Context, rec store.SessionRecord) error {
	if len(rec.TokenHash) == 0 {
		return errors.New("create session: empty token hash")
	}
	if rec.Created.IsZero() {
		rec.Created = time.Now()
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, issuer, expires, persistent, created)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		rec.TokenHash, rec.UserID, rec.Issuer, rec.Expires.UnixMilli(), rec.Persistent, rec.Created.UnixMilli()); err != nil {
		return fmt.Errorf("create session for account %d: %w", rec.UserID, err)
	}
	return nil
}

// SessionAccount returns the session with tokenHash, unexpired at now, and
// its account.
func (s *Store) SessionAccount(ctx context.Context, tokenHash []byte, now time.Time) (store.SessionRecord, store.Account, error) {
	row := s.pool.QueryRow(ctx, `SELECT s.user_id, s.issuer, s.expires, s.persistent, s.created,
		u.id, u.name, COALESCE(u.email, ''), COALESCE(u.password_hash, ''), u.avatar, u.created, COALESCE(u.name_key, '')
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires > $2`, tokenHash, now.UnixMilli())
	rec := store.SessionRecord{TokenHash: tokenHash}
	var a store.Account
	var expires, created, ucreated int64
	err := row.Scan(&rec.UserID, &rec.Issuer, &expires, &rec.Persistent, &created,
		&a.ID, &a.Name, &a.Email, &a.PasswordHash, &a.Avatar, &ucreated, &a.NameKey)
	if errNoRows(err) {
		return store.SessionRecord{}, store.Account{}, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.SessionRecord{}, store.Account{}, fmt.Errorf("session: %w", err)
	}
	rec.Expires, rec.Created = time.UnixMilli(expires).UTC(), time.UnixMilli(created).UTC()
	a.Created = time.UnixMilli(ucreated).UTC()
	return rec, a, nil
}

// DeleteSession removes the session with tokenHash.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) (bool, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE token_hash = $1", tokenHash)
	if err != nil {
		return false, fmt.Errorf("delete session: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// DeleteUserSessions removes the sessions of userID issued by issuer.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, issuer string) ([][]byte, error) {
	var hashes [][]byte
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		hashes, err = tokenHashes(ctx, tx, "DELETE FROM sessions WHERE user_id = $1 AND issuer = $2 RETURNING token_hash", userID, issuer)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete sessions of account %d: %w", userID, err)
	}
	return hashes, nil
}

// KVGet returns the value plugin stored under key, unless it expired.
func (s *Store) KVGet(ctx context.Context, plugin, key string, now time.Time) ([]byte, bool, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM kv WHERE plugin = $1 AND key = $2 AND (expires IS NULL OR expires > $3)`,
		plugin, key, now.UnixMilli()).Scan(&v)
	if errNoRows(err) {
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
func (s *Store) KVSet(ctx context.Context, plugin, key string, value []byte, expires time.Time) error {
	if value == nil {
		value = []byte{}
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO kv (plugin, key, value, expires) VALUES ($1, $2, $3, $4)
		ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, expires = excluded.expires`,
		plugin, key, value, nullMillis(expires)); err != nil {
		return fmt.Errorf("kv set %s/%q: %w", plugin, key, err)
	}
	return nil
}

// KVDelete removes plugin's key.
func (s *Store) KVDelete(ctx context.Context, plugin, key string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM kv WHERE plugin = $1 AND key = $2", plugin, key); err != nil {
		return fmt.Errorf("kv delete %s/%q: %w", plugin, key, err)
	}
	return nil
}

// PurgeExpired removes the sessions and KV entries expired at now.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) error {
	ms := now.UnixMilli()
	if _, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE expires <= $1", ms); err != nil {
		return fmt.Errorf("purge expired sessions: %w", err)
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM kv WHERE expires IS NOT NULL AND expires <= $1", ms); err != nil {
		return fmt.Errorf("purge expired kv entries: %w", err)
	}
	return nil
}

// KeyConflicts lists the accounts whose name or e-mail has no key, oldest
// first, with the accounts that hold those keys. A database that only
// this store wrote has none: every account gets its keys when created.
func (s *Store) KeyConflicts(ctx context.Context) ([]store.KeyConflict, error) {
	names, err := s.keyConflicts(ctx, "name", "name_key IS NULL",
		func(a store.Account) (store.Account, error) { return s.AccountByName(ctx, a.Name) })
	if err != nil {
		return nil, err
	}
	emails, err := s.keyConflicts(ctx, "e-mail", "email_key IS NULL AND email IS NOT NULL",
		func(a store.Account) (store.Account, error) { return s.AccountByEmail(ctx, a.Email) })
	if err != nil {
		return nil, err
	}
	out := append(names, emails...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Account.ID < out[j].Account.ID })
	return out, nil
}

// keyConflicts lists the accounts matching where as conflicts of field,
// each with the holder that look-up finds.
func (s *Store) keyConflicts(ctx context.Context, field, where string, holder func(store.Account) (store.Account, error)) ([]store.KeyConflict, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+accountColumns+" FROM users WHERE "+where+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("key conflicts: %w", err)
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, fmt.Errorf("key conflicts: %w", err)
	}
	out := make([]store.KeyConflict, 0, len(found))
	for _, a := range found {
		c := store.KeyConflict{Account: a, Field: field}
		if h, err := holder(a); err == nil {
			c.HolderID = h.ID
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("key conflicts: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}
