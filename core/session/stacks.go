package session

import (
	"sync/atomic"
	"time"
)

// stacks runs requests on a few long-lived goroutines whose stacks have
// grown already. A request goes deep (JSON decoding, a login through
// SQLite or a plugin over gRPC); on a fresh goroutine its stack would grow
// from the smallest size, copied at each doubling, on every request. Kept
// off the connection's reader, whose stack stays small while it waits,
// the growth happens once per worker instead.
type stacks struct {
	work    chan func() // a free worker takes a request from here
	workers atomic.Int32
	max     int32         // workers kept waiting at most; the others end after their request
	idle    time.Duration // a waiting worker ends after this long without a request
	started atomic.Int64  // workers started so far (for tests)
}

func newStacks(max int, idle time.Duration) *stacks {
	return &stacks{work: make(chan func()), max: int32(max), idle: idle}
}

// run runs f on a worker and waits for it.
func (s *stacks) run(f func()) {
	done := make(chan struct{})
	job := func() {
		defer close(done)
		f()
	}
	select {
	case s.work <- job: // a free worker took it
	default:
		s.started.Add(1)
		s.workers.Add(1)
		go s.worker(job)
	}
	<-done
}

func (s *stacks) worker(job func()) {
	defer s.workers.Add(-1)
	job()
	if s.workers.Load() > s.max {
		return
	}
	t := time.NewTimer(s.idle)
	defer t.Stop()
	for {
		select {
		case job := <-s.work:
			job()
			t.Reset(s.idle)
		case <-t.C:
			return
		}
	}
}
