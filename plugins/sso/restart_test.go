package main

import (
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/servertest"
)

func TestPluginKilledNextRequestWorks(t *testing.T) {
	cfg := ssoConfig(t, t.TempDir(), "")
	cfg.Plugins.HealthInterval = time.Hour // only the request restarts it
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)
	tok := get(t, base, "/sso/token/generate", with("username", "heidi", "email", "heidi@example.com")).ok(t, "generate").AccessToken

	st := srv.Plugins().Status()
	if len(st) != 1 || st[0].PID == 0 {
		t.Fatalf("status %+v", st)
	}
	if err := syscall.Kill(st[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The token is in the store, not in the plugin: the restarted plugin
	// accepts it.
	a := get(t, base, "/sso/token/login", url.Values{"access_token": {tok}})
	if a.header.Get("Content-Type") != "image/gif" {
		t.Fatalf("login after kill -9: %d %s", a.status, a.body)
	}
	if st := srv.Plugins().Status(); st[0].Restarts < 1 {
		t.Fatalf("after kill -9: %+v", st)
	}
}

func TestSSOIsNotAnAuthenticator(t *testing.T) {
	cfg := ssoConfig(t, t.TempDir(), "")
	cfg.Auth.Chain = []string{"sso"}
	_, err := servertest.TryStart(t, cfg)
	if err == nil {
		t.Fatal("a module-only plugin was accepted in auth.chain")
	}
	if !strings.Contains(err.Error(), "not an authenticator") {
		t.Fatalf("error %v", err)
	}
}

func TestBadConfigStopsStart(t *testing.T) {
	for name, pc := range map[string]map[string]any{
		"no key":    {},
		"short key": {"api_key": "short"},
		"bad ttl":   {"api_key": testAPIKey, "token_ttl": "soon"},
		"bad url":   {"api_key": testAPIKey, "login_url": "javascript:alert(1)"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ssoConfig(t, t.TempDir(), "")
			spec := cfg.Plugins.Load["sso"]
			spec.Config = pc
			cfg.Plugins.Load["sso"] = spec
			if _, err := servertest.TryStart(t, cfg); err == nil {
				t.Fatal("started with a bad SSO config")
			} else if !strings.Contains(err.Error(), "sso") {
				t.Fatalf("error does not name the plugin: %v", err)
			}
		})
	}
}
