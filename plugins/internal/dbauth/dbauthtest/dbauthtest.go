// Package dbauthtest is the test kit of the database plugins: a users table
// with one account per password scheme, the scenario every plugin must pass
// against it, a TCP proxy that simulates a database going down and coming
// back, and a launcher for a real plugin binary.
package dbauthtest

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/plugins/internal/dbauth"
	"github.com/parlorchat/parlor/plugins/internal/passwords"
	"github.com/parlorchat/parlor/sdk"
)

// Table is the fixture table's name.
const Table = "parlor_users"

// SaltPattern is the salted_md5 pattern of the fixture's salted account.
const SaltPattern = "{password}{salt}"

// User is one fixture account.
type User struct {
	Name     string
	Password string // clear text, for the test to type
	Hash     any    // stored value; nil is SQL NULL
	Salt     string
	Admin    int
	Banned   int
	Nick     string
	Mail     string
}

// Fixed hashes made by PHP 8 for "s3cret pass"; the phpass one is the
// vector of phpass's test.php.
const (
	phpPassword = "s3cret pass"
	bcrypt2y    = "$2y$04$MSOSOltv.mjXZ5.XtwD5i.9LQg3e/mP3BS48g1fKB/E2C.i30WdYe"
	wpBcrypt    = "$wp$2y$04$9qc/mz8bI5N24B9y.Ic0UugocQjO5xtaxo51nO5y3sQ1Axq0EzMq."
	argon2id    = "$argon2id$v=19$m=1024,t=2,p=1$TnZlcnJEdjNrUzZVN3RkYg$gc6P00z40Zj3IkK/OiA72qSciNe489whw8dAWPtyV7A"
	phpassP     = "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0"
)

// Users returns the fixture accounts. The table mixes hash generations,
// as a site's table does after upgrades, so it is read with the "auto"
// scheme (and SaltPattern).
func Users() []User {
	phpbb, err := passwords.PhpassHash("bb-pass", "Zx9.Yw8/", 8)
	if err != nil {
		panic(err)
	}
	phpbb = "$H$" + phpbb[3:]
	return []User{
		{Name: "alice", Password: phpPassword, Hash: bcrypt2y, Nick: "Alice A.", Mail: "alice@example.com"},
		{Name: "root", Password: phpPassword, Hash: argon2id, Admin: 1, Nick: "The Root"},
		{Name: "wpuser", Password: phpPassword, Hash: wpBcrypt},
		{Name: "wpold", Password: "test12345", Hash: phpassP},
		{Name: "bbuser", Password: "bb-pass", Hash: phpbb},
		{Name: "legacy", Password: "legacy-pw", Hash: hexSum(md5.New(), "legacy-pw")},
		{Name: "sha1user", Password: "sha1-pw", Hash: hexSum(sha1.New(), "sha1-pw")},
		{Name: "sha256user", Password: "sha256-pw", Hash: hexSum(sha256.New(), "sha256-pw")},
		{Name: "salty", Password: "salty-pw", Hash: hexSum(md5.New(), "salty-pw"+"Qx7"), Salt: "Qx7"},
		{Name: "troll", Password: "troll-pw", Hash: hexSum(md5.New(), "troll-pw"), Banned: 1},
		{Name: "nopass", Password: "anything", Hash: nil},
		{Name: "o'brien", Password: "it's me", Hash: hexSum(md5.New(), "it's me")},
	}
}

