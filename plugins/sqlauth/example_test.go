package main

import (
	"testing"

	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/plugins/internal/dbauth/dbauthtest"
)

// TestExamplePhpBB runs config/sqlauth.yaml against a phpBB 3.3 users
// schema in PostgreSQL: bcrypt and phpass hashes, the founder as
// administrator, the ban list, inactive users and bots.
func TestExamplePhpBB(t *testing.T) {
	db, dsn := testenv.PostgresDB(t, "parlor_dbauth_pg_phpbb")
	dbauthtest.CreatePhpBB(t, db)
	a := newAuth(t, nil)
	configure(t, a, dbauthtest.ExampleConfig(t, "sqlauth", dsn))
	dbauthtest.Check(t, a, dbauthtest.PhpBBCases())
}
