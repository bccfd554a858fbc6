package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
	php := testenv.Binary(t, "php")
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
	addr := servePHP(t, php, dir,
		"PARLOR_AUTH_DB_HOST="+host,
		"PARLOR_AUTH_DB_PORT="+port,
		"PARLOR_AUTH_DB_NAME="+phpDB,
		"PARLOR_AUTH_DB_USER=root",
		"PARLOR_AUTH_DB_PASSWORD=",
	)
	return fmt.Sprintf("http://%s/auth.php", addr)
}

// servePHP runs `php -S` on a free local port for dir with env added to
// the environment, stops it when the test ends and returns its address.
func servePHP(t *testing.T, php, dir string, env ...string) string {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(php, "-S", addr, "-t", dir)
	cmd.Env = append(os.Environ(), env...)
	// Own process group, so that stopping it also stops any workers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out syncBuilder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start php -S: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("php -S output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("php -S did not listen on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuilder collects process output safely.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
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
	php := testenv.Binary(t, "php")
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", "authurl-php"))
	if err != nil {
		t.Fatal(err)
	}
	addr := servePHP(t, php, dir, "PARLOR_AUTH_DB_HOST=127.0.0.1", "PARLOR_AUTH_DB_PORT="+strings.TrimPrefix(freeAddr(t), "127.0.0.1:"))
	a := sdktest.Authenticator(t, New(nil), map[string]any{"url": "http://" + addr + "/auth.php", "timeout": "5s"})
	if res := login(t, a, "alice", "wonderland"); res.Code != sdk.LoginError {
		t.Fatalf("got %v (%q), want LoginError", res.Code, res.Message)
	}
}
