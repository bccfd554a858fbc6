package session

import "sync"

// order finishes a client's messages in the order they were said while
// their message hooks run at the same time: a module that takes a few
// milliseconds to answer bounds each client by the number of messages in
// flight over that time, not by one. Starting waits while max messages
// are in flight, which holds up the client's next request (the
// connection's own backpressure).
//
// Whoever finishes the next message in order runs it and the finished
// messages after it, without holding the lock while they run, so a
// goroutine finishing a later message (the reader of a plugin's answers)
// never waits for an earlier one to be applied.
type order struct {
	slots    chan struct{} // one per message in flight
	mu       sync.Mutex
	idle     sync.Cond         // signalled when nothing is in flight
	next     uint64            // the next message to finish
	last     uint64            // the next number to hand out
	ready    map[uint64]func() // finished hooks waiting for earlier messages
	draining bool              // a finish is running the ready messages
	detached int               // messages that go on after they finished (detach)
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
// and then the waiting messages after it; when another finish is running
// them, it leaves f to that one and returns at once.
func (o *order) finish(seq uint64, f func()) {
	o.mu.Lock()
	o.ready[seq] = f
	if o.draining {
		o.mu.Unlock()
		return
	}
	o.draining = true
	for {
		g, ok := o.ready[o.next]
		if !ok {
			break
		}
		delete(o.ready, o.next)
		o.next++
		o.mu.Unlock()
		g()
		<-o.slots
		o.mu.Lock()
	}
	o.draining = false
	o.signal()
	o.mu.Unlock()
}

// detach is called by a message's f that goes on on a goroutine of its
// own after f returns (a hold writing to the store): wait waits for it
// too until the returned function is called.
func (o *order) detach() (end func()) {
	o.mu.Lock()
	o.detached++
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		o.detached--
		o.signal()
		o.mu.Unlock()
	}
}

// signal wakes wait when nothing is in flight; the caller holds mu.
func (o *order) signal() {
	if o.next == o.last && !o.draining && o.detached == 0 {
		o.idle.Broadcast()
	}
}

// wait returns once every message started has finished: a join, leave or
// logout happens after the messages said before it.
func (o *order) wait() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.next != o.last || o.draining || o.detached > 0 {
		o.idle.Wait()
	}
}
