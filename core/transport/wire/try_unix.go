//go:build unix

package wire

import (
	"syscall"
	"unsafe"
)

const canTryWrite = true

// tryState is one TryWrite: what is left to write and how far it got.
type tryState struct {
	fn   func(fd uintptr) bool // write, as passed to syscall.RawConn.Write
	p, q []byte                // q (may be nil) goes out after p
	n    int                   // bytes of p and then q written
	err  error
	iov  [2]syscall.Iovec // writev's vector, kept here so that no write allocates it
}

// run writes as much of p and then q as the socket takes now, without
// waiting for it to become writable; an error is a broken connection.
func (t *tryState) run(raw syscall.RawConn, p, q []byte) (int, error) {
	t.p, t.q, t.n, t.err = p, q, 0, nil
	err := raw.Write(t.fn)
	n, werr := t.n, t.err
	t.p, t.q, t.err = nil, nil, nil
	t.iov = [2]syscall.Iovec{}
	if err != nil {
		return n, err
	}
	return n, werr
}

// write is called by RawConn.Write with the descriptor; it returns true
// at once, so that RawConn.Write never waits for the socket.
func (t *tryState) write(fd uintptr) bool {
	for t.n < len(t.p)+len(t.q) {
		m, e := t.once(fd)
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

// once is one write(2) of what is left, or one writev(2) while both p and
// q have bytes left.
func (t *tryState) once(fd uintptr) (int, error) {
	if t.n >= len(t.p) {
		return syscall.Write(int(fd), t.q[t.n-len(t.p):])
	}
	rest := t.p[t.n:]
	if len(t.q) == 0 {
		return syscall.Write(int(fd), rest)
	}
	t.iov[0].Base, t.iov[1].Base = &rest[0], &t.q[0]
	t.iov[0].SetLen(len(rest))
	t.iov[1].SetLen(len(t.q))
	n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&t.iov[0])), uintptr(len(t.iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
