package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/parlorchat/parlor/core/chat"
)

// migrationAccountKeys gives accounts the canonical keys of their name
// and e-mail (chat.NameKey, chat.EmailKey), unique, and the look-alike
// skeleton of the name (chat.NameSkeleton), indexed so that a guest's name
// is checked without a scan. fillAccountKeys computes them for the rows
// that exist. A NULL key means the account has none (Account.NameKey).
const migrationAccountKeys = `ALTER TABLE users ADD COLUMN name_key TEXT;
	ALTER TABLE users ADD COLUMN email_key TEXT;
	ALTER TABLE users ADD COLUMN name_skeleton TEXT NOT NULL DEFAULT '';
	CREATE UNIQUE INDEX users_name_key ON users (name_key);
	CREATE UNIQUE INDEX users_email_key ON users (email_key);
	CREATE INDEX users_name_skeleton ON users (name_skeleton);`

// fillAccountKeys computes the keys of the existing accounts, oldest
// first. When two accounts' names (or e-mails) share a key, which the
// case-insensitive comparison of ASCII letters alone allowed ("Élise" and
// "élise"), the older account keeps it and the newer one gets none: both
// accounts and their data stay, the newer one cannot log in by that name
// (nor be found by that e-mail) until it is renamed. KeyConflicts lists
// them, and the server logs them at every start.
func fillAccountKeys(ctx context.Context, tx *sql.Tx) error {
	type row struct {
		id          int64
		name, email string
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, name, COALESCE(email, '') FROM users ORDER BY id")
	if err != nil {
		return fmt.Errorf("account keys: %w", err)
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.name, &r.email); err != nil {
			_ = rows.Close()
			return fmt.Errorf("account keys: scan: %w", err)
		}
		all = append(all, r)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("account keys: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("account keys: %w", err)
	}
	names, emails := map[string]bool{}, map[string]bool{}
	for _, r := range all {
		var nameKey, emailKey sql.NullString
		if k, err := chat.UsableNameKey(r.name); err == nil && !names[k] {
			names[k] = true
			nameKey = sql.NullString{String: k, Valid: true}
		}
		if k, err := chat.EmailKey(r.email); r.email != "" && err == nil && !emails[k] {
			emails[k] = true
			emailKey = sql.NullString{String: k, Valid: true}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET name_key = ?, email_key = ?, name_skeleton = ? WHERE id = ?",
			nameKey, emailKey, chat.NameSkeleton(r.name), r.id); err != nil {
			return fmt.Errorf("account keys: account %d: %w", r.id, err)
		}
	}
	return nil
}

// accountKeys returns the keys of a new account's name and e-mail (NULL
// for no e-mail), or an error wrapping ErrInvalid.
func accountKeys(name, email string) (string, sql.NullString, error) {
	nameKey, err := chat.UsableNameKey(name)
	if err != nil {
		return "", sql.NullString{}, fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	emailKey, err := emailKeyOf(email)
	if err != nil {
		return "", sql.NullString{}, err
	}
	return nameKey, emailKey, nil
}

// emailKeyOf is the e-mail key column's value: NULL for no e-mail, or an
// error wrapping ErrInvalid for an address without a key.
func emailKeyOf(email string) (sql.NullString, error) {
	if email == "" {
		return sql.NullString{}, nil
	}
	k, err := chat.EmailKey(email)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	return sql.NullString{String: k, Valid: true}, nil
}

// KeyConflict is an account whose name or e-mail has no key.
type KeyConflict struct {
	Account Account
	// Field is "name" or "e-mail".
	Field string
	// HolderID is the account that holds the key; 0 when the value has
	// no key at all (characters the key profile refuses).
	HolderID int64
}

// KeyConflicts lists the accounts whose name or e-mail has no key, oldest
// first, with the accounts that hold those keys.
func (s *SQLite) KeyConflicts(ctx context.Context) ([]KeyConflict, error) {
	names, err := s.keyConflicts(ctx, "name", "name_key IS NULL",
		func(a Account) (Account, error) { return s.AccountByName(ctx, a.Name) })
	if err != nil {
		return nil, err
	}
	emails, err := s.keyConflicts(ctx, "e-mail", "email_key IS NULL AND email IS NOT NULL",
		func(a Account) (Account, error) { return s.AccountByEmail(ctx, a.Email) })
	if err != nil {
		return nil, err
	}
	out := append(names, emails...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Account.ID < out[j].Account.ID })
	return out, nil
}

// keyConflicts lists the accounts matching where as conflicts of field,
// each with the holder that look-up finds.
func (s *SQLite) keyConflicts(ctx context.Context, field, where string, holder func(Account) (Account, error)) ([]KeyConflict, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+accountColumns+" FROM users WHERE "+where+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("key conflicts: %w", err)
	}
	var found []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("key conflicts: %w", err)
		}
		found = append(found, a)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("key conflicts: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("key conflicts: %w", err)
	}
	// The look-ups run after the rows are closed: the store may have one
	// connection only.
	out := make([]KeyConflict, 0, len(found))
	for _, a := range found {
		c := KeyConflict{Account: a, Field: field}
		if h, err := holder(a); err == nil {
			c.HolderID = h.ID
		} else if !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("key conflicts: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}
