package chat

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultSaveTimeout bounds one Options.SaveMessages call when
// Options.SaveTimeout is zero.
const DefaultSaveTimeout = 10 * time.Second

// DefaultMaxUnsaved is how many of one member's messages may wait to be
// saved when Options.MaxUnsaved is zero: a Say beyond it returns only once
// its own message is saved (or failed), which holds up that member's
// connection and nobody else.
const DefaultMaxUnsaved = 64

// committer is the group commit of public messages. Say numbers a message
// and queues it; one commit at a time saves whatever is queued (everything
// said while the previous save ran) in one Options.SaveMessages call, then
// delivers the saved messages in id order. A message is therefore in the
// store before any member gets it.
//
// With a store, saving and delivering are two stages, each on a goroutine
// that ends when it has nothing to do: the next batch is saved while the
// previous one is delivered. Say returns at once unless its member has
// Options.MaxUnsaved messages waiting, so one speaker's messages share commits
// too. Without a store the speaker that finds no commit running delivers
// its own batch on its goroutine before Say returns, as a plain fan-out
// would.
type committer struct {
	mu         sync.Mutex
	next       *commitBatch   // messages waiting for the next save; nil when none
	tail       *commitBatch   // the batch queued last (it may be done)
	running    bool           // a save (without a store, a commit) is running or about to
	saved      []*commitBatch // saved or failed batches waiting for delivery, in order
	delivering bool           // a delivery loop is running
}

// commitBatch is the messages of one save. done is closed once they are
// delivered, or once saving them failed (err).
type commitBatch struct {
	msgs   []Message
	rooms  []*Room   // the room of each message
	from   []*Member // the speaker of each message
	waited []bool    // the speaker's Say waits for this message and reports its failure
	done   chan struct{}
	err    error
}

// queue numbers and dates msg from m into room r and adds it to the next
// batch. Numbering under c.mu keeps every batch, and the batches among
// themselves, in id order. start reports that no commit runs, so the
// caller must start one; wait that the caller must wait for b.done.
func (c *committer) queue(g *Group, r *Room, m *Member, msg Message) (b *commitBatch, _ Message, start, wait bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg.ID = g.lastID.Add(1)
	msg.Time = g.opts.Now().UTC()
	if c.next == nil {
		c.next = &commitBatch{done: make(chan struct{})}
		c.tail = c.next
	}
	b = c.next
	m.unsaved++
	wait = g.opts.SaveMessages == nil || m.unsaved > g.opts.MaxUnsaved
	b.msgs = append(b.msgs, msg)
	b.rooms = append(b.rooms, r)
	b.from = append(b.from, m)
	b.waited = append(b.waited, wait)
	start = !c.running
	c.running = true
	return b, msg, start, wait
}

// lead commits the next batch (which holds the caller's own message) on
// the caller's goroutine and hands whatever was queued meanwhile to a loop
// goroutine: a speaker never commits more than its own batch.
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

// take returns the next batch and empties the queue; when nothing is
// queued it returns nil and marks the commit stopped.
func (c *committer) take() *commitBatch {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.next
	c.next = nil
	if b == nil {
		c.running = false
	}
	return b
}

// loop commits batches (without a store) until nothing is queued.
func (c *committer) loop(g *Group) {
	for b := c.take(); b != nil; b = c.take() {
		g.commit(b)
	}
}

// saveLoop saves batches until nothing is queued, handing each to the
// delivery loop.
func (c *committer) saveLoop(g *Group) {
	for b := c.take(); b != nil; b = c.take() {
		g.save(b)
		c.mu.Lock()
		c.saved = append(c.saved, b)
		start := !c.delivering
		c.delivering = true
		c.mu.Unlock()
		if start {
			go c.deliverLoop(g)
		}
	}
}

// deliverLoop delivers saved batches, in order, until none is left.
func (c *committer) deliverLoop(g *Group) {
	for {
		c.mu.Lock()
		if len(c.saved) == 0 {
			c.delivering = false
			c.saved = nil
			c.mu.Unlock()
			return
		}
		b := c.saved[0]
		c.saved[0] = nil
		c.saved = c.saved[1:]
		c.mu.Unlock()
		g.deliver(b)
	}
}

// commit saves b and delivers it.
func (g *Group) commit(b *commitBatch) {
	g.save(b)
	g.deliver(b)
}

// save stores b's messages, setting b.err when that fails.
func (g *Group) save(b *commitBatch) {
	save := g.opts.SaveMessages
	if save == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.opts.SaveTimeout)
	defer cancel()
	if err := save(ctx, b.msgs); err != nil {
		b.err = Errorf(CodeNotSaved, "Your message could not be saved, so it was not sent; please try again.")
	}
}

// deliver sends the messages of the saved batch b to their rooms. When the
// save failed nobody gets them, and each speaker is told with a not_saved
// error: Say's own error for a speaker that waits, an error event naming
// the message for the others.
func (g *Group) deliver(b *commitBatch) {
	defer close(b.done)
	var slow []*Member
	if b.err != nil {
		for i, m := range b.from {
			if !b.waited[i] && !m.Conn.Send(NewFrame(notSavedEvent(b.msgs[i]))) {
				slow = append(slow, m)
			}
		}
	} else {
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
	}
	g.commits.mu.Lock()
	for _, m := range b.from {
		m.unsaved--
	}
	g.commits.mu.Unlock()
	g.drop(slow)
}

// notSavedEvent tells the speaker of msg, whose Say had returned, that it
// could not be saved and reached nobody.
func notSavedEvent(msg Message) ErrorEvent {
	text := msg.Text
	if utf8.RuneCountInString(text) > 40 {
		text = string([]rune(text)[:40]) + "…"
	}
	return ErrorEvent{Type: "error", Code: CodeNotSaved,
		Message: fmt.Sprintf("Your message %q could not be saved, so it was not sent; please try again.", text)}
}

// WaitSaved waits until every message said so far is saved and delivered
// (or failed), or ctx ends; the server calls it before it closes the store.
func (g *Group) WaitSaved(ctx context.Context) error {
	g.commits.mu.Lock()
	tail := g.commits.tail
	g.commits.mu.Unlock()
	if tail == nil {
		return nil
	}
	// Batches are committed in order: the last one done means all are.
	select {
	case <-tail.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for messages to be saved: %w", ctx.Err())
	}
}
