package chat

import (
	"context"
	"sync"
	"time"
)

// DefaultSaveTimeout bounds one Options.SaveMessages call when
// Options.SaveTimeout is zero.
const DefaultSaveTimeout = 10 * time.Second

// committer is the group commit of public messages: Say queues a message
// under its new id and waits; one commit at a time saves whatever is
// queued (everything said while the previous save ran) in one
// Options.SaveMessages call, then delivers the saved messages in id order.
// A message is therefore in the store before any member gets it. The
// speaker that finds no commit running commits its own batch itself; what
// is said meanwhile is committed by a loop goroutine that ends when the
// queue is empty.
type committer struct {
	mu      sync.Mutex
	next    *commitBatch // messages waiting for the next save; nil when none
	running bool         // a commit loop is running
}

// commitBatch is the messages of one save. done is closed once they are
// delivered, or once saving them failed (err).
type commitBatch struct {
	msgs  []Message
	rooms []*Room // the room of each message
	done  chan struct{}
	err   error
}

// queue numbers and dates msg and adds it to the next batch. Numbering
// under c.mu keeps every batch, and the batches among themselves, in id
// order. lead reports that no commit runs: the caller must then call
// c.lead.
func (c *committer) queue(g *Group, r *Room, msg Message) (b *commitBatch, _ Message, lead bool) {
	c.mu.Lock()
	msg.ID = g.lastID.Add(1)
	msg.Time = g.opts.Now().UTC()
	if c.next == nil {
		c.next = &commitBatch{done: make(chan struct{})}
	}
	b = c.next
	b.msgs = append(b.msgs, msg)
	b.rooms = append(b.rooms, r)
	lead = !c.running
	c.running = true
	c.mu.Unlock()
	return b, msg, lead
}

// lead commits the next batch (which holds the caller's own message) on
// the caller's goroutine, so that a lone speaker costs no hand-off, and
// hands whatever was queued meanwhile to a loop goroutine: a speaker never
// commits more than its own batch.
func (c *committer) lead(g *Group) {
	c.mu.Lock()
	b := c.next
	c.next = nil
	c.mu.Unlock()
	g.commit(b)
	c.mu.Lock()
	more := c.next != nil
	c.running = more
	c.mu.Unlock()
	if more {
		go c.loop(g)
	}
}

// loop commits batches until nothing is queued.
func (c *committer) loop(g *Group) {
	for {
		c.mu.Lock()
		b := c.next
		c.next = nil
		if b == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		g.commit(b)
	}
}

// commit saves b and then delivers its messages; when the save fails
// nobody gets them and their speakers get a not_saved error.
func (g *Group) commit(b *commitBatch) {
	defer close(b.done)
	if save := g.opts.SaveMessages; save != nil {
		timeout := g.opts.SaveTimeout
		if timeout <= 0 {
			timeout = DefaultSaveTimeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := save(ctx, b.msgs)
		cancel()
		if err != nil {
			b.err = Errorf(CodeNotSaved, "Your message could not be saved, so it was not sent; please try again.")
			return
		}
	}
	var slow []*Member
	for i, msg := range b.msgs {
		r := b.rooms[i]
		f := NewFrame(MessageEvent{Type: "message", Message: msg})
		// One message at a time under the lock, as a Say that delivered
		// itself would: other rooms wait for one fan-out, not a batch.
		g.mu.Lock()
		g.remember(r, msg)
		slow = r.send(f, slow)
		g.mu.Unlock()
	}
	g.messages.Add(int64(len(b.msgs)))
	g.drop(slow)
}
