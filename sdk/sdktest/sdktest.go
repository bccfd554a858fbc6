// Package sdktest runs a plugin's implementation in-process behind a real
// gRPC connection, the same code path the host uses, so plugin authors can
// test their plugin with `go test` and without building a binary.
// Cluster runs a module on several in-process nodes, with their events
// and leases.
package sdktest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/parlorchat/parlor/sdk"
)

// ConfigureTimeout bounds the Configure call Authenticator makes.
const ConfigureTimeout = 10 * time.Second

// Connect serves impl over an in-process gRPC connection and returns the
// host side of it, without calling Configure. The connection is closed when
// the test ends.
func Connect(t testing.TB, impl sdk.Authenticator) sdk.Authenticator {
	t.Helper()
	if impl == nil {
		t.Fatal("sdktest: nil authenticator")
	}
	client, server := plugin.TestPluginGRPCConn(t, false, sdk.PluginSet(sdk.ServeOpts{Authenticator: impl}))
	t.Cleanup(func() {
		// Stop the server directly rather than through client.Close, whose
		// shutdown request would stop it from a second goroutine.
		server.Stop()
		_ = client.Conn.Close()
	})
	raw, err := client.Dispense(sdk.AuthenticatorPluginName)
	if err != nil {
		t.Fatalf("sdktest: dispense %s: %v", sdk.AuthenticatorPluginName, err)
	}
	a, ok := raw.(sdk.Authenticator)
	if !ok {
		t.Fatalf("sdktest: dispensed %T, not an sdk.Authenticator", raw)
	}
	return a
}

// Authenticator serves impl like Connect and configures it with cfg, as the
// host does with a plugin's `config` block. cfg is marshalled to JSON; a
// []byte, json.RawMessage or string is taken as JSON already, and nil
// sends an empty configuration. A Configure error fails the test.
func Authenticator(t testing.TB, impl sdk.Authenticator, cfg any) sdk.Authenticator {
	t.Helper()
	a := Connect(t, impl)
	ctx, cancel := context.WithTimeout(context.Background(), ConfigureTimeout)
	defer cancel()
	if err := a.Configure(ctx, Config(t, cfg)); err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	return a
}

// Config turns cfg into an sdk.Config the way Authenticator does.
func Config(t testing.TB, cfg any) sdk.Config {
	t.Helper()
	switch v := cfg.(type) {
	case nil:
		return sdk.Config{}
	case []byte:
		return sdk.Config{Raw: v}
	case json.RawMessage:
		return sdk.Config{Raw: v}
	case string:
		return sdk.Config{Raw: []byte(v)}
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("sdktest: marshal config: %v", err)
	}
	return sdk.Config{Raw: raw}
}
