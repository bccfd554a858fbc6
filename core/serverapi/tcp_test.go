package serverapi

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func startTCP(t *testing.T, f *fixture, opts TCPOptions) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTCPServer(f.d, opts)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// exchange sends raw bytes and reads the reply until the server closes.
func exchange(t *testing.T, addr string, send []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(send); err != nil {
		t.Fatalf("write: %v", err)
	}
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read reply: %v (got %q)", err, out)
	}
	return out
}

// tryExchange is exchange for a connection the server may close
// unanswered: it returns the error instead of failing the test.
func tryExchange(addr string, send []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(send); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

func replyOf(t *testing.T, raw []byte) (Code, string) {
	t.Helper()
	if !bytes.HasSuffix(raw, []byte{0}) {
		t.Fatalf("reply %q does not end with a zero byte", raw)
	}
	code, msg, err := ReplyCode(raw)
	if err != nil {
		t.Fatalf("reply %q: %v", raw, err)
	}
	return code, msg
}

func TestTCPCommand(t *testing.T) {
	f := newFixture(t)
	addr := startTCP(t, f, TCPOptions{})
	raw := exchange(t, addr, []byte(specSamples[0]+"\x00"))
	if code, msg := replyOf(t, raw); code != CodeOK || !strings.Contains(msg, `"test room" added`) {
		t.Fatalf("reply %d %q", code, msg)
	}
	if !bytes.Contains(raw, []byte(`<Room id="2" name="test room"`)) {
		t.Fatalf("reply lacks the room: %s", raw)
	}
	// A client that closes its side without the zero byte has sent its command.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte(`<Command group="default" api_pwd="` + testPwd + `" type="get_online"/>`))
	_ = c.(*net.TCPConn).CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, _ := io.ReadAll(c)
	if code, msg := replyOf(t, out); code != CodeOK || !strings.Contains(msg, "2 rooms") {
		t.Fatalf("half-closed client: %d %q", code, msg)
	}
}

func TestTCPBadInput(t *testing.T) {
	f := newFixture(t)
	addr := startTCP(t, f, TCPOptions{ReadTimeout: 300 * time.Millisecond, MaxFrameBytes: 1024})
	for _, tc := range []struct {
		name, send string
		code       Code
		msg        string
	}{
		{"malformed", "<Command type=\"add_room\"\x00", CodeMalformed, "malformed XML"},
		{"not xml", "hello\x00", CodeMalformed, "Not a command"},
		{"unknown type", `<Command api_pwd="` + testPwd + `" type="fly"/>` + "\x00", CodeUnknownType, "fly"},
		{"missing attribute", `<Command api_pwd="` + testPwd + `" type="del_room"/>` + "\x00", CodeBadArgument, "room_id"},
		{"wrong password", `<Command api_pwd="nope" type="add_room" name="x"/>` + "\x00", CodeDenied, "Wrong api_pwd"},
		{"too large", `<Command type="x" name="` + strings.Repeat("a", 70<<10) + `"/>` + "\x00", CodeMalformed, "larger than 1024 bytes"},
		{"too large without zero byte", strings.Repeat("b", 4096), CodeMalformed, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := replyOf(t, exchange(t, addr, []byte(tc.send)))
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("reply %d %q, want %d with %q", code, msg, tc.code, tc.msg)
			}
		})
	}

	// A client that never sends the zero byte gets a timeout reply.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte(`<Command type="get_online"/>`))
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, _ := io.ReadAll(c)
	if code, msg := replyOf(t, out); code != CodeTimeout || !strings.Contains(msg, "zero byte") {
		t.Fatalf("reply %d %q", code, msg)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("deadline took %v", d)
	}

	// The server is unaffected.
	code, _ := replyOf(t, exchange(t, addr, []byte(`<Command api_pwd="`+testPwd+`" type="get_online"/>`+"\x00")))
	if code != CodeOK {
		t.Fatalf("after bad input: code %d", code)
	}
	if _, _, rooms := f.g.Counts(); rooms != 1 {
		t.Fatalf("bad input changed the rooms: %d", rooms)
	}
}

func TestTCPBoundsConnections(t *testing.T) {
	f := newFixture(t)
	addr := startTCP(t, f, TCPOptions{MaxConns: 1, ReadTimeout: 2 * time.Second})
	hold, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	_, _ = hold.Write([]byte("<Com")) // occupies the only slot
	// Until the server has accepted hold, another client may still get
	// the slot; once it has, the next one is refused.
	busyBy := time.Now().Add(3 * time.Second)
	for {
		out, err := tryExchange(addr, []byte(`<Command api_pwd="`+testPwd+`" type="get_online"/>`+"\x00"))
		if err != nil || len(out) == 0 {
			// The busy reply of the previous try still lingers in the
			// pool of refusals, so this one was closed unanswered, as
			// designed (TCPServer.refuse).
			if time.Now().After(busyBy) {
				t.Fatalf("no busy reply while the only slot is held: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		code, msg := replyOf(t, out)
		if code == CodeBusy {
			if !strings.Contains(msg, "Too many") {
				t.Fatalf("busy reply %q does not say why", msg)
			}
			break
		}
		if code != CodeOK || time.Now().After(busyBy) {
			t.Fatalf("reply %d %q while the only slot is held", code, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, _ = hold.Write([]byte(`mand api_pwd="` + testPwd + `" type="get_online"/>` + "\x00"))
	_ = hold.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, _ := io.ReadAll(hold)
	if code, _ := replyOf(t, out); code != CodeOK {
		t.Fatalf("held connection: %d", code)
	}
	// The slot is free again.
	deadline := time.Now().Add(3 * time.Second)
	for {
		out, err := tryExchange(addr, []byte(`<Command api_pwd="`+testPwd+`" type="get_online"/>`+"\x00"))
		var code Code = -1
		if err == nil && len(out) > 0 {
			if code, _ = replyOf(t, out); code == CodeOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed: %d (%v)", code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTCPCloseEndsOpenConnections(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTCPServer(f.d, TCPOptions{ReadTimeout: time.Minute})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("<Command"))
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
