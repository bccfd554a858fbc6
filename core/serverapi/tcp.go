package serverapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/limit"
)

// TCPOptions configures the XML command listener.
type TCPOptions struct {
	// MaxFrameBytes is the largest command; DefaultMaxFrameBytes when zero.
	MaxFrameBytes int
	// ReadTimeout bounds the time a client has to send its whole command
	// (10s when zero).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing the reply (10s when zero).
	WriteTimeout time.Duration
	// CommandTimeout bounds running a command (10s when zero).
	CommandTimeout time.Duration
	// MaxConns bounds the connections served at once (64 when zero); a
	// connection over the bound gets a busy reply.
	MaxConns int
	// MaxConnsPerAddr bounds the connections of one address (limit.IPKey:
	// an IPv6 /64) served at once (8 when zero), so that one client cannot
	// take every slot; a connection over it gets a busy reply.
	MaxConnsPerAddr int
	// Refusals counts the refusals for /metrics; nil counts nothing.
	Refusals *limit.Refusals
	Logger   hclog.Logger
}

// lingerTime is how long a connection is drained after the reply, so that
// unread input does not make the kernel reset the connection before the
// client has read the reply.
const lingerTime = time.Second

// TCPServer serves XML commands: one per connection, terminated by a zero
// byte, answered with one XML document followed by a zero byte, after
// which the server closes the connection. A connection from an address
// that no group allows (Dispatcher.Admits) is answered with a refusal and
// closed before anything is read, so it never holds a slot.
type TCPServer struct {
	d    *Dispatcher
	opts TCPOptions
	log  hclog.Logger
	sem  chan struct{} // connections being served
	busy chan struct{} // connections being refused

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	byAddr map[string]int // connections served, by limit.IPKey
	closed bool
	wg     sync.WaitGroup
}

// NewTCPServer makes a listener-less server for d; call Serve.
func NewTCPServer(d *Dispatcher, opts TCPOptions) *TCPServer {
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 10 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 10 * time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 64
	}
	if opts.MaxConnsPerAddr <= 0 {
		opts.MaxConnsPerAddr = 8
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &TCPServer{d: d, opts: opts, log: opts.Logger, sem: make(chan struct{}, opts.MaxConns),
		busy: make(chan struct{}, opts.MaxConns),
		ctx:  ctx, cancel: cancel, conns: map[net.Conn]struct{}{}, byAddr: map[string]int{}}
}

// Serve accepts connections on ln until Close; it returns nil after Close
// and the accept error otherwise.
func (s *TCPServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.ln = ln
	s.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("server API accept: %w", err)
			}
			// Out of file descriptors and the like: wait and retry.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("server API accept failed; retrying", "error", err, "in", delay)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return nil
			}
			continue
		}
		delay = 0
		remote := remoteAddr(c)
		if !s.d.Admits(remote) {
			s.log.Warn("server API connection refused", "reason", "address not allowed", "remote", remote)
			s.refuse(c, Fail(CodeDenied, "Commands from %s are not allowed (server_api.groups.<group>.allow_from).", addrText(remote)))
			continue
		}
		key := limit.IPKey(addrText(remote))
		if !s.takeAddr(key) {
			s.opts.Refusals.Add(LimitConnsPerAddr)
			s.log.Warn("server API connection refused: too many from one address", "remote", remote, "max_conns_per_addr", s.opts.MaxConnsPerAddr)
			s.refuse(c, Fail(CodeBusy, "Too many server API connections from %s at once (%d); try again.", addrText(remote), s.opts.MaxConnsPerAddr))
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			s.releaseAddr(key)
			s.log.Warn("server API connection refused: too many at once", "remote", remote, "max_conns", s.opts.MaxConns)
			s.refuse(c, Fail(CodeBusy, "Too many server API connections at once (%d); try again.", s.opts.MaxConns))
			continue
		}
		if !s.track(c, true) {
			<-s.sem
			s.releaseAddr(key)
			_ = c.Close()
			return nil
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.releaseAddr(key)
			defer func() { <-s.sem }()
			defer s.track(c, false)
			s.handle(c, remote)
		}()
	}
}

