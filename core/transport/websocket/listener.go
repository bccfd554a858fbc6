package websocket

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"time"
)

// ListenOptions are the HTTP limits a Listener applies to the handshakes
// it serves itself (the http section: read_header_timeout,
// max_header_bytes, response_timeout).
type ListenOptions struct {
	// Path is the WebSocket's path ("/ws").
	Path string
	// HeaderTimeout bounds the request line and headers; 0: no bound.
	HeaderTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers; 0:
	// http.DefaultMaxHeaderBytes. Zero values mean what they mean to an
	// http.Server, which gets the same settings.
	MaxHeaderBytes int
	// ResponseTimeout bounds an error answer; 0: no bound.
	ResponseTimeout time.Duration
}

// Listener takes the chat's WebSocket handshakes off a listener: a
// connection whose first request is GET on the WebSocket's path is
// upgraded by the Handler at once, and every other connection goes on,
// untouched, to the http.Server that serves the Listener (Accept). A
// WebSocket connection so costs no net/http connection (its 8 KiB of
// buffers, its goroutine, its response), which took about a sixth off
// the server's CPU per connect+login+join+close (BENCHMARKS.md). A
// handshake that comes after other requests on a keep-alive connection
// is served by net/http as before.
type Listener struct {
	ln   net.Listener
	h    *Handler
	opts ListenOptions

	conns chan net.Conn // connections for the http.Server

	mu      sync.Mutex
	closed  bool
	err     error                 // why the accept loop ended
	sorting map[net.Conn]struct{} // connections whose first request is awaited
	wg      sync.WaitGroup        // the sorting goroutines
	done    chan struct{}         // closed by Close
	ended   chan struct{}         // closed when the accept loop has ended
}

// Listen serves the WebSocket handshakes that arrive on ln and returns
// the listener the http.Server serves for the rest; closing it closes ln.
func (h *Handler) Listen(ln net.Listener, opts ListenOptions) *Listener {
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	l := &Listener{
		ln: ln, h: h, opts: opts,
		conns:   make(chan net.Conn),
		sorting: make(map[net.Conn]struct{}),
		done:    make(chan struct{}),
		ended:   make(chan struct{}),
	}
	go l.accept()
	return l
}

// accept takes connections off ln until it fails for good, waiting a
// little after a temporary error as net/http does.
func (l *Listener) accept() {
	defer close(l.ended)
	var wait time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if isTemporary(err) {
				wait = min(max(2*wait, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(wait):
					continue
				case <-l.done:
				}
			}
			l.mu.Lock()
			if l.err == nil {
				l.err = err
			}
			l.mu.Unlock()
			return
		}
		wait = 0
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.sorting[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.sort(c)
	}
}

// isTemporary reports whether an accept error passes (too many open files
// and the like).
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// Accept returns the next connection that is not a WebSocket handshake.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.ended:
		l.mu.Lock()
		err := l.err
		l.mu.Unlock()
		return nil, fmt.Errorf("accept: %w", err)
	}
}

// Addr is the address listened on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, ends the connections whose first request has not
// arrived and waits for the handshakes being served to be handed on.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	for c := range l.sorting {
		_ = c.SetReadDeadline(time.Now()) // the sorting goroutine closes it
	}
	l.mu.Unlock()
	err := l.ln.Close()
	l.wg.Wait()
	<-l.ended
	return err
}

// sort reads c's request line: a GET of the WebSocket's path is served
// here, anything else goes to the http.Server with the bytes read so far.
func (l *Listener) sort(c net.Conn) {
	defer l.wg.Done()
	_ = c.SetReadDeadline(after(l.opts.HeaderTimeout))
	lr := &io.LimitedReader{R: c, N: int64(l.opts.MaxHeaderBytes) + 4096}
	br := bufio.NewReaderSize(lr, handshakeBufferSize)
	line, err := peekLine(br)
	if err != nil {
		l.sorted(c)
		_ = c.Close()
		return
	}
	if !l.upgrade(line) {
		if !l.sorted(c) {
			_ = c.Close()
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		select {
		case l.conns <- &replayConn{Conn: c, br: br}:
		case <-l.done:
			_ = c.Close()
		}
		return
	}
	req, err := http.ReadRequest(br)
	if !l.sorted(c) {
		_ = c.Close()
		return
	}
	switch {
	case err != nil && lr.N <= 0:
		answer(c, l.opts.ResponseTimeout, http.StatusRequestHeaderFieldsTooLarge, "The request's headers are too large.")
	case err != nil:
		answer(c, l.opts.ResponseTimeout, http.StatusBadRequest, "Bad request: "+err.Error())
	default:
		lr.N = math.MaxInt64 // the bound was for the request line and headers
		_ = c.SetReadDeadline(time.Time{})
		l.serve(c, br, req)
	}
}

// sorted takes c off the connections Close ends and reports whether the
// listener is still open; c is then up to the caller.
func (l *Listener) sorted(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.sorting, c)
	return !l.closed
}

