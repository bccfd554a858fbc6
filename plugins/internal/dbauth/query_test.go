package dbauth

import (
	"reflect"
	"strings"
	"testing"
)

var fullColumns = Columns{
	User: "user_login", Password: "user_pass", Salt: "salt", Admin: "is_admin",
	Banned: "banned", DisplayName: "display_name", Email: "user_email",
}

func TestBuildTableQuery(t *testing.T) {
	cases := []struct {
		d     Dialect
		style string
		table string
		want  string
	}{
		{MySQL, "", "wp_users", "SELECT `user_pass`, `salt`, `is_admin`, `banned`, `display_name`, `user_email` FROM `wp_users` WHERE `user_login` = ?"},
		{Postgres, "", "public.users", `SELECT "user_pass", "salt", "is_admin", "banned", "display_name", "user_email" FROM "public"."users" WHERE "user_login" = $1`},
		{SQLite, "", "users", `SELECT "user_pass", "salt", "is_admin", "banned", "display_name", "user_email" FROM "users" WHERE "user_login" = ?`},
		{MSSQL, "", "site.dbo.users", "SELECT [user_pass], [salt], [is_admin], [banned], [display_name], [user_email] FROM [site].[dbo].[users] WHERE [user_login] = @p1"},
		{Oracle, "", "app.users", `SELECT "USER_PASS", "SALT", "IS_ADMIN", "BANNED", "DISPLAY_NAME", "USER_EMAIL" FROM "APP"."USERS" WHERE "USER_LOGIN" = :1`},
		{ODBC, "", "users", `SELECT "user_pass", "salt", "is_admin", "banned", "display_name", "user_email" FROM "users" WHERE "user_login" = ?`},
		{ODBC, QuoteBrackets, "dbo.users", "SELECT [user_pass], [salt], [is_admin], [banned], [display_name], [user_email] FROM [dbo].[users] WHERE [user_login] = ?"},
		{ODBC, QuoteBacktick, "users", "SELECT `user_pass`, `salt`, `is_admin`, `banned`, `display_name`, `user_email` FROM `users` WHERE `user_login` = ?"},
		{ODBC, QuoteUnquoted, "users", "SELECT user_pass, salt, is_admin, banned, display_name, user_email FROM users WHERE user_login = ?"},
	}
	for _, c := range cases {
		style := c.d.Quote
		if c.style != "" {
			style = c.style
		}
		st, err := BuildTableQuery(c.d, style, c.table, fullColumns)
		if err != nil {
			t.Fatalf("%s: %v", c.d, err)
		}
		if st.SQL != c.want {
			t.Errorf("%s/%s:\n got %s\nwant %s", c.d, style, st.SQL, c.want)
		}
		if !reflect.DeepEqual(st.Params, []string{ParamUsername}) {
			t.Errorf("%s params = %v", c.d, st.Params)
		}
		wantFields := []string{FieldPassword, FieldSalt, FieldAdmin, FieldBanned, FieldDisplayName, FieldEmail}
		if !reflect.DeepEqual(st.Fields, wantFields) {
			t.Errorf("%s fields = %v", c.d, st.Fields)
		}
	}
	st, err := BuildTableQuery(MSSQL, QuoteBrackets, "users", Columns{User: "name", Password: "pw"})
	if err != nil || st.SQL != "SELECT [pw] FROM [users] WHERE [name] = @p1" || len(st.Fields) != 1 {
		t.Errorf("minimal mapping: %q %v %v", st.SQL, st.Fields, err)
	}
}

func TestBuildTableQueryRejectsBadIdentifiers(t *testing.T) {
	bad := []string{
		"users; DROP TABLE users", "users--", "a b", `"users"`, "`users`", "[users]", "users'",
		"1users", "a.b.c.d", "a..b", ".a", "a.", "", "us\x00ers", "usérs", strings.Repeat("a", 129),
	}
	for _, name := range bad {
		if _, err := BuildTableQuery(MySQL, QuoteBacktick, name, Columns{User: "u", Password: "p"}); err == nil {
			t.Errorf("table %q accepted", name)
		}
		if _, err := BuildTableQuery(MySQL, QuoteBacktick, "users", Columns{User: "u", Password: "p", Email: name}); err == nil && name != "" {
			t.Errorf("column %q accepted", name)
		}
	}
	if _, err := BuildTableQuery(MySQL, QuoteBacktick, "users", Columns{User: "u"}); err == nil {
		t.Error("mapping without a password column accepted")
	}
	if _, err := BuildTableQuery(MySQL, "curly", "users", Columns{User: "u", Password: "p"}); err == nil {
		t.Error("unknown quote style accepted")
	}
}

