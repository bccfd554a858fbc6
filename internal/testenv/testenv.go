// Package testenv gives tests the real services and tools of the machine
// (MariaDB, PostgreSQL, NATS, php-cli, Chromium) and decides what happens
// when one is missing: the test is skipped with a clear message, or fails
// when PARLOR_REQUIRE_SERVICES=1 (as in CI).
package testenv

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // MariaDB driver for MySQL.
)

// Required reports whether missing services must fail tests.
func Required() bool { return os.Getenv("PARLOR_REQUIRE_SERVICES") == "1" }

// Missing skips the test, or fails it when services are required, naming
// what is missing and why.
func Missing(t testing.TB, what string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s is not available: %v (start it, see README 'Tests'; set PARLOR_REQUIRE_SERVICES=1 to make this a failure)", what, err)
	if Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TCP checks that something listens on addr.
func TCP(t testing.TB, what, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		Missing(t, what, err)
		return
	}
	_ = c.Close()
}

// Binary finds a program on PATH (or at one of the given absolute paths).
func Binary(t testing.TB, names ...string) string {
	t.Helper()
	var lastErr error
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err == nil {
			return p
		}
		lastErr = err
	}
	Missing(t, names[0], lastErr)
	return ""
}

// MySQLAddr is the MariaDB server tests use, overridable by PARLOR_TEST_MYSQL_ADDR.
func MySQLAddr() string {
	if a := os.Getenv("PARLOR_TEST_MYSQL_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:3306"
}

// MySQL opens a fresh database named name on the local MariaDB (root, no
// password), dropped when the test ends. It returns the handle and its DSN.
func MySQL(t testing.TB, name string) (*sql.DB, string) {
	t.Helper()
	TCP(t, "MariaDB at "+MySQLAddr(), MySQLAddr())
	admin, err := sql.Open("mysql", "root@tcp("+MySQLAddr()+")/")
	if err != nil {
		Missing(t, "MariaDB", err)
		return nil, ""
	}
	defer admin.Close()
	if _, err := admin.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
		Missing(t, "MariaDB", err)
		return nil, ""
	}
	if _, err := admin.Exec("CREATE DATABASE `" + name + "`"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	dsn := "root@tcp(" + MySQLAddr() + ")/" + name + "?parseTime=true"
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		if a, err := sql.Open("mysql", "root@tcp("+MySQLAddr()+")/"); err == nil {
			_, _ = a.Exec("DROP DATABASE IF EXISTS `" + name + "`")
			_ = a.Close()
		}
	})
	return db, dsn
}

// Chromium returns the path of a Chromium binary for headless tests.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PARLOR_CHROMIUM"); p != "" {
		return p
	}
	return Binary(t, "chromium", "chromium-browser", "google-chrome")
}
