// Command parlor-plugin-odbc logs Parlor users in against any database
// reachable through a unixODBC driver, SQL Server being the usual one (the
// seed's "ODBC" integration). It needs cgo and unixODBC's headers to build
// (Debian: unixodbc-dev) and the database's ODBC driver to run.
// Configuration: config/odbc.yaml and docs/database-auth.md.
package main

import (
	_ "github.com/alexbrainman/odbc" // registers the "odbc" driver

	"github.com/parlorchat/parlor/plugins/internal/dbauth"
)

func main() { dbauth.Main("odbc", dbauth.ODBC) }
