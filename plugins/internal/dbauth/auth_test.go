package dbauth_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	_ "modernc.org/sqlite"

	"github.com/parlorchat/parlor/plugins/internal/dbauth"
	"github.com/parlorchat/parlor/plugins/internal/dbauth/dbauthtest"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// sqliteDB returns a fresh SQLite file holding the fixture table.
func sqliteDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "site.db")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	dbauthtest.CreateTable(t, db, dbauth.SQLite)
	return db, dsn
}

// newAuth returns an in-process authenticator (through sdktest's gRPC
// connection) logging into logs.
func newAuth(t *testing.T, logs io.Writer, dialects ...dbauth.Dialect) (sdk.Authenticator, *dbauth.Authenticator) {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	impl := dbauth.New(hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}), dialects...)
	t.Cleanup(func() { _ = impl.Close() })
	return sdktest.Connect(t, impl), impl
}

func configure(t *testing.T, a sdk.Authenticator, cfg any) {
	t.Helper()
	if err := dbauthtest.Configure(t, a, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestSQLiteTableMapping(t *testing.T) {
	_, dsn := sqliteDB(t)
	a, _ := newAuth(t, nil, dbauth.SQLite)
	configure(t, a, dbauthtest.TableConfig(dsn))
	dbauthtest.Run(t, a)
}

func TestSQLiteCustomQuery(t *testing.T) {
	_, dsn := sqliteDB(t)
	a, _ := newAuth(t, nil, dbauth.Postgres, dbauth.SQLite)
	cfg := dbauthtest.QueryConfig(dsn)
	cfg["driver"] = "sqlite3"
	configure(t, a, cfg)
	dbauthtest.Run(t, a)
}

func TestSchemesThroughTheDatabase(t *testing.T) {
	db, dsn := sqliteDB(t)
	if _, err := db.Exec(`CREATE TABLE site_users (name TEXT, pw TEXT, salt TEXT)`); err != nil {
		t.Fatal(err)
	}
	rows := [][3]string{
		{"plain", "plain-pw", ""},
		{"md5", "5211da5c87b0c916f11bbeb561492eef", ""},
		{"sha1", "a21818805da492032545b1f51e510373394e73e3", ""},
		{"sha256", "099a754c8251fb8a001b6642afb5259bd2edb705677b939f6ef4c00cab1e6389", ""},
		{"bcrypt", "$2y$04$MSOSOltv.mjXZ5.XtwD5i.9LQg3e/mP3BS48g1fKB/E2C.i30WdYe", ""},
		{"phpass", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", ""},
		{"argon2id", "$argon2id$v=19$m=1024,t=2,p=1$TnZlcnJEdjNrUzZVN3RkYg$gc6P00z40Zj3IkK/OiA72qSciNe489whw8dAWPtyV7A", ""},
		{"salted_md5", "8987410dbbd408326865c0607fe8efc8", "xY1"}, // md5(md5(pw).salt)
	}
	for _, r := range rows {
		if _, err := db.Exec(`INSERT INTO site_users VALUES (?, ?, ?)`, r[0], r[1], r[2]); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		scheme := r[0]
		t.Run(scheme, func(t *testing.T) {
			a, _ := newAuth(t, nil, dbauth.SQLite)
			cfg := map[string]any{
				"dsn": dsn, "table": "site_users", "password_scheme": scheme,
				"columns": map[string]any{"user": "name", "password": "pw", "salt": "salt"},
			}
			if scheme == "salted_md5" {
				cfg["salt_pattern"] = "{md5(password)}{salt}"
			}
			configure(t, a, cfg)
			pw := "s3cret pass"
			switch scheme {
			case "plain":
				pw = "plain-pw"
			case "phpass":
				pw = "test12345"
			}
			if res := dbauthtest.Login(t, a, scheme, pw); res.Code != sdk.OK {
				t.Errorf("right password: %d %s", res.Code, res.Message)
			}
			if res := dbauthtest.Login(t, a, scheme, pw+"x"); res.Code != sdk.WrongPassword {
				t.Errorf("wrong password: %d %s", res.Code, res.Message)
			}
			// The stored hash typed as the password must not pass.
			if scheme != "plain" {
				if res := dbauthtest.Login(t, a, scheme, r[1]); res.Code != sdk.WrongPassword {
					t.Errorf("hash as password: %d", res.Code)
				}
			}
		})
	}
}

// TestPhpBBStyleFlags maps admin and banned with explicit values, like
// phpBB's user_type = 3 (founder) and a ban table joined in a custom query.
func TestPhpBBStyleFlags(t *testing.T) {
	db, dsn := sqliteDB(t)
	for _, q := range []string{
		`CREATE TABLE phpbb_users (user_id INTEGER, username_clean TEXT, username TEXT, user_password TEXT, user_email TEXT, user_type INTEGER)`,
		`CREATE TABLE phpbb_banlist (ban_userid INTEGER, ban_end INTEGER)`,
		`INSERT INTO phpbb_users VALUES (2, 'admin', 'Admin', '$2y$04$MSOSOltv.mjXZ5.XtwD5i.9LQg3e/mP3BS48g1fKB/E2C.i30WdYe', 'admin@example.com', 3)`,
		`INSERT INTO phpbb_users VALUES (3, 'bob', 'Bob', '$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0', 'bob@example.com', 0)`,
		`INSERT INTO phpbb_users VALUES (4, 'spam', 'Spam', '$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0', '', 0)`,
		`INSERT INTO phpbb_banlist VALUES (4, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	a, _ := newAuth(t, nil, dbauth.SQLite)
	configure(t, a, map[string]any{
		"dsn": dsn,
		"query": `SELECT u.user_password AS password, u.user_type AS admin, u.username AS display_name,
			u.user_email AS email,
			(SELECT COUNT(*) FROM phpbb_banlist b WHERE b.ban_userid = u.user_id) AS banned
			FROM phpbb_users u WHERE u.username_clean = LOWER(:username)`,
		"password_scheme": "auto",
		"admin_value":     "3",
	})
	cases := []dbauthtest.Case{
		{User: "Admin", Password: "s3cret pass", Code: sdk.Admin, Display: "Admin", Email: "admin@example.com"},
		{User: "bob", Password: "test12345", Code: sdk.OK, Display: "Bob", Email: "bob@example.com"},
		{User: "spam", Password: "test12345", Code: sdk.NameUnusable},
		{User: "spam", Password: "", Code: sdk.NameUnusable},
		{User: "BOB", Password: "", Code: sdk.WrongPassword},
	}
	for _, c := range cases {
		res := dbauthtest.Login(t, a, c.User, c.Password)
		if res.Code != c.Code || res.DisplayName != c.Display || res.Email != c.Email {
			t.Errorf("%s: %+v, want %+v", c.User, res, c)
		}
	}
}

// TestPasswordOKColumn lets the query judge the password (a site hashing in
// SQL), with :password bound as a parameter.
func TestPasswordOKColumn(t *testing.T) {
	db, dsn := sqliteDB(t)
	if _, err := db.Exec(`CREATE TABLE accts (login TEXT, secret TEXT)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO accts VALUES ('carol', 'pw''; --')`); err != nil {
		t.Fatal(err)
	}
	a, _ := newAuth(t, nil, dbauth.SQLite)
	configure(t, a, map[string]any{
		"dsn":   dsn,
		"query": `SELECT secret = :password AS password_ok FROM accts WHERE login = :username`,
	})
	if res := dbauthtest.Login(t, a, "carol", "pw'; --"); res.Code != sdk.OK {
		t.Errorf("right password: %+v", res)
	}
	if res := dbauthtest.Login(t, a, "carol", "' OR '1'='1"); res.Code != sdk.WrongPassword {
		t.Errorf("injected password: %+v", res)
	}
	if res := dbauthtest.Login(t, a, "carol", ""); res.Code != sdk.WrongPassword {
		t.Errorf("guest on a taken name: %+v", res)
	}
}

// TestQueryWithoutPasswordColumn is a configuration mistake found at run
// time: code 3, and the log says why.
func TestQueryWithoutPasswordColumn(t *testing.T) {
	_, dsn := sqliteDB(t)
	logs := &dbauthtest.LogBuffer{}
	a, _ := newAuth(t, logs, dbauth.SQLite)
	configure(t, a, map[string]any{
		"dsn":   dsn,
		"query": `SELECT nickname FROM parlor_users WHERE username = :username`,
	})
	res := dbauthtest.Login(t, a, "alice", "x")
	if res.Code != sdk.LoginError || res.Message != dbauth.MsgMisconfigured {
		t.Errorf("got %+v", res)
	}
	if !strings.Contains(logs.String(), "password_ok") {
		t.Errorf("log does not explain: %s", logs)
	}
	configure(t, a, map[string]any{
		"dsn":   dsn,
		"query": `SELECT pass_hash AS password FROM parlor_users WHERE username = :username`,
	})
	if res := dbauthtest.Login(t, a, "alice", "x"); res.Code != sdk.LoginError || res.Message != dbauth.MsgMisconfigured {
		t.Errorf("password column without scheme: %+v", res)
	}
}

func TestConfigErrors(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{
			"dsn": "file:x.db", "table": "users", "password_scheme": "bcrypt",
			"columns": map[string]any{"user": "name", "password": "pw"},
		}
	}
	cases := []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"no dsn", func(m map[string]any) { delete(m, "dsn") }, "dsn is required"},
		{"no table", func(m map[string]any) { delete(m, "table") }, "set table"},
		{"table and query", func(m map[string]any) { m["query"] = "SELECT 1 WHERE :username" }, "not both"},
		{"columns with query", func(m map[string]any) {
			delete(m, "table")
			m["query"] = "SELECT pw AS password FROM u WHERE n = :username"
		}, "columns apply to table"},
		{"no scheme", func(m map[string]any) { delete(m, "password_scheme") }, "password_scheme"},
		{"bad scheme", func(m map[string]any) { m["password_scheme"] = "crc32" }, "crc32"},
		{"salted without salt", func(m map[string]any) { m["password_scheme"] = "salted_md5" }, "columns.salt"},
		{"bad pattern", func(m map[string]any) {
			m["password_scheme"] = "salted_md5"
			m["salt_pattern"] = "{salt}"
			m["columns"].(map[string]any)["salt"] = "s"
		}, "{password}"},
		{"bad table", func(m map[string]any) { m["table"] = "users; DROP TABLE users" }, "identifier"},
		{"bad column", func(m map[string]any) { m["columns"].(map[string]any)["admin"] = "x OR 1=1" }, "columns.admin"},
		{"unknown key", func(m map[string]any) { m["pasword_scheme"] = "md5" }, "pasword_scheme"},
		{"unknown column key", func(m map[string]any) { m["columns"].(map[string]any)["nick"] = "n" }, "nick"},
		{"bad duration", func(m map[string]any) { m["query_timeout"] = "soon" }, "soon"},
		{"bad int", func(m map[string]any) { m["max_open_conns"] = "many" }, "many"},
		{"negative timeout", func(m map[string]any) { m["query_timeout"] = "-1s" }, "negative"},
		{"bad quote", func(m map[string]any) { m["identifier_quote"] = "curly" }, "curly"},
		{"wrong driver", func(m map[string]any) { m["driver"] = "postgres" }, "not served"},
		{"bad query param", func(m map[string]any) {
			delete(m, "table")
			delete(m, "columns")
			m["query"] = "SELECT pw AS password FROM u WHERE n = :name"
		}, ":name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, _ := newAuth(t, nil, dbauth.SQLite)
			m := base()
			c.change(m)
			err := dbauthtest.Configure(t, a, m)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
	t.Run("several dialects need driver", func(t *testing.T) {
		a, _ := newAuth(t, nil, dbauth.Postgres, dbauth.SQLite)
		if err := dbauthtest.Configure(t, a, base()); err == nil || !strings.Contains(err.Error(), "driver is required") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("env-style strings", func(t *testing.T) {
		_, dsn := sqliteDB(t)
		a, _ := newAuth(t, nil, dbauth.SQLite)
		m := dbauthtest.TableConfig(dsn)
		m["max_open_conns"] = "4"
		m["max_idle_conns"] = 8
		m["query_timeout"] = 1.5
		m["conn_max_lifetime"] = "1m"
		configure(t, a, m)
		if res := dbauthtest.Login(t, a, "alice", "s3cret pass"); res.Code != sdk.OK {
			t.Errorf("got %+v", res)
		}
	})
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := dbauth.ParseConfig([]byte(`{"dsn":"x","max_open_conns":"3","max_idle_conns":5}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxOpenConns != 3 || c.MaxIdleConns != 3 || c.QueryTimeout.D() != dbauth.DefaultQueryTimeout || c.ConnMaxLifetime.D() != dbauth.DefaultConnMaxLifetime {
		t.Errorf("defaults: %+v", c)
	}
	c, err = dbauth.ParseConfig(nil)
	if err != nil || c.MaxOpenConns != dbauth.DefaultMaxOpenConns {
		t.Errorf("empty: %+v %v", c, err)
	}
}

func TestNotConfigured(t *testing.T) {
	a, _ := newAuth(t, nil, dbauth.SQLite)
	res := dbauthtest.Login(t, a, "alice", "x")
	if res.Code != sdk.LoginError || res.Message != dbauth.MsgNotConfigured {
		t.Errorf("got %+v", res)
	}
}

func TestTableDroppedAndRestored(t *testing.T) {
	db, dsn := sqliteDB(t)
	a, _ := newAuth(t, nil, dbauth.SQLite)
	configure(t, a, dbauthtest.TableConfig(dsn))
	if res := dbauthtest.Login(t, a, "alice", "s3cret pass"); res.Code != sdk.OK {
		t.Fatalf("before: %+v", res)
	}
	dbauthtest.DropTable(t, db)
	for _, pw := range []string{"s3cret pass", ""} {
		res := dbauthtest.Login(t, a, "alice", pw)
		if res.Code != sdk.LoginError || res.Message != dbauth.MsgDatabase {
			t.Errorf("table gone (password %q): %+v", pw, res)
		}
	}
	dbauthtest.CreateTable(t, db, dbauth.SQLite)
	if res := dbauthtest.Login(t, a, "alice", "s3cret pass"); res.Code != sdk.OK {
		t.Errorf("after: %+v", res)
	}
}

func TestReconfigure(t *testing.T) {
	_, dsn := sqliteDB(t)
	a, _ := newAuth(t, nil, dbauth.SQLite)
	cfg := dbauthtest.TableConfig(dsn)
	cfg["password_scheme"] = "bcrypt"
	configure(t, a, cfg)
	if res := dbauthtest.Login(t, a, "legacy", "legacy-pw"); res.Code != sdk.WrongPassword {
		t.Fatalf("md5 row under bcrypt: %+v", res)
	}
	cfg["password_scheme"] = "md5"
	configure(t, a, cfg)
	if res := dbauthtest.Login(t, a, "legacy", "legacy-pw"); res.Code != sdk.OK {
		t.Errorf("md5 row under md5: %+v", res)
	}
}

// slowDriver is a database/sql driver whose queries take 3 seconds and,
// like some cgo drivers, ignore their context.
type slowDriver struct{}

func (slowDriver) Open(string) (driver.Conn, error) { return slowConn{}, nil }

type slowConn struct{}

func (slowConn) Prepare(string) (driver.Stmt, error) { return slowStmt{}, nil }
func (slowConn) Close() error                        { return nil }
func (slowConn) Begin() (driver.Tx, error)           { return nil, errors.New("no transactions") }

type slowStmt struct{}

func (slowStmt) Close() error                               { return nil }
func (slowStmt) NumInput() int                              { return -1 }
func (slowStmt) Exec([]driver.Value) (driver.Result, error) { return nil, errors.New("no exec") }
func (slowStmt) Query([]driver.Value) (driver.Rows, error) {
	time.Sleep(3 * time.Second)
	return nil, errors.New("too late")
}

var registerSlow sync.Once

func TestQueryTimeout(t *testing.T) {
	registerSlow.Do(func() { sql.Register("dbauth-test-slow", slowDriver{}) })
	slow := dbauth.Dialect{Name: "slow", Driver: "dbauth-test-slow", Placeholder: dbauth.SQLite.Placeholder, PerOccurrence: true, Quote: dbauth.QuoteANSI}
	logs := &dbauthtest.LogBuffer{}
	a, _ := newAuth(t, logs, slow)
	cfg := dbauthtest.TableConfig("slow")
	cfg["query_timeout"] = "200ms"
	configure(t, a, cfg)
	start := time.Now()
	res := dbauthtest.Login(t, a, "alice", "x")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %v", took)
	}
	if res.Code != sdk.LoginError || res.Message != dbauth.MsgTimeout {
		t.Errorf("got %+v", res)
	}
	if !strings.Contains(logs.String(), "deadline") {
		t.Errorf("log: %s", logs)
	}
}

// TestCallerCancel answers 3 when the host gives up first.
func TestCallerCancel(t *testing.T) {
	_, dsn := sqliteDB(t)
	_, impl := newAuth(t, nil, dbauth.SQLite)
	if err := impl.Configure(context.Background(), sdk.Config{Raw: []byte(`{"dsn":"` + dsn + `","table":"parlor_users","password_scheme":"md5","columns":{"user":"username","password":"pass_hash"}}`)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := impl.Authenticate(ctx, sdk.AuthRequest{Username: "legacy", Password: "legacy-pw"})
	if err != nil || res.Code != sdk.LoginError {
		t.Errorf("got %+v %v", res, err)
	}
}

func TestBadUsernames(t *testing.T) {
	_, dsn := sqliteDB(t)
	a, impl := newAuth(t, nil, dbauth.SQLite)
	configure(t, a, dbauthtest.TableConfig(dsn))
	// Invalid UTF-8 cannot cross gRPC; the implementation is asked directly.
	for _, u := range []string{"", "alice\xff", "alice\x00"} {
		if res := dbauthtest.Login(t, impl, u, "s3cret pass"); res.Code != sdk.NoSuchUser {
			t.Errorf("%q: %+v", u, res)
		}
	}
}

// TestConcurrentLogins shares a pool of two connections among many
// concurrent logins; every one gets its right answer.
func TestConcurrentLogins(t *testing.T) {
	_, dsn := sqliteDB(t)
	a, _ := newAuth(t, nil, dbauth.SQLite)
	cfg := dbauthtest.TableConfig(dsn)
	cfg["max_open_conns"] = 2
	configure(t, a, cfg)
	var wg sync.WaitGroup
	errs := make(chan string, 400)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				user, pw, want := "legacy", "legacy-pw", sdk.OK
				switch i % 3 {
				case 1:
					pw, want = "nope", sdk.WrongPassword
				case 2:
					user, want = "ghost", sdk.NoSuchUser
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				res, err := a.Authenticate(ctx, sdk.AuthRequest{Username: user, Password: pw})
				cancel()
				if err != nil || res.Code != want {
					errs <- user + "/" + pw + ": " + res.Code.String() + " " + res.Message
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
