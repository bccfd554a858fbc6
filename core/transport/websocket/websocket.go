// Package websocket is the browser transport: the JSON protocol of
// docs/protocol.md over one WebSocket per client. It does the framing,
// the deadlines, keep-alive pings and the write batching; core/session
// answers the requests.
package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/session"
	"github.com/parlorchat/parlor/core/transport/wire"
)

// maxBatch bounds how many queued frames one write carries.
const maxBatch = 64

// Options configures the handler.
type Options struct {
	MaxFrameBytes int64 // largest frame a client may send
	SendQueue     int   // frames queued per connection before it is dropped
	// SendQueueBytes bounds the bytes queued per connection as SendQueue
	// bounds the frames; 0 means no byte bound.
	SendQueueBytes int
	WriteTimeout   time.Duration // one write to a client must finish within this time
	PingInterval   time.Duration // keep-alive pings
	Logger         hclog.Logger
	// PublicNames, when not empty, are the host names (Host header, with
	// or without a port) a WebSocket may be opened under (host.go).
	PublicNames []string
	// AllowedOrigins are the origins ("https://www.example.com", or
	// "https://*.example.com" for every subdomain) of pages other than the
	// chat's own that may open a WebSocket (host.go); a page of any other
	// origin is refused with 403.
	AllowedOrigins []string
}

// Handler accepts WebSocket connections at /ws and hands their requests
// to the session layer.
type Handler struct {
	opts    Options
	node    *session.Node
	log     hclog.Logger
	names   publicNames   // allowed Host headers (host.go)
	origins []string      // origin patterns of other pages allowed (host.go)
	bufs    *wire.Pool    // batch and read buffers, lent while a connection writes or handles a frame
	writers *wire.Writers // the goroutines that write for the connections

	active sync.WaitGroup // connections being served
}

// Wait blocks until every connection has ended or ctx is done.
func (h *Handler) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		h.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for connections: %w", ctx.Err())
	}
}

// New makes a handler serving the protocol of node.
func New(node *session.Node, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	return &Handler{
		opts: opts, node: node, log: opts.Logger,
		names: newPublicNames(opts.PublicNames), origins: originPatterns(opts.AllowedOrigins),
		bufs: wire.NewPool(maxPooledBatch), writers: wire.NewWriters(writerCount(runtime.GOMAXPROCS(0))),
	}
}

// writerCount is how many goroutines the connections share for their
// writes on procs processors: all but one. A fan-out keeps its writers
// busy with write(2) for as long as it lasts; with a writer on every
// processor, what arrives meanwhile (a client's frame, a plugin's answer,
// a timer) waits until the fan-out ends or the runtime's 10 ms network
// poll, while with one processor left it is taken at once. Frames that
// pile up for a connection behind fewer writers also leave in fewer
// writes: at 100 messages/s into a room of 1000 on 2 processors one
// writer took 0.84 of the CPU per delivery of two, with a lower p99
// (BENCHMARKS.md).
func writerCount(procs int) int {
	return max(procs-1, 1)
}

// Buffer sizes of a connection. net/http's are 4 KiB each, held for the
// life of the connection; clients send small frames, so 512 bytes are
// enough to read. The write buffer carries only coder/websocket's control
// frames (ping, pong, close: at most 139 bytes, so each leaves in one
// write); Parlor frames its messages itself in a lent batch buffer.
const (
	readBufferSize  = 512
	writeBufferSize = 512
	// maxPooledBatch is the largest batch buffer kept for reuse.
	maxPooledBatch = 64 << 10
	// directFrameBytes is the size from which a frame that goes out alone
	// is written behind its header (writev) instead of being copied into
	// a batch buffer: a joined frame with a room's member list, the room
	// list at login.
	directFrameBytes = 2 << 10
	// idleQueueCap is the largest send queue a connection keeps once it
	// has written everything: a batch (512 bytes), so that a connection
	// that is sent to all the time does not grow its queue again from
	// nothing after every write, and one whose queue grew further (a
	// slow reader) gives the rest back.
	idleQueueCap = maxBatch
)

