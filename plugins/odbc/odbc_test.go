package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
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

// odbcDriver is the unixODBC driver name of MariaDB Connector/ODBC
// (Debian package odbc-mariadb registers "MariaDB Unicode" in
// /etc/odbcinst.ini), overridable by PARLOR_TEST_ODBC_DRIVER, which may
// also be the driver's .so path.
func odbcDriver() string {
	if d := os.Getenv("PARLOR_TEST_ODBC_DRIVER"); d != "" {
		return d
	}
	return "MariaDB Unicode"
}

// connString is a DSN-less ODBC connection string for database name on the
// MariaDB server at addr.
func connString(addr, name, password string) string {
	host, port, _ := strings.Cut(addr, ":")
	return "DRIVER={" + odbcDriver() + "};SERVER=" + host + ";PORT=" + port + ";DATABASE=" + name + ";UID=root;PWD=" + password + ";"
}

// fixture creates a fresh MariaDB database with the fixture table (through
// the MySQL driver) and checks that the ODBC driver reaches it.
func fixture(t *testing.T, name string) (*sql.DB, string) {
	t.Helper()
	if !driverBuilt {
		testenv.Missing(t, "the ODBC driver (unixODBC headers, Debian: unixodbc-dev)", errors.New(noDriver))
	}
	db, _ := testenv.MySQL(t, name)
	dbauthtest.CreateTable(t, db, dbauth.MySQL)
	dsn := connString(testenv.MySQLAddr(), name, "")
	probe, err := sql.Open("odbc", dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = probe.PingContext(ctx)
		cancel()
		_ = probe.Close()
	}
	if err != nil {
		testenv.Missing(t, "MariaDB ODBC driver "+odbcDriver()+" (Debian: odbc-mariadb)", err)
	}
	return db, dsn
}

func newAuth(t *testing.T, logs *dbauthtest.LogBuffer) sdk.Authenticator {
	t.Helper()
	opts := &hclog.LoggerOptions{Level: hclog.Debug}
	if logs != nil {
		opts.Output = logs
	}
	impl := dbauth.New(hclog.New(opts), dbauth.ODBC)
	t.Cleanup(func() { _ = impl.Close() })
	return sdktest.Connect(t, impl)
}

// config maps the fixture table with MariaDB's backtick quoting.
func config(dsn string) map[string]any {
	cfg := dbauthtest.TableConfig(dsn)
	cfg["identifier_quote"] = dbauth.QuoteBacktick
	return cfg
}

func configure(t *testing.T, a sdk.Authenticator, cfg any) {
	t.Helper()
	if err := dbauthtest.Configure(t, a, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestTableMapping(t *testing.T) {
	_, dsn := fixture(t, "parlor_dbauth_odbc_map")
	a := newAuth(t, nil)
	configure(t, a, config(dsn))
	dbauthtest.Run(t, a)
}

func TestCustomQuery(t *testing.T) {
	_, dsn := fixture(t, "parlor_dbauth_odbc_query")
	a := newAuth(t, nil)
	configure(t, a, dbauthtest.QueryConfig(dsn))
	dbauthtest.Run(t, a)
}

// TestUnquotedIdentifiers maps the table without quoting, as for a
// database whose quoting is unknown.
func TestUnquotedIdentifiers(t *testing.T) {
	_, dsn := fixture(t, "parlor_dbauth_odbc_none")
	a := newAuth(t, nil)
	cfg := config(dsn)
	cfg["identifier_quote"] = dbauth.QuoteUnquoted
	configure(t, a, cfg)
	if res := dbauthtest.Login(t, a, "root", "s3cret pass"); res.Code != sdk.Admin {
		t.Errorf("got %+v", res)
	}
}

func TestDatabaseDownAndBack(t *testing.T) {
	db, _ := fixture(t, "parlor_dbauth_odbc_down")
	proxy := dbauthtest.NewProxy(t, testenv.MySQLAddr())
	const secret = "OdbcSecret77"
	logs := &dbauthtest.LogBuffer{}
	a := newAuth(t, logs)
	configure(t, a, config(connString(proxy.Addr(), "parlor_dbauth_odbc_down", "")))
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
	dbauthtest.CreateTable(t, db, dbauth.MySQL)
	dbauthtest.Eventually(t, a, "alice", "s3cret pass", sdk.OK, 5*time.Second)

	// A wrong password in the connection string: 3, and no secret anywhere.
	configure(t, a, config(connString(testenv.MySQLAddr(), "parlor_dbauth_odbc_down", secret)))
	res = dbauthtest.Login(t, a, "alice", "s3cret pass")
	if res.Code != sdk.LoginError || strings.Contains(res.Message, secret) {
		t.Errorf("wrong DB password: %+v", res)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("log leaks the DSN password: %s", logs)
	}
}

// TestQueryTimeout: the ODBC driver connects without a context; the
// authenticator still answers at query_timeout.
func TestQueryTimeout(t *testing.T) {
	fixture(t, "parlor_dbauth_odbc_timeout")
	proxy := dbauthtest.NewProxy(t, testenv.MySQLAddr())
	proxy.Stall(true)
	proxy.Start(t)
	a := newAuth(t, nil)
	cfg := config(connString(proxy.Addr(), "parlor_dbauth_odbc_timeout", ""))
	cfg["query_timeout"] = "300ms"
	configure(t, a, cfg)
	start := time.Now()
	res := dbauthtest.Login(t, a, "alice", "s3cret pass")
	if res.Code != sdk.LoginError || res.Message != dbauth.MsgTimeout {
		t.Errorf("got %+v", res)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %v", took)
	}
	proxy.Stop() // releases the connection attempts still waiting
}
