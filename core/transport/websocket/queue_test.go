package websocket

import (
	"context"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/config"
)

// queueRoom is a group with one room and a handler with the default
// send queue bounds (config/parlor.yaml).
func queueRoom(t *testing.T) (*chat.Group, *Handler) {
	t.Helper()
	def := config.Default()
	g := chat.NewGroup(chat.Options{History: 0, MaxMessageChars: 1 << 20, Guests: true})
	g.PutRoom(chat.RoomInfo{ID: 1, Name: "Room", Member: true, Open: true}, nil)
	h := New(nil, Options{SendQueue: def.HTTP.SendQueue, SendQueueBytes: def.HTTP.SendQueueBytes})
	return g, h
}

// stalledMember joins a member whose writer is stuck in a write to a
// client that stopped reading: nothing leaves its queue.
func stalledMember(t *testing.T, g *chat.Group, h *Handler, name string) (*chat.Member, *conn) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := &conn{h: h, ctx: ctx, cancel: cancel, writing: true}
	m := &chat.Member{Name: name, Guest: true, Conn: c}
	if err := g.Login(m); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Join(m, 1, ""); err != nil {
		t.Fatal(err)
	}
	return m, c
}

// dropped reports whether the hub closed c as a slow consumer.
func dropped(c *conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing && c.reason == chat.ReasonSlowConsumer
}

func TestFewLargeFramesDropAReaderThatDoesNotRead(t *testing.T) {
	g, h := queueRoom(t)
	speaker, _ := stalledMember(t, g, h, "speaker")
	_, reader := stalledMember(t, g, h, "reader")
	big := strings.Repeat("x", 200<<10)
	for i := 0; i < 10 && !dropped(reader); i++ {
		if _, err := g.Say(speaker, big, chat.Style{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if !dropped(reader) {
		t.Fatalf("a reader with %d bytes in %d frames queued was kept; the bound is %d bytes", reader.queued, len(reader.queue), h.opts.SendQueueBytes)
	}
	if reader.queued > h.opts.SendQueueBytes {
		t.Fatalf("%d bytes queued, over the bound of %d", reader.queued, h.opts.SendQueueBytes)
	}
}

func TestBurstOfSmallFramesKeepsAReader(t *testing.T) {
	g, h := queueRoom(t)
	speaker, _ := stalledMember(t, g, h, "speaker")
	_, reader := stalledMember(t, g, h, "reader")
	for range 1000 {
		if _, err := g.Say(speaker, "hi", chat.Style{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if dropped(reader) {
		t.Fatalf("a burst of small frames (%d bytes in %d frames) dropped the reader", reader.queued, len(reader.queue))
	}
}

// drainQueue empties c's queue as its writer does, batch by batch, and
// ends the writing; c stays stalled (writing) so that the next Send
// queues again without starting a writer.
func drainQueue(c *conn) {
	var batch [maxBatch]*chat.Frame
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 {
		c.take(&batch, 0)
	}
	c.queued = 0
	c.stop()
	c.writing = true
}

// A connection that is sent to all the time writes a batch, empties its
// queue and fills it again: keeping a batch's room between writes spares
// it growing the queue from nothing each time. A queue that grew past a
// batch (a reader falling behind) is given back.
func TestAnEmptiedQueueKeepsABatchOfRoom(t *testing.T) {
	_, h := queueRoom(t)
	frames := benchFrames(maxBatch + 1)
	c := &conn{h: h, writing: true}
	burst := func(n int) {
		for _, f := range frames[:n] {
			if !c.Send(f) {
				t.Fatal("frame refused")
			}
		}
		drainQueue(c)
	}
	burst(40)
	if allocs := testing.AllocsPerRun(100, func() { burst(40) }); allocs != 0 {
		t.Errorf("a burst of 40 frames allocated %.1f times once the queue had grown", allocs)
	}
	burst(maxBatch + 1)
	if got := cap(c.queue); got != 0 {
		t.Errorf("a queue grown past a batch kept room for %d frames", got)
	}
}
