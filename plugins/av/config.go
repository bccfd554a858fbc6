package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// maxEventBytes is the host's limit on the data of a custom event
// (docs/plugins.md, "Custom events"); a signal is relayed as one.
const maxEventBytes = 64 << 10

// Modes of a call.
const (
	modeMesh = "mesh" // every participant connects to every other one
	modeSFU  = "sfu"  // the module receives each participant's media and forwards it
)

// rawConfig is the plugin's `config` block as parlor.yaml gives it.
type rawConfig struct {
	Mode             string   `json:"mode"`
	MaxParticipants  int      `json:"max_participants"`
	MaxSignalBytes   int      `json:"max_signal_bytes"`
	SignalsPerSecond float64  `json:"signals_per_second"`
	SignalsBurst     int      `json:"signals_burst"`
	STUN             []string `json:"stun"`
	TURN             []string `json:"turn"`
	TURNSecret       string   `json:"turn_secret"`
	TTL              string   `json:"ttl"`
	SweepInterval    string   `json:"sweep_interval"`
	UDP              string   `json:"udp"`
	PublicIP         string   `json:"public_ip"`
}

// config is the checked configuration (docs/av.md, "Configuration").
type config struct {
	// Mode is how media travels: mesh or sfu.
	Mode string
	// MaxParticipants bounds the members of one call.
	MaxParticipants int
	// MaxSignalBytes bounds one av.signal frame as the client sent it.
	MaxSignalBytes int
	// SignalsPerSecond and SignalsBurst bound the signals one participant
	// sends.
	SignalsPerSecond float64
	SignalsBurst     int
	// STUN are the STUN server URLs handed to clients.
	STUN []string
	// TURN are the TURN server URLs; each client gets credentials for
	// them made with TURNSecret (coturn's static-auth-secret), valid for
	// TTL.
	TURN       []string
	TURNSecret string
	TTL        time.Duration
	// SweepInterval is how often the module checks that the participants
	// are still in the room, unsanctioned, and that the room still has
	// audio.
	SweepInterval time.Duration
	// UDP is the address the SFU listens on (mode sfu): one port for
	// every call.
	UDP string
	// PublicIP is the address the SFU announces instead of its own (a
	// server behind 1:1 NAT); empty: its own.
	PublicIP string
}

// defaults are the values of keys parlor.yaml leaves out.
func defaults() config {
	return config{
		Mode:             modeMesh,
		MaxParticipants:  4,
		MaxSignalBytes:   32 << 10,
		SignalsPerSecond: 20,
		SignalsBurst:     60,
		TTL:              time.Hour,
		SweepInterval:    2 * time.Second,
		UDP:              ":7882",
	}
}

// Participant caps: the default and the most of each mode.
const (
	meshDefault, meshMax = 4, 16
	sfuDefault, sfuMax   = 16, 64
)

// parseConfig decodes and checks the `config` block; every error names
// the key.
func parseConfig(cfg sdk.Config) (config, error) {
	var raw rawConfig
	if err := cfg.Decode(&raw); err != nil {
		return config{}, err
	}
	c := defaults()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("av config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	setInt := func(dst *int, v int, key string, lo, hi int) {
		if v == 0 {
			return
		}
		if v < lo || v > hi {
			bad(key, "%d is outside %d..%d", v, lo, hi)
			return
		}
		*dst = v
	}
	setDuration := func(dst *time.Duration, v, key string, lo, hi time.Duration) {
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			bad(key, "%q is not a duration from %s to %s", v, lo, hi)
			return
		}
		*dst = d
	}
	maxCap := meshMax
	switch raw.Mode {
	case "", modeMesh:
	case modeSFU:
		c.Mode, c.MaxParticipants, maxCap = modeSFU, sfuDefault, sfuMax
	default:
		bad("mode", "%q is not %q or %q", raw.Mode, modeMesh, modeSFU)
	}
	setInt(&c.MaxParticipants, raw.MaxParticipants, "max_participants", 2, maxCap)
	if raw.UDP != "" {
		if _, _, err := net.SplitHostPort(raw.UDP); err != nil {
			bad("udp", "%q is not an address such as :7882 or 0.0.0.0:7882", raw.UDP)
		} else {
			c.UDP = raw.UDP
		}
	}
	if raw.PublicIP != "" {
		if _, err := netip.ParseAddr(raw.PublicIP); err != nil {
			bad("public_ip", "%q is not an IP address", raw.PublicIP)
		} else {
			c.PublicIP = raw.PublicIP
		}
	}
	setInt(&c.MaxSignalBytes, raw.MaxSignalBytes, "max_signal_bytes", 1024, maxEventBytes-2048)
	if raw.SignalsPerSecond != 0 {
		if raw.SignalsPerSecond < 0.1 || raw.SignalsPerSecond > 1000 {
			bad("signals_per_second", "%g is outside 0.1..1000", raw.SignalsPerSecond)
		} else {
			c.SignalsPerSecond = raw.SignalsPerSecond
		}
	}
	setInt(&c.SignalsBurst, raw.SignalsBurst, "signals_burst", 1, 10000)
	for _, u := range raw.STUN {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") {
			bad("stun", "%q is not a stun: or stuns: URL", u)
		}
	}
	for _, u := range raw.TURN {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			bad("turn", "%q is not a turn: or turns: URL", u)
		}
	}
	c.STUN, c.TURN, c.TURNSecret = raw.STUN, raw.TURN, raw.TURNSecret
	if len(c.TURN) > 0 && c.TURNSecret == "" {
		bad("turn_secret", "the TURN servers need the secret they share with the module (coturn's static-auth-secret)")
	}
	if len(c.TURN) == 0 && c.TURNSecret != "" {
		bad("turn", "turn_secret is set but no TURN server URL is")
	}
	setDuration(&c.TTL, raw.TTL, "ttl", time.Minute, 48*time.Hour)
	setDuration(&c.SweepInterval, raw.SweepInterval, "sweep_interval", 100*time.Millisecond, time.Minute)
	return c, errors.Join(errs...)
}
