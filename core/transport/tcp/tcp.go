// Package tcp is the plain TCP transport: the JSON protocol of
// docs/protocol.md with one frame a line (newline-delimited JSON) in both
// directions. Like the WebSocket transport it does the framing, the
// deadlines and the write batching only; core/session answers the
// requests.
package tcp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/session"
	"github.com/parlorchat/parlor/core/transport/wire"
)

// Options configures a Server.
type Options struct {
	// MaxLineBytes is the longest line a client may send, its newline
	// excluded; a longer one is refused and the connection closed.
	MaxLineBytes int
	SendQueue    int // frames queued per connection before it is dropped
	// SendQueueBytes bounds the bytes queued per connection; 0 means no
	// byte bound.
	SendQueueBytes int
	WriteTimeout   time.Duration // one write to a client must finish within this time
	// HandshakeTimeout bounds the TLS handshake of a TLS listener's
	// connection; WriteTimeout when 0.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection that sent nothing for this long;
	// 0 never does.
	IdleTimeout time.Duration
	Logger      hclog.Logger
}

// Server serves the chat protocol on TCP listeners.
type Server struct {
	opts Options
	node *session.Node
	log  hclog.Logger
	bufs *wire.Pool // write buffers, lent while a connection writes

	mu     sync.Mutex
	ln     []net.Listener
	closed bool
	active sync.WaitGroup // connections being served
}

// New makes a server for the protocol of node.
func New(node *session.Node, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.SendQueue < 1 {
		opts.SendQueue = 1
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = opts.WriteTimeout
	}
	return &Server{opts: opts, node: node, log: opts.Logger, bufs: wire.NewPool(maxPooledWrite)}
}

// Serve accepts connections on ln until Close; it returns nil once the
// server was closed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.ln = append(s.ln, ln)
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("tcp accept: %w", err)
		}
		delay = 0
		s.start(nc)
	}
}

// Close stops accepting connections. Open connections are closed by the
// group (chat.Group.CloseAll); Wait waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for _, ln := range s.ln {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Wait blocks until every connection has ended or ctx is done.
func (s *Server) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for tcp connections: %w", ctx.Err())
	}
}

// remoteIP is the address of nc without its port.
func remoteIP(nc net.Conn) string {
	a := nc.RemoteAddr().String()
	host, _, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	return host
}

// refuseTimeout bounds the error line sent to a connection refused by a
// per-address cap.
const refuseTimeout = 2 * time.Second

// start serves a new connection, after its TLS handshake (on a goroutine
// of its own, bounded by HandshakeTimeout) when it has one.
func (s *Server) start(nc net.Conn) {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		s.open(nc)
		return
	}
	s.active.Add(1)
	go func() {
		defer s.active.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.HandshakeTimeout)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			s.log.Debug("tls handshake failed", "remote", remoteIP(nc), "error", err)
			_ = nc.Close()
			return
		}
		s.open(nc)
	}()
}

// open starts the session of a connection and its reader and writer.
func (s *Server) open(nc net.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		s: s, nc: nc, w: wire.New(nc, s.opts.WriteTimeout), ctx: ctx, cancel: cancel, ip: remoteIP(nc),
		wake: make(chan struct{}, 1), ended: make(chan struct{}),
	}
	client, err := s.node.Connect(ctx, c, session.ConnInfo{RemoteIP: c.ip})
	if err != nil {
		cancel()
		s.log.Debug("connection refused", "remote", c.ip, "error", err)
		_ = nc.SetWriteDeadline(time.Now().Add(refuseTimeout))
		_, _ = nc.Write(append(chat.NewFrame(chat.ErrorEventOf("", err)).JSON(), '\n'))
		_ = nc.Close()
		return
	}
	c.client = client
	s.active.Add(2)
	go c.writeLoop()
	go c.serve()
}

// conn is one TCP client. A reader goroutine hands lines to the session;
// a writer goroutine writes what is queued, as many lines per write (and
// write(2)) as piled up.
type conn struct {
	s      *Server
	nc     net.Conn
	w      *wire.Conn // every write to nc
	ctx    context.Context
	cancel context.CancelFunc
	ip     string
	client *session.Client
	wake   chan struct{} // a frame was queued or the connection is closing
	ended  chan struct{} // closed when the writer has closed nc
	broken atomic.Bool   // the peer is gone or a write failed: nothing more is written

	mu      sync.Mutex
	queue   []*chat.Frame
	queued  int // bytes queued
	closing bool
	reason  string

	closeOnce sync.Once
}

