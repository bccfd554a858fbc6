package session

import "sync"

// order finishes a client's messages in the order they were said while
// their message hooks run at the same time: a module that takes a few
// milliseconds to answer bounds each client by the number of messages in
// flight over that time, not by one. Starting waits while max messages
// are in flight, which holds up the client's next request (the
// connection's own backpressure).
type order struct {
	slots chan struct{} // one per message in flight
	mu    sync.Mutex
	idle  sync.Cond         // signalled when nothing is in flight
	next  uint64            // the next message to finish
	last  uint64            // the next number to hand out
	ready map[uint64]func() // finished hooks waiting for earlier messages
}

func newOrder(n int) *order {
	o := &order{slots: make(chan struct{}, max(n, 1)), ready: map[uint64]func(){}}
	o.idle.L = &o.mu
	return o
}

// start numbers the next message; only the client's reader calls it.
func (o *order) start() uint64 {
	o.slots <- struct{}{}
	o.mu.Lock()
	defer o.mu.Unlock()
	seq := o.last
	o.last++
	return seq
}

// finish runs f for message seq once every earlier message has finished,
// and then the waiting messages after it.
func (o *order) finish(seq uint64, f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ready[seq] = f
	for {
		g, ok := o.ready[o.next]
		if !ok {
			break
		}
		delete(o.ready, o.next)
		o.next++
		g()
		<-o.slots
	}
	if o.next == o.last {
		o.idle.Broadcast()
	}
}

// wait returns once every message started has finished: a join, leave or
// logout happens after the messages said before it.
func (o *order) wait() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.next != o.last {
		o.idle.Wait()
	}
}
