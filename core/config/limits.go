package config

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/parlorchat/parlor/core/limit"
)

// Limits are the abuse limits of client connections (docs/operations.md,
// "Client connections and messages"). A rate whose every is 0 and a cap
// of 0 turn that limit off.
type Limits struct {
	// Say bounds the messages (public and private) of one connection.
	Say limit.Rate `koanf:"say"`
	// SayUser bounds the messages of one user name, across reconnects.
	SayUser limit.Rate `koanf:"say_user"`
	// Join bounds the joins and leaves of one connection.
	Join limit.Rate `koanf:"join"`
	// PM bounds the private messages from one user to one recipient.
	PM limit.Rate `koanf:"pm"`
	// PMRecipient bounds the private messages one user receives from
	// everyone together.
	PMRecipient limit.Rate `koanf:"pm_recipient"`
	// RoomPassword is the failure throttle of wrong room passwords on one
	// connection.
	RoomPassword limit.Rate `koanf:"room_password"`
	// ConnsPerIP caps the open connections of one address (an IPv6 /64).
	ConnsPerIP int `koanf:"conns_per_ip"`
	// UnauthenticatedPerIP caps the connections of one address that have
	// not logged in yet.
	UnauthenticatedPerIP int `koanf:"unauthenticated_per_ip"`
}

// Admin configures the admin listener of /metrics and /healthz.
type Admin struct {
	// Addr is the admin listener; empty serves /metrics and /healthz on
	// http.addr.
	Addr string `koanf:"addr"`
	// AllowPublic lets Addr be an address that is not loopback.
	AllowPublic bool `koanf:"allow_public"`
}

// ListenAddr is the address the admin listener binds: Addr, where a bare
// port (":9090") means the loopback address unless AllowPublic is set.
func (a Admin) ListenAddr() string {
	host, port, err := net.SplitHostPort(a.Addr)
	if err != nil || host != "" || a.AllowPublic {
		return a.Addr
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// validateLimits checks the limits section, the HTTP hardening keys and
// the admin section, reporting each bad value through bad.
func (c *Config) validateLimits(bad func(key, format string, a ...any)) {
	l := c.Limits
	rates := []struct {
		key string
		r   limit.Rate
	}{
		{"limits.say", l.Say}, {"limits.say_user", l.SayUser}, {"limits.join", l.Join},
		{"limits.pm", l.PM}, {"limits.pm_recipient", l.PMRecipient}, {"limits.room_password", l.RoomPassword},
	}
	for _, r := range rates {
		if err := r.r.Validate(); err != nil {
			bad(r.key, "%v", err)
		}
	}
	if l.ConnsPerIP < 0 {
		bad("limits.conns_per_ip", "must not be negative (0 turns the cap off)")
	}
	if l.UnauthenticatedPerIP < 0 {
		bad("limits.unauthenticated_per_ip", "must not be negative (0 turns the cap off)")
	}

	h := c.HTTP
	if h.SendQueueBytes < 4096 {
		bad("http.send_queue_bytes", "%d is below the minimum of 4096", h.SendQueueBytes)
	}
	for key, d := range map[string]time.Duration{
		"http.idle_timeout":        h.IdleTimeout,
		"http.read_header_timeout": h.ReadHeaderTimeout,
		"http.read_timeout":        h.ReadTimeout,
		"http.response_timeout":    h.ResponseTimeout,
	} {
		if d <= 0 {
			bad(key, "must be a positive duration such as 30s")
		}
	}
	if h.MaxHeaderBytes < 1024 {
		bad("http.max_header_bytes", "%d is below the minimum of 1024", h.MaxHeaderBytes)
	}
	for i, name := range h.PublicNames {
		if err := checkPublicName(name); err != nil {
			bad(fmt.Sprintf("http.public_names[%d]", i), "%v", err)
		}
	}

	a := c.Admin
	if a.Addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(a.ListenAddr())
	if err != nil {
		bad("admin.addr", "%q is not host:port (%v); leave it empty to serve /metrics and /healthz on http.addr", a.Addr, err)
		return
	}
	if !a.AllowPublic && !isLoopback(host) {
		bad("admin.addr", "%q is not a loopback address such as 127.0.0.1:9090; /metrics and /healthz are for the operator (set admin.allow_public: true to serve them on it anyway)", a.Addr)
	}
}

// isLoopback reports whether host is "localhost" or a loopback IP.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkPublicName reports whether name is a host name, with or without a
// port, as a browser sends it in the Host header.
func checkPublicName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("must not be empty")
	}
	if strings.ContainsAny(name, "/ \t@?#") {
		return fmt.Errorf("%q is not a host name such as chat.example.com or chat.example.com:8443 (no scheme, no path)", name)
	}
	host := name
	if h, _, err := net.SplitHostPort(name); err == nil {
		host = h
	}
	if host == "" {
		return fmt.Errorf("%q has no host name", name)
	}
	return nil
}