// ServeHTTP upgrades the request and serves the connection in its own
// goroutine until it ends; the request's goroutine and net/http's buffers
// are released at once.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.names.allows(r) {
		h.log.Debug("websocket refused: unknown host", "remote", r.RemoteAddr, "host", r.Host)
		http.Error(w, "This chat is not served under the host name "+strconv.Quote(r.Host)+".", http.StatusForbidden)
		return
	}
	ip := remoteIP(r)
	// Counted before the hijack: until then the HTTP server's Shutdown
	// waits for this request, so Wait cannot have started yet.
	h.active.Add(1)
	hw := &hijackWriter{ResponseWriter: w, timeout: h.opts.WriteTimeout}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled, OriginPatterns: h.origins})
	if err != nil {
		h.active.Done()
		h.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "error", err)
		return
	}
	ws.SetReadLimit(h.opts.MaxFrameBytes)
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		h: h, ws: ws, w: hw.wire, ctx: ctx, cancel: cancel,
		ip:    ip,
		ended: make(chan struct{}),
	}
	// Armed after the assignment so that keepAlive always sees c.ping.
	c.ping = time.AfterFunc(time.Hour, c.keepAlive)
	client, err := h.node.Connect(ctx, c, session.ConnInfo{RemoteIP: ip, Cookie: sessionCookie(r)})
	if err != nil {
		c.ping.Stop()
		cancel()
		h.refuse(ws, hw.wire.NetConn(), ip, err)
		h.active.Done()
		return
	}
	c.client = client
	// The 101 waits in the wire for the first frame, which Connect has
	// queued (the hello); with none queued it goes out alone.
	c.mu.Lock()
	idle := !c.writing
	c.mu.Unlock()
	if idle {
		if err := hw.wire.Flush(); err != nil {
			c.broken.Store(true)
			c.closeWith(websocket.StatusGoingAway, "write failed")
		}
	}
	c.ping.Reset(h.opts.PingInterval)
	go c.serve()
}

// serve reads requests until the connection ends, then waits for the
// writer to close it and ends the session.
func (c *conn) serve() {
	defer c.h.active.Done()
	c.readLoop()
	if c.ctx.Err() == nil {
		// The client closed or vanished: nothing more can be delivered.
		c.broken.Store(true)
	}
	c.closeWith(websocket.StatusNormalClosure, "")
	<-c.ended
	c.client.Closed()
}

