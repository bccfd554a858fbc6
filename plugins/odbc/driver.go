//go:build !noodbc

package main

import _ "github.com/alexbrainman/odbc" // registers the "odbc" driver

// driverBuilt reports whether the ODBC driver is compiled in.
const driverBuilt = true
