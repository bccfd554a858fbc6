// Command parlor-plugin-sqlauth is the generic database authenticator (the
// seed's "Common" integration): database/sql with PostgreSQL (pgx) or
// SQLite (modernc.org/sqlite), chosen by the `driver` key. Configuration:
// config/sqlauth.yaml and docs/database-auth.md.
package main

import (
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/parlorchat/parlor/plugins/internal/dbauth"
)

func main() { dbauth.Main("sqlauth", dbauth.Postgres, dbauth.SQLite) }
