package wire

import "sync"

// Task is a connection with something to write.
type Task interface {
	// Run writes what the connection has without waiting for its client
	// and reports whether it should run again (more came meanwhile). A
	// connection whose client does not take a write at once goes on on a
	// goroutine of its own, so that Run never blocks the other tasks.
	Run() (again bool)
}

// maxTake is how many tasks a writer takes from the list at once.
const maxTake = 4

// Writers runs the tasks of connections that have something to write on
// a few goroutines shared by all of them: at most max at a time, started
// when tasks arrive and ending when there are none. A delivery to many
// connections therefore starts no goroutine per connection, an idle
// connection holds none, and the writes of a fan-out spread over the
// processors while frames that pile up for a connection in the meantime
// leave together.
type Writers struct {
	max int

	mu      sync.Mutex
	ready   []Task // waiting tasks, from head on
	head    int
	running int
}

// NewWriters makes a pool of at most n goroutines (at least one).
func NewWriters(n int) *Writers {
	return &Writers{max: max(n, 1)}
}

// Add queues t to run soon. The caller makes sure that a connection is
// added again only after its Run returned false.
func (w *Writers) Add(t Task) {
	w.mu.Lock()
	w.ready = append(w.ready, t)
	// Another goroutine only while more than one task waits: a single
	// frame needs one.
	start := w.running == 0 || w.running < w.max && len(w.ready)-w.head > 1
	if start {
		w.running++
	}
	w.mu.Unlock()
	if start {
		go w.run()
	}
}

func (w *Writers) run() {
	var took [maxTake]Task
	for {
		w.mu.Lock()
		n := copy(took[:], w.ready[w.head:])
		if n == 0 {
			w.running--
			w.ready, w.head = w.ready[:0], 0
			if cap(w.ready) > 4096 {
				w.ready = nil
			}
			w.mu.Unlock()
			return
		}
		clear(w.ready[w.head : w.head+n])
		w.head += n
		if w.head > 1024 && w.head > len(w.ready)/2 {
			k := copy(w.ready, w.ready[w.head:])
			clear(w.ready[k:])
			w.ready, w.head = w.ready[:k], 0
		}
		w.mu.Unlock()
		for i, t := range took[:n] {
			took[i] = nil
			if t.Run() {
				w.mu.Lock()
				w.ready = append(w.ready, t)
				w.mu.Unlock()
			}
		}
	}
}
