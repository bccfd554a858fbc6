package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Benchmark messages carry their origin in the text:
// "b<phase> <publisher> <seq> <unix nanoseconds>".

// stats is shared by every client of a run; the hot path only does atomic
// adds on it.
type stats struct {
	phase      atomic.Int64 // current phase; messages of other phases are ignored
	latency    atomic.Bool  // record publish-to-receive latency
	hist       histogram
	disconnect atomic.Int64 // connections the server closed or lost
	stale      atomic.Int64 // benchmark messages of an earlier phase
	outOfOrder atomic.Int64 // a publisher's sequence skipped or went back

	mu      sync.Mutex
	reasons map[string]int // why connections ended
}

func newStats() *stats { return &stats{reasons: map[string]int{}} }

func (s *stats) lost(reason string) {
	s.disconnect.Add(1)
	s.mu.Lock()
	s.reasons[reason]++
	s.mu.Unlock()
}

// client is one benchmark WebSocket connection with a cheap reader: it
// scans frames for the markers it needs instead of decoding JSON.
type client struct {
	ws    *websocket.Conn
	st    *stats
	name  string
	index int

	received atomic.Int64 // benchmark messages of the current phase
	frames   atomic.Int64 // WebSocket messages read (each one frame or a batch)
	bytes    atomic.Int64 // and their payload bytes
	echoed   atomic.Int64 // for a publisher: highest own seq seen
	pub      int          // publisher number, -1 if not one
	wake     chan struct{}
	ctrl     chan ctrlEvent
	closing  atomic.Bool
	done     chan struct{}

	// lastSeq is the last sequence number seen per publisher (owned by
	// the reader), -1 before the first one (since the last join). Publishers number their messages on
	// across phases.
	lastSeq []int64
	// rejoined is set by a join: the client missed what was said in rooms
	// it was not in, so the next message of each publisher starts its
	// sequence anew.
	rejoined atomic.Bool
	// also receives the client's latency samples besides the run's
	// histogram when set (the cluster scenario's figures per node).
	also atomic.Pointer[histogram]
}

type ctrlEvent struct {
	typ  string
	code string
}

var (
	markType = []byte(`"type":"`)
	markText = []byte(`"text":"`)
	markCode = []byte(`"code":"`)
)

// dial connects and waits for the hello frame; pub is the client's
// publisher number, -1 for a receiver only.
func dial(ctx context.Context, url string, st *stats, index int, name string, pub int) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(16 << 20)
	c := &client{
		ws: ws, st: st, name: name, index: index, pub: pub,
		wake: make(chan struct{}, 1), ctrl: make(chan ctrlEvent, 8), done: make(chan struct{}),
	}
	go c.read()
	if _, err := c.await(ctx, "hello"); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// await waits for a control event of type typ; an error event fails.
func (c *client) await(ctx context.Context, typ string) (ctrlEvent, error) {
	for {
		select {
		case ev := <-c.ctrl:
			if ev.typ == typ {
				return ev, nil
			}
			if ev.typ == "error" {
				return ev, fmt.Errorf("%s: server answered error %s", c.name, ev.code)
			}
		case <-c.done:
			return ctrlEvent{}, fmt.Errorf("%s: connection closed while waiting for %s", c.name, typ)
		case <-ctx.Done():
			return ctrlEvent{}, fmt.Errorf("%s: wait for %s: %w", c.name, typ, ctx.Err())
		}
	}
}

func (c *client) send(ctx context.Context, frame []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return fmt.Errorf("%s: send: %w", c.name, err)
	}
	return nil
}

// login logs in (a guest when password is empty) and waits for login_ok.
func (c *client) login(ctx context.Context, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.send(ctx, loginFrame(c.name, password)); err != nil {
		return err
	}
	_, err := c.await(ctx, "login_ok")
	return err
}

func loginFrame(name, password string) []byte {
	b := []byte(`{"type":"login","user":`)
	b = strconv.AppendQuote(b, name)
	if password != "" {
		b = append(b, `,"password":`...)
		b = strconv.AppendQuote(b, password)
	}
	return append(b, '}')
}

// join enters a room and waits for joined.
func (c *client) join(ctx context.Context, room int64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b := strconv.AppendInt([]byte(`{"type":"join","room":`), room, 10)
	if err := c.send(ctx, append(b, '}')); err != nil {
		return err
	}
	_, err := c.await(ctx, "joined")
	c.rejoined.Store(true)
	return err
}

