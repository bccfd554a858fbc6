package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustCreate(t *testing.T, s *SQLite, name, email string) Account {
	t.Helper()
	a, err := s.CreateAccount(context.Background(), Account{Name: name, Email: email})
	if err != nil {
		t.Fatalf("CreateAccount(%q, %q): %v", name, email, err)
	}
	return a
}

func TestAccountsAreUniqueByKey(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	elise := mustCreate(t, s, "Élise", "üwe@example.com")
	kate := mustCreate(t, s, "Kate", "kate@example.com")
	if elise.NameKey != "élise" {
		t.Fatalf("NameKey = %q", elise.NameKey)
	}
	for _, tc := range []struct{ name, email string }{
		{"élise", "other@example.com"},
		{"E\u0301LISE", "other@example.com"},
		{"\u212Aate", "other@example.com"},
		{"ＫＡＴＥ", "other@example.com"},
		{"Uwe", "ÜWE@example.com"},
		{"Uwe", "U\u0308we@EXAMPLE.COM"},
		{"Uwe", "KATE@Example.com"},
	} {
		_, err := s.CreateAccount(ctx, Account{Name: tc.name, Email: tc.email})
		if !errors.Is(err, ErrExists) {
			t.Errorf("CreateAccount(%q, %q) = %v, want ErrExists", tc.name, tc.email, err)
		}
	}
	for _, name := range []string{"élise", "e\u0301lise", "ÉLISE"} {
		if a, err := s.AccountByName(ctx, name); err != nil || a.ID != elise.ID {
			t.Errorf("AccountByName(%q) = %v, %v", name, a, err)
		}
	}
	if a, err := s.AccountByName(ctx, "\u212Aate"); err != nil || a.ID != kate.ID {
		t.Errorf("AccountByName(Kelvin ate) = %v, %v", a, err)
	}
	if a, err := s.AccountByEmail(ctx, "ÜWE@Example.com"); err != nil || a.ID != elise.ID {
		t.Errorf("AccountByEmail = %v, %v", a, err)
	}
	if _, err := s.AccountByName(ctx, "x²"); !errors.Is(err, ErrNotFound) {
		t.Errorf("AccountByName(x²) = %v, want ErrNotFound", err)
	}

	// Renames are checked by key too; a name without a key is refused.
	kate.Name = "ÉLISE"
	if err := s.UpdateAccount(ctx, kate); !errors.Is(err, ErrExists) {
		t.Errorf("rename to ÉLISE = %v, want ErrExists", err)
	}
	kate.Name, kate.Email = "Kate", "Üwe@example.com"
	if err := s.UpdateAccount(ctx, kate); !errors.Is(err, ErrExists) {
		t.Errorf("e-mail change to Üwe@ = %v, want ErrExists", err)
	}
	kate.Name, kate.Email = "x²", "kate@example.com"
	if err := s.UpdateAccount(ctx, kate); !errors.Is(err, ErrInvalid) {
		t.Errorf("rename to x² = %v, want ErrInvalid", err)
	}
	if _, err := s.CreateAccount(ctx, Account{Name: "x²"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("CreateAccount(x²) = %v, want ErrInvalid", err)
	}
	kate.Name = "KATE" // the same key: allowed
	if err := s.UpdateAccount(ctx, kate); err != nil {
		t.Fatalf("rename to KATE: %v", err)
	}
	if a, _ := s.AccountByName(ctx, "kate"); a.Name != "KATE" {
		t.Errorf("after rename: %+v", a)
	}
}

func TestAccountLookalikeUsesTheIndex(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	kate := mustCreate(t, s, "Kate1", "")
	mustCreate(t, s, "Admin", "")
	for name, want := range map[string]string{"Katel": "Kate1", "KATEl": "Kate1", "\u0410dmin": "Admin", "Adrnin": "Admin"} {
		if a, err := s.AccountLookalike(ctx, name); err != nil || a.Name != want {
			t.Errorf("AccountLookalike(%q) = %v, %v; want %s", name, a, err, want)
		}
	}
	if _, err := s.AccountLookalike(ctx, "Bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("AccountLookalike(Bob) = %v", err)
	}
	kate.Name = "Zed"
	if err := s.UpdateAccount(ctx, kate); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AccountLookalike(ctx, "Katel"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after rename AccountLookalike(Katel) = %v", err)
	}
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
