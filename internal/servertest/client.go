package servertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/core/server"
)

// Timeout is how long a Client waits for a connection, an event or the
// close of the connection before it fails the test.
const Timeout = 5 * time.Second

// Client is a chat protocol client over /ws (Dial) or over the TCP
// transport (DialTCP). It reads in the background, splitting batches
// (JSON arrays, or the lines of TCP) into single events, so a test waits for
// the events it cares about and skips the others. A presence_batch comes
// as its presence events, each with the batch's room and count, so tests
// of who joined and left see the same events whether the room was busy or
// not. Its methods fail the test and must be called from the test's
// goroutine.
type Client struct {
	t      testing.TB
	conn   *websocket.Conn
	line   net.Conn // the TCP connection of a DialTCP client; conn is nil
	events chan map[string]any
	closed chan error
	stop   chan struct{}
	err    error // why reading ended; set before events is closed
	hello  map[string]any
}

// Dial connects to srv's /ws and waits for the hello event, which must
// announce protocol 1. The connection is closed when the test ends.
func Dial(t testing.TB, srv *server.Server) *Client {
	t.Helper()
	return DialURL(t, URL(srv), nil)
}

// DialURL is Dial for a server known by its base URL ("http://host:port"),
// sending header (may be nil), e.g. a Cookie, with the handshake.
func DialURL(t testing.TB, base string, header http.Header) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	c := &Client{
		t: t, conn: ws,
		events: make(chan map[string]any, 1024),
		closed: make(chan error, 1),
		stop:   make(chan struct{}),
	}
	go c.read()
	t.Cleanup(func() {
		close(c.stop)
		_ = ws.CloseNow()
	})
	if c.hello = c.Want("hello"); c.hello["protocol"] != 1.0 {
		t.Fatalf("hello = %v", c.hello)
	}
	return c
}

// DialTCP connects to the TCP transport at addr (Server.TCPAddr) and
// waits for the hello event, as Dial does.
func DialTCP(t testing.TB, addr string) *Client {
	t.Helper()
	d := net.Dialer{Timeout: Timeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial tcp: %v", err)
	}
	return OverTCP(t, nc)
}

// OverTCP is DialTCP over a connection the test opened itself (with
// TLS, for example).
func OverTCP(t testing.TB, nc net.Conn) *Client {
	t.Helper()
	c := &Client{
		t: t, line: nc,
		events: make(chan map[string]any, 1024),
		closed: make(chan error, 1),
		stop:   make(chan struct{}),
	}
	go c.readLines()
	t.Cleanup(func() {
		close(c.stop)
		_ = nc.Close()
	})
	if c.hello = c.Want("hello"); c.hello["protocol"] != 1.0 {
		t.Fatalf("hello = %v", c.hello)
	}
	return c
}

// readLines is read for a TCP client: one event a line.
func (c *Client) readLines() {
	var err error
	defer func() {
		c.err = err
		c.closed <- err
		close(c.events)
	}()
	sc := bufio.NewScanner(c.line)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if uerr := json.Unmarshal(sc.Bytes(), &ev); uerr != nil {
			err = fmt.Errorf("bad line %q: %w", sc.Bytes(), uerr)
			return
		}
		for _, ev := range single(ev) {
			select {
			case c.events <- ev:
			case <-c.stop:
				return
			}
		}
	}
	err = sc.Err()
	if err == nil {
		err = io.EOF
	}
}

// Hello is the hello event the server sent first.
func (c *Client) Hello() map[string]any { return c.hello }

// read delivers events until the connection ends or a frame is not JSON,
// then reports why on closed and closes events.
func (c *Client) read() {
	var err error
	defer func() {
		c.err = err
		c.closed <- err
		close(c.events)
	}()
	for {
		var data []byte
		_, data, err = c.conn.Read(context.Background())
		if err != nil {
			return
		}
		var batch []map[string]any
		if len(data) > 0 && data[0] == '[' {
			if uerr := json.Unmarshal(data, &batch); uerr != nil {
				err = fmt.Errorf("bad batch %q: %w", data, uerr)
				return
			}
		} else {
			var ev map[string]any
			if uerr := json.Unmarshal(data, &ev); uerr != nil {
				err = fmt.Errorf("bad frame %q: %w", data, uerr)
				return
			}
			batch = append(batch, ev)
		}
		for _, b := range batch {
			for _, ev := range single(b) {
				select {
				case c.events <- ev:
				case <-c.stop:
					return
				}
			}
		}
	}
}

