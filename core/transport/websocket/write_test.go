package websocket

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/transport/wire"
)

// countingConn counts the writes made on a connection: Write calls and
// writes on its descriptor through SyscallConn.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.add()
	return c.Conn.Write(p)
}

func (c *countingConn) SyscallConn() (syscall.RawConn, error) {
	raw, err := c.Conn.(syscall.Conn).SyscallConn()
	return countingRaw{RawConn: raw, c: c}, err
}

func (c *countingConn) add() {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

type countingRaw struct {
	syscall.RawConn
	c *countingConn
}

func (r countingRaw) Write(f func(uintptr) bool) error {
	r.c.add()
	return r.RawConn.Write(f)
}

// readMessage reads one message from client within a few seconds.
func readMessage(t *testing.T, client *websocket.Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := client.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func TestQueuedFramesGoOutAsOneMessageInOneWrite(t *testing.T) {
	c, client := pair(t, Options{WriteTimeout: 10 * time.Second, SendQueue: 256})
	counted := &countingConn{Conn: c.w.NetConn()}
	c.w = wire.New(counted, c.h.opts.WriteTimeout)
	// As if a writer were busy: the frames pile up in the queue.
	c.mu.Lock()
	c.writing = true
	c.mu.Unlock()
	frames := benchFrames(40) // about 5 KB, ten times the write buffer
	for _, f := range frames {
		if !c.Send(f) {
			t.Fatal("frame refused")
		}
	}
	if c.Run() {
		t.Error("the writer would run again with nothing queued")
	}
	if !idle(c) {
		t.Fatal("the client's socket did not take 5 KB at once")
	}
	if n := counted.count(); n != 1 {
		t.Errorf("%d frames took %d writes, want 1", len(frames), n)
	}
	var got []chat.MessageEvent
	if err := json.Unmarshal(readMessage(t, client), &got); err != nil {
		t.Fatalf("the batch is not a JSON array of events: %v", err)
	}
	if len(got) != len(frames) {
		t.Fatalf("the batch holds %d events, want %d", len(got), len(frames))
	}
	for i, ev := range got {
		if ev.Message.ID != int64(i) {
			t.Fatalf("event %d is message %d", i, ev.Message.ID)
		}
	}
}

func TestEveryConnectionGetsItsFramesInOrder(t *testing.T) {
	const conns, frames = 20, 200
	h := New(nil, Options{WriteTimeout: 10 * time.Second, SendQueue: 1 << 16})
	servers := make([]*conn, conns)
	clients := make([]*websocket.Conn, conns)
	for i := range conns {
		servers[i], clients[i] = pair(t, Options{})
		servers[i].h = h // one handler, so one pool of writers for all
	}
	for _, f := range benchFrames(frames) {
		for _, c := range servers {
			if !c.Send(f) {
				t.Fatal("frame refused")
			}
		}
	}
	for i, client := range clients {
		next := int64(0)
		for next < frames {
			for _, ev := range readEvents(t, client) {
				if ev.Message.ID != next {
					t.Fatalf("client %d got message %d, want %d", i, ev.Message.ID, next)
				}
				next++
			}
		}
	}
}

// readEvents reads one message, a frame or a batch, and returns its
// message events.
func readEvents(t *testing.T, client *websocket.Conn) []chat.MessageEvent {
	t.Helper()
	b := readMessage(t, client)
	var evs []chat.MessageEvent
	if b[0] == '[' {
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Fatalf("bad batch: %v", err)
		}
		return evs
	}
	var ev chat.MessageEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("bad frame: %v", err)
	}
	return append(evs, ev)
}

func TestFramesAndPingsInterleaveIntact(t *testing.T) {
	c, client := pair(t, Options{WriteTimeout: 10 * time.Second, SendQueue: 1 << 16})
	const n = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			f := chat.NewFrame(chat.MessageEvent{Type: "message", Message: chat.Message{
				ID: int64(i), RoomID: 1, From: "alice", Text: strings.Repeat("x", i%700),
			}})
			if !c.Send(f) {
				t.Error("frame refused")
				return
			}
		}
	}()
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.ws.Ping(ctx) // answered by the client's reader below
			cancel()
		}
	}()
	next := int64(0)
	for next < n {
		evs := readEvents(t, client)
		for _, ev := range evs {
			if ev.Message.ID != next || len(ev.Message.Text) != int(next%700) {
				t.Fatalf("got message %d (%d chars), want %d", ev.Message.ID, len(ev.Message.Text), next)
			}
			next++
		}
	}
	<-done
}

func TestAClientThatStopsReadingIsDropped(t *testing.T) {
	def := config.Default()
	c, client := pair(t, Options{
		WriteTimeout: 300 * time.Millisecond, SendQueue: def.HTTP.SendQueue, SendQueueBytes: def.HTTP.SendQueueBytes,
	})
	g := chat.NewGroup(chat.Options{History: 0, MaxMessageChars: 1 << 20, Guests: true})
	g.PutRoom(chat.RoomInfo{ID: 1, Name: "Room", Member: true, Open: true}, nil)
	speaker, _ := stalledMember(t, g, c.h, "speaker")
	reader := &chat.Member{Name: "reader", Guest: true, Conn: c}
	if err := g.Login(reader); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Join(reader, 1, ""); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing: the socket buffers fill, then the queue.
	text := strings.Repeat("x", 4000)
	for i := 0; i < 5000 && !dropped(c); i++ {
		if _, err := g.Say(speaker, text, chat.Style{}, ""); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(time.Millisecond) // let deliveries catch up
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !dropped(c) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !dropped(c) {
		t.Fatalf("a client that reads nothing was kept with %d bytes in %d frames queued", c.queued, len(c.queue))
	}
	// Once it reads again, it finds the connection ended.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := client.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the dropped connection was not closed")
			}
			break
		}
	}
	select {
	case <-c.ended:
	case <-time.After(5 * time.Second):
		t.Fatalf("the writer did not end (broken %v)", c.broken.Load())
	}
}

func TestAFrameLargerThanTheBatchBufferArrivesWhole(t *testing.T) {
	// Past the batch buffer, and past the size from which a frame alone
	// goes out behind its header without a copy.
	for _, size := range []int{maxPooledBatch + 1000, directFrameBytes + 100} {
		c, client := pair(t, Options{WriteTimeout: 10 * time.Second, SendQueue: 256})
		small := benchFrames(1)[0]
		big := chat.NewFrame(chat.MessageEvent{Type: "message", Message: chat.Message{
			ID: 7, RoomID: 1, From: "alice", Text: strings.Repeat("y", size),
		}})
		for _, f := range []*chat.Frame{big, small, big} {
			if !c.Send(f) {
				t.Fatal("frame refused")
			}
		}
		var got []int64
		for len(got) < 3 {
			for _, ev := range readEvents(t, client) {
				if ev.Message.ID == 7 && len(ev.Message.Text) != size {
					t.Fatalf("the large message has %d chars, want %d", len(ev.Message.Text), size)
				}
				got = append(got, ev.Message.ID)
			}
		}
		if got[0] != 7 || got[1] != 0 || got[2] != 7 {
			t.Fatalf("messages %v, want [7 0 7]", got)
		}
	}
}

// One processor is left to what arrives while a fan-out writes, and a
// single processor still gets a writer.
func TestWriterCountLeavesAProcessor(t *testing.T) {
	for procs, want := range map[int]int{1: 1, 2: 1, 4: 3, 16: 15} {
		if got := writerCount(procs); got != want {
			t.Errorf("writerCount(%d) = %d, want %d", procs, got, want)
		}
	}
}