// sessionCookie returns the session token the browser sent in the login
// cookie, if any.
func sessionCookie(r *http.Request) string {
	c, err := r.Cookie(auth.SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// refuseTimeout bounds the error frame and the close handshake of a
// connection refused at upgrade.
const refuseTimeout = 2 * time.Second

// refuse answers a connection refused at upgrade (a per-address cap) with
// an error frame saying when to retry, then closes it with status 1013
// (try again later) and what was limited as the reason.
func (h *Handler) refuse(ws *websocket.Conn, nc net.Conn, ip string, err error) {
	h.log.Debug("connection refused", "remote", ip, "error", err)
	if nc != nil {
		_ = nc.SetDeadline(time.Now().Add(refuseTimeout))
	}
	ctx, cancel := context.WithTimeout(context.Background(), refuseTimeout)
	defer cancel()
	if b, merr := json.Marshal(chat.ErrorEventOf("", err)); merr == nil {
		_ = ws.Write(ctx, websocket.MessageText, b)
	}
	reason, _, _ := strings.Cut(err.Error(), ";")
	_ = ws.Close(websocket.StatusTryAgainLater, strings.ToLower(reason))
}

// hijackWriter gives coder/websocket the hijacked connection with smaller
// buffers than net/http's, writing through a wire.Conn that the
// connection's own frames share. It writes the handshake's 101 response
// itself, held in the wire so that it goes out with the first frame (the
// hello) in one write(2), instead of net/http writing it alone.
type hijackWriter struct {
	http.ResponseWriter
	timeout  time.Duration // the write timeout of the wire
	wire     *wire.Conn    // set by Hijack
	upgraded bool          // WriteHeader(101) was called and not passed on
}

// WriteHeader keeps a 101 for Hijack to write; any other status (a
// refused handshake) goes to net/http.
func (w *hijackWriter) WriteHeader(code int) {
	if code == http.StatusSwitchingProtocols {
		w.upgraded = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// switchingProtocols is the 101 response with w's headers.
func (w *hijackWriter) switchingProtocols() []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = w.Header().Write(&b) // a bytes.Buffer takes every write
	b.WriteString("\r\n")
	return b.Bytes()
}

// Hijack implements http.Hijacker.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack: the response writer is not an http.Hijacker")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	// The server's read and write deadlines (http.read_timeout,
	// http.response_timeout) must not stay on a hijacked connection: a
	// WebSocket sets its own. net/http documents that they may remain
	// (the Go releases of today clear them), so they are cleared here.
	if err := nc.SetDeadline(time.Time{}); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("hijack: clear deadlines: %w", err)
	}
	w.wire = wire.New(nc, w.timeout)
	if w.upgraded {
		w.wire.Hold(w.switchingProtocols())
	}
	bw := bufio.NewWriterSize(w.wire, writeBufferSize)
	n := brw.Reader.Buffered()
	if n > readBufferSize {
		return nc, bufio.NewReadWriter(brw.Reader, bw), nil
	}
	if n == 0 {
		return nc, bufio.NewReadWriter(bufio.NewReaderSize(nc, readBufferSize), bw), nil
	}
	// Bytes the client sent after the handshake stay first in line.
	pending, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pending)), nc), readBufferSize)
	if _, err := br.Peek(n); err != nil {
		return nil, nil, fmt.Errorf("hijack: keep buffered bytes: %w", err)
	}
	return nc, bufio.NewReadWriter(br, bw), nil
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// conn is one client connection; it implements chat.Conn.
//
// An idle connection has one goroutine, its reader. Frames wait in a
// bounded queue; a connection with frames queued takes its turn on the
// handler's writers (Run), which send what piled up as one message in one
// write that does not wait for the client. Only when the client's socket
// does not take such a write at once does the connection get a writer
// goroutine of its own (writeLoop), until its queue is empty. Keep-alive
// pings run from a timer.
type conn struct {
	h      *Handler
	ws     *websocket.Conn
	w      *wire.Conn // every write to the client; nil only in tests that never write
	ctx    context.Context
	cancel context.CancelFunc
	ip     string
	ping   *time.Timer
	ended  chan struct{}   // closed once the WebSocket is closed
	broken atomic.Bool     // the peer is gone or a write failed: close without a handshake
	hdr    [maxHeader]byte // the header of a frame Run writes as is, by the one writer

	client *session.Client // the protocol state; set before the reader starts

	mu      sync.Mutex
	queue   []*chat.Frame // frames waiting for the writer, at most opts.SendQueue
	queued  int           // bytes of queue and of the batch being written, at most opts.SendQueueBytes
	writing bool          // frames are queued or being written: Run or writeLoop will see them
	closing bool          // closeWith was called; the writer closes the connection
	status  websocket.StatusCode
	reason  string

	closeOnce sync.Once
}

// Send queues f without blocking; false means the queue is full, in
// frames or in bytes (the hub then closes the connection), or the
// connection is closing. A frame is always taken while nothing is
// pending, however large.
func (c *conn) Send(f *chat.Frame) bool {
	n := len(f.JSON()) // encoded once for every member
	c.mu.Lock()
	if c.closing || len(c.queue) >= c.h.opts.SendQueue || c.overBytes(n) {
		c.mu.Unlock()
		return false
	}
	c.queued += n
	c.queue = append(c.queue, f)
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		c.h.writers.Add(c)
	}
	return true
}

// overBytes reports whether n more bytes would pass the byte bound; c.mu
// is held.
func (c *conn) overBytes(n int) bool {
	limit := c.h.opts.SendQueueBytes
	return limit > 0 && c.queued > 0 && c.queued+n > limit
}

// Close ends the connection; the writer sends what is queued (unless the
// connection is a slow consumer) and then the close frame.
func (c *conn) Close(reason string) {
	c.closeWith(websocket.StatusPolicyViolation, reason)
}

// End ends the connection normally once what is queued has been sent.
func (c *conn) End(reason string) {
	c.closeWith(websocket.StatusNormalClosure, reason)
}

