package wire

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// loopback returns the two ends of a TCP connection over loopback.
func loopback(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		_ = c.Close()
	})
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

func TestTryWriteLeavesWhatTheSocketRefusesForFlush(t *testing.T) {
	server, client := loopback(t)
	_ = server.SetWriteBuffer(4096)
	_ = client.SetReadBuffer(4096)
	w := New(server, 5*time.Second)
	var sent bytes.Buffer
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	var out Outcome
	for i := 0; i < 1000; i++ {
		var err error
		out, err = w.TryWrite(chunk)
		if err != nil {
			t.Fatal(err)
		}
		if out == Pending {
			sent.Write(chunk)
			break
		}
		if out == NotWritten {
			break
		}
		sent.Write(chunk)
	}
	if out == Wrote {
		t.Fatal("a socket nobody reads took 16 MiB without waiting")
	}
	if out == Pending && !w.HasPending() {
		t.Fatal("a partial write kept nothing pending")
	}
	if o, _ := w.TryWrite([]byte("x")); o != NotWritten {
		t.Fatalf("TryWrite on a full socket = %v, want NotWritten", o)
	}
	wantInOrder(t, w, server, client, &sent, false)
}

// A header and its payload written together arrive in order, behind the
// held bytes, whether the socket takes them whole or only in part; the
// part it refuses goes out with Flush.
func TestTryWriteBuffersSendsHeaderAndPayloadInOrder(t *testing.T) {
	server, client := loopback(t)
	_ = server.SetWriteBuffer(4096)
	_ = client.SetReadBuffer(4096)
	w := New(server, 5*time.Second)
	w.Hold([]byte("HELD"))
	var sent bytes.Buffer
	sent.WriteString("HELD")
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	var out Outcome
	for i := range 1000 {
		hdr := []byte{'h', byte('0' + i%10)}
		var err error
		if out, err = w.TryWriteBuffers(hdr, payload); err != nil {
			t.Fatal(err)
		}
		if out != NotWritten {
			sent.Write(hdr)
			sent.Write(payload)
		}
		if out != Wrote {
			break
		}
	}
	if out != Pending && out != NotWritten {
		t.Fatal("a socket nobody reads took 16 MiB without waiting")
	}
	wantInOrder(t, w, server, client, &sent, true)
}

// wantInOrder writes "end" through w (after Flush when flush is set) while
// the client reads, closes the server's side and checks that the client
// got sent and then "end".
func wantInOrder(t *testing.T, w *Conn, server, client *net.TCPConn, sent *bytes.Buffer, flush bool) {
	t.Helper()
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	if flush {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Write([]byte("end")); err != nil {
		t.Fatal(err)
	}
	sent.WriteString("end")
	_ = server.CloseWrite()
	if b := <-got; !bytes.Equal(b, sent.Bytes()) {
		t.Fatalf("the client got %d bytes, want %d in order", len(b), sent.Len())
	}
}

func TestWritesWorkAfterAnIdleSpellLongerThanTheTimeout(t *testing.T) {
	server, client := loopback(t)
	w := New(server, 50*time.Millisecond)
	if _, err := w.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond) // the deadline set by the first write passes
	if _, err := w.Write([]byte("b")); err != nil {
		t.Fatalf("Write after an idle spell: %v", err)
	}
	time.Sleep(120 * time.Millisecond)
	if o, err := w.TryWrite([]byte("c")); o != Wrote || err != nil {
		t.Fatalf("TryWrite after an idle spell = %v, %v", o, err)
	}
	buf := make([]byte, 3)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "abc" {
		t.Fatalf("client read %q, %v", buf, err)
	}
}

func TestAWriteToAClientThatDoesNotReadTimesOut(t *testing.T) {
	server, _ := loopback(t)
	_ = server.SetWriteBuffer(4096)
	w := New(server, 100*time.Millisecond)
	big := make([]byte, 64<<20)
	if _, err := w.Write(big); err == nil {
		t.Fatal("64 MiB to a client that reads nothing were written")
	}
}

// writeCounter counts the writes on a connection: Write calls and writes
// on its descriptor.
type writeCounter struct {
	*net.TCPConn
	n int
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.n++
	return c.TCPConn.Write(p)
}

func (c *writeCounter) SyscallConn() (syscall.RawConn, error) {
	raw, err := c.TCPConn.SyscallConn()
	return countedRaw{raw, c}, err
}

type countedRaw struct {
	syscall.RawConn
	c *writeCounter
}

func (r countedRaw) Write(f func(uintptr) bool) error {
	r.c.n++
	return r.RawConn.Write(f)
}

// Held bytes go out in front of the next write, in the same write, once;
// Flush sends them alone.
func TestHeldBytesGoOutWithTheNextWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(w *Conn) error
		want  string
	}{
		{"TryWrite", func(w *Conn) error {
			out, err := w.TryWrite([]byte("body"))
			if err == nil && out != Wrote {
				t.Errorf("TryWrite = %v", out)
			}
			return err
		}, "HEADbody"},
		{"Write", func(w *Conn) error { _, err := w.Write([]byte("body")); return err }, "HEADbody"},
		{"WriteBuffers", func(w *Conn) error {
			_, err := w.WriteBuffers(net.Buffers{[]byte("bo"), []byte("dy")})
			return err
		}, "HEADbody"},
		{"Flush", func(w *Conn) error { return w.Flush() }, "HEAD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := loopback(t)
			counted := &writeCounter{TCPConn: server}
			w := New(counted, 5*time.Second)
			w.Hold([]byte("HEAD"))
			if !w.HasPending() {
				t.Fatal("held bytes are not pending")
			}
			if err := tc.write(w); err != nil {
				t.Fatal(err)
			}
			if tc.name != "WriteBuffers" && counted.n != 1 {
				t.Errorf("%d writes, want 1", counted.n)
			}
			if _, err := w.Write([]byte("!")); err != nil {
				t.Fatal(err)
			}
			_ = server.CloseWrite()
			b, _ := io.ReadAll(client)
			if string(b) != tc.want+"!" {
				t.Fatalf("the client got %q, want %q", b, tc.want+"!")
			}
		})
	}
}
