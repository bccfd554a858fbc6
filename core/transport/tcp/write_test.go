package tcp

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
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

// loopback returns the two ends of a TCP connection over loopback.
func loopback(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = server.Close()
		_ = client.Close()
	})
	return server, client
}

// testConn is a conn of a server with test options over nc, its writer
// not started.
func testConn(t *testing.T, nc net.Conn) *conn {
	t.Helper()
	s := New(nil, Options{SendQueue: 256, WriteTimeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &conn{
		s: s, nc: nc, w: wire.New(nc, s.opts.WriteTimeout), ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), ended: make(chan struct{}),
	}
}

func messageFrames(n int) []*chat.Frame {
	frames := make([]*chat.Frame, n)
	for i := range frames {
		frames[i] = chat.NewFrame(chat.MessageEvent{Type: "message", Message: chat.Message{
			ID: int64(i), RoomID: 1, From: "alice", Text: "hello everyone, this is a chat message",
		}})
	}
	return frames
}

// readIDs reads n message lines and returns their ids.
func readIDs(t *testing.T, nc net.Conn, n int) []int64 {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	sc := bufio.NewScanner(nc)
	var ids []int64
	for len(ids) < n && sc.Scan() {
		var ev chat.MessageEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q is not one event: %v", sc.Bytes(), err)
		}
		ids = append(ids, ev.Message.ID)
	}
	if len(ids) < n {
		t.Fatalf("got %d lines, want %d: %v", len(ids), n, sc.Err())
	}
	return ids
}

func TestQueuedLinesGoOutInOneWrite(t *testing.T) {
	server, client := loopback(t)
	counted := &countingConn{Conn: server}
	c := testConn(t, counted)
	// The writer is not running yet: the frames pile up in the queue.
	frames := messageFrames(100) // about 12 KB, three times the old write buffer
	for _, f := range frames {
		if !c.Send(f) {
			t.Fatal("frame refused")
		}
	}
	c.s.active.Add(1)
	go c.writeLoop()
	c.signal()
	for i, id := range readIDs(t, client, len(frames)) {
		if id != int64(i) {
			t.Fatalf("line %d is message %d", i, id)
		}
	}
	if n := counted.count(); n != 1 {
		t.Errorf("%d queued lines took %d writes, want 1", len(frames), n)
	}
	c.closeWith("")
	<-c.ended
}