func (c *conn) closeWith(status websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.status, c.reason = status, reason
		c.closing = true
		// Nothing is queued while no writer runs; one that runs closes
		// the connection once it has written what is queued.
		start := !c.writing
		c.writing = true
		c.mu.Unlock()
		c.cancel()
		if start {
			go c.finish()
		}
	})
}

// take moves up to maxBatch queued frames into batch, after settling the
// bytes of the last batch (done); c.mu is held. It returns how many it
// took and whether they are to be dropped rather than written: a closing
// connection still gets what was queued before (a notice telling the user
// why, for example), unless it is a slow consumer.
func (c *conn) take(batch *[maxBatch]*chat.Frame, done int) (n int, drop bool) {
	c.queued -= done
	n = copy(batch[:], c.queue)
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	return n, c.closing && c.reason == chat.ReasonSlowConsumer
}

// stop ends the writing when nothing is queued: the connection waits for
// its next frame, or is closed when it is closing. c.mu is held; it
// reports whether the caller must finish the connection.
func (c *conn) stop() (finish bool) {
	if c.closing {
		return true
	}
	c.writing = false
	if cap(c.queue) > idleQueueCap {
		c.queue = nil
	}
	return false
}

// Run is the connection's turn on the handler's writers (wire.Writers):
// it writes up to maxBatch queued frames as one message, without waiting
// for the client. When the client's socket does not take it all at once,
// the connection goes on writing on a goroutine of its own (writeLoop).
func (c *conn) Run() (again bool) {
	var batch [maxBatch]*chat.Frame
	c.mu.Lock()
	n, drop := c.take(&batch, 0)
	if n == 0 {
		finish := c.stop()
		c.mu.Unlock()
		if finish {
			go c.finish() // the close handshake waits for the client
		}
		return false
	}
	c.mu.Unlock()
	size := 0
	for _, f := range batch[:n] {
		size += len(f.JSON())
	}
	if !drop && !c.broken.Load() {
		if n == 1 && size > maxPooledBatch {
			// Too large to copy (write): the client may well take a
			// while, too.
			f := batch[0]
			go c.writeLoop(func() error { return c.write([]*chat.Frame{f}) }, size)
			return false
		}
		var (
			out wire.Outcome
			err error
			bp  *[]byte // the batch buffer; nil when a frame goes out as is
		)
		if n == 1 && size >= directFrameBytes {
			p := batch[0].JSON()
			out, err = c.w.TryWriteBuffers(appendTextHeader(c.hdr[:0], len(p)), p)
		} else {
			bp = c.frame(batch[:n])
			out, err = c.w.TryWrite(*bp)
		}
		switch {
		case err != nil:
			c.h.bufs.Put(bp)
			c.broken.Store(true)
			c.closeWith(websocket.StatusGoingAway, "write failed")
		case out != wire.Wrote:
			f := batch[0]
			go c.writeLoop(func() error {
				defer c.h.bufs.Put(bp)
				switch {
				case out == wire.Pending:
					return c.w.Flush()
				case bp == nil:
					return c.write([]*chat.Frame{f})
				}
				_, err := c.w.Write(*bp)
				return err
			}, size)
			return false
		default:
			c.h.bufs.Put(bp)
		}
	}
	c.mu.Lock()
	c.queued -= size
	more := len(c.queue) > 0
	var finish bool
	if !more {
		finish = c.stop()
	}
	c.mu.Unlock()
	if finish {
		go c.finish()
	}
	return more
}

// writeLoop writes for a connection whose client did not take a write at
// once: first the message Run had in hand (first, of size payload bytes),
// then the queued frames, up to maxBatch per write, waiting for the
// client as long as the write timeout allows. It ends when the queue is
// empty; on a closing connection it then closes the WebSocket.
func (c *conn) writeLoop(first func() error, size int) {
	if err := first(); err != nil {
		c.broken.Store(true)
		c.closeWith(websocket.StatusGoingAway, "write failed")
	}
	var batch [maxBatch]*chat.Frame
	inflight := size // bytes of the last batch, pending until it is written
	for {
		c.mu.Lock()
		n, drop := c.take(&batch, inflight)
		if n == 0 {
			finish := c.stop()
			c.mu.Unlock()
			if finish {
				c.finish()
			}
			return
		}
		c.mu.Unlock()
		inflight = 0
		for _, f := range batch[:n] {
			inflight += len(f.JSON())
		}
		if !drop && !c.broken.Load() {
			if err := c.write(batch[:n]); err != nil {
				c.broken.Store(true)
				c.closeWith(websocket.StatusGoingAway, "write failed")
			}
		}
		clear(batch[:n])
	}
}

