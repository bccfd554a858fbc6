package chat

import (
	"testing"
	"time"
)

func TestRateLimitedSaysWhenToRetry(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "Too many messages; try again in 0.1 seconds.",
		250 * time.Millisecond:   "Too many messages; try again in 0.3 seconds.",
		time.Second:              "Too many messages; try again in 1 second.",
		59 * time.Second:         "Too many messages; try again in 59 seconds.",
		59900 * time.Millisecond: "Too many messages; try again in 1 minute.",
		3 * time.Minute:          "Too many messages; try again in 3 minutes.",
		5 * time.Hour:            "Too many messages; try again in 5 hours.",
	} {
		e := RateLimited("Too many messages", d)
		if e.Message != want || e.Code != CodeRateLimited {
			t.Errorf("RateLimited(%v) = %q (%s), want %q", d, e.Message, e.Code, want)
		}
		if ev := ErrorEventOf("x", e); ev.RetryAfterMS != max(d, 100*time.Millisecond).Milliseconds() {
			t.Errorf("RateLimited(%v): retry_after_ms %d", d, ev.RetryAfterMS)
		}
	}
}
