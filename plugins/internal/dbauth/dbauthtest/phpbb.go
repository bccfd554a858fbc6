package dbauthtest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// CreatePhpBB creates the columns of phpBB 3.3's phpbb_users and
// phpbb_banlist that the examples read, in portable SQL, with a founder, a
// member with a phpBB 3.0 hash, a banned member, an inactive one, one whose
// ban expired, and two ignored users (Anonymous, a bot).
func CreatePhpBB(t testing.TB, db *sql.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []string{
		`CREATE TABLE phpbb_users (user_id INTEGER NOT NULL PRIMARY KEY, user_type SMALLINT NOT NULL DEFAULT 0,
			username VARCHAR(255) NOT NULL DEFAULT '', username_clean VARCHAR(255) NOT NULL DEFAULT '',
			user_password VARCHAR(255) NOT NULL DEFAULT '', user_email VARCHAR(100) NOT NULL DEFAULT '')`,
		`CREATE TABLE phpbb_banlist (ban_id INTEGER NOT NULL PRIMARY KEY, ban_userid INTEGER NOT NULL DEFAULT 0,
			ban_start INTEGER NOT NULL DEFAULT 0, ban_end INTEGER NOT NULL DEFAULT 0, ban_exclude SMALLINT NOT NULL DEFAULT 0)`,
		`INSERT INTO phpbb_users (user_id, user_type, username, username_clean, user_password, user_email) VALUES
			(1, 2, 'Anonymous', 'anonymous', '', ''),
			(2, 3, 'Founder', 'founder', '` + bcrypt2y + `', 'founder@example.com'),
			(3, 0, 'OldMember', 'oldmember', '$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0', 'old@example.com'),
			(4, 0, 'Spammer', 'spammer', '$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0', 'spam@example.com'),
			(5, 1, 'Sleeper', 'sleeper', '$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0', 'zz@example.com'),
			(6, 0, 'Pardoned', 'pardoned', '$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0', 'ok@example.com'),
			(7, 2, 'Googlebot', 'googlebot', '', '')`,
		// A permanent ban, and an expired one.
		`INSERT INTO phpbb_banlist (ban_id, ban_userid, ban_end) VALUES (1, 4, 0), (2, 6, 1000)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
}

// PhpBBCases is what the phpBB examples must answer for CreatePhpBB.
func PhpBBCases() []Case {
	return []Case{
		{User: "Founder", Password: phpPassword, Code: sdk.Admin, Display: "Founder", Email: "founder@example.com"},
		{User: "OldMember", Password: "test12345", Code: sdk.OK, Display: "OldMember", Email: "old@example.com"},
		{User: "oldmember", Password: "test123", Code: sdk.WrongPassword},
		{User: "OldMember", Password: "", Code: sdk.WrongPassword},
		{User: "Spammer", Password: "test12345", Code: sdk.NameUnusable},
		{User: "Spammer", Password: "", Code: sdk.NameUnusable},
		{User: "Sleeper", Password: "test12345", Code: sdk.NameUnusable},
		{User: "Pardoned", Password: "test12345", Code: sdk.OK, Display: "Pardoned", Email: "ok@example.com"},
		{User: "Googlebot", Password: "", Code: sdk.NoSuchUser},
		{User: "Anonymous", Password: "", Code: sdk.NoSuchUser},
		{User: "visitor", Password: "", Code: sdk.NoSuchUser},
		{User: "founder' OR '1'='1", Password: "x", Code: sdk.NoSuchUser},
	}
}

// Check runs cases against a.
func Check(t *testing.T, a sdk.Authenticator, cases []Case) {
	t.Helper()
	for _, c := range cases {
		res := Login(t, a, c.User, c.Password)
		if res.Code != c.Code || res.DisplayName != c.Display || res.Email != c.Email {
			t.Errorf("login %q/%q = %d %q %q (%s), want %d %q %q",
				c.User, c.Password, res.Code, res.DisplayName, res.Email, res.Message, c.Code, c.Display, c.Email)
		}
	}
}

// yamlBlock finds the fenced YAML examples of a Markdown file.
var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// DocConfig finds the YAML example of docs/database-auth.md that loads
// plugin name and contains marker, loads it with the server's loader and
// returns the plugin's block with dsn replaced.
func DocConfig(t testing.TB, name, marker, dsn string) map[string]any {
	t.Helper()
	doc := filepath.Join(repoRoot(t), "docs", "database-auth.md")
	text, err := os.ReadFile(doc)
	if err != nil {
		t.Fatalf("read %s: %v", doc, err)
	}
	for _, m := range yamlBlock.FindAllStringSubmatch(string(text), -1) {
		block := m[1]
		if !strings.Contains(block, marker) || !strings.Contains(block, "\n    "+name+":\n") {
			continue
		}
		path := filepath.Join(t.TempDir(), name+".yaml")
		if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadPluginConfig(t, path, name, dsn)
	}
	t.Fatalf("%s has no YAML example for %s containing %q", doc, name, marker)
	return nil
}
