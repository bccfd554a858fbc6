package config

import (
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/limit"
)

func TestLimitDefaults(t *testing.T) {
	c := Default()
	if c.Limits.Say != (limit.Rate{Every: 250 * time.Millisecond, Burst: 10}) || c.Limits.ConnsPerIP != 256 {
		t.Fatalf("limits = %+v", c.Limits)
	}
	if c.HTTP.SendQueueBytes != 1<<20 || c.HTTP.IdleTimeout != time.Minute || c.Admin.Addr != "" {
		t.Fatalf("http %+v admin %+v", c.HTTP, c.Admin)
	}
}

func TestAdminAddrMustBeLoopback(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:9090", "[::1]:9090", "localhost:9090", ":9090"} {
		if _, err := Load(writeFile(t, "admin:\n  addr: \""+addr+"\"\n"), nil, nil); err != nil {
			t.Errorf("admin.addr %s refused: %v", addr, err)
		}
	}
	// A bare port is the loopback address, unless allow_public says otherwise.
	if got := (Admin{Addr: ":9090"}).ListenAddr(); got != "127.0.0.1:9090" {
		t.Errorf("admin.addr :9090 listens on %s, want 127.0.0.1:9090", got)
	}
	if got := (Admin{Addr: ":9090", AllowPublic: true}).ListenAddr(); got != ":9090" {
		t.Errorf("admin.addr :9090 with allow_public listens on %s, want :9090", got)
	}
	for _, addr := range []string{"0.0.0.0:9090", "192.0.2.7:9090"} {
		_, err := Load(writeFile(t, "admin:\n  addr: \""+addr+"\"\n"), nil, nil)
		if err == nil || !strings.Contains(err.Error(), "admin.addr") || !strings.Contains(err.Error(), "admin.allow_public") {
			t.Errorf("admin.addr %s: err = %v, want a refusal naming admin.addr and admin.allow_public", addr, err)
		}
		if _, err := Load(writeFile(t, "admin:\n  addr: \""+addr+"\"\n  allow_public: true\n"), nil, nil); err != nil {
			t.Errorf("admin.addr %s with allow_public: %v", addr, err)
		}
	}
}

func TestBadLimitNamesTheKey(t *testing.T) {
	cases := []struct{ body, key string }{
		{"limits:\n  say: {every: 1s, burst: 0}\n", "limits.say"},
		{"limits:\n  pm_recipient: {every: -1s, burst: 3}\n", "limits.pm_recipient"},
		{"limits:\n  conns_per_ip: -1\n", "limits.conns_per_ip"},
		{"http:\n  send_queue_bytes: 10\n", "http.send_queue_bytes"},
		{"http:\n  idle_timeout: 0s\n", "http.idle_timeout"},
		{"http:\n  public_names: [\"https://chat.example.com/\"]\n", "http.public_names[0]"},
	}
	for _, tc := range cases {
		_, err := Load(writeFile(t, tc.body), nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: err = %v, want one naming %s", tc.body, err, tc.key)
		}
	}
	c, err := Load("", []string{"PARLOR_HTTP__PUBLIC_NAMES=chat.example.com, chat.example.org:8443", "PARLOR_LIMITS__SAY__EVERY=0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.HTTP.PublicNames, ",") != "chat.example.com,chat.example.org:8443" || !c.Limits.Say.Off() {
		t.Fatalf("from the environment: public_names %v, say %v", c.HTTP.PublicNames, c.Limits.Say)
	}
}
