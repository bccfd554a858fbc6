package main

import (
	"net"
	"net/http"
	"testing"
	"time"
)

func TestThrottleLocksAnAddressForAWhile(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := newThrottle(time.Minute, 3)
	th.now = func() time.Time { return now }
	for range 3 {
		if _, ok := th.check("192.0.2.1"); !ok {
			t.Fatal("refused before the failures")
		}
		th.fail("192.0.2.1")
	}
	if retry, ok := th.check("192.0.2.1"); ok || retry != time.Minute {
		t.Fatalf("after 3 failures: ok %v, retry %v", ok, retry)
	}
	if _, ok := th.check("192.0.2.2"); !ok {
		t.Fatal("another address is refused")
	}
	// IPv6 counts by /64.
	for range 3 {
		th.fail("2001:db8:0:1::1")
	}
	if _, ok := th.check("2001:db8:0:1::abcd"); ok {
		t.Fatal("a neighbour in the same /64 is not refused")
	}
	now = now.Add(time.Minute)
	if _, ok := th.check("192.0.2.1"); !ok {
		t.Fatal("still refused after the lock-out")
	}
	th.reset("192.0.2.1")
	for range 3 {
		th.fail("192.0.2.1")
	}
	if _, ok := th.check("192.0.2.1"); ok {
		t.Fatal("reset does not start over")
	}
	// Off: nothing is throttled.
	off := newThrottle(0, 3)
	for range 10 {
		off.fail("192.0.2.1")
	}
	if _, ok := off.check("192.0.2.1"); !ok {
		t.Fatal("an off throttle refuses")
	}
}

// clientFrom is an HTTP client whose connections come from the local
// address from (a loopback address such as 127.0.0.2).
func clientFrom(from string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func TestWrongAPIKeysLockTheAddress(t *testing.T) {
	cfg := ssoConfig(t, t.TempDir(), "")
	spec := cfg.Plugins.Load["sso"]
	spec.Config["apikey_failures"] = 3
	spec.Config["apikey_lockout"] = "2s"
	base, _ := startServer(t, cfg)
	attacker, site := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	wrong := with("username", "alice", "email", "alice@example.com")
	wrong.Set("apikey", "not-the-api-key-at-all")
	right := with("username", "alice", "email", "alice@example.com")

	for range 3 {
		getWith(t, attacker, base, "/sso/token/generate", wrong).refused(t, "wrong apikey", "apikey is wrong")
	}
	// The address is locked out, also for the right key, on every endpoint
	// that takes an apikey...
	getWith(t, attacker, base, "/sso/token/generate", right).refused(t, "right apikey while locked out", "Too many wrong apikeys from 127.0.0.1; try again in")
	getWith(t, attacker, base, "/sso/user/delete", with("emails", "alice@example.com")).refused(t, "delete while locked out", "too many wrong apikeys")
	// ...but not another address.
	getWith(t, site, base, "/sso/token/generate", right).ok(t, "generate from another address")

	// When the lock-out has passed, the right key works again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := getWith(t, attacker, base, "/sso/token/generate", right)
		if a.res.Success {
			break
		}
		a.refused(t, "right apikey during the lock-out", "too many wrong apikeys")
		if time.Now().After(deadline) {
			t.Fatal("the lock-out does not pass")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