// after is the deadline d from now; none (the zero time) when d is 0.
func after(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// handshakeBufferSize is the read buffer of a handshake: a browser's
// request line and headers are well under it without cookies; longer
// ones are read in several steps.
const handshakeBufferSize = 1024

// peekLine returns the request line (up to its '\n') without consuming
// it, or as much as the buffer holds.
func peekLine(br *bufio.Reader) ([]byte, error) {
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[:i+1], nil
		}
		if len(b) == br.Size() {
			return b, nil
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			return nil, err
		}
	}
}

// upgrade reports whether a request line asks for the WebSocket's path.
func (l *Listener) upgrade(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("GET "))
	if !ok {
		return false
	}
	rest, ok = bytes.CutPrefix(rest, []byte(l.opts.Path))
	return ok && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '?')
}

// serve gives the handshake request req, read off br, to the Handler.
func (l *Listener) serve(c net.Conn, br *bufio.Reader, req *http.Request) {
	if !req.ProtoAtLeast(1, 1) {
		answer(c, l.opts.ResponseTimeout, http.StatusHTTPVersionNotSupported, "A WebSocket needs HTTP/1.1.")
		return
	}
	req.RemoteAddr = c.RemoteAddr().String()
	w := &upgradeWriter{c: c, br: br, header: make(http.Header), timeout: l.opts.ResponseTimeout}
	l.h.ServeHTTP(w, req)
	if !w.hijacked {
		w.finish()
		linger(c)
	}
}

// answer writes a plain-text error response and closes c.
func answer(c net.Conn, timeout time.Duration, code int, text string) {
	w := &upgradeWriter{c: c, header: make(http.Header), timeout: timeout}
	http.Error(w, text, code)
	w.finish()
	linger(c)
}

// lingerTime is how long a refused connection is read from after its
// answer before it is closed.
const lingerTime = 500 * time.Millisecond

// linger closes c after its answer as net/http does: the write side
// first, then what the client still sends is read for a moment, so that
// the close does not reset the connection before the client has read
// the answer (a reset can discard it).
func linger(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		_ = c.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 256<<10))
	}
	_ = c.Close()
}

// upgradeWriter is the http.ResponseWriter of a handshake the Listener
// serves: a refusal is written as a whole response that closes the
// connection; an upgrade hijacks it.
type upgradeWriter struct {
	c        net.Conn
	br       *bufio.Reader
	header   http.Header
	timeout  time.Duration
	code     int
	body     bytes.Buffer
	hijacked bool
}

func (w *upgradeWriter) Header() http.Header { return w.header }

func (w *upgradeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *upgradeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// finish writes the response.
func (w *upgradeWriter) finish() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", w.code, http.StatusText(w.code))
	w.header.Set("Connection", "close")
	w.header.Set("X-Content-Type-Options", "nosniff")
	w.header.Set("Content-Length", fmt.Sprint(w.body.Len()))
	_ = w.header.Write(&b)
	b.WriteString("\r\n")
	b.Write(w.body.Bytes())
	_ = w.c.SetWriteDeadline(after(w.timeout))
	_, _ = w.c.Write(b.Bytes())
}

// Hijack hands the connection to the WebSocket.
func (w *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked || w.br == nil {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked = true
	return w.c, bufio.NewReadWriter(w.br, nil), nil
}

// replayConn is a connection for the http.Server that gives the bytes the
// Listener read first.
type replayConn struct {
	net.Conn
	br *bufio.Reader // nil once drained
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if n := c.br.Buffered(); n > 0 {
			return c.br.Read(p[:min(len(p), n)])
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}
