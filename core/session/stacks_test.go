package session

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStacksRunEveryRequestAndReuseWorkers(t *testing.T) {
	s := newStacks(4, time.Minute)
	var ran atomic.Int64
	for range 100 {
		s.run(func() { ran.Add(1) })
	}
	if ran.Load() != 100 {
		t.Fatalf("%d of 100 requests ran", ran.Load())
	}
	// A worker that has just finished a request may not be back at the
	// queue when the next one comes, so the next may start another; but
	// workers are reused, not one started per request.
	if n := s.started.Load(); n < 1 || n > 4 {
		t.Fatalf("100 requests one after the other started %d workers, want 1 to 4", n)
	}

	// Requests at once each get a worker; only max of them stay.
	var wg sync.WaitGroup
	release := make(chan struct{})
	var in sync.WaitGroup
	in.Add(10)
	for range 10 {
		wg.Go(func() {
			s.run(func() {
				in.Done()
				<-release
				ran.Add(1)
			})
		})
	}
	in.Wait() // ten requests running at the same time
	close(release)
	wg.Wait()
	if ran.Load() != 110 {
		t.Fatalf("%d of 110 requests ran", ran.Load())
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.workers.Load() > 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := s.workers.Load(); n > 4 {
		t.Fatalf("%d workers wait, want at most 4", n)
	}
}

func TestStacksIdleWorkersEnd(t *testing.T) {
	s := newStacks(4, 10*time.Millisecond)
	s.run(func() {})
	deadline := time.Now().Add(5 * time.Second)
	for s.workers.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := s.workers.Load(); n != 0 {
		t.Fatalf("%d workers still wait after their idle time", n)
	}
}
