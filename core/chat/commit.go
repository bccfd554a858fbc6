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
	size    int          // how many messages the last batch taken held
}

// commitBatch is the messages of one save. delivered is closed once they
// are delivered, or once saving them failed (err); done once that is so
// for every batch before it too: the last batch done means all are.
type commitBatch struct {
	msgs      []Message
	meta      []queued // where each message goes and who said it
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

// queued is the room and speaker of a queued message, and whether the
// speaker's Say waits for it (and reports its failure).
type queued struct {
	room   *Room
	from   *Member
	waited bool
}

// outMsg is a saved message waiting in its room's outbox: the i-th of
// batch.
type outMsg struct {
	batch *commitBatch
	i     int
}

func (o outMsg) msg() *Message { return &o.batch.msgs[o.i] }
func (o outMsg) from() *Member { return o.batch.meta[o.i].from }

// queue numbers and dates msg from m into room r and adds it to the next
// batch. Numbering under c.mu keeps every batch, and the batches among
// themselves, in id order. start reports that no save runs, so the
// caller must start one; wait that the caller must wait for b.delivered
// (as mode says).
func (c *committer) queue(g *Group, r *Room, m *Member, msg Message, mode waitMode) (b *commitBatch, _ Message, start, wait bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg.ID = g.nextID()
	if msg.Time.IsZero() { // SayAt may give the time
		msg.Time = g.opts.Now().UTC()
	}
	if c.next == nil {
		c.next = &commitBatch{done: make(chan struct{}), delivered: make(chan struct{}),
			msgs: make([]Message, 0, c.size+c.size/4), meta: make([]queued, 0, c.size+c.size/4)}
		if c.tail != nil && !c.tail.finished {
			c.tail.after = c.next
			c.next.pending = 1
		}
		c.tail = c.next
	}
	b = c.next
	m.unsaved++
	m.lastBatch = b
	wait = mode == waitAlways || (mode == waitBehind && m.unsaved > g.opts.MaxUnsaved)
	b.msgs = append(b.msgs, msg)
	b.meta = append(b.meta, queued{room: r, from: m, waited: wait})
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
		return nil
	}
	// Room for the next batch: the largest of late, decaying, so a
	// steady stream rarely grows its slices.
	c.size = max(len(b.msgs), c.size-c.size/8)
	return b
}

// saveLoop saves batches until nothing is queued, handing each message to
// its room's outbox. Only one save loop runs at a time (committer.running),
// so it alone uses the rooms' posting buffers.
func (c *committer) saveLoop(g *Group) {
	var rooms []*Room
	for b := c.take(); b != nil; b = c.take() {
		g.save(b)
		if b.err != nil {
			g.failed(b)
			continue
		}
		// One post per room of the batch, in id order within each; the
		// buffers are kept, so a steady stream allocates nothing here.
		for i := range b.msgs {
			r := b.meta[i].room
			if len(r.posting) == 0 {
				rooms = append(rooms, r)
			}
			r.posting = append(r.posting, outMsg{batch: b, i: i})
		}
		for i, r := range rooms {
			g.post(r, r.posting)
			clear(r.posting)
			r.posting = r.posting[:0]
			rooms[i] = nil
		}
		rooms = rooms[:0]
	}
}

// delivered accounts for delivered (or failed) messages: their speakers
// have fewer unsaved, and their batches are done once all are.
func (c *committer) delivered(out []outMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range out {
		if m := o.from(); m.unsaved > 1 {
			m.unsaved--
		} else {
			m.unsaved, m.lastBatch = 0, nil
		}
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

// post adds saved messages to r's outbox (copying them: out stays the
// caller's) and starts r's delivery if none runs.
func (g *Group) post(r *Room, out []outMsg) {
	r.outMu.Lock()
	if r.outbox == nil {
		r.outbox, r.spare = r.spare, nil
	}
	r.outbox = append(r.outbox, out...)
	start := !r.draining
	r.draining = true
	r.outMu.Unlock()
	if start {
		go g.drain(r)
	}
}

// drain delivers r's outbox, in order, until it is empty. The outbox it
// took goes back as the spare once delivered, so the two buffers alternate.
func (g *Group) drain(r *Room) {
	var done []outMsg
	for {
		r.outMu.Lock()
		if done != nil && r.spare == nil {
			r.spare = done
		}
		out := r.outbox
		r.outbox = nil
		if len(out) == 0 {
			r.draining = false
			if out != nil && r.spare == nil {
				r.spare = out
			}
			r.outMu.Unlock()
			return
		}
		r.outMu.Unlock()
		var slow []*Member
		for _, o := range out {
			// One message at a time under the room's lock: presence and
			// other messages of the room wait for one fan-out, not a batch.
			r.mu.Lock()
			msg := o.msg()
			g.keep(r, *msg)
			f := newMessageFrame(msg)
			slow = r.send(f, slow)
			g.count(r, 1)
			r.mu.Unlock()
			if g.opts.Link != nil {
				g.opts.Link.Delivered(msg, f)
			}
		}
		g.drop(slow)
		if g.opts.Observe != nil {
			for i := range out {
				msg := out[i].msg()
				g.observe(sdk.Delivered, msg.From, msg.RoomID, msg)
			}
		}
		g.commits.delivered(out)
		clear(out) // no batch stays reachable from the buffer
		done = out[:0]
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
	for i, q := range b.meta {
		m := q.from
		if !q.waited && !m.Conn.Send(NewFrame(notSavedEvent(b.msgs[i]))) {
			slow = append(slow, m)
		}
		out[i] = outMsg{batch: b, i: i}
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
