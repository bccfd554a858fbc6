// Package limit holds the abuse limits of the server: token buckets for
// one connection and for many keys (users, IP addresses, accounts), failure
// throttles that lock a key out for a while after repeated failures, and
// the refusal counter that /metrics exports. It is built on
// golang.org/x/time/rate.
package limit

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/time/rate"
)

// Rate is one limit as configured: Burst events at once, then one more
// every Every. A zero Every turns the limit off.
type Rate struct {
	Every time.Duration `koanf:"every"`
	Burst int           `koanf:"burst"`
}

// Off reports whether the limit is turned off.
func (r Rate) Off() bool { return r.Every <= 0 }

// Validate reports what is wrong with r, for a config error naming its key.
func (r Rate) Validate() error {
	if r.Every < 0 {
		return fmt.Errorf("every must not be negative (0 turns the limit off)")
	}
	if !r.Off() && r.Burst < 1 {
		return fmt.Errorf("burst must be at least 1 when every is set")
	}
	return nil
}

// String is the limit in words: "10 at once, then 1 every 200ms".
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return fmt.Sprintf("%d at once, then 1 every %s", r.Burst, r.Every)
}

func (r Rate) limiter() *rate.Limiter {
	if r.Off() {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Every(r.Every), r.Burst)
}

// Forever is the retry time of a request that can never pass.
const Forever = time.Duration(math.MaxInt64)

// take takes one token from l at now, or reports how long until one is
// there without taking anything.
func take(l *rate.Limiter, now time.Time) (retry time.Duration, ok bool) {
	res := l.ReserveN(now, 1)
	if !res.OK() {
		return Forever, false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// Bucket is one token bucket, such as the messages of one connection. The
// zero Bucket is not usable; a Bucket of an Off rate allows everything.
type Bucket struct {
	l *rate.Limiter
}

// NewBucket makes a full bucket of r.
func NewBucket(r Rate) *Bucket { return &Bucket{l: r.limiter()} }

// Allow takes one token, or says how long until one is there.
func (b *Bucket) Allow() (retry time.Duration, ok bool) { return take(b.l, time.Now()) }

// Options configures a Keyed limiter.
type Options struct {
	// Name labels refusals in /metrics (parlor_rate_limited_total{limit=Name}).
	Name string
	// Refusals counts refusals; nil counts nothing.
	Refusals *Refusals
	// MaxKeys bounds the keys remembered at once; when it is reached, keys
	// whose bucket has refilled are forgotten, and if none has, the new
	// key is refused (so a flood of new keys cannot exhaust memory).
	// 0 means 100000.
	MaxKeys int
	// Now returns the current time; time.Now when nil (tests use a fake clock).
	Now func() time.Time
}

// Keyed holds one bucket per key: a user, an IP address, an account.
// Buckets that have refilled are forgotten, so memory follows the keys
// that are active. It is safe for concurrent use.
type Keyed struct {
	rate Rate
	opts Options

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// NewKeyed makes a keyed limiter of r.
func NewKeyed(r Rate, opts Options) *Keyed {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 100000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Keyed{rate: r, opts: opts, buckets: map[string]*rate.Limiter{}}
}

// Rate returns the configured limit.
func (k *Keyed) Rate() Rate { return k.rate }

// Allow takes one token of key's bucket, or says how long until one is
// there (and counts the refusal).
func (k *Keyed) Allow(key string) (retry time.Duration, ok bool) {
	if k.rate.Off() {
		return 0, true
	}
	now := k.opts.Now()
	k.mu.Lock()
	l := k.bucketLocked(key, now)
	if l == nil {
		k.mu.Unlock()
		k.opts.Refusals.Add(k.opts.Name)
		return k.rate.Every, false
	}
	retry, ok = take(l, now)
	k.mu.Unlock()
	if !ok {
		k.opts.Refusals.Add(k.opts.Name)
	}
	return retry, ok
}

// Check says whether key has a token left without taking it: a failure
// throttle checks before an attempt and takes a token (Fail) only when the
// attempt fails. A refusal is counted.
func (k *Keyed) Check(key string) (retry time.Duration, ok bool) {
	if k.rate.Off() {
		return 0, true
	}
	now := k.opts.Now()
	k.mu.Lock()
	l, found := k.buckets[key]
	if !found {
		k.mu.Unlock()
		return 0, true
	}
	tokens := l.TokensAt(now)
	k.mu.Unlock()
	if tokens >= 1 {
		return 0, true
	}
	k.opts.Refusals.Add(k.opts.Name)
	return time.Duration((1 - tokens) * float64(k.rate.Every)), false
}

// Fail takes one token of key's bucket, if there is one: a failed attempt.
func (k *Keyed) Fail(key string) {
	if k.rate.Off() {
		return
	}
	now := k.opts.Now()
	k.mu.Lock()
	if l := k.bucketLocked(key, now); l != nil {
		l.AllowN(now, 1)
	}
	k.mu.Unlock()
}

// Reset forgets key (a successful login clears its failures).
func (k *Keyed) Reset(key string) {
	k.mu.Lock()
	delete(k.buckets, key)
	k.mu.Unlock()
}

// Len is the number of keys remembered.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// bucketLocked returns key's bucket, making it if needed; nil when the
// key table is full of active keys.
func (k *Keyed) bucketLocked(key string, now time.Time) *rate.Limiter {
	if l, ok := k.buckets[key]; ok {
		return l
	}
	full := time.Duration(k.rate.Burst) * k.rate.Every
	if len(k.buckets) >= k.opts.MaxKeys || now.Sub(k.swept) > full {
		k.sweepLocked(now)
	}
	if len(k.buckets) >= k.opts.MaxKeys {
		return nil
	}
	l := k.rate.limiter()
	l.SetBurstAt(now, k.rate.Burst) // full at now, not at the zero time
	k.buckets[key] = l
	return l
}

// sweepLocked forgets the keys whose bucket has refilled: they behave
// exactly like a new key.
func (k *Keyed) sweepLocked(now time.Time) {
	k.swept = now
	for key, l := range k.buckets {
		if l.TokensAt(now) >= float64(k.rate.Burst) {
			delete(k.buckets, key)
		}
	}
}

// IPKey is the key of a remote address for per-address limits: the
// address itself for IPv4, its /64 network for IPv6 (one subscriber's
// share, so a client cannot dodge the limit by changing the low bits).
// A string that is not an address is its own key.
func IPKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// Refusals counts refused events by limit name; /metrics exports it as
// parlor_rate_limited_total{limit="..."}. A nil *Refusals counts nothing.
type Refusals struct {
	vec *prometheus.CounterVec
}

// NewRefusals makes a refusal counter.
func NewRefusals() *Refusals {
	return &Refusals{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "parlor", Name: "rate_limited_total",
		Help: "Requests refused by an abuse limit, by limit.",
	}, []string{"limit"})}
}

// Add counts one refusal of the named limit.
func (r *Refusals) Add(name string) {
	if r == nil {
		return
	}
	r.vec.WithLabelValues(name).Inc()
}

// Count returns the refusals counted for name (tests and /healthz).
func (r *Refusals) Count(name string) float64 {
	if r == nil {
		return 0
	}
	var m dto.Metric
	if err := r.vec.WithLabelValues(name).Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// Collector is what /metrics registers.
func (r *Refusals) Collector() prometheus.Collector { return r.vec }
