package main

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/plugins/internal/dbauth"
	"github.com/parlorchat/parlor/plugins/internal/dbauth/dbauthtest"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

func newAuth(t *testing.T, logs *dbauthtest.LogBuffer) sdk.Authenticator {
	t.Helper()
	opts := &hclog.LoggerOptions{Level: hclog.Debug}
	if logs != nil {
		opts.Output = logs
	}
	// The dialects of main.
	impl := dbauth.New(hclog.New(opts), dbauth.Postgres, dbauth.SQLite)
	t.Cleanup(func() { _ = impl.Close() })
	return sdktest.Connect(t, impl)
}

func configure(t *testing.T, a sdk.Authenticator, cfg any) {
	t.Helper()
	if err := dbauthtest.Configure(t, a, cfg); err != nil {
		t.Fatal(err)
	}
}

// pg creates a fresh PostgreSQL database holding the fixture table.
func pg(t *testing.T, name string) (*sql.DB, string) {
	t.Helper()
	db, dsn := testenv.PostgresDB(t, name)
	dbauthtest.CreateTable(t, db, dbauth.Postgres)
	return db, dsn
}

func withDriver(cfg map[string]any, driver string) map[string]any {
	cfg["driver"] = driver
	return cfg
}

func TestPostgresTableMapping(t *testing.T) {
	_, dsn := pg(t, "parlor_dbauth_pg_map")
	a := newAuth(t, nil)
	configure(t, a, withDriver(dbauthtest.TableConfig(dsn), "postgres"))
	dbauthtest.Run(t, a)
}

func TestPostgresCustomQuery(t *testing.T) {
	_, dsn := pg(t, "parlor_dbauth_pg_query")
	a := newAuth(t, nil)
	cfg := dbauthtest.QueryConfig(dsn)
	// PostgreSQL's :: cast and a repeated parameter ($1 twice).
	cfg["query"] = `SELECT pass_hash AS password, pass_salt AS salt, is_admin::text AS admin,
		(is_banned <> 0) AS banned, nickname AS display_name, email
		FROM parlor_users WHERE username = :username AND length(:username) < 100`
	configure(t, a, withDriver(cfg, "pgx"))
	dbauthtest.Run(t, a)
}

// TestPostgresSchemaQualified maps a table in another schema, with
// mixed-case quoting preserved.
func TestPostgresSchemaQualified(t *testing.T) {
	db, dsn := pg(t, "parlor_dbauth_pg_schema")
	for _, q := range []string{
		`CREATE SCHEMA site`,
		`CREATE TABLE site."Members" ("Login" text, "Hash" text, "IsAdmin" boolean)`,
		`INSERT INTO site."Members" VALUES ('Zed', '5211da5c87b0c916f11bbeb561492eef', true)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	a := newAuth(t, nil)
	configure(t, a, map[string]any{
		"driver": "postgres", "dsn": dsn, "table": "site.Members", "password_scheme": "md5",
		"columns": map[string]any{"user": "Login", "password": "Hash", "admin": "IsAdmin"},
	})
	if res := dbauthtest.Login(t, a, "Zed", "s3cret pass"); res.Code != sdk.Admin {
		t.Errorf("got %+v", res)
	}
	if res := dbauthtest.Login(t, a, "zed", "s3cret pass"); res.Code != sdk.NoSuchUser {
		t.Errorf("case: %+v", res)
	}
}

func TestPostgresDownAndBack(t *testing.T) {
	db, dsn := pg(t, "parlor_dbauth_pg_down")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := dbauthtest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	const secret = "PgSecret42"
	u.User = url.UserPassword(u.User.Username(), secret) // trust auth ignores it
	logs := &dbauthtest.LogBuffer{}
	a := newAuth(t, logs)
	configure(t, a, withDriver(dbauthtest.TableConfig(u.String()), "postgres"))
	res := dbauthtest.Login(t, a, "alice", "s3cret pass")
	if res.Code != sdk.LoginError || res.Message != dbauth.MsgDatabase {
		t.Fatalf("down at start: %+v", res)
	}
	proxy.Start(t)
	dbauthtest.Eventually(t, a, "alice", "s3cret pass", sdk.OK, 5*time.Second)
	proxy.Stop()
	if res := dbauthtest.Login(t, a, "alice", "s3cret pass"); res.Code != sdk.LoginError {
		t.Errorf("down: %+v", res)
	}
	proxy.Start(t)
	dbauthtest.Eventually(t, a, "alice", "s3cret pass", sdk.OK, 5*time.Second)

	dbauthtest.DropTable(t, db)
	if res := dbauthtest.Login(t, a, "alice", "s3cret pass"); res.Code != sdk.LoginError {
		t.Errorf("table dropped: %+v", res)
	}
	dbauthtest.CreateTable(t, db, dbauth.Postgres)
	dbauthtest.Eventually(t, a, "alice", "s3cret pass", sdk.OK, 5*time.Second)
	if strings.Contains(logs.String(), secret) {
		t.Errorf("log leaks the DSN password: %s", logs)
	}
	if !strings.Contains(logs.String(), "parlor_users") {
		t.Errorf("log lacks the cause of the dropped table: %s", logs)
	}
}

func TestSQLite(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "site.db")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dbauthtest.CreateTable(t, db, dbauth.SQLite)
	a := newAuth(t, nil)
	configure(t, a, withDriver(dbauthtest.TableConfig(dsn), "sqlite"))
	dbauthtest.Run(t, a)
}

// TestPluginBinary runs parlor-plugin-sqlauth as the host does, on SQLite
// (always available) and, when present, PostgreSQL.
func TestPluginBinary(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "site.db")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dbauthtest.CreateTable(t, db, dbauth.SQLite)
	a, _ := dbauthtest.Binary(t, "github.com/parlorchat/parlor/plugins/sqlauth", "sqlauth")
	if err := dbauthtest.Configure(t, a, dbauthtest.TableConfig(dsn)); err == nil || !strings.Contains(err.Error(), "driver is required") {
		t.Errorf("missing driver: %v", err)
	}
	configure(t, a, withDriver(dbauthtest.TableConfig(dsn), "sqlite"))
	dbauthtest.Run(t, a)
}
