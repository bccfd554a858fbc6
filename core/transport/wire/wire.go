// Package wire is the write side of a client connection, shared by the
// transports: every byte for the client goes through one Conn, which
// keeps the write deadline (moved only when it has drifted, never lifted)
// and can write without waiting for the peer, so that a delivery to a
// client that keeps up is a single write(2) on the delivering goroutine.
package wire

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// Outcome tells what TryWrite did with its bytes.
type Outcome int

const (
	// NotWritten means no byte was written: the connection is busy with
	// another write, has an unfinished one, or the peer's socket buffer is
	// full. The caller keeps the bytes and writes them with Write later.
	NotWritten Outcome = iota
	// Wrote means every byte was written.
	Wrote
	// Pending means the socket took only part; the Conn keeps the rest
	// and writes it before anything else. Flush writes it.
	Pending
)

// Conn serializes the writes to one client connection. Write and Flush
// may block for up to the timeout; TryWrite never waits for the peer.
type Conn struct {
	nc      net.Conn
	raw     syscall.RawConn // nc's descriptor, for TryWrite; nil if it has none (TLS)
	timeout time.Duration

	mu       sync.Mutex
	deadline time.Time // the write deadline set on nc
	pending  []byte    // the rest of a frame TryWrite could not finish
	held     []byte    // bytes that go out in front of the next write (Hold)
	try      tryState  // TryWrite's arguments and results, under mu
}

// Hold keeps p to be written in front of the next write, in the same
// write(2): the server's handshake response and the first frame go out
// together. Call it before the first write.
func (w *Conn) Hold(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.held = append(w.held, p...)
}

// takeHeld returns p with the held bytes in front (a new slice when there
// are any) and how many they are; w.mu is held.
func (w *Conn) takeHeld(p []byte) ([]byte, int) {
	if w.held == nil {
		return p, 0
	}
	out := make([]byte, 0, len(w.held)+len(p))
	out = append(append(out, w.held...), p...)
	n := len(w.held)
	w.held = nil
	return out, n
}

// New wraps nc; a write must finish within timeout (0: no deadline).
func New(nc net.Conn, timeout time.Duration) *Conn {
	w := &Conn{nc: nc, timeout: timeout}
	if sc, ok := nc.(syscall.Conn); ok && canTryWrite {
		if raw, err := sc.SyscallConn(); err == nil {
			w.raw = raw
			// Made once: a closure made per write would be allocated.
			w.try.fn = w.try.write
		}
	}
	return w
}

// NetConn is the wrapped connection.
func (w *Conn) NetConn() net.Conn { return w.nc }

// Write writes p in one call of the connection's Write (one write(2)
// unless the socket takes it in parts), after what TryWrite left pending.
// It implements io.Writer.
func (w *Conn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushLocked(); err != nil {
		return 0, err
	}
	if err := w.refreshLocked(); err != nil {
		return 0, err
	}
	out, held := w.takeHeld(p)
	n, err := w.nc.Write(out)
	n = max(n-held, 0)
	if err != nil {
		return n, fmt.Errorf("write: %w", err)
	}
	return n, nil
}

// Flush writes what TryWrite left pending (or Hold kept), if anything.
func (w *Conn) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		w.pending, _ = w.takeHeld(nil)
	}
	return w.flushLocked()
}

// HasPending reports whether TryWrite left bytes (or Hold kept bytes)
// that Flush must write.
func (w *Conn) HasPending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending != nil || w.held != nil
}

// flushLocked writes the rest TryWrite left (the held bytes, if any, were
// at its front); w.mu is held.
func (w *Conn) flushLocked() error {
	if w.pending == nil {
		return nil
	}
	if err := w.refreshLocked(); err != nil {
		return err
	}
	_, err := w.nc.Write(w.pending)
	w.pending = nil
	if err != nil {
		return fmt.Errorf("write the rest of a frame: %w", err)
	}
	return nil
}

// TryWrite writes p if that needs no waiting: the connection is free and
// its socket takes the bytes now. It never blocks on the peer; see
// Outcome for what it did.
func (w *Conn) TryWrite(p []byte) (Outcome, error) { return w.TryWriteBuffers(p, nil) }

// TryWriteBuffers is TryWrite of p followed by q, in one writev(2): a
// large payload goes out after its header without being copied (unless
// the socket takes only part, when the Conn keeps a copy of the rest).
func (w *Conn) TryWriteBuffers(p, q []byte) (Outcome, error) {
	if w.raw == nil || !w.mu.TryLock() {
		return NotWritten, nil
	}
	defer w.mu.Unlock()
	if w.pending != nil {
		return NotWritten, nil
	}
	// The descriptor refuses every write, even one that would not wait,
	// once its deadline has passed.
	if err := w.refreshLocked(); err != nil {
		return NotWritten, err
	}
	held := w.held
	out, _ := w.takeHeld(p)
	n, err := w.try.run(w.raw, out, q)
	switch {
	case err != nil:
		return NotWritten, fmt.Errorf("write: %w", err)
	case n == len(out)+len(q):
		return Wrote, nil
	case n == 0:
		w.held = held // still in front of what comes next
		return NotWritten, nil
	}
	switch {
	case n >= len(out):
		w.pending = append([]byte(nil), q[n-len(out):]...)
	case len(q) > 0:
		w.pending = append(append(make([]byte, 0, len(out)-n+len(q)), out[n:]...), q...)
	case len(out) > len(p):
		w.pending = out[n:] // a slice of its own already
	default:
		w.pending = append([]byte(nil), p[n:]...)
	}
	return Pending, nil
}

// refreshLocked moves the write deadline to timeout from now when it has
// drifted by more than a tenth of the timeout, so that a write gets
// between 0.9 and 1 times the timeout and a busy connection sets it about
// once per tenth of the timeout instead of once per write. An expired
// deadline (after an idle spell) is always moved.
func (w *Conn) refreshLocked() error {
	if w.timeout <= 0 {
		return nil
	}
	want := time.Now().Add(w.timeout)
	if want.Sub(w.deadline) <= w.timeout/10 {
		return nil
	}
	if err := w.nc.SetWriteDeadline(want); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	w.deadline = want
	return nil
}

// errShortWrite is a write the socket ended without an error.
var errShortWrite = errors.New("short write")

// WriteBuffers writes bufs as Write writes one slice, with writev(2) where
// the connection has it, so that a large payload goes out after its
// header without being copied.
func (w *Conn) WriteBuffers(bufs net.Buffers) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushLocked(); err != nil {
		return 0, err
	}
	if err := w.refreshLocked(); err != nil {
		return 0, err
	}
	held := int64(len(w.held))
	if held > 0 {
		bufs = append(net.Buffers{w.held}, bufs...)
		w.held = nil
	}
	n, err := bufs.WriteTo(w.nc)
	n = max(n-held, 0)
	if err != nil {
		return n, fmt.Errorf("write: %w", err)
	}
	return n, nil
}
