// Package websocket is the browser transport: the JSON protocol of
// docs/protocol.md over one WebSocket per client.
package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
)

// ProtocolVersion is the version announced in the hello frame.
const ProtocolVersion = 1

// maxBatch bounds how many queued frames one write carries.
const maxBatch = 64

// Login establishes who a connection belongs to; *auth.Pipeline is one.
type Login interface {
	Login(ctx context.Context, username, password, remoteIP string) (auth.Identity, error)
}

// Options configures the handler.
type Options struct {
	MaxFrameBytes int64 // largest frame a client may send
	SendQueue     int   // frames queued per connection before it is dropped
	// SendQueueBytes bounds the bytes queued per connection as SendQueue
	// bounds the frames; 0 means no byte bound.
	SendQueueBytes int
	LoginTimeout   time.Duration // a connection must log in within this time
	WriteTimeout   time.Duration // one write to a client must finish within this time
	PingInterval   time.Duration // keep-alive pings
	Version        string        // server version for the hello frame
	Logger         hclog.Logger
	// Sessions logs connections in by session (session.go); nil turns
	// session logins and reconnect tokens off.
	Sessions SessionLogin
	// Modules names the module plugins that serve HTTP under /<name>/,
	// listed in the hello frame so that a client asks only for what is
	// there (the web client reads /sso/settings only when "sso" is).
	Modules []string
	// Limits are the abuse limits of connections (limits.go).
	Limits Limits
	// PublicNames, when not empty, are the host names (Host header, with
	// or without a port) a WebSocket may be opened under (host.go).
	PublicNames []string
}

// Handler accepts WebSocket connections at /ws.
type Handler struct {
	opts  Options
	group *chat.Group
	login Login
	log   hclog.Logger
	hello []byte
	lim   *limiters   // abuse limits (limits.go)
	names publicNames // allowed Host headers (host.go)

	active   sync.WaitGroup // connections being served
	sessions sessionConns   // connections logged in by session (session.go)
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

// New makes a handler for one group.
func New(group *chat.Group, login Login, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	hello, _ := json.Marshal(helloEvent{
		Type: "hello", Server: "parlor", Version: opts.Version,
		Protocol: ProtocolVersion, Guests: group.GuestsAllowed(), Modules: append([]string{}, opts.Modules...),
	})
	return &Handler{
		opts: opts, group: group, login: login, log: opts.Logger, hello: hello,
		lim: newLimiters(opts.Limits), names: newPublicNames(opts.PublicNames),
	}
}

// Buffer sizes of a connection. net/http's are 4 KiB each, held for the
// life of the connection; clients send small frames and most of a larger
// write bypasses the buffer, so 512 bytes each are enough.
const (
	readBufferSize  = 512
	writeBufferSize = 512
	// maxPooledBatch is the largest batch buffer kept for reuse.
	maxPooledBatch = 64 << 10
	// idleQueueCap is the largest send queue kept by an idle connection.
	idleQueueCap = 16
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
	var lim connLimits
	refusal := h.admit(&lim, ip)
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		h.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "error", err)
		if lim.counted {
			h.lim.ips.closed(lim.ipKey, false)
		}
		return
	}
	if refusal != nil {
		h.refuse(ws, hw.conn, ip, refusal)
		return
	}
	h.active.Add(1)
	ws.SetReadLimit(h.opts.MaxFrameBytes)
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		h: h, ws: ws, nc: hw.conn, ctx: ctx, cancel: cancel,
		ip:     ip,
		cookie: sessionCookie(r),
		ended:  make(chan struct{}),
		lim:    lim,
	}
	// Armed after the assignment so that keepAlive always sees c.ping.
	c.ping = time.AfterFunc(time.Hour, c.keepAlive)
	c.ping.Reset(h.opts.PingInterval)
	h.group.Connect(c)
	c.Send(chat.RawFrame(h.hello))
	go c.serve()
}

