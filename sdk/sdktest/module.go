package sdktest

import (
	"context"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/parlorchat/parlor/sdk"
)

// ConnectModule serves impl over an in-process gRPC connection, with host
// offered as the Host API through the go-plugin broker exactly as the
// server does, and returns the host side without calling Configure. host
// may be nil (no Host API). The connection is closed when the test ends.
func ConnectModule(t testing.TB, impl sdk.Module, host sdk.Host) *sdk.ModuleClient {
	t.Helper()
	if impl == nil {
		t.Fatal("sdktest: nil module")
	}
	set := plugin.PluginSet{sdk.ModulePluginName: &sdk.ModulePlugin{Impl: impl, Host: host}}
	client, server := plugin.TestPluginGRPCConn(t, false, set)
	t.Cleanup(func() {
		server.Stop()
		_ = client.Conn.Close()
	})
	raw, err := client.Dispense(sdk.ModulePluginName)
	if err != nil {
		t.Fatalf("sdktest: dispense %s: %v", sdk.ModulePluginName, err)
	}
	m, ok := raw.(*sdk.ModuleClient)
	if !ok {
		t.Fatalf("sdktest: dispensed %T, not an *sdk.ModuleClient", raw)
	}
	return m
}

// Module serves impl like ConnectModule and configures it with cfg (see
// Config) and host, as the server does with a plugin's `config` block. A
// Configure error fails the test.
func Module(t testing.TB, impl sdk.Module, cfg any, host sdk.Host) *sdk.ModuleClient {
	t.Helper()
	m := ConnectModule(t, impl, host)
	ctx, cancel := context.WithTimeout(context.Background(), ConfigureTimeout)
	defer cancel()
	if err := m.Configure(ctx, Config(t, cfg)); err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	return m
}