// Send queues f without blocking; false means the queue is full (in
// frames or bytes) or the connection is closing.
func (c *conn) Send(f *chat.Frame) bool {
	n := len(f.JSON()) + 1
	o := &c.s.opts
	c.mu.Lock()
	if c.closing || len(c.queue) >= o.SendQueue || (o.SendQueueBytes > 0 && c.queued > 0 && c.queued+n > o.SendQueueBytes) {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, f)
	c.queued += n
	c.mu.Unlock()
	c.signal()
	return true
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close ends the connection after what is queued, or at once for a slow
// consumer; TCP has no close reason, so it is only logged.
func (c *conn) Close(reason string) { c.closeWith(reason) }

// End ends the connection normally after what is queued.
func (c *conn) End(reason string) { c.closeWith(reason) }

func (c *conn) closeWith(reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing, c.reason = true, reason
		slow := reason == chat.ReasonSlowConsumer
		if slow {
			clear(c.queue)
			c.queue, c.queued = nil, 0
		}
		c.mu.Unlock()
		if slow {
			// Nothing more is delivered to a slow consumer: closing the
			// socket now ends a write blocked on it, and the member
			// leaves at once instead of after the write timeout.
			c.broken.Store(true)
			_ = c.nc.Close()
		}
		c.cancel()
		c.signal()
	})
}

// maxPooledWrite is the largest write buffer kept for reuse.
const maxPooledWrite = 64 << 10

// writeLoop writes queued frames, one line each and all that piled up in
// one write, and closes the connection once it is closing and drained.
func (c *conn) writeLoop() {
	defer c.s.active.Done()
	defer close(c.ended)
	var batch []*chat.Frame
	for {
		c.mu.Lock()
		batch = append(batch[:0], c.queue...)
		clear(c.queue)
		c.queue = c.queue[:0]
		closing, reason := c.closing, c.reason
		c.mu.Unlock()
		if len(batch) == 0 {
			if closing {
				if reason != "" {
					c.s.log.Debug("closing connection", "remote", c.ip, "reason", reason)
				}
				_ = c.nc.Close()
				return
			}
			<-c.wake
			continue
		}
		n := 0
		for _, f := range batch {
			n += len(f.JSON()) + 1
		}
		if !c.broken.Load() {
			if err := c.write(batch); err != nil {
				c.broken.Store(true)
				c.closeWith("write failed")
			}
		}
		clear(batch)
		if cap(batch) > maxBatchKept {
			batch = nil
		}
		c.mu.Lock()
		c.queued = max(c.queued-n, 0)
		c.mu.Unlock()
	}
}

// maxBatchKept bounds the batch slice the writer keeps between batches.
const maxBatchKept = 64

// write sends the lines of batch in one write from a lent buffer, waiting
// for the client up to the write timeout.
func (c *conn) write(batch []*chat.Frame) error {
	bp := c.s.bufs.Get()
	b := *bp
	for _, f := range batch {
		b = append(append(b, f.JSON()...), '\n')
	}
	_, err := c.w.Write(b)
	*bp = b
	c.s.bufs.Put(bp)
	return err
}

// serve reads lines until the connection ends, then waits for the writer
// and ends the session.
func (c *conn) serve() {
	defer c.s.active.Done()
	c.readLoop()
	c.closeWith("")
	<-c.ended
	c.client.Closed()
}

// readBufferSize is the reader's buffer; longer lines are gathered in a
// separate slice up to the line limit.
const readBufferSize = 4096

func (c *conn) readLoop() {
	br := bufio.NewReaderSize(c.nc, readBufferSize)
	limit := c.s.opts.MaxLineBytes
	var long []byte
	for {
		if c.s.opts.IdleTimeout > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.s.opts.IdleTimeout))
		}
		part, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || (err == nil && long != nil) {
			long = append(long, part...)
			if len(bytes.TrimRight(long, "\r\n")) > limit {
				c.tooLong(br, err == nil)
				return
			}
			if err != nil {
				continue
			}
			part, long = long, nil
		}
		if err != nil {
			if c.ctx.Err() == nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.s.log.Debug("read failed", "remote", c.ip, "error", err)
			}
			return
		}
		line := bytes.TrimRight(part, "\r\n")
		if len(line) > limit {
			c.tooLong(br, true)
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		c.client.Handle(line)
	}
}

// drainTimeout bounds the reading of the rest of a line too long.
const drainTimeout = 2 * time.Second

// tooLong refuses a line longer than the limit and closes the connection.
// The rest of the line is read first (for up to drainTimeout) unless
// ended says it was read: closing a socket with unread input resets it,
// and the client could lose the error before reading it.
func (c *conn) tooLong(br *bufio.Reader, ended bool) {
	c.client.Refuse(chat.Errorf(chat.CodeBadRequest, "The line is longer than %d bytes.", c.s.opts.MaxLineBytes))
	if !ended {
		_ = c.nc.SetReadDeadline(time.Now().Add(drainTimeout))
		for {
			if _, err := br.ReadSlice('\n'); !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
	}
	c.closeWith("line too long")
}
