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
	impl := dbauth.New(hclog.New(opts), dbauth.MSSQL)
	t.Cleanup(func() { _ = impl.Close() })
	return sdktest.Connect(t, impl)
}

// TestQueryBuilding checks the SQL sent to SQL Server: bracket-quoted
// identifiers and @pN parameters, a repeated name reusing its number.
func TestQueryBuilding(t *testing.T) {
	st, err := dbauth.BuildTableQuery(dbauth.MSSQL, dbauth.MSSQL.Quote, "dbo.site_users", dbauth.Columns{
		User: "login", Password: "pwd_hash", Admin: "is_admin", Banned: "locked", DisplayName: "nick", Email: "mail",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT [pwd_hash], [is_admin], [locked], [nick], [mail] FROM [dbo].[site_users] WHERE [login] = @p1"
	if st.SQL != want {
		t.Errorf("table query:\n got %s\nwant %s", st.SQL, want)
	}
	st, err = dbauth.BuildCustomQuery(dbauth.MSSQL, "SELECT TOP 1 u.pwd AS password FROM users u WHERE u.login = :username OR u.email = :username AND u.site <> :group")
	if err != nil {
		t.Fatal(err)
	}
	if want := "SELECT TOP 1 u.pwd AS password FROM users u WHERE u.login = @p1 OR u.email = @p1 AND u.site <> @p2"; st.SQL != want {
		t.Errorf("custom query:\n got %s\nwant %s", st.SQL, want)
	}
	if len(st.Params) != 2 {
		t.Errorf("params %v", st.Params)
	}
	if _, err := dbauth.BuildTableQuery(dbauth.MSSQL, dbauth.MSSQL.Quote, "users]; DROP TABLE users; --", dbauth.Columns{User: "a", Password: "b"}); err == nil {
		t.Error("bracket injection in a table name accepted")
	}
}

// TestServerDown needs no server: the driver is registered, the DSN is
// accepted, and an unreachable server answers 3 without leaking the DSN.
func TestServerDown(t *testing.T) {
	const secret = "MsSecret99"
	logs := &dbauthtest.LogBuffer{}
	a := newAuth(t, logs)
	if err := dbauthtest.Configure(t, a, map[string]any{
		"dsn": "sqlserver://sa:" + secret + "@127.0.0.1:1?database=site&dial+timeout=1", "table": "users",
		"columns": map[string]any{"user": "login", "password": "pwd"}, "password_scheme": "bcrypt", "query_timeout": "1s",
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

// TestServer runs the scenario against the SQL Server named by
// PARLOR_TEST_MSSQL_DSN (e.g. sqlserver://sa:pw@127.0.0.1:1433?database=test).
func TestServer(t *testing.T) {
	dsn := os.Getenv("PARLOR_TEST_MSSQL_DSN")
	if dsn == "" {
		t.Skip("PARLOR_TEST_MSSQL_DSN is not set; SQL Server tests skipped")
	}
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("SQL Server at PARLOR_TEST_MSSQL_DSN: %v", err)
	}
	dbauthtest.CreateTable(t, db, dbauth.MSSQL)
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
