package limit

import (
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func keyed(r Rate, c *clock, n int) *Keyed {
	return NewKeyed(r, Options{Name: "t", Refusals: NewRefusals(), MaxKeys: n, Now: c.now})
}

func TestKeyedAllowsBurstThenRefusesWithRetry(t *testing.T) {
	c := newClock()
	k := keyed(Rate{Every: time.Second, Burst: 3}, c, 0)
	for i := 0; i < 3; i++ {
		if _, ok := k.Allow("a"); !ok {
			t.Fatalf("event %d of the burst refused", i+1)
		}
	}
	retry, ok := k.Allow("a")
	if ok || retry <= 0 || retry > time.Second {
		t.Fatalf("4th event: ok=%v retry=%v, want refused with retry in (0,1s]", ok, retry)
	}
	if _, ok := k.Allow("b"); !ok {
		t.Fatal("another key was refused")
	}
	c.add(time.Second)
	if _, ok := k.Allow("a"); !ok {
		t.Fatal("refused after the retry time")
	}
	if got := k.opts.Refusals.Count("t"); got != 1 {
		t.Fatalf("refusals counted %v, want 1", got)
	}
}

func TestFailureThrottleLocksOutAndResets(t *testing.T) {
	c := newClock()
	k := keyed(Rate{Every: time.Minute, Burst: 2}, c, 0)
	for i := 0; i < 2; i++ {
		if _, ok := k.Check("acct"); !ok {
			t.Fatalf("attempt %d refused before the limit", i+1)
		}
		k.Fail("acct")
	}
	retry, ok := k.Check("acct")
	if ok || retry < 59*time.Second {
		t.Fatalf("after 2 failures: ok=%v retry=%v, want locked out for about a minute", ok, retry)
	}
	k.Reset("acct")
	if _, ok := k.Check("acct"); !ok {
		t.Fatal("still locked out after Reset")
	}
}

func TestKeyedForgetsRefilledKeysAndBoundsMemory(t *testing.T) {
	c := newClock()
	k := keyed(Rate{Every: time.Second, Burst: 1}, c, 2)
	k.Allow("a")
	k.Allow("b")
	if _, ok := k.Allow("c"); ok {
		t.Fatal("a third key was admitted while two active keys fill the table")
	}
	c.add(2 * time.Second)
	if _, ok := k.Allow("c"); !ok {
		t.Fatal("a new key was refused after the old ones refilled")
	}
	if n := k.Len(); n != 1 {
		t.Fatalf("%d keys remembered, want 1", n)
	}
}

func TestOffAllowsEverything(t *testing.T) {
	k := NewKeyed(Rate{}, Options{})
	for i := 0; i < 1000; i++ {
		if _, ok := k.Allow("x"); !ok {
			t.Fatal("an off limit refused")
		}
	}
	b := NewBucket(Rate{})
	if _, ok := b.Allow(); !ok {
		t.Fatal("an off bucket refused")
	}
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"not an address":       "not an address",
	} {
		if got := IPKey(in); got != want {
			t.Errorf("IPKey(%q) = %q, want %q", in, got, want)
		}
	}
}
