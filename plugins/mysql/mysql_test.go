package main

import (
	"context"
	"database/sql"
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

// fixture creates a fresh MariaDB database with the fixture table.
func fixture(t *testing.T, name string) (*sql.DB, string) {
	t.Helper()
	db, dsn := testenv.MySQL(t, name)
	dbauthtest.CreateTable(t, db, dbauth.MySQL)
	return db, dsn
}

func newAuth(t *testing.T, logs *dbauthtest.LogBuffer) sdk.Authenticator {
	t.Helper()
	opts := &hclog.LoggerOptions{Level: hclog.Debug}
	if logs != nil {
		opts.Output = logs
	}
	impl := dbauth.New(hclog.New(opts), dbauth.MySQL)
	t.Cleanup(func() { _ = impl.Close() })
	return sdktest.Connect(t, impl)
}

func configure(t *testing.T, a sdk.Authenticator, cfg any) {
	t.Helper()
	if err := dbauthtest.Configure(t, a, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestTableMapping(t *testing.T) {
	_, dsn := fixture(t, "parlor_dbauth_mysql_map")
	a := newAuth(t, nil)
	configure(t, a, dbauthtest.TableConfig(dsn))
	dbauthtest.Run(t, a)
}

func TestCustomQuery(t *testing.T) {
	_, dsn := fixture(t, "parlor_dbauth_mysql_query")
	a := newAuth(t, nil)
	configure(t, a, dbauthtest.QueryConfig(dsn))
	dbauthtest.Run(t, a)
}

// TestInjectionLeavesTableIntact checks the table after the injection
// attempts (one of them tries DROP TABLE).
func TestInjectionLeavesTableIntact(t *testing.T) {
	db, dsn := fixture(t, "parlor_dbauth_mysql_inject")
	a := newAuth(t, nil)
	configure(t, a, dbauthtest.TableConfig(dsn))
	for _, inj := range dbauthtest.Injections {
		if res := dbauthtest.Login(t, a, inj, inj); res.Code != sdk.NoSuchUser {
			t.Errorf("%q: %+v", inj, res)
		}
	}
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+dbauthtest.Table).Scan(&n); err != nil || n != len(dbauthtest.Users()) {
		t.Errorf("table after injections: %d rows, %v", n, err)
	}
}

// TestDatabaseDownAndBack starts with the database unreachable, then
// brings it up, takes it down and up again through a TCP proxy, and drops
// and recreates the table: every outage answers 3 and every recovery
// answers again without reconfiguring.
func TestDatabaseDownAndBack(t *testing.T) {
	db, dsn := fixture(t, "parlor_dbauth_mysql_down")
	proxy := dbauthtest.NewProxy(t, testenv.MySQLAddr())
	proxied := strings.Replace(dsn, testenv.MySQLAddr(), proxy.Addr(), 1)
	if proxied == dsn {
		t.Fatalf("DSN %q does not name %s", dsn, testenv.MySQLAddr())
	}
	logs := &dbauthtest.LogBuffer{}
	a := newAuth(t, logs)
	cfg := dbauthtest.TableConfig(proxied)
	cfg["query_timeout"] = "2s"
	configure(t, a, cfg) // down at start-up: no error
	if !strings.Contains(logs.String(), "not reachable") {
		t.Errorf("no warning at start-up: %s", logs)
	}
	res := dbauthtest.Login(t, a, "alice", "s3cret pass")
	if res.Code != sdk.LoginError || res.Message != dbauth.MsgDatabase {
		t.Fatalf("down at start: %+v", res)
	}

	proxy.Start(t)
	dbauthtest.Eventually(t, a, "alice", "s3cret pass", sdk.OK, 5*time.Second)
	dbauthtest.Run(t, a)

	proxy.Stop()
	if res := dbauthtest.Login(t, a, "alice", "s3cret pass"); res.Code != sdk.LoginError {
		t.Errorf("down: %+v", res)
	}
	if res := dbauthtest.Login(t, a, "nobody", ""); res.Code != sdk.LoginError {
		t.Errorf("guest while down: %+v", res)
	}
	proxy.Start(t)
	dbauthtest.Eventually(t, a, "root", "s3cret pass", sdk.Admin, 5*time.Second)

	dbauthtest.DropTable(t, db)
	if res := dbauthtest.Login(t, a, "alice", "s3cret pass"); res.Code != sdk.LoginError {
		t.Errorf("table dropped: %+v", res)
	}
	dbauthtest.CreateTable(t, db, dbauth.MySQL)
	dbauthtest.Eventually(t, a, "alice", "s3cret pass", sdk.OK, 5*time.Second)
}

// TestQueryTimeout points at a server that accepts connections and never
// answers: the login is answered 3 at query_timeout.
func TestQueryTimeout(t *testing.T) {
	_, dsn := testenv.MySQL(t, "parlor_dbauth_mysql_timeout")
	proxy := dbauthtest.NewProxy(t, testenv.MySQLAddr())
	proxy.Stall(true)
	proxy.Start(t)
	a := newAuth(t, nil)
	cfg := dbauthtest.TableConfig(strings.Replace(dsn, testenv.MySQLAddr(), proxy.Addr(), 1))
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
}

// TestSecretsStayOut uses a DSN with a wrong password: the answer is 3 and
// neither the answer nor the log contains the password.
func TestSecretsStayOut(t *testing.T) {
	_, dsn := fixture(t, "parlor_dbauth_mysql_secret")
	const secret = "Sup3rSecretPw"
	bad := strings.Replace(dsn, "root@", "root:"+secret+"@", 1)
	if bad == dsn {
		t.Fatalf("DSN %q has no root@", dsn)
	}
	logs := &dbauthtest.LogBuffer{}
	a := newAuth(t, logs)
	configure(t, a, dbauthtest.TableConfig(bad))
	res := dbauthtest.Login(t, a, "alice", "s3cret pass")
	if res.Code != sdk.LoginError {
		t.Fatalf("got %+v", res)
	}
	if strings.Contains(res.Message, secret) || strings.Contains(res.Message, "tcp(") {
		t.Errorf("answer leaks the DSN: %q", res.Message)
	}
	if !strings.Contains(logs.String(), "Access denied") {
		t.Errorf("log lacks the cause: %s", logs)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "s3cret pass") {
		t.Errorf("log leaks a secret: %s", logs)
	}
}

// TestPluginBinary runs parlor-plugin-mysql as the host does.
func TestPluginBinary(t *testing.T) {
	_, dsn := fixture(t, "parlor_dbauth_mysql_bin")
	a, logs := dbauthtest.Binary(t, "github.com/parlorchat/parlor/plugins/mysql", "mysql")
	if err := dbauthtest.Configure(t, a, map[string]any{"dsn": dsn, "table": "no such; table"}); err == nil || !strings.Contains(err.Error(), "password_scheme") && !strings.Contains(err.Error(), "identifier") {
		t.Errorf("bad config accepted: %v", err)
	}
	configure(t, a, dbauthtest.TableConfig(dsn))
	dbauthtest.Run(t, a)

	// Down and back through the binary.
	proxy := dbauthtest.NewProxy(t, testenv.MySQLAddr())
	configure(t, a, dbauthtest.TableConfig(strings.Replace(dsn, testenv.MySQLAddr(), proxy.Addr(), 1)))
	if res := dbauthtest.Login(t, a, "alice", "s3cret pass"); res.Code != sdk.LoginError {
		t.Errorf("down: %+v", res)
	}
	proxy.Start(t)
	dbauthtest.Eventually(t, a, "alice", "s3cret pass", sdk.OK, 5*time.Second)
	if !strings.Contains(logs.String(), "not reachable") {
		t.Errorf("plugin log lacks the start-up warning: %s", logs)
	}
}
