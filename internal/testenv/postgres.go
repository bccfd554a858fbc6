package testenv

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"regexp"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver, registered as "pgx".
)

// PostgresAddr is the PostgreSQL server tests use, overridable by
// PARLOR_TEST_POSTGRES_ADDR.
func PostgresAddr() string {
	if a := os.Getenv("PARLOR_TEST_POSTGRES_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:5432"
}

// postgresUsers are the roles tried, in order, when PARLOR_TEST_POSTGRES_USER
// is unset: the local server trusts connections from 127.0.0.1.
var postgresUsers = []string{"postgres", "root"}

// pgDatabaseName is what PostgresDB accepts as a database name, so it can be
// written into DDL without quoting trouble.
var pgDatabaseName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// postgresDSN is the URL of database db on the test server as user.
func postgresDSN(user, db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: PostgresAddr(), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// PostgresDB creates a fresh database named name (lower case letters,
// digits, underscores) on the local PostgreSQL server, dropped when the test
// ends, and returns a handle (driver "pgx") and its DSN. The test is
// skipped, or fails when PARLOR_REQUIRE_SERVICES=1, if the server is absent.
func PostgresDB(t testing.TB, name string) (*sql.DB, string) {
	t.Helper()
	if !pgDatabaseName.MatchString(name) {
		t.Fatalf("testenv: PostgreSQL database name %q must match %s", name, pgDatabaseName)
	}
	TCP(t, "PostgreSQL at "+PostgresAddr(), PostgresAddr())
	users := postgresUsers
	if u := os.Getenv("PARLOR_TEST_POSTGRES_USER"); u != "" {
		users = []string{u}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var admin *sql.DB
	var user, maintDB string
	var lastErr error
	for _, u := range users {
		for _, maint := range []string{"postgres", "test", u} {
			db, err := sql.Open("pgx", postgresDSN(u, maint))
			if err == nil {
				err = db.PingContext(ctx)
			}
			if err == nil {
				admin, user, maintDB = db, u, maint
				break
			}
			lastErr = err
			if db != nil {
				_ = db.Close()
			}
		}
		if admin != nil {
			break
		}
	}
	if admin == nil {
		Missing(t, "PostgreSQL", lastErr)
		return nil, ""
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		Missing(t, "PostgreSQL (drop database)", err)
		return nil, ""
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		Missing(t, "PostgreSQL (create database)", err)
		return nil, ""
	}
	dsn := postgresDSN(user, name)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	adminDSN := postgresDSN(user, maintDB)
	t.Cleanup(func() {
		_ = db.Close()
		a, err := sql.Open("pgx", adminDSN)
		if err != nil {
			return
		}
		defer a.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer ccancel()
		_, _ = a.ExecContext(cctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return db, dsn
}
