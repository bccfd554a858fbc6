package websocket

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/transport/wire"
)

// countingConn counts the Write calls made on a connection.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
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
	c.writeLoop()
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

func TestFrameToAnIdleConnectionIsWrittenBySend(t *testing.T) {
	c, client := pair(t, Options{WriteTimeout: 10 * time.Second, SendQueue: 256})
	f := benchFrames(1)[0]
	if !c.Send(f) {
		t.Fatal("frame refused")
	}
	if !idle(c) {
		t.Error("Send queued the frame for a writer instead of writing it")
	}
	if got := readMessage(t, client); string(got) != string(f.JSON()) {
		t.Fatalf("client got %s, want %s", got, f.JSON())
	}
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
		b := readMessage(t, client)
		var evs []chat.MessageEvent
		if b[0] == '[' {
			if err := json.Unmarshal(b, &evs); err != nil {
				t.Fatalf("bad batch after message %d: %v", next, err)
			}
		} else {
			var ev chat.MessageEvent
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatalf("bad frame after message %d: %v", next, err)
			}
			evs = append(evs, ev)
		}
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