// say publishes a benchmark message.
func (c *client) say(ctx context.Context, phase int64, seq int64, buf []byte) ([]byte, error) {
	buf = append(buf[:0], `{"type":"say","text":"b`...)
	buf = strconv.AppendInt(buf, phase, 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(c.pub), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, seq, 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
	buf = append(buf, `"}`...)
	return buf, c.send(ctx, buf)
}

// close ends the connection without waiting for the server.
func (c *client) close() {
	c.closing.Store(true)
	_ = c.ws.CloseNow()
}

func (c *client) read() {
	defer close(c.done)
	buf := make([]byte, 0, 4096)
	for {
		_, r, err := c.ws.Reader(context.Background())
		if err == nil {
			buf, err = readAll(r, buf[:0])
		}
		if err != nil {
			if !c.closing.Load() {
				reason := "read: " + err.Error()
				if s := websocket.CloseStatus(err); s != -1 {
					var ce websocket.CloseError
					if errors.As(err, &ce) {
						reason = fmt.Sprintf("closed by server: %d %s", s, ce.Reason)
					}
				}
				c.st.lost(reason)
			}
			return
		}
		c.frames.Add(1)
		c.bytes.Add(int64(len(buf)))
		c.handle(buf)
		if cap(buf) > 64<<10 {
			buf = make([]byte, 0, 4096) // do not keep a big joined frame's buffer
		}
	}
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// handle scans one frame (an object or an array of objects) for events.
func (c *client) handle(data []byte) {
	for {
		i := bytes.Index(data, markType)
		if i < 0 {
			return
		}
		data = data[i+len(markType):]
		end := bytes.IndexByte(data, '"')
		if end < 0 {
			return
		}
		typ := data[:end]
		data = data[end:]
		if string(typ) == "message" {
			data = c.message(data)
			continue
		}
		switch string(typ) {
		case "hello", "login_ok", "joined", "pong":
			c.signal(ctrlEvent{typ: string(typ)})
		case "error":
			code := ""
			if j := bytes.Index(data, markCode); j >= 0 {
				rest := data[j+len(markCode):]
				if k := bytes.IndexByte(rest, '"'); k >= 0 {
					code = string(rest[:k])
				}
			}
			c.signal(ctrlEvent{typ: "error", code: code})
		}
	}
}

func (c *client) signal(ev ctrlEvent) {
	select {
	case c.ctrl <- ev:
	default:
	}
}

// message handles one message event; data starts after its type.
func (c *client) message(data []byte) []byte {
	j := bytes.Index(data, markText)
	if j < 0 {
		return data
	}
	data = data[j+len(markText):]
	end := bytes.IndexByte(data, '"')
	if end < 0 {
		return data
	}
	text := data[:end]
	data = data[end:]
	if len(text) < 2 || text[0] != 'b' {
		return data
	}
	var f [4]int64
	if !parseFields(text[1:], f[:]) {
		return data
	}
	phase, pub, seq, ts := f[0], int(f[1]), f[2], f[3]
	cur := c.st.phase.Load()
	if phase != cur {
		c.st.stale.Add(1)
		return data
	}
	if pub >= 0 && pub < 1024 {
		if c.rejoined.Load() {
			c.rejoined.Store(false)
			for i := range c.lastSeq {
				c.lastSeq[i] = -1
			}
		}
		for pub >= len(c.lastSeq) {
			c.lastSeq = append(c.lastSeq, -1)
		}
		if last := c.lastSeq[pub]; last >= 0 && seq != last+1 {
			c.st.outOfOrder.Add(1)
		}
		c.lastSeq[pub] = seq
	}
	if c.st.latency.Load() {
		d := time.Duration(time.Now().UnixNano() - ts)
		c.st.hist.record(d)
		if h := c.also.Load(); h != nil {
			h.record(d)
		}
	}
	c.received.Add(1)
	if pub == c.pub {
		c.echoed.Store(seq)
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return data
}

// parseFields reads space-separated decimal integers into f.
func parseFields(b []byte, f []int64) bool {
	for i := range f {
		var v int64
		n := 0
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			v = v*10 + int64(b[n]-'0')
			n++
		}
		if n == 0 {
			return false
		}
		f[i] = v
		b = b[n:]
		if i < len(f)-1 {
			if len(b) == 0 || b[0] != ' ' {
				return false
			}
			b = b[1:]
		}
	}
	return len(b) == 0
}
