package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestAccountLookalikeUsesTheIndex: a guest's name is checked against
// the look-alikes of every account without a scan.
func TestAccountLookalikeUsesTheIndex(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT "+accountColumns+" FROM users WHERE name_skeleton = ? ORDER BY id LIMIT 1", "x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "users_name_skeleton") {
		t.Errorf("look-alike query plan %q does not use the skeleton index", p)
	}
}

// writeOldDatabase makes a database of schema version 2 (before names
// had keys; migrations 1 and 2 never change) with accounts that version
// allowed.
func writeOldDatabase(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		migrations[0],
		migrations[1],
		`INSERT INTO schema_version VALUES (1, 1), (2, 2)`,
		// NOCASE folds ASCII only: both spellings of Élise and of Üwe's
		// address got in.
		`INSERT INTO users (id, name, email, password_hash, avatar, created) VALUES
			(1, 'Élise', 'üwe@example.com', 'hash-1', 'a1', 1000),
			(2, 'élise', 'ÜWE@example.com', 'hash-2', 'a2', 2000),
			(3, 'Kate', 'kate@example.com', NULL, '', 3000),
			(4, 'x²', NULL, NULL, '', 4000),
			(5, 'Bob', 'bob@example.com', NULL, '', 5000)`,
		`INSERT INTO sessions (token_hash, user_id, expires, created) VALUES (x'02', 2, 9999999999999, 1)`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("old schema: %v\n%s", err, q)
		}
	}
}

func TestMigrationComputesKeysAndKeepsConflictingAccounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parlor.db")
	writeOldDatabase(t, path)
	s := openTest(t, path)
	ctx := context.Background()

	var version int
	if err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_version").Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(migrations))
	}
	if n, _ := s.CountAccounts(ctx); n != 5 {
		t.Fatalf("%d accounts after the migration, want 5", n)
	}
	// The older account owns the key of the name and of the e-mail.
	for _, name := range []string{"élise", "Élise", "E\u0301lise"} {
		if a, err := s.AccountByName(ctx, name); err != nil || a.ID != 1 || a.PasswordHash != "hash-1" {
			t.Errorf("AccountByName(%q) = %+v, %v; want account 1", name, a, err)
		}
	}
	if a, err := s.AccountByEmail(ctx, "ÜWE@example.com"); err != nil || a.ID != 1 {
		t.Errorf("AccountByEmail(ÜWE@) = %+v, %v; want account 1", a, err)
	}
	if a, err := s.AccountByName(ctx, "\u212Aate"); err != nil || a.ID != 3 {
		t.Errorf("AccountByName(Kelvin ate) = %+v, %v", a, err)
	}
	// The newer one is kept, whole, without a key.
	later, err := s.AccountByID(ctx, 2)
	if err != nil || later.Name != "élise" || later.Email != "ÜWE@example.com" || later.PasswordHash != "hash-2" || later.NameKey != "" {
		t.Fatalf("account 2 = %+v, %v", later, err)
	}
	if _, a, err := s.SessionAccount(ctx, []byte{2}, time.Now()); err != nil || a.ID != 2 || a.NameKey != "" {
		t.Fatalf("session of account 2: %+v, %v", a, err)
	}
	got, err := s.KeyConflicts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var brief [][3]any
	for _, c := range got {
		brief = append(brief, [3]any{c.Account.ID, c.Field, c.HolderID})
	}
	want := [][3]any{{int64(2), "name", int64(1)}, {int64(2), "e-mail", int64(1)}, {int64(4), "name", int64(0)}}
	if !reflect.DeepEqual(brief, want) {
		t.Fatalf("KeyConflicts = %v, want %v", brief, want)
	}
	// Look-alikes of old accounts are found through the filled skeletons.
	if a, err := s.AccountLookalike(ctx, "B0b"); err != nil || a.ID != 5 {
		t.Errorf("AccountLookalike(B0b) = %+v, %v", a, err)
	}

	// The account without a key can still be changed; it keeps no key
	// until renamed, and then gets one.
	later.PasswordHash = "hash-2b"
	if err := s.UpdateAccount(ctx, later); err != nil {
		t.Fatalf("update account 2 without renaming: %v", err)
	}
	if a, _ := s.AccountByID(ctx, 2); a.NameKey != "" || a.PasswordHash != "hash-2b" {
		t.Fatalf("account 2 after update = %+v", a)
	}
	later.Name, later.Email = "Élise Martin", "elise.martin@example.com"
	if err := s.UpdateAccount(ctx, later); err != nil {
		t.Fatalf("rename account 2: %v", err)
	}
	if a, err := s.AccountByName(ctx, "élise martin"); err != nil || a.ID != 2 || a.NameKey != "élise martin" {
		t.Fatalf("renamed account 2 = %+v, %v", a, err)
	}
	if got, _ := s.KeyConflicts(ctx); len(got) != 1 || got[0].Account.ID != 4 {
		t.Fatalf("KeyConflicts after the rename = %+v", got)
	}

	// Reopening applies nothing twice.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, path)
	if a, err := s2.AccountByName(ctx, "élise"); err != nil || a.ID != 1 {
		t.Fatalf("after reopen: %+v, %v", a, err)
	}
}
