package dbauthtest

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/parlorchat/parlor/core/config"
)

// ExampleConfig loads config/<name>.yaml of the repository with the
// server's own configuration loader and returns the `config` block of
// plugin name, with dsn replaced when dsn is not empty.
func ExampleConfig(t testing.TB, name, dsn string) map[string]any {
	t.Helper()
	return loadPluginConfig(t, filepath.Join(repoRoot(t), "config", name+".yaml"), name, dsn)
}

// repoRoot is the repository's top directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(here), "..", "..", "..", "..")
}

// loadPluginConfig loads the server configuration file path and returns
// the `config` block of plugin name, with dsn replaced when not empty.
func loadPluginConfig(t testing.TB, path, name, dsn string) map[string]any {
	t.Helper()
	c, err := config.Load(path, nil, nil)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	spec, ok := c.Plugins.Load[name]
	if !ok {
		t.Fatalf("%s: no plugins.load.%s", path, name)
	}
	if len(c.Auth.Chain) == 0 || c.Auth.Chain[0] != name {
		t.Errorf("%s: auth.chain is %v, want [%s]", path, c.Auth.Chain, name)
	}
	// Round-trip through JSON, as the host hands the block to the plugin.
	raw, err := json.Marshal(spec.Config)
	if err != nil {
		t.Fatalf("%s: marshal config: %v", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if dsn != "" {
		m["dsn"] = dsn
	}
	return m
}
