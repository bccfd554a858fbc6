// Package sdk is the only package a Parlor plugin imports. It defines the
// Authenticator interface and its result codes; the Module a plugin serves
// to add a feature to rooms, with its optional hooks (LoginHook, JoinHook,
// MessageHook, Notifier, Stopper, ClusterListener), client commands (Commander) and
// declarations (Manifester: command prefixes, an http.Handler and its
// prefix, web client assets, FailClosed, the notification kinds it
// wants); the Host API a module calls back into, with its Cluster (events
// to the module's processes on other nodes, and leases, which Leases
// keeps); the plugin
// configuration type with its strict Decode; the handshake shared by host
// and plugins; and Serve, which runs a plugin binary:
//
//	func main() {
//		sdk.Serve(sdk.ServeOpts{Authenticator: &myAuth{}})
//	}
//
// Plugins talk to the host over gRPC (hashicorp/go-plugin); the wire
// protocol lives in sdk/proto. Package sdk/sdktest runs a plugin in-process
// for tests. docs/plugins.md is the plugin author's guide.
package sdk