func TestBuildCustomQuery(t *testing.T) {
	q := `SELECT u.pass AS password, ':username' AS lit, "a:b" AS q, u.id::text AS id -- :nope
FROM users u /* :nope */ WHERE u.login = :username AND (:group = '' OR u.site = :group) AND u.x <> :username`
	cases := []struct {
		d      Dialect
		sql    string
		params []string
	}{
		{MySQL, "u.login = ? AND (? = '' OR u.site = ?) AND u.x <> ?", []string{"username", "group", "group", "username"}},
		{Postgres, "u.login = $1 AND ($2 = '' OR u.site = $2) AND u.x <> $1", []string{"username", "group"}},
		{MSSQL, "u.login = @p1 AND (@p2 = '' OR u.site = @p2) AND u.x <> @p1", []string{"username", "group"}},
		{Oracle, "u.login = :1 AND (:2 = '' OR u.site = :3) AND u.x <> :4", []string{"username", "group", "group", "username"}},
		{ODBC, "u.login = ? AND (? = '' OR u.site = ?) AND u.x <> ?", []string{"username", "group", "group", "username"}},
	}
	for _, c := range cases {
		st, err := BuildCustomQuery(c.d, q)
		if err != nil {
			t.Fatalf("%s: %v", c.d, err)
		}
		if !strings.Contains(st.SQL, c.sql) {
			t.Errorf("%s: %s\nwant it to contain %s", c.d, st.SQL, c.sql)
		}
		for _, keep := range []string{"':username' AS lit", `"a:b" AS q`, "u.id::text", "-- :nope", "/* :nope */"} {
			if !strings.Contains(st.SQL, keep) {
				t.Errorf("%s: %q was changed: %s", c.d, keep, st.SQL)
			}
		}
		if !reflect.DeepEqual(st.Params, c.params) {
			t.Errorf("%s params = %v, want %v", c.d, st.Params, c.params)
		}
		args := st.Args(map[string]string{"username": "bob", "group": "g"})
		if len(args) != len(c.params) || args[0] != "bob" {
			t.Errorf("%s args = %v", c.d, args)
		}
	}
	// Escaped quotes stay inside the literal.
	st, err := BuildCustomQuery(MySQL, `SELECT 'it''s :password' AS a, 'x\':y' AS b FROM t WHERE n = :USERNAME AND p = :password`)
	if err != nil {
		t.Fatal(err)
	}
	if st.SQL != `SELECT 'it''s :password' AS a, 'x\':y' AS b FROM t WHERE n = ? AND p = ?` || !reflect.DeepEqual(st.Params, []string{"username", "password"}) {
		t.Errorf("escapes: %s %v", st.SQL, st.Params)
	}
	for _, bad := range []string{
		"SELECT pass AS password FROM users",                      // no :username
		"SELECT pass AS password FROM users WHERE n = :user",      // unknown name
		"SELECT pass AS password FROM users WHERE n = ':username", // unterminated
		"SELECT pass /* x FROM users WHERE n = :username",         // unterminated comment
	} {
		if _, err := BuildCustomQuery(MySQL, bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ dsn, secret string }{
		{"root:Sup3rSecret@tcp(127.0.0.1:3306)/site?parseTime=true", "Sup3rSecret"},
		{"chat:p@ss:word@tcp(db:3306)/site", "p@ss:word"},
		{"postgres://chat:Pg%23Secret@db:5432/site?sslmode=disable", "Pg#Secret"},
		{"sqlserver://sa:MsSecret1@db:1433?database=site", "MsSecret1"},
		{"oracle://chat:OraSecret@db:1521/XEPDB1", "OraSecret"},
		{"DRIVER={ODBC Driver 18 for SQL Server};SERVER=db;UID=sa;PWD={Odbc;Secret};", "Odbc;Secret"},
		{"DRIVER={MariaDB Unicode};SERVER=db;UID=chat;PWD=OdbcSecret2", "OdbcSecret2"},
		{"host=db user=chat password='kv secret' dbname=site", "kv secret"},
		{"host=db user=chat password=KvSecret dbname=site", "KvSecret"},
	}
	for _, c := range cases {
		r := newRedactor(c.dsn)
		msg := "dial failed for " + c.dsn + " with " + c.secret + " and " + strings.ToLower(c.secret)
		got := r.redact(msg)
		if strings.Contains(got, c.secret) {
			t.Errorf("%s: secret left in %q", c.dsn, got)
		}
	}
	if got := newRedactor("root@tcp(127.0.0.1:3306)/site").redact("connection refused"); got != "connection refused" {
		t.Errorf("no-password DSN changed text: %q", got)
	}
}

func TestTruthy(t *testing.T) {
	for _, s := range []string{"1", "-1", "2", "true", "TRUE", "yes", "Y", "on", "t", "0.5", "administrator"} {
		if !truthy(s) {
			t.Errorf("truthy(%q) = false", s)
		}
	}
	for _, s := range []string{"", " ", "0", "0.0", "00", "false", "False", "f", "no", "N", "off"} {
		if truthy(s) {
			t.Errorf("truthy(%q) = true", s)
		}
	}
	if !flag("3", false, "3") || flag("1", false, "3") || flag("", true, "") {
		t.Error("flag with a value")
	}
}
