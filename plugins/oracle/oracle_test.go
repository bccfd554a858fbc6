package main

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

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
	impl := dbauth.New(hclog.New(opts), dbauth.Oracle)
	t.Cleanup(func() { _ = impl.Close() })
	return sdktest.Connect(t, impl)
}

// TestQueryBuilding checks the SQL sent to Oracle: names folded to upper
// case and quoted (as Oracle stores unquoted names), and positional :N
// parameters, one per occurrence.
func TestQueryBuilding(t *testing.T) {
	st, err := dbauth.BuildTableQuery(dbauth.Oracle, dbauth.Oracle.Quote, "app.site_users", dbauth.Columns{
		User: "login", Password: "pwd_hash", Salt: "salt", Admin: "is_admin", Banned: "user", Email: "mail",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT "PWD_HASH", "SALT", "IS_ADMIN", "USER", "MAIL" FROM "APP"."SITE_USERS" WHERE "LOGIN" = :1`
	if st.SQL != want {
		t.Errorf("table query:\n got %s\nwant %s", st.SQL, want)
	}
	st, err = dbauth.BuildCustomQuery(dbauth.Oracle, "SELECT pwd AS password FROM users WHERE login = :username OR UPPER(email) = UPPER(:username) AND ROWNUM = 1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "SELECT pwd AS password FROM users WHERE login = :1 OR UPPER(email) = UPPER(:2) AND ROWNUM = 1"; st.SQL != want {
		t.Errorf("custom query:\n got %s\nwant %s", st.SQL, want)
	}
	if args := st.Args(map[string]string{"username": "bob"}); len(args) != 2 || args[0] != "bob" || args[1] != "bob" {
		t.Errorf("args %v", args)
	}
	if _, err := dbauth.BuildTableQuery(dbauth.Oracle, dbauth.Oracle.Quote, `users" WHERE 1=1 --`, dbauth.Columns{User: "a", Password: "b"}); err == nil {
		t.Error("quote injection in a table name accepted")
	}
}

// TestServerDown needs no server: the driver is registered, the DSN is
// accepted, and an unreachable server answers 3 without leaking the DSN.
func TestServerDown(t *testing.T) {
	const secret = "OraSecret99"
	logs := &dbauthtest.LogBuffer{}
	a := newAuth(t, logs)
	if err := dbauthtest.Configure(t, a, map[string]any{
		"dsn": "oracle://chat:" + secret + "@127.0.0.1:1/XEPDB1", "table": "users",
		"columns": map[string]any{"user": "login", "password": "pwd"}, "password_scheme": "phpass", "query_timeout": "1s",
	}); err != nil {
		t.Fatal(err)
	}
	res := dbauthtest.Login(t, a, "alice", "x")
	if res.Code != sdk.LoginError || strings.Contains(res.Message, secret) {
		t.Errorf("got %+v", res)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("log leaks the DSN password: %s", logs)
	}
}

// TestServer runs the scenario against the Oracle database named by
// PARLOR_TEST_ORACLE_DSN (e.g. oracle://chat:pw@127.0.0.1:1521/FREEPDB1).
func TestServer(t *testing.T) {
	dsn := os.Getenv("PARLOR_TEST_ORACLE_DSN")
	if dsn == "" {
		t.Skip("PARLOR_TEST_ORACLE_DSN is not set; Oracle tests skipped")
	}
	db, err := sql.Open("oracle", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("Oracle at PARLOR_TEST_ORACLE_DSN: %v", err)
	}
	dbauthtest.CreateTable(t, db, dbauth.Oracle)
	t.Cleanup(func() { dbauthtest.DropTable(t, db) })
	t.Run("table", func(t *testing.T) {
		a := newAuth(t, nil)
		if err := dbauthtest.Configure(t, a, dbauthtest.TableConfig(dsn)); err != nil {
			t.Fatal(err)
		}
		dbauthtest.Run(t, a)
	})
	t.Run("query", func(t *testing.T) {
		a := newAuth(t, nil)
		if err := dbauthtest.Configure(t, a, dbauthtest.QueryConfig(dsn)); err != nil {
			t.Fatal(err)
		}
		dbauthtest.Run(t, a)
	})
}
