package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/internal/servertest"
)

// httpGet returns the status and body of a GET of url.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// TestProfilesOnAdminListener checks that the Go runtime's profiles are
// served on the admin listener and not on the public one.
func TestProfilesOnAdminListener(t *testing.T) {
	cfg := testConfig(t)
	cfg.Admin.Addr = "127.0.0.1:0"
	srv := servertest.Start(t, cfg)
	admin := "http://" + srv.AdminAddr()
	if code, body := httpGet(t, admin+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("admin /debug/pprof/: %d %.200s", code, body)
	}
	if code, body := httpGet(t, admin+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("admin goroutine profile: %d %.200s", code, body)
	}
	if code, body := httpGet(t, admin+"/debug/pprof/profile?seconds=1"); code != http.StatusOK || len(body) == 0 {
		t.Fatalf("admin CPU profile: %d, %d bytes", code, len(body))
	}
	// What the admin listener served before is still there.
	if code, _ := httpGet(t, admin+"/metrics"); code != http.StatusOK {
		t.Fatalf("admin /metrics: %d", code)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		if code, _ := httpGet(t, servertest.URL(srv)+path); code != http.StatusNotFound {
			t.Errorf("%s on http.addr: %d, want 404", path, code)
		}
	}
}

// TestNoProfilesWithoutAdminListener checks that without admin.addr no
// listener serves the profiles.
func TestNoProfilesWithoutAdminListener(t *testing.T) {
	srv := servertest.Start(t, testConfig(t))
	if code, _ := httpGet(t, servertest.URL(srv)+"/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("/debug/pprof/ on http.addr without admin.addr: %d, want 404", code)
	}
}