// finish closes the WebSocket: with the close handshake, or at once when
// the connection is broken.
func (c *conn) finish() {
	defer close(c.ended)
	c.ping.Stop()
	if c.broken.Load() {
		_ = c.ws.CloseNow()
		return
	}
	if c.status != websocket.StatusNormalClosure {
		c.h.log.Debug("closing connection", "remote", c.ip, "reason", c.reason)
	}
	_ = c.ws.Close(c.status, c.reason)
}

// keepAlive pings the client (from the ping timer) and re-arms the timer.
func (c *conn) keepAlive() {
	ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.WriteTimeout)
	err := c.ws.Ping(ctx)
	cancel()
	if err != nil {
		if c.ctx.Err() == nil {
			c.broken.Store(true)
			c.closeWith(websocket.StatusGoingAway, "ping timeout")
		}
		return
	}
	c.ping.Reset(c.h.opts.PingInterval)
}

// write sends one frame as is, or several as one JSON array, in one
// WebSocket message and one write, waiting for the client up to the write
// timeout (not bounded by c.ctx: frames queued before a Close still go
// out).
func (c *conn) write(batch []*chat.Frame) error {
	if len(batch) == 1 && len(batch[0].JSON()) >= directFrameBytes {
		// Not copied: header and payload in one writev(2).
		p := batch[0].JSON()
		var hdr [maxHeader]byte
		_, err := c.w.WriteBuffers(net.Buffers{appendTextHeader(hdr[:0], len(p)), p})
		return err
	}
	bp := c.frame(batch)
	_, err := c.w.Write(*bp)
	c.h.bufs.Put(bp)
	return err
}

// frame builds the WebSocket message of batch in a lent buffer: the frame
// header in front of the payload, which is one frame as is or several as
// one JSON array. Give the buffer back with c.h.bufs.Put.
func (c *conn) frame(batch []*chat.Frame) *[]byte {
	bp := c.h.bufs.Get()
	b := *bp
	if len(batch) == 1 {
		p := batch[0].JSON()
		b = append(appendTextHeader(b, len(p)), p...)
	} else {
		size := 1 + len(batch) // the brackets and the commas
		for _, f := range batch {
			size += len(f.JSON())
		}
		b = append(appendTextHeader(b, size), '[')
		for i, f := range batch {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, f.JSON()...)
		}
		b = append(b, ']')
	}
	*bp = b
	return bp
}

// maxHeader is the longest header of a frame the server sends (RFC 6455
// section 5.2: no mask, a 64-bit length).
const maxHeader = 10

// appendTextHeader appends the header of a final, unmasked text frame of
// n payload bytes.
func appendTextHeader(b []byte, n int) []byte {
	const finText = 0x80 | 0x1
	switch {
	case n < 126:
		return append(b, finText, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, finText, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, finText, 127), uint64(n))
	}
}

// readLoop reads the client's frames and hands each to the session. A
// frame is read into a buffer lent by the handler's pool for as long as
// the session handles it (Handle keeps nothing of it), so that a
// connection holds no read buffer while it waits.
func (c *conn) readLoop() {
	for {
		// Not c.ctx: cancelling a read would drop the connection without a
		// close frame; the writer closes it properly and that ends the read.
		typ, r, err := c.ws.Reader(context.Background())
		if err == nil {
			bp := c.h.bufs.Get()
			buf := bytes.NewBuffer(*bp)
			_, err = buf.ReadFrom(r)
			if *bp = buf.Bytes(); err == nil {
				if typ == websocket.MessageText {
					c.client.Handle(*bp)
				} else {
					c.client.Refuse(chat.Errorf(chat.CodeBadRequest, "Frames must be JSON text."))
				}
			}
			c.h.bufs.Put(bp)
		}
		if err != nil {
			if s := websocket.CloseStatus(err); s == -1 && c.ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				c.h.log.Debug("read failed", "remote", c.ip, "error", err)
			}
			return
		}
	}
}
