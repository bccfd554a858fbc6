package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/core/version"
	"github.com/parlorchat/parlor/internal/testenv"
)

// parlor runs the built server binary with args and the environment env
// (nothing else of the test's), in a fresh directory, and returns its
// output and exit status.
func parlor(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	dir := t.TempDir()
	env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	return testenv.Run(t, testenv.GoBuild(t, "./cmd/parlor", "parlor"), dir, env, args...)
}

func TestHelp(t *testing.T) {
	for _, flag := range []string{"--help", "-h", "-help"} {
		out, errOut, code := parlor(t, nil, flag)
		if code != 0 || errOut != "" {
			t.Errorf("%s: exit %d, stderr %q", flag, code, errOut)
		}
		for _, want := range []string{"Usage: parlor", "-config file", "-http-addr host:port", "-data-dir directory", "-log-level level", "-version", "PARLOR_HTTP__ADDR"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: help lacks %q:\n%s", flag, want, out)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	out, errOut, code := parlor(t, nil, "--version")
	if code != 0 || errOut != "" || out != "parlor "+version.Number+"\n" {
		t.Fatalf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestBadFlag(t *testing.T) {
	_, errOut, code := parlor(t, nil, "--bogus")
	if code != 2 || !strings.Contains(errOut, "-bogus") || !strings.Contains(errOut, "parlor --help") {
		t.Fatalf("--bogus: exit %d, stderr %q", code, errOut)
	}
}

// TestUnknownKeysStopStartUp: keys that are not settings, in the file and
// the environment, are all named with the setting meant, and the server
// does not start.
func TestUnknownKeysStopStartUp(t *testing.T) {
	file := filepath.Join(t.TempDir(), "my.yaml")
	if err := os.WriteFile(file, []byte("chat:\n  histroy: 10\nrooms:\n  - {id: 1, nmae: Lobby}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"PARLOR_HTTP__ADRR=127.0.0.1:0", "PARLOR_REQUIRE_SERVICES=1", "PARLOR_API_PASSWORD=x"}
	_, errOut, code := parlor(t, env, "--config", file)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		"parlor: config key chat.histroy in " + file + " is not a setting; did you mean chat.history?\n",
		"parlor: config key rooms[0].nmae in " + file + " is not a setting; did you mean rooms[0].name?\n",
		"parlor: config key http.adrr from PARLOR_HTTP__ADRR is not a setting; did you mean http.addr?\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "REQUIRE_SERVICES") || strings.Contains(errOut, "API_PASSWORD") {
		t.Errorf("a variable that is not a config key was refused:\n%s", errOut)
	}
}
