//go:build unix

package wire

import "syscall"

const canTryWrite = true

// tryState is one TryWrite: what is left to write and how far it got.
type tryState struct {
	fn  func(fd uintptr) bool // write, as passed to syscall.RawConn.Write
	p   []byte
	n   int
	err error
}

// run writes as much of p as the socket takes now, without waiting for
// it to become writable; an error is a broken connection.
func (t *tryState) run(raw syscall.RawConn, p []byte) (int, error) {
	t.p, t.n, t.err = p, 0, nil
	err := raw.Write(t.fn)
	n, werr := t.n, t.err
	t.p, t.err = nil, nil
	if err != nil {
		return n, err
	}
	return n, werr
}

// write is called by RawConn.Write with the descriptor; it returns true
// at once, so that RawConn.Write never waits for the socket.
func (t *tryState) write(fd uintptr) bool {
	for t.n < len(t.p) {
		m, e := syscall.Write(int(fd), t.p[t.n:])
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return true
		case e != nil:
			t.err = e
			return true
		case m == 0:
			t.err = errShortWrite
			return true
		}
		t.n += m
	}
	return true
}
