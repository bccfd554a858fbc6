package sdk_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/sdk"
)

func TestHandshake(t *testing.T) {
	h := sdk.Handshake()
	if h.ProtocolVersion != sdk.ProtocolVersion || h.MagicCookieKey != "PARLOR_PLUGIN" || h.MagicCookieValue == "" {
		t.Fatalf("unexpected handshake %+v", h)
	}
	if _, ok := sdk.PluginSet(sdk.ServeOpts{})[sdk.AuthenticatorPluginName]; !ok {
		t.Fatalf("plugin set lacks %q", sdk.AuthenticatorPluginName)
	}
}

// TestNoCoreImports keeps the SDK free of the server's internals: plugin
// authors import sdk and must not pull in core/ or internal/.
func TestNoCoreImports(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go tool not found: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/parlorchat/parlor/") && !strings.HasPrefix(pkg, "github.com/parlorchat/parlor/sdk") {
			t.Errorf("sdk depends on %s", pkg)
		}
	}
}
