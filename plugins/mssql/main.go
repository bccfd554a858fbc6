// Command parlor-plugin-mssql logs Parlor users in against a Microsoft SQL
// Server users table through the pure-Go go-mssqldb driver. Configuration:
// config/mssql.yaml and docs/database-auth.md.
package main

import (
	_ "github.com/microsoft/go-mssqldb" // registers the "sqlserver" driver

	"github.com/parlorchat/parlor/plugins/internal/dbauth"
)

func main() { dbauth.Main("mssql", dbauth.MSSQL) }