// serve reads requests until the connection ends, then waits for the
// writer to close it and forgets it.
func (c *conn) serve() {
	defer c.h.active.Done()
	c.readLoop()
	if c.ctx.Err() == nil {
		// The client closed or vanished: nothing more can be delivered.
		c.broken.Store(true)
	}
	c.closeWith(websocket.StatusNormalClosure, "")
	<-c.ended
	c.h.sessions.remove(c)
	c.h.group.Disconnect(c, c.member)
	c.releaseLimits()
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
// buffers than net/http's and keeps the net.Conn for write deadlines.
type hijackWriter struct {
	http.ResponseWriter
	conn net.Conn
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
	w.conn = nc
	// The server's read and write deadlines (http.read_timeout,
	// http.response_timeout) must not stay on a hijacked connection: a
	// WebSocket sets its own. net/http documents that they may remain
	// (the Go releases of today clear them), so they are cleared here.
	if err := nc.SetDeadline(time.Time{}); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("hijack: clear deadlines: %w", err)
	}
	bw := bufio.NewWriterSize(nc, writeBufferSize)
	n := brw.Reader.Buffered()
	if n > readBufferSize {
		return nc, bufio.NewReadWriter(brw.Reader, bw), nil
	}
	// Bytes the client sent after the handshake stay first in line.
	pending, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pending)), nc), readBufferSize)
	if n > 0 {
		if _, err := br.Peek(n); err != nil {
			return nil, nil, fmt.Errorf("hijack: keep buffered bytes: %w", err)
		}
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
// bounded queue; a writer goroutine runs only while the queue is not
// empty and sends what piled up as one message per write. Keep-alive
// pings run from a timer.
type conn struct {
	h      *Handler
	ws     *websocket.Conn
	nc     net.Conn // the hijacked connection (write deadlines); nil if unknown
	ctx    context.Context
	cancel context.CancelFunc
	ip     string
	cookie string // session token from the login cookie at upgrade
	ping   *time.Timer
	ended  chan struct{} // closed once the WebSocket is closed
	broken atomic.Bool   // the peer is gone or a write failed: close without a handshake

	lim connLimits // owned by the read loop (limits.go)

	mu      sync.Mutex
	queue   []*chat.Frame // frames waiting for the writer, at most opts.SendQueue
	queued  int           // bytes of queue and of the batch being written, at most opts.SendQueueBytes
	writing bool          // a writer goroutine is running
	closing bool          // closeWith was called; the writer closes the connection
	// deadline is the write deadline set on nc; only the (single) running
	// writer uses it, and it is lifted when the writer stops.
	deadline time.Time
	status   websocket.StatusCode
	reason   string

	closeOnce sync.Once

	member  *chat.Member // owned by the read loop
	session string       // hash of the session token logged in with, if any
	token   string       // the session token logged in with, if any
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
		go c.writeLoop()
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

func (c *conn) closeWith(status websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.status, c.reason = status, reason
		c.closing = true
		start := !c.writing
		c.writing = true
		c.mu.Unlock()
		c.cancel()
		if start {
			go c.writeLoop()
		}
	})
}

// writeLoop sends the queued frames, up to maxBatch per write, and ends
// when the queue is empty; on a closing connection it then closes the
// WebSocket.
func (c *conn) writeLoop() {
	var batch [maxBatch]*chat.Frame
	inflight := 0 // bytes of the last batch, pending until it is written
	for {
		c.mu.Lock()
		c.queued -= inflight
		n := copy(batch[:], c.queue)
		if n == 0 {
			closing := c.closing
			if !closing {
				c.idleDeadline()
				c.writing = false
				if cap(c.queue) > idleQueueCap {
					c.queue = nil
				}
			}
			c.mu.Unlock()
			if closing {
				c.finish()
			}
			return
		}
		rest := copy(c.queue, c.queue[n:])
		clear(c.queue[rest:])
		c.queue = c.queue[:rest]
		// A closing connection still gets what was queued before (a
		// notice telling the user why, for example), unless it is a
		// slow consumer or can't be written to.
		drop := c.closing && c.reason == chat.ReasonSlowConsumer
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

// idleDeadline lifts the write deadline when the writer stops, so that it
// cannot expire under a keep-alive ping sent while the connection idles
// (pings are bounded by their own context). It runs under c.mu before
// the writer is marked stopped, so it never lifts a later writer's
// deadline.
func (c *conn) idleDeadline() {
	if c.nc == nil || c.deadline.IsZero() {
		return
	}
	_ = c.nc.SetWriteDeadline(time.Time{})
	c.deadline = time.Time{}
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
	if c.nc != nil {
		_ = c.nc.SetWriteDeadline(time.Time{}) // the handshake has its own timeouts
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

// batchBuffers holds buffers for writing batches as one message.
var batchBuffers = sync.Pool{New: func() any { return new([]byte) }}

// write sends one frame as is, or several as one JSON array, in one
// WebSocket message. It is bounded by the write timeout only, not by
// c.ctx: frames queued before a Close still go out.
func (c *conn) write(batch []*chat.Frame) error {
	ctx := context.Background()
	if c.nc != nil {
		// A deadline on the connection costs no allocation per write,
		// unlike a context with a timeout. It is moved only once it has
		// drifted by a tenth of the timeout, so a write gets between 0.9
		// and 1 times WriteTimeout.
		if want := time.Now().Add(c.h.opts.WriteTimeout); want.Sub(c.deadline) > c.h.opts.WriteTimeout/10 {
			if err := c.nc.SetWriteDeadline(want); err != nil {
				return fmt.Errorf("set write deadline: %w", err)
			}
			c.deadline = want
		}
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.h.opts.WriteTimeout)
		defer cancel()
	}
	if len(batch) == 1 {
		return c.ws.Write(ctx, websocket.MessageText, batch[0].JSON())
	}
	bp := batchBuffers.Get().(*[]byte)
	b := append((*bp)[:0], '[')
	for i, f := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f.JSON()...)
	}
	b = append(b, ']')
	err := c.ws.Write(ctx, websocket.MessageText, b)
	if cap(b) <= maxPooledBatch {
		*bp = b[:0]
		batchBuffers.Put(bp)
	}
	return err
}

// onOwnStack runs f on a short-lived goroutine and waits for it. A
// goroutine's stack keeps its largest size until a garbage collection
// shrinks it; requests go deep (JSON decoding, logins through SQLite or
// plugins over gRPC), so their growth is kept off the connection's
// long-lived reader, which then needs only a small stack.
func onOwnStack(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// request is any client-to-server frame.
type request struct {
	Type     string     `json:"type"`
	ID       string     `json:"id"`
	User     string     `json:"user"`
	Password string     `json:"password"`
	Room     int64      `json:"room"`
	Text     string     `json:"text"`
	To       string     `json:"to"`
	Style    chat.Style `json:"style"`
	Session  bool       `json:"session"` // login with the session cookie
	Token    string     `json:"token"`   // login with a session token
}

func (c *conn) readLoop() {
	loginTimer := time.AfterFunc(c.h.opts.LoginTimeout, func() {
		c.closeWith(websocket.StatusPolicyViolation, "login timeout")
	})
	defer loginTimer.Stop()
	for {
		// Not c.ctx: cancelling a read would drop the connection without a
		// close frame; the writer closes it properly and that ends the read.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			if s := websocket.CloseStatus(err); s == -1 && c.ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				c.h.log.Debug("read failed", "remote", c.ip, "error", err)
			}
			return
		}
		onOwnStack(func() { c.process(typ, data) })
		if c.member != nil {
			loginTimer.Stop()
		}
	}
}

