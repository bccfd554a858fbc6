package main

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the apikey throttle.
const (
	// DefaultAPIKeyFailures is how many wrong apikeys an address may send
	// before it is locked out.
	DefaultAPIKeyFailures = 10
	// DefaultAPIKeyLockout is how long a locked-out address waits for each
	// further try.
	DefaultAPIKeyLockout = time.Minute
	// maxThrottled bounds the addresses remembered at once.
	maxThrottled = 100000
)

// throttle counts wrong apikeys by client address: an address that has
// sent burst of them gets one more try every every. An address whose
// bucket has refilled is forgotten. A zero every throttles nothing. It is
// safe for concurrent use.
type throttle struct {
	every time.Duration
	burst int
	now   func() time.Time

	mu    sync.Mutex
	addrs map[string]*rate.Limiter
	swept time.Time
}

func newThrottle(every time.Duration, burst int) *throttle {
	return &throttle{every: every, burst: burst, now: time.Now, addrs: map[string]*rate.Limiter{}}
}

// addrKey is the key of a client address: the address for IPv4, its /64
// network for IPv6 (so that changing the low bits does not help).
func addrKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// check says whether ip may try an apikey now, or how long it must wait.
func (t *throttle) check(ip string) (retry time.Duration, ok bool) {
	if t.every <= 0 {
		return 0, true
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	l, found := t.addrs[addrKey(ip)]
	if !found {
		return 0, true
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return 0, true
	}
	return time.Duration((1 - tokens) * float64(t.every)), false
}

// fail counts a wrong apikey from ip.
func (t *throttle) fail(ip string) {
	if t.every <= 0 {
		return
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	key := addrKey(ip)
	l, found := t.addrs[key]
	if !found {
		if len(t.addrs) >= maxThrottled || now.Sub(t.swept) > time.Duration(t.burst)*t.every {
			t.sweepLocked(now)
		}
		if len(t.addrs) >= maxThrottled {
			return
		}
		l = rate.NewLimiter(rate.Every(t.every), t.burst)
		l.SetBurstAt(now, t.burst) // full at now
		t.addrs[key] = l
	}
	l.AllowN(now, 1)
}

// reset forgets ip's failures (it sent the right apikey).
func (t *throttle) reset(ip string) {
	t.mu.Lock()
	delete(t.addrs, addrKey(ip))
	t.mu.Unlock()
}

// sweepLocked forgets the addresses whose bucket has refilled.
func (t *throttle) sweepLocked(now time.Time) {
	t.swept = now
	for key, l := range t.addrs {
		if l.TokensAt(now) >= float64(t.burst) {
			delete(t.addrs, key)
		}
	}
}
