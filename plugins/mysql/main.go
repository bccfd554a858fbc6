// Command parlor-plugin-mysql logs Parlor users in against a MySQL or
// MariaDB users table (the seed's "MySQL" integration). Configuration:
// config/mysql.yaml and docs/database-auth.md.
package main

import (
	"fmt"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/plugins/internal/dbauth"
	"github.com/parlorchat/parlor/sdk"
)

func main() {
	log := sdk.NewLogger("mysql")
	// The driver's own messages (such as a dropped idle connection) go to
	// the plugin log instead of bare lines on stderr.
	_ = mysql.SetLogger(driverLog{log.Named("driver")})
	dbauth.Serve(log, dbauth.MySQL)
}

// driverLog adapts hclog to the driver's mysql.Logger.
type driverLog struct{ log hclog.Logger }

// Print writes one driver message at debug level.
func (d driverLog) Print(v ...any) { d.log.Debug(fmt.Sprint(v...)) }
