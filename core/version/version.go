// Package version holds Parlor's version: the one constant that the server
// reports to clients and that parlor --version and parlorctl --version
// print. It imports nothing, so any command can print it cheaply.
package version

// Number is the version of this build of Parlor.
const Number = "0.1.0"