// remoteAddr is the peer address of c, invalid when it is not an IP.
func remoteAddr(c net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// takeAddr counts one more connection served for the address key, unless
// it has MaxConnsPerAddr already.
func (s *TCPServer) takeAddr(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byAddr[key] >= s.opts.MaxConnsPerAddr {
		return false
	}
	s.byAddr[key]++
	return true
}

// releaseAddr counts one connection of the address key less.
func (s *TCPServer) releaseAddr(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byAddr[key]--; s.byAddr[key] <= 0 {
		delete(s.byAddr, key)
	}
}

// refuse answers a connection that is not served with reply, without
// reading its command. The answer is sent by a goroutine of a second
// bounded pool, so that the connection can linger (see lingerTime); when
// that pool is full too, the connection is just closed.
func (s *TCPServer) refuse(c net.Conn, reply Reply) {
	select {
	case s.busy <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	if !s.track(c, true) {
		<-s.busy
		_ = c.Close()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.busy }()
		defer s.track(c, false)
		defer c.Close()
		s.answer(c, netip.Addr{}, reply)
	}()
}

// track adds or removes a connection; adding fails once closed.
func (s *TCPServer) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed {
			return false
		}
		s.conns[c] = struct{}{}
		return true
	}
	delete(s.conns, c)
	return true
}

// Close stops accepting, cancels running commands, closes open
// connections and waits (until ctx is done) for their handlers.
func (s *TCPServer) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.cancel()
	var err error
	if s.ln != nil {
		if e := s.ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
			err = fmt.Errorf("close server API listener: %w", e)
		}
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("wait for server API connections: %w", ctx.Err()))
	}
	return err
}

// errFrameTooLarge is returned by readFrame for a command over the limit.
var errFrameTooLarge = errors.New("frame too large")

// readFrame reads up to the zero byte, which it drops. A client that
// closes its side after a command without the zero byte has sent that
// command.
func readFrame(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice(0)
		n := len(chunk)
		if err == nil {
			n-- // the zero byte
		}
		if len(buf)+n > max {
			return nil, errFrameTooLarge
		}
		buf = append(buf, chunk[:n]...)
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(bytes.TrimSpace(buf)) > 0:
			return buf, nil
		default:
			return buf, err
		}
	}
}

func (s *TCPServer) handle(c net.Conn, remote netip.Addr) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(s.opts.ReadTimeout))
	frame, err := readFrame(bufio.NewReaderSize(c, 4096), s.opts.MaxFrameBytes)
	var reply Reply
	var ne net.Error
	switch {
	case errors.Is(err, errFrameTooLarge):
		s.log.Warn("server API command refused: too large", "remote", remote, "max_frame_bytes", s.opts.MaxFrameBytes)
		reply = Fail(CodeMalformed, "The command is larger than %d bytes.", s.opts.MaxFrameBytes)
	case errors.As(err, &ne) && ne.Timeout():
		s.log.Warn("server API command refused: incomplete", "remote", remote, "read_timeout", s.opts.ReadTimeout, "bytes", len(frame))
		reply = Fail(CodeTimeout, "No complete command within %s: a command ends with a zero byte.", s.opts.ReadTimeout)
	case err != nil:
		if len(frame) > 0 && s.ctx.Err() == nil {
			s.log.Debug("server API read failed", "remote", remote, "error", err)
		}
		return // nothing to answer: the client went away
	default:
		cmd, derr := DecodeFrame(frame)
		if derr != nil {
			s.log.Warn("server API command refused: not a command", "remote", remote, "error", derr)
			reply = Fail(CodeMalformed, "Not a command: %v", derr)
			break
		}
		cmd.Remote = remote
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.CommandTimeout)
		reply = s.d.Do(ctx, cmd)
		cancel()
	}
	s.answer(c, remote, reply)
}

// answer writes the reply and its zero byte, then lingers.
func (s *TCPServer) answer(c net.Conn, remote netip.Addr, reply Reply) {
	_ = c.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	if _, err := c.Write(append(reply.XML(), 0)); err != nil {
		s.log.Debug("server API reply not sent", "remote", remote, "error", err)
		return
	}
	// Half-close, then drain what the client may still send (the rest of
	// an oversized command) so the reply is not lost to a reset.
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, c, 4<<20)
	}
}