func hexSum(h interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, s string) string {
	_, _ = h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// CreateTable (re)creates the fixture table in db, written for dialect d,
// and fills it with Users.
func CreateTable(t testing.TB, db *sql.DB, d dbauth.Dialect) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	DropTable(t, db)
	ddl := "CREATE TABLE " + Table + ` (
		username VARCHAR(64) NOT NULL PRIMARY KEY,
		pass_hash VARCHAR(255),
		pass_salt VARCHAR(32),
		is_admin INTEGER NOT NULL,
		is_banned INTEGER NOT NULL,
		nickname VARCHAR(64),
		email VARCHAR(128))`
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		t.Fatalf("create %s: %v", Table, err)
	}
	ph := make([]string, 7)
	for i := range ph {
		ph[i] = d.Placeholder(i + 1)
	}
	insert := "INSERT INTO " + Table + " (username, pass_hash, pass_salt, is_admin, is_banned, nickname, email) VALUES (" + strings.Join(ph, ", ") + ")"
	for _, u := range Users() {
		if _, err := db.ExecContext(ctx, insert, u.Name, u.Hash, nullable(u.Salt), u.Admin, u.Banned, nullable(u.Nick), nullable(u.Mail)); err != nil {
			t.Fatalf("insert %s: %v", u.Name, err)
		}
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// DropTable drops the fixture table, ignoring a table that is not there.
func DropTable(t testing.TB, db *sql.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = db.ExecContext(ctx, "DROP TABLE "+Table)
}

// TableConfig is a plugin configuration mapping the fixture table.
func TableConfig(dsn string) map[string]any {
	return map[string]any{
		"dsn":   dsn,
		"table": Table,
		"columns": map[string]any{
			"user":         "username",
			"password":     "pass_hash",
			"salt":         "pass_salt",
			"admin":        "is_admin",
			"banned":       "is_banned",
			"display_name": "nickname",
			"email":        "email",
		},
		"password_scheme": "auto",
		"salt_pattern":    SaltPattern,
		"query_timeout":   "5s",
	}
}

// QueryConfig is a plugin configuration reading the fixture table through
// a custom query.
func QueryConfig(dsn string) map[string]any {
	return map[string]any{
		"dsn": dsn,
		"query": "SELECT pass_hash AS password, pass_salt AS salt, is_admin AS admin, is_banned AS banned,\n" +
			"  nickname AS display_name, email AS email\n" +
			"FROM " + Table + " WHERE username = :username",
		"password_scheme": "auto",
		"salt_pattern":    SaltPattern,
		"query_timeout":   "5s",
	}
}

// Case is one login attempt and its expected answer.
type Case struct {
	User, Password string
	Code           sdk.Code
	Display, Email string
}

// Injections are user names carrying SQL injection text; each must be
// answered as an unknown user.
var Injections = []string{
	"' OR '1'='1",
	"' OR 1=1 --",
	"alice' --",
	"alice'#",
	"alice' OR 'a'='a",
	`alice" OR "a"="a`,
	"x'; DROP TABLE " + Table + "; --",
	"' UNION SELECT 'x','x','x',1,0,'x','x' --",
	"alice\\' OR 1=1 #",
}

// Cases is the scenario of the fixture table.
func Cases() []Case {
	cs := []Case{
		{User: "alice", Password: phpPassword, Code: sdk.OK, Display: "Alice A.", Email: "alice@example.com"},
		{User: "alice", Password: "wrong", Code: sdk.WrongPassword},
		{User: "alice", Password: "", Code: sdk.WrongPassword}, // guest: name taken
		{User: "root", Password: phpPassword, Code: sdk.Admin, Display: "The Root"},
		{User: "root", Password: "s3cret pas", Code: sdk.WrongPassword},
		{User: "wpuser", Password: phpPassword, Code: sdk.OK},
		{User: "wpuser", Password: "x", Code: sdk.WrongPassword},
		{User: "wpold", Password: "test12345", Code: sdk.OK},
		{User: "bbuser", Password: "bb-pass", Code: sdk.OK},
		{User: "bbuser", Password: "bb-pas", Code: sdk.WrongPassword},
		{User: "legacy", Password: "legacy-pw", Code: sdk.OK},
		{User: "sha1user", Password: "sha1-pw", Code: sdk.OK},
		{User: "sha256user", Password: "sha256-pw", Code: sdk.OK},
		{User: "salty", Password: "salty-pw", Code: sdk.OK},
		{User: "salty", Password: "Qx7salty-pw", Code: sdk.WrongPassword},
		{User: "troll", Password: "troll-pw", Code: sdk.NameUnusable},
		{User: "troll", Password: "", Code: sdk.NameUnusable},
		{User: "troll", Password: "wrong", Code: sdk.WrongPassword},
		{User: "nopass", Password: "anything", Code: sdk.WrongPassword},
		{User: "o'brien", Password: "it's me", Code: sdk.OK},
		{User: "nobody", Password: "x", Code: sdk.NoSuchUser},
		{User: "nobody", Password: "", Code: sdk.NoSuchUser}, // guest: free name
	}
	for _, inj := range Injections {
		cs = append(cs,
			Case{User: inj, Password: "x", Code: sdk.NoSuchUser},
			Case{User: inj, Password: "", Code: sdk.NoSuchUser},
			Case{User: "alice", Password: inj, Code: sdk.WrongPassword})
	}
	return cs
}

// Run checks every case of Cases against a.
func Run(t *testing.T, a sdk.Authenticator) {
	t.Helper()
	for _, c := range Cases() {
		res := Login(t, a, c.User, c.Password)
		if res.Code != c.Code || res.DisplayName != c.Display || res.Email != c.Email {
			t.Errorf("login %q/%q = %d %q %q (%s), want %d %q %q",
				c.User, c.Password, res.Code, res.DisplayName, res.Email, res.Message, c.Code, c.Display, c.Email)
		}
	}
}

// Login makes one attempt with a 10-second bound.
func Login(t testing.TB, a sdk.Authenticator, user, password string) sdk.AuthResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := a.Authenticate(ctx, sdk.AuthRequest{Group: "default", Username: user, Password: password, RemoteIP: "192.0.2.1"})
	if err != nil {
		t.Fatalf("authenticate %q: %v", user, err)
	}
	return res
}

// Eventually retries a login until it answers want or the time is up.
func Eventually(t testing.TB, a sdk.Authenticator, user, password string, want sdk.Code, within time.Duration) sdk.AuthResult {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		res := Login(t, a, user, password)
		if res.Code == want {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("login %q: still %d (%s) after %v, want %d", user, res.Code, res.Message, within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Configure configures a with cfg within 10 seconds.
func Configure(t testing.TB, a sdk.Authenticator, cfg any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := jsonConfig(cfg)
	if err != nil {
		return err
	}
	if err := a.Configure(ctx, raw); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	return nil
}
