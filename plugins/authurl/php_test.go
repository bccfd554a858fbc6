package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

const phpDB = "parlor_authurl_test"

// phpPage serves examples/authurl-php with php -S over a fresh MariaDB
// database holding the example schema and a few users; it returns the
// page's URL.
func phpPage(t *testing.T) string {
	t.Helper()
	testenv.Binary(t, "php") // before any database work
	db, _ := testenv.MySQL(t, phpDB)
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", "authurl-php"))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join(dir, "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(stripComments(string(schema))); err != nil {
		t.Fatalf("load schema.sql: %v", err)
	}
	users := []struct {
		name, password string
		admin, banned  bool
	}{
		{"alice", "wonderland", false, false},
		{"root", "toor", true, false},
		{"mallory", "evil", false, true},
	}
	for _, u := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(u.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO users (username, password_hash, is_admin, banned) VALUES (?, ?, ?, ?)", u.name, string(hash), u.admin, u.banned); err != nil {
			t.Fatalf("insert %s: %v", u.name, err)
		}
	}

	host, port, err := net.SplitHostPort(testenv.MySQLAddr())
	if err != nil {
		t.Fatal(err)
	}
	base := testenv.PHPServer(t, dir, []string{
		"PARLOR_AUTH_DB_HOST=" + host,
		"PARLOR_AUTH_DB_PORT=" + port,
		"PARLOR_AUTH_DB_NAME=" + phpDB,
		"PARLOR_AUTH_DB_USER=root",
		"PARLOR_AUTH_DB_PASSWORD=",
	})
	return base + "/auth.php"
}

func stripComments(sql string) string {
	var b strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return strings.TrimRight(strings.TrimSpace(b.String()), ";")
}

// TestPHPAuthPage drives examples/authurl-php/auth.php through the plugin.
func TestPHPAuthPage(t *testing.T) {
	url := phpPage(t)
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			a := sdktest.Authenticator(t, New(nil), map[string]any{"url": url, "method": method, "timeout": "5s"})
			cases := []struct {
				name, user, pass string
				code             sdk.Code
			}{
				{"right password", "alice", "wonderland", sdk.OK},
				{"name case-insensitive", "Alice", "wonderland", sdk.OK},
				{"wrong password", "alice", "looking-glass", sdk.WrongPassword},
				{"unknown user", "bob", "whatever", sdk.NoSuchUser},
				{"admin", "root", "toor", sdk.Admin},
				{"banned", "mallory", "evil", sdk.NameUnusable},
				{"unusable name", "bad\x01name", "x", sdk.NameUnusable},
				{"guest with a registered name", "alice", "", sdk.WrongPassword},
				{"guest with a fresh name", "newcomer", "", sdk.NoSuchUser},
			}
			for _, c := range cases {
				res := login(t, a, c.user, c.pass)
				if res.Code != c.code {
					t.Errorf("%s: got %v (%q), want %v", c.name, res.Code, res.Message, c.code)
				}
				if c.pass == "" && c.user == "alice" && res.Code == sdk.NoSuchUser {
					t.Errorf("a guest could take the registered name %q", c.user)
				}
			}
		})
	}
}

// TestPHPDatabaseDown: the page answers 3 when it cannot reach the
// database.
func TestPHPDatabaseDown(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", "authurl-php"))
	if err != nil {
		t.Fatal(err)
	}
	base := testenv.PHPServer(t, dir, []string{"PARLOR_AUTH_DB_HOST=127.0.0.1", "PARLOR_AUTH_DB_PORT=" + strings.TrimPrefix(testenv.FreeAddr(t), "127.0.0.1:")})
	a := sdktest.Authenticator(t, New(nil), map[string]any{"url": base + "/auth.php", "timeout": "5s"})
	if res := login(t, a, "alice", "wonderland"); res.Code != sdk.LoginError {
		t.Fatalf("got %v (%q), want LoginError", res.Code, res.Message)
	}
}