// process decodes and answers one request.
func (c *conn) process(typ websocket.MessageType, data []byte) {
	if typ != websocket.MessageText {
		c.reply(chat.ErrorEvent{Type: "error", Code: chat.CodeBadRequest, Message: "Frames must be JSON text."})
		return
	}
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		c.reply(chat.ErrorEvent{Type: "error", Code: chat.CodeBadRequest, Message: "The frame is not valid JSON: " + err.Error()})
		return
	}
	if err := c.handle(req); err != nil {
		c.reply(chat.ErrorEventOf(req.ID, err))
	}
}

func (c *conn) reply(ev any) {
	if !c.Send(chat.NewFrame(ev)) {
		c.Close(chat.ReasonSlowConsumer)
	}
}

func (c *conn) handle(req request) error {
	g := c.h.group
	switch req.Type {
	case "ping":
		c.reply(struct {
			Type string `json:"type"`
			ID   string `json:"id,omitempty"`
		}{"pong", req.ID})
		return nil
	case "login":
		if req.Session || req.Token != "" {
			return c.doSessionLogin(req)
		}
		return c.doLogin(req)
	case "logout":
		return c.doLogout(req)
	case "rooms", "join", "leave", "say", "pm", "users":
	default:
		return chat.Errorf(chat.CodeBadRequest, "Unknown request type %q.", req.Type)
	}
	m := c.member
	if m == nil {
		return chat.Errorf(chat.CodeNotLoggedIn, "Log in first.")
	}
	switch req.Type {
	case "rooms":
		c.reply(chat.RoomsEvent{Type: "rooms", ID: req.ID, Rooms: g.Rooms()})
	case "join":
		if err := c.allowJoin(); err != nil {
			return err
		}
		if err := c.checkRoomPassword(req.Room); err != nil {
			return err
		}
		ev, err := g.Join(m, req.Room, req.Password)
		if err != nil {
			c.joinFailed(err, req.Password)
			return err
		}
		ev.ID = req.ID
		c.reply(ev)
	case "leave":
		if err := c.allowJoin(); err != nil {
			return err
		}
		c.reply(map[string]any{"type": "left", "id": req.ID, "room": g.Leave(m)})
	case "say":
		if err := c.allowMessage(); err != nil {
			return err
		}
		_, err := g.Say(m, req.Text, req.Style, "")
		return err
	case "pm":
		if req.To == "" {
			return chat.Errorf(chat.CodeBadRequest, "A private message needs a recipient (to).")
		}
		if err := c.allowMessage(); err != nil {
			return err
		}
		if err := c.allowPM(req.To); err != nil {
			return err
		}
		return g.Private(m, req.To, req.Text, req.Style, "")
	case "users":
		users, err := g.Users(req.Room)
		if err != nil {
			return err
		}
		c.reply(map[string]any{"type": "users", "id": req.ID, "room": req.Room, "users": users})
	}
	return nil
}

func (c *conn) doLogin(req request) error {
	if c.member != nil {
		return chat.Errorf(chat.CodeAlreadyLoggedIn, "This connection is logged in already as %s.", c.member.Name)
	}
	id, err := c.h.login.Login(c.ctx, req.User, req.Password, c.ip)
	if err != nil {
		c.h.log.Info("login refused", "user", req.User, "remote", c.ip, "code", chat.CodeOf(err))
		return err
	}
	m := &chat.Member{Name: id.Name, Display: id.Display, Admin: id.Admin, Guest: id.Guest, Conn: c}
	if err := c.h.group.Login(m); err != nil {
		return err
	}
	c.member = m
	c.h.log.Info("login", "user", id.Name, "remote", c.ip, "guest", id.Guest, "admin", id.Admin, "by", id.By)
	token := c.issueReconnect(id)
	c.loggedIn(req, id, token, token != "")
	return nil
}
