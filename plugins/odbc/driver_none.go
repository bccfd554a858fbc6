//go:build noodbc

package main

// driverBuilt reports whether the ODBC driver is compiled in: not with the
// tag noodbc, which make sets where unixODBC's headers are missing.
const driverBuilt = false
