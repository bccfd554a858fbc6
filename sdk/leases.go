package sdk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Leases keeps a module's leases (Cluster.Lease): Hold says whether this
// node holds one now, taking it when it is free, and from then on the
// lease is renewed in the background, every third of its TTL, until
// Release, Close or its loss. A lease is lost when a renewal finds
// another holder, or when renewals fail until its TTL has passed since
// the last one that worked (from then on another node may hold it); the
// onLost function given to NewLeases is then called with its name, so
// that the module stops doing what only the holder may do.
//
// Hold answers from memory while the lease is this node's and valid, and
// remembers for a third of the TTL that another node holds it, so asking
// before every write costs no call. On a single server (TTL 0) the first
// Hold of a name is its only call. Leases is safe for concurrent use.
type Leases struct {
	cluster Cluster
	onLost  func(name string)

	mu     sync.Mutex
	held   map[string]*heldLease
	others map[string]otherLease
	closed bool
}

// heldLease is a lease this node holds.
type heldLease struct {
	lease Lease
	valid time.Time // when it may be another node's without a renewal; zero: never
	timer *time.Timer
}

// otherLease is a lease another node holds, as last heard.
type otherLease struct {
	lease Lease
	until time.Time // when to ask again
}

// errLeasesClosed is Hold's error after Close.
var errLeasesClosed = errors.New("leases closed")

// NewLeases keeps leases of c; onLost (may be nil) is called, never with
// a lock of Leases held, when a lease this node held is lost.
func NewLeases(c Cluster, onLost func(name string)) *Leases {
	return &Leases{cluster: c, onLost: onLost, held: map[string]*heldLease{}, others: map[string]otherLease{}}
}

// Hold says who holds the lease called name now, taking it for this node
// when it is free. Once this node holds it, it is renewed until Release
// or Close.
func (l *Leases) Hold(ctx context.Context, name string) (Lease, error) {
	now := time.Now()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return Lease{}, fmt.Errorf("lease %q: %w", name, errLeasesClosed)
	}
	if h := l.held[name]; h != nil && (h.valid.IsZero() || now.Before(h.valid)) {
		lease := h.lease
		l.mu.Unlock()
		return lease, nil
	}
	if o, ok := l.others[name]; ok && now.Before(o.until) {
		l.mu.Unlock()
		return o.lease, nil
	}
	l.mu.Unlock()
	sent := time.Now()
	lease, err := l.cluster.Lease(ctx, name)
	if err != nil {
		return Lease{}, err
	}
	if l.record(name, nil, lease, sent) {
		l.lost(name)
	}
	return lease, nil
}

// Forget drops what Leases remembers of another node holding name, so
// that the next Hold asks (such as when that node stopped answering).
func (l *Leases) Forget(name string) {
	l.mu.Lock()
	delete(l.others, name)
	l.mu.Unlock()
}

// Release stops renewing the lease called name and gives it up, when
// this node holds it.
func (l *Leases) Release(ctx context.Context, name string) error {
	l.mu.Lock()
	h := l.held[name]
	if h != nil {
		if h.timer != nil {
			h.timer.Stop()
		}
		delete(l.held, name)
	}
	l.mu.Unlock()
	if h == nil {
		return nil
	}
	return l.cluster.Release(ctx, name)
}

// Close stops every renewal and gives up the leases this node holds; Hold
// fails from then on. onLost is not called for them.
func (l *Leases) Close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	names := make([]string, 0, len(l.held))
	for name, h := range l.held {
		if h.timer != nil {
			h.timer.Stop()
		}
		names = append(names, name)
	}
	l.held = map[string]*heldLease{}
	l.mu.Unlock()
	var errs []error
	for _, name := range names {
		if err := l.cluster.Release(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// record notes an answer to a Lease call sent at sent; for a renewal,
// renewing is the held lease it renews (an answer for a lease released
// meanwhile is dropped). It reports whether a lease this node held is
// lost.
func (l *Leases) record(name string, renewing *heldLease, lease Lease, sent time.Time) (lost bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.held[name]
	if renewing != nil && h != renewing {
		return false
	}
	if !lease.Mine || l.closed {
		if h != nil {
			if h.timer != nil {
				h.timer.Stop()
			}
			delete(l.held, name)
			lost = true
		}
		if lease.TTL > 0 {
			l.others[name] = otherLease{lease: lease, until: sent.Add(lease.TTL / 3)}
		}
		return lost
	}
	delete(l.others, name)
	if h == nil {
		h = &heldLease{}
		l.held[name] = h
	}
	h.lease = lease
	if lease.TTL <= 0 {
		h.valid = time.Time{}
		if h.timer != nil {
			h.timer.Stop()
			h.timer = nil
		}
		return false
	}
	h.valid = sent.Add(lease.TTL)
	l.schedule(name, h, lease.TTL/3)
	return false
}

// schedule renews h after d; l.mu is held.
func (l *Leases) schedule(name string, h *heldLease, d time.Duration) {
	if h.timer != nil {
		h.timer.Stop()
	}
	h.timer = time.AfterFunc(d, func() { l.renew(name, h) })
}

// renew renews a held lease; a failed renewal is tried again soon while
// the lease is still valid, and loses it after.
func (l *Leases) renew(name string, h *heldLease) {
	l.mu.Lock()
	if l.held[name] != h {
		l.mu.Unlock()
		return
	}
	valid, ttl := h.valid, h.lease.TTL
	l.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), valid)
	defer cancel()
	sent := time.Now()
	lease, err := l.cluster.Lease(ctx, name)
	if err == nil {
		if l.record(name, h, lease, sent) {
			l.lost(name)
		}
		return
	}
	l.mu.Lock()
	if l.held[name] != h {
		l.mu.Unlock()
		return
	}
	left := time.Until(valid)
	if left <= 0 {
		delete(l.held, name)
		l.mu.Unlock()
		l.lost(name)
		return
	}
	l.schedule(name, h, min(max(ttl/10, time.Millisecond), left))
	l.mu.Unlock()
}

func (l *Leases) lost(name string) {
	if l.onLost != nil {
		l.onLost(name)
	}
}
