package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/internal/servertest"
)

// metricsBody returns the text of /metrics.
func metricsBody(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func TestPasswordGuessingIsThrottled(t *testing.T) {
	cfg := usersPluginConfig(t)
	cfg.Auth.Limits.FailedLoginsPerAddr = limit.Rate{Every: time.Hour, Burst: 3}
	srv := servertest.Start(t, cfg)

	c := servertest.Dial(t, srv)
	for range 3 {
		c.Send(map[string]string{"type": "login", "user": "alice", "password": "guess"})
		c.WantError("wrong_password")
	}
	// The fourth attempt is refused, with the right password too, and the
	// client is told when to try again.
	c.Send(map[string]string{"type": "login", "user": "alice", "password": "alice-pw"})
	ev := c.Want("error")
	if ev["code"] != "rate_limited" || !strings.Contains(ev["message"].(string), "failed logins") {
		t.Fatalf("fourth login: %v", ev)
	}
	if ms, _ := ev["retry_after_ms"].(float64); ms <= 0 {
		t.Fatalf("refusal without retry_after_ms: %v", ev)
	}
	// Guests still get in from the same address.
	servertest.Dial(t, srv).Login("visitor", "")

	if m := metricsBody(t, servertest.URL(srv)); !strings.Contains(m, `parlor_rate_limited_total{limit="failed_logins_per_addr"} 1`+"\n") {
		t.Fatalf("/metrics does not count the refusal:\n%s", m)
	}
}
