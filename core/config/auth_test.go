package config

import (
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/limit"
)

func TestPasswordLimitDefaults(t *testing.T) {
	c := Default()
	a := c.Auth
	if a.MaxPasswordChecks != 0 || a.PasswordCheckWait != 2*time.Second {
		t.Fatalf("auth password checks: %d, %v", a.MaxPasswordChecks, a.PasswordCheckWait)
	}
	if a.Limits.FailedLoginsPerAccount != (limit.Rate{Every: 30 * time.Second, Burst: 10}) ||
		a.Limits.FailedLoginsPerAddr != (limit.Rate{Every: time.Minute, Burst: 20}) {
		t.Fatalf("auth.limits %+v", a.Limits)
	}
	s := c.ServerAPI
	if s.MaxConnsPerAddr != 8 || s.FailedPasswordsPerAddr != (limit.Rate{Every: time.Minute, Burst: 10}) {
		t.Fatalf("server_api limits: %d, %+v", s.MaxConnsPerAddr, s.FailedPasswordsPerAddr)
	}
}

func TestPasswordLimitsFromEnvAndValidation(t *testing.T) {
	c, err := Load("", []string{
		"PARLOR_AUTH__LIMITS__FAILED_LOGINS_PER_ADDR__BURST=5",
		"PARLOR_AUTH__LIMITS__FAILED_LOGINS_PER_ACCOUNT__EVERY=0s",
		"PARLOR_AUTH__MAX_PASSWORD_CHECKS=3",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.Limits.FailedLoginsPerAddr.Burst != 5 || !c.Auth.Limits.FailedLoginsPerAccount.Off() || c.Auth.MaxPasswordChecks != 3 {
		t.Fatalf("environment not applied: %+v", c.Auth)
	}

	p := writeFile(t, `
auth:
  max_password_checks: -1
  password_check_wait: 0s
  limits:
    failed_logins_per_account: {every: -1s, burst: 3}
    failed_logins_per_addr: {every: 1m, burst: 0}
server_api:
  max_conns_per_addr: 0
  failed_passwords_per_addr: {every: 1m, burst: 0}
`)
	_, err = Load(p, nil, nil)
	if err == nil {
		t.Fatal("bad limits accepted")
	}
	for _, want := range []string{
		"config key auth.max_password_checks:",
		"config key auth.password_check_wait:",
		"config key auth.limits.failed_logins_per_account: every must not be negative",
		"config key auth.limits.failed_logins_per_addr: burst must be at least 1",
		"config key server_api.max_conns_per_addr:",
		"config key server_api.failed_passwords_per_addr: burst must be at least 1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
