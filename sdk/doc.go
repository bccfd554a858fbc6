// Package sdk is the only package a Parlor plugin imports. It defines the
// Authenticator interface and its result codes, the Module interface (HTTP
// routes the host forwards to a plugin) and the Host API a module calls
// back into (accounts, login sessions, a key-value store), the plugin
// configuration type, the handshake shared by host and plugins, and Serve,
// which runs a plugin binary:
//
//	func main() {
//		sdk.Serve(sdk.ServeOpts{Authenticator: &myAuth{}})
//	}
//
// Plugins talk to the host over gRPC (hashicorp/go-plugin); the wire
// protocol lives in sdk/proto. Package sdk/sdktest runs a plugin in-process
// for tests. docs/plugins.md is the plugin author's guide.
package sdk
