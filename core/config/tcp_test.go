package config

import (
	"strings"
	"testing"
)

func TestTCPIsOffByDefault(t *testing.T) {
	c := Default()
	if c.TCP.Addr != "" {
		t.Fatalf("tcp.addr defaults to %q; the TCP transport must be off unless configured", c.TCP.Addr)
	}
	if c.TCP.TLSCert != "" || c.TCP.TLSKey != "" {
		t.Fatal("TLS files are set by default")
	}
}

func TestTCPKeys(t *testing.T) {
	c, err := Load("", []string{"PARLOR_TCP__ADDR=127.0.0.1:8090", "PARLOR_TCP__IDLE_TIMEOUT=5m"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.TCP.Addr != "127.0.0.1:8090" || c.TCP.IdleTimeout.Minutes() != 5 {
		t.Fatalf("tcp = %+v", c.TCP)
	}
	for _, tc := range []struct {
		set  map[string]any
		want string
	}{
		{map[string]any{"tcp.addr": "8090"}, "tcp.addr"},
		{map[string]any{"tcp.tls_cert": "cert.pem"}, "tcp.tls_cert"},
		{map[string]any{"tcp.keep_alive": "0s"}, "tcp.keep_alive"},
		{map[string]any{"tcp.idle_timeout": "-1s"}, "tcp.idle_timeout"},
	} {
		if _, err := Load("", nil, tc.set); err == nil || !strings.Contains(err.Error(), "config key "+tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.set, err, tc.want)
		}
	}
}
