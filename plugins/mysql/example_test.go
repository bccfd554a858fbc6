package main

import (
	"context"
	"database/sql"
	"testing"

	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/plugins/internal/dbauth/dbauthtest"
	"github.com/parlorchat/parlor/sdk"
)

// TestExampleWordPress runs config/mysql.yaml against a WordPress users
// schema: phpass, WordPress 6.8 bcrypt and md5 hashes; the administrator
// role read from wp_usermeta.
func TestExampleWordPress(t *testing.T) {
	db, dsn := testenv.MySQL(t, "parlor_dbauth_mysql_wp")
	createWordPress(t, db)
	a := newAuth(t, nil)
	configure(t, a, dbauthtest.ExampleConfig(t, "mysql", dsn))
	for _, c := range []dbauthtest.Case{
		{User: "admin", Password: "s3cret pass", Code: sdk.Admin, Display: "Site Admin", Email: "admin@example.com"},
		{User: "ADMIN", Password: "s3cret pass", Code: sdk.Admin, Display: "Site Admin", Email: "admin@example.com"}, // case-insensitive collation, as in WordPress
		{User: "editor", Password: "test12345", Code: sdk.OK, Display: "Ed", Email: "ed@example.com"},
		{User: "oldtimer", Password: "s3cret pass", Code: sdk.OK, Display: "Old Timer", Email: "old@example.com"},
		{User: "editor", Password: "test1234", Code: sdk.WrongPassword},
		{User: "editor", Password: "", Code: sdk.WrongPassword},
		{User: "visitor", Password: "", Code: sdk.NoSuchUser},
		{User: "admin' -- ", Password: "x", Code: sdk.NoSuchUser},
	} {
		res := dbauthtest.Login(t, a, c.User, c.Password)
		if res.Code != c.Code || res.DisplayName != c.Display || res.Email != c.Email {
			t.Errorf("%s/%s: %+v, want %+v", c.User, c.Password, res, c)
		}
	}
}

// TestDocPhpBB runs the MySQL phpBB example of docs/database-auth.md.
func TestDocPhpBB(t *testing.T) {
	db, dsn := testenv.MySQL(t, "parlor_dbauth_mysql_phpbb")
	dbauthtest.CreatePhpBB(t, db)
	a := newAuth(t, nil)
	configure(t, a, dbauthtest.DocConfig(t, "mysql", "phpbb_users", dsn))
	dbauthtest.Check(t, a, dbauthtest.PhpBBCases())
}

// TestDocWordPressTable runs the table mapping for WordPress of
// docs/database-auth.md.
func TestDocWordPressTable(t *testing.T) {
	db, dsn := testenv.MySQL(t, "parlor_dbauth_mysql_wpt")
	createWordPress(t, db)
	a := newAuth(t, nil)
	configure(t, a, dbauthtest.DocConfig(t, "mysql", "table: wp_users", dsn))
	dbauthtest.Check(t, a, []dbauthtest.Case{
		{User: "admin", Password: "s3cret pass", Code: sdk.OK, Display: "Site Admin", Email: "admin@example.com"},
		{User: "editor", Password: "test12345", Code: sdk.OK, Display: "Ed", Email: "ed@example.com"},
	})
}

// createWordPress creates the columns of WordPress's wp_users and
// wp_usermeta that the examples read: an administrator with a 6.8 bcrypt
// hash, an editor with a phpass hash and a subscriber with an md5 hash.
func createWordPress(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		// The columns of WordPress's wp_users and wp_usermeta that matter.
		"CREATE TABLE wp_users (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, user_login VARCHAR(60) NOT NULL DEFAULT '', user_pass VARCHAR(255) NOT NULL DEFAULT '', user_email VARCHAR(100) NOT NULL DEFAULT '', display_name VARCHAR(250) NOT NULL DEFAULT '', user_status INT NOT NULL DEFAULT 0) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci",
		"CREATE TABLE wp_usermeta (umeta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255), meta_value LONGTEXT)",
		`INSERT INTO wp_users (user_login, user_pass, user_email, display_name) VALUES
			('admin', '$wp$2y$04$9qc/mz8bI5N24B9y.Ic0UugocQjO5xtaxo51nO5y3sQ1Axq0EzMq.', 'admin@example.com', 'Site Admin'),
			('editor', '$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0', 'ed@example.com', 'Ed'),
			('oldtimer', '5211da5c87b0c916f11bbeb561492eef', 'old@example.com', 'Old Timer')`,
		`INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES
			(1, 'wp_capabilities', 'a:1:{s:13:"administrator";b:1;}'),
			(2, 'wp_capabilities', 'a:1:{s:6:"editor";b:1;}'),
			(3, 'wp_capabilities', 'a:1:{s:10:"subscriber";b:1;}')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
}
