package chat

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parlorchat/parlor/sdk"
)

// DefaultSaveTimeout bounds one Options.SaveMessages call when
// Options.SaveTimeout is zero.
const DefaultSaveTimeout = 10 * time.Second

// DefaultMaxUnsaved is how many of one member's messages may wait to be
// saved when Options.MaxUnsaved is zero: a Say beyond it returns only once
// its own message is saved (or failed), which holds up that member's
// connection and nobody else.
const DefaultMaxUnsaved = 64

// committer is the group commit of public messages when there is a
// store. Say numbers a message and queues it; one save at a time stores
// whatever is queued (everything said while the previous save ran) in one
// Options.SaveMessages call, then hands the saved messages to their
// rooms' outboxes, in id order. A message is therefore in the store
// before any member gets it.
//
// Each room delivers its outbox on a goroutine of its own that ends when
// the outbox is empty, so a big room's fan-out does not hold up a small
// room's messages, and the next batch is saved while the previous one is
// delivered. Say returns at once unless its member has Options.MaxUnsaved
// messages waiting, so one speaker's messages share commits too. Without a
// store Say delivers on its own goroutine (Group.fanout).
type committer struct {
	mu      sync.Mutex
	next    *commitBatch // messages waiting for the next save; nil when none
	tail    *commitBatch // the batch queued last (it may be done)
	running bool         // a save loop is running or about to
}

// commitBatch is the messages of one save. delivered is closed once they
// are delivered, or once saving them failed (err); done once that is so
// for every batch before it too: the last batch done means all are.
type commitBatch struct {
	msgs      []Message
	rooms     []*Room   // the room of each message
	from      []*Member // the speaker of each message
	waited    []bool    // the speaker's Say waits for this message and reports its failure
	done      chan struct{}
	delivered chan struct{}
	err       error

	// undelivered counts the messages not delivered yet; pending the
	// same plus one while the batch before is not done. Guarded by
	// committer.mu.
	undelivered int
	pending     int
	finished    bool
	after       *commitBatch // the batch queued next
}

// outMsg is a saved message waiting in its room's outbox.
type outMsg struct {
	msg   Message
	batch *commitBatch
	from  *Member
}

// queue numbers and dates msg from m into room r and adds it to the next
// batch. Numbering under c.mu keeps every batch, and the batches among
// themselves, in id order. start reports that no save runs, so the
// caller must start one; wait that the caller must wait for b.delivered
// (always when mustWait).
func (c *committer) queue(g *Group, r *Room, m *Member, msg Message, mustWait bool) (b *commitBatch, _ Message, start, wait bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg.ID = g.lastID.Add(1)
	msg.Time = g.opts.Now().UTC()
	if c.next == nil {
		c.next = &commitBatch{done: make(chan struct{}), delivered: make(chan struct{})}
		if c.tail != nil && !c.tail.finished {
			c.tail.after = c.next
			c.next.pending = 1
		}
		c.tail = c.next
	}
	b = c.next
	m.unsaved++
	wait = mustWait || m.unsaved > g.opts.MaxUnsaved
	b.msgs = append(b.msgs, msg)
	b.rooms = append(b.rooms, r)
	b.from = append(b.from, m)
	b.waited = append(b.waited, wait)
	b.pending++
	b.undelivered++
	start = !c.running
	c.running = true
	return b, msg, start, wait
}

// take returns the next batch and empties the queue; when nothing is
// queued it returns nil and marks the save loop stopped.
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

// saveLoop saves batches until nothing is queued, handing each message to
// its room's outbox.
func (c *committer) saveLoop(g *Group) {
	for b := c.take(); b != nil; b = c.take() {
		g.save(b)
		if b.err != nil {
			g.failed(b)
			continue
		}
		for i, msg := range b.msgs {
			g.post(b.rooms[i], outMsg{msg: msg, batch: b, from: b.from[i]})
		}
	}
}

// delivered accounts for delivered (or failed) messages: their speakers
// have fewer unsaved, and their batches are done once all are.
func (c *committer) delivered(out []outMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range out {
		o.from.unsaved--
		if o.batch.undelivered--; o.batch.undelivered == 0 {
			close(o.batch.delivered)
		}
		c.release(o.batch)
	}
}

// release counts one thing b waited for as done; the caller holds c.mu.
func (c *committer) release(b *commitBatch) {
	for b != nil {
		if b.pending--; b.pending > 0 {
			return
		}
		b.finished = true
		close(b.done)
		b = b.after
	}
}

// post adds a saved message to r's outbox and starts r's delivery if none
// runs.
func (g *Group) post(r *Room, o outMsg) {
	r.outMu.Lock()
	r.outbox = append(r.outbox, o)
	start := !r.draining
	r.draining = true
	r.outMu.Unlock()
	if start {
		go g.drain(r)
	}
}

// drain delivers r's outbox, in order, until it is empty.
func (g *Group) drain(r *Room) {
	for {
		r.outMu.Lock()
		out := r.outbox
		r.outbox = nil
		if len(out) == 0 {
			r.draining = false
			r.outMu.Unlock()
			return
		}
		r.outMu.Unlock()
		var slow []*Member
		for _, o := range out {
			// One message at a time under the room's lock: presence and
			// other messages of the room wait for one fan-out, not a batch.
			r.mu.Lock()
			g.remember(r, o.msg)
			slow = r.send(NewFrame(MessageEvent{Type: "message", Message: o.msg}), slow)
			g.count(r, 1)
			r.mu.Unlock()
		}
		g.drop(slow)
		if g.opts.Observe != nil {
			for i := range out {
				g.observe(sdk.Delivered, out[i].msg.From, out[i].msg.RoomID, &out[i].msg)
			}
		}
		g.commits.delivered(out)
	}
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

// failed tells the speakers of b, whose save failed, that nobody got
// their messages: Say's own error for a speaker that waits, an error event
// naming the message for the others.
func (g *Group) failed(b *commitBatch) {
	var slow []*Member
	out := make([]outMsg, len(b.msgs))
	for i, m := range b.from {
		if !b.waited[i] && !m.Conn.Send(NewFrame(notSavedEvent(b.msgs[i]))) {
			slow = append(slow, m)
		}
		out[i] = outMsg{msg: b.msgs[i], batch: b, from: m}
	}
	g.drop(slow)
	g.commits.delivered(out)
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
