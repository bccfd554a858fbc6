// Command parlor-plugin-odbc logs Parlor users in against any database
// reachable through a unixODBC driver, SQL Server being the usual one (the
// seed's "ODBC" integration). It needs cgo and unixODBC's headers to build
// (Debian: unixodbc-dev) and the database's ODBC driver to run; `make`
// builds it with the tag noodbc where the headers are missing, and that
// binary only says so and exits.
// Configuration: config/odbc.yaml and docs/database-auth.md.
package main

import (
	"fmt"
	"os"

	"github.com/parlorchat/parlor/plugins/internal/dbauth"
)

// noDriver is what a binary built without unixODBC says.
const noDriver = "parlor-plugin-odbc was built without ODBC support: install unixODBC's headers (Debian: unixodbc-dev) and run make again"

func main() {
	if !driverBuilt {
		fmt.Fprintln(os.Stderr, noDriver)
		os.Exit(1)
	}
	dbauth.Main("odbc", dbauth.ODBC)
}