// single is ev, or the presence events of a presence_batch.
func single(ev map[string]any) []map[string]any {
	if ev["type"] != "presence_batch" {
		return []map[string]any{ev}
	}
	list, _ := ev["events"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if p, ok := e.(map[string]any); ok {
			p["type"], p["room"], p["count"] = "presence", ev["room"], ev["count"]
			out = append(out, p)
		}
	}
	return out
}

// Events is the stream of received events, closed when the connection
// ends, for a test that reads it in a goroutine of its own (instead of
// Next and Want, which must not be mixed with it).
func (c *Client) Events() <-chan map[string]any { return c.events }

// Conn is the underlying WebSocket, for tests that write raw frames; nil
// for a DialTCP client (see Line).
func (c *Client) Conn() *websocket.Conn { return c.conn }

// Line is the TCP connection of a DialTCP client, for tests that write
// raw lines; nil for a WebSocket client.
func (c *Client) Line() net.Conn { return c.line }

// Send writes v as one JSON text frame.
func (c *Client) Send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("send: %v", err)
	}
	if c.line != nil {
		if _, err := c.line.Write(append(b, '\n')); err != nil {
			c.t.Fatalf("send: %v", err)
		}
		return
	}
	if err := c.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// Next returns the next event, whatever its type.
func (c *Client) Next() map[string]any {
	c.t.Helper()
	select {
	case ev, open := <-c.events:
		if !open {
			c.t.Fatalf("connection closed while waiting for an event: %v", c.err)
		}
		return ev
	case <-time.After(Timeout):
		c.t.Fatalf("no event within %v", Timeout)
	}
	return nil
}

// Want returns the next event of type typ, skipping others.
func (c *Client) Want(typ string) map[string]any {
	c.t.Helper()
	return c.want(typ, nil)
}

// WantMatch returns the next event of type typ for which ok holds,
// skipping others.
func (c *Client) WantMatch(typ string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	return c.want(typ, ok)
}

func (c *Client) want(typ string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	what := typ
	if ok != nil {
		what = "matching " + typ
	}
	timeout := time.After(Timeout)
	for {
		select {
		case ev, open := <-c.events:
			if !open {
				c.t.Fatalf("connection closed while waiting for %s: %v", what, c.err)
			}
			if ev["type"] == typ && (ok == nil || ok(ev)) {
				return ev
			}
		case <-timeout:
			c.t.Fatalf("no %s event within %v", what, Timeout)
		}
	}
}

// WantError returns the message of the next error event, which must carry
// code and a message.
func (c *Client) WantError(code string) string {
	c.t.Helper()
	ev := c.Want("error")
	if ev["code"] != code {
		c.t.Fatalf("error %v, want code %s", ev, code)
	}
	msg, _ := ev["message"].(string)
	if msg == "" {
		c.t.Fatalf("error %s without a message", code)
	}
	return msg
}

// Login logs in with name and password (empty: as a guest) and returns
// the login_ok event.
func (c *Client) Login(name, password string) map[string]any {
	c.t.Helper()
	c.Send(map[string]string{"type": "login", "user": name, "password": password})
	return c.Want("login_ok")
}

// Join enters room with password (may be empty) and returns the joined
// event.
func (c *Client) Join(room int, password string) map[string]any {
	c.t.Helper()
	c.Send(map[string]any{"type": "join", "room": room, "password": password})
	return c.Want("joined")
}

// Closed delivers, once, why the connection ended (for a close by the
// server, a websocket.CloseError, or a malformed frame). Events received
// before stay available to Next and Want.
func (c *Client) Closed() <-chan error { return c.closed }

// WaitClosed waits up to Timeout for the connection to end and returns
// why; see Closed.
func (c *Client) WaitClosed() error {
	c.t.Helper()
	select {
	case err := <-c.closed:
		return err
	case <-time.After(Timeout):
		c.t.Fatalf("connection not closed within %v", Timeout)
	}
	return nil
}
