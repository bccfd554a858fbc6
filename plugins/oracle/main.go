// Command parlor-plugin-oracle logs Parlor users in against an Oracle
// Database users table through the pure-Go go-ora driver (the seed's
// "Oracle" integration). Configuration: config/oracle.yaml and
// docs/database-auth.md.
package main

import (
	_ "github.com/sijms/go-ora/v2" // registers the "oracle" driver

	"github.com/parlorchat/parlor/plugins/internal/dbauth"
)

func main() { dbauth.Main("oracle", dbauth.Oracle) }
