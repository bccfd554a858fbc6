package dbauthtest

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

// LogBuffer is testenv's buffer, named here for the callers of Binary.
type LogBuffer = testenv.LogBuffer

// Binary builds the plugin command pkg (an import path such as
// github.com/parlorchat/parlor/plugins/mysql) as parlor-plugin-<name> and
// launches it the way the host does: go-plugin, the SDK's handshake, gRPC.
// It returns the host side of the authenticator and the buffer receiving
// the plugin's log. The process is killed when the test ends.
func Binary(t testing.TB, pkg, name string) (sdk.Authenticator, *LogBuffer) {
	t.Helper()
	gobin := testenv.Binary(t, "go")
	bin := filepath.Join(t.TempDir(), "parlor-plugin-"+name)
	start := time.Now()
	if out, err := exec.Command(gobin, "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	t.Logf("built %s in %v", filepath.Base(bin), time.Since(start).Round(time.Millisecond))
	logs := &LogBuffer{}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		Plugins:          sdk.PluginSet(sdk.ServeOpts{}),
		Cmd:              exec.Command(bin),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  sdk.GRPCDialOptions(),
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:   name,
			Output: logs,
			Level:  hclog.Trace,
		}),
		StartTimeout: 20 * time.Second,
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start %s: %v\n%s", bin, err, logs.String())
	}
	raw, err := rpc.Dispense(sdk.AuthenticatorPluginName)
	if err != nil {
		t.Fatalf("dispense %s: %v", sdk.AuthenticatorPluginName, err)
	}
	a, ok := raw.(sdk.Authenticator)
	if !ok {
		t.Fatalf("dispensed %T, not an sdk.Authenticator", raw)
	}
	return a, logs
}
