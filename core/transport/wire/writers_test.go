package wire

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countTask counts its runs and how many tasks run at once; it asks to
// run again until it has run times times.
type countTask struct {
	times   int
	runs    int
	running *atomic.Int32
	most    *atomic.Int32
	done    *sync.WaitGroup
}

func (t *countTask) Run() bool {
	n := t.running.Add(1)
	for {
		m := t.most.Load()
		if n <= m || t.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(100 * time.Microsecond) // long enough for runs to overlap
	t.running.Add(-1)
	t.runs++
	if t.runs < t.times {
		return true
	}
	t.done.Done()
	return false
}

func TestWritersRunEveryTaskOnAtMostTheirGoroutines(t *testing.T) {
	const limit, tasks = 3, 200
	w := NewWriters(limit)
	var running, most atomic.Int32
	var done sync.WaitGroup
	all := make([]*countTask, tasks)
	done.Add(tasks)
	for i := range all {
		all[i] = &countTask{times: 1 + i%3, running: &running, most: &most, done: &done}
		w.Add(all[i])
	}
	done.Wait()
	for i, task := range all {
		if task.runs != task.times {
			t.Fatalf("task %d ran %d times, want %d", i, task.runs, task.times)
		}
	}
	if m := most.Load(); m > limit {
		t.Fatalf("%d tasks ran at once, the bound is %d", m, limit)
	}
	// Once idle, the writers end: a new task starts one again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		n := w.running
		w.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writers still running with nothing to do", n)
		}
		time.Sleep(time.Millisecond)
	}
	done.Add(1)
	w.Add(&countTask{times: 1, running: &running, most: &most, done: &done})
	done.Wait()
}
