package server_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/servertest"
)

// rawHTTP is a plain TCP connection to a server's HTTP listener.
type rawHTTP struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialHTTP(t *testing.T, addr string) *rawHTTP {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawHTTP{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawHTTP) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// response reads one response and its body.
func (r *rawHTTP) response() (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatalf("read response: %v", err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, ""
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

const upgradeRequest = "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// The chat's WebSocket and the rest of the site share one port: a
// browser that fetched the page on a keep-alive connection and then opens
// the chat on the same one gets the chat's hello, and the page, the
// health check and a wrong method on /ws are answered as before.
func TestThePageAndTheChatShareOnePort(t *testing.T) {
	srv := servertest.Start(t, servertest.Config(t))
	addr := srv.HTTPAddr()

	r := dialHTTP(t, addr)
	r.send("GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	resp, body := r.response()
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<html") {
		t.Fatalf("the page: %s %.80q", resp.Status, body)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("the page came without its security headers")
	}
	r.send("GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	if resp, body := r.response(); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("health on the same connection: %s %q", resp.Status, body)
	}
	r.send(strings.Replace(upgradeRequest, "%s", addr, 1))
	if resp, _ := r.response(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("the upgrade after two requests: %s", resp.Status)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, hdr[1]&0x7f)
	if _, err := io.ReadFull(r.br, payload); err != nil || !strings.Contains(string(payload), `"type":"hello"`) {
		t.Fatalf("first frame after the upgrade: %q, %v", payload, err)
	}

	p := dialHTTP(t, addr)
	p.send("POST /ws HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 0\r\n\r\n")
	if resp, _ := p.response(); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /ws: %s, want 405", resp.Status)
	}
	// A request line longer than what is read to sort the connection.
	long := dialHTTP(t, addr)
	long.send("GET /?q=" + strings.Repeat("a", 3000) + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	if resp, body := long.response(); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<html") {
		t.Errorf("a long request line: %s", resp.Status)
	}
	wsLong := dialHTTP(t, addr)
	wsLong.send(strings.Replace(strings.Replace(upgradeRequest, "%s", addr, 1), "/ws", "/ws?q="+strings.Repeat("a", 3000), 1))
	if resp, _ := wsLong.response(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("an upgrade with a long request line: %s", resp.Status)
	}

	// A fresh connection's upgrade (the way browsers open a WebSocket)
	// logs in and chats.
	c := servertest.Dial(t, srv)
	c.Login("alice", "")
	c.Join(1, "")
	c.Send(map[string]any{"type": "say", "text": "hello"})
	if m := c.Want("message"); m["text"] != "hello" {
		t.Fatalf("message: %v", m)
	}
}

// A request for /ws that is not a WebSocket handshake, one with headers
// past http.max_header_bytes and one that is not HTTP/1.1 get an answer
// that says what is wrong, and the connection is closed.
func TestABadHandshakeGetsAClearAnswer(t *testing.T) {
	cfg := servertest.Config(t)
	cfg.HTTP.MaxHeaderBytes = 4096
	srv := servertest.Start(t, cfg)
	addr := srv.HTTPAddr()
	for _, tc := range []struct {
		name, request string
		status        int
		says          string
	}{
		{"no upgrade", "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\n\r\n", http.StatusUpgradeRequired, "Upgrade"},
		{"headers too large", "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nX-Big: " + strings.Repeat("a", 9000) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, "too large"},
		{"HTTP/1.0", "GET /ws HTTP/1.0\r\nHost: " + addr + "\r\n\r\n", http.StatusHTTPVersionNotSupported, "HTTP/1.1"},
		{"garbage", "GET /ws HTTP/1.1\r\nno colon here\r\n\r\n", http.StatusBadRequest, "Bad request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialHTTP(t, addr)
			r.send(tc.request)
			resp, body := r.response()
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.says) {
				t.Fatalf("%s %q, want %d saying %q", resp.Status, body, tc.status, tc.says)
			}
			if _, err := r.br.ReadByte(); err != io.EOF {
				t.Fatalf("the connection stayed open after the refusal: %v", err)
			}
		})
	}
	// The server still serves.
	c := servertest.Dial(t, srv)
	c.Login("bob", "")
}

// Connections that never finish their first request do not hold up the
// server's shutdown, though http.read_header_timeout is far off.
func TestSilentConnectionsDoNotHoldUpShutdown(t *testing.T) {
	cfg := servertest.Config(t)
	cfg.HTTP.ReadHeaderTimeout = time.Minute
	srv := servertest.Start(t, cfg)
	addr := srv.HTTPAddr()
	silent := dialHTTP(t, addr)
	partial := dialHTTP(t, addr)
	partial.send("GET /ws HTTP/1.1\r\nHost: ")
	servertest.Dial(t, srv).Login("carol", "")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with silent connections: %v (after %v)", err, time.Since(start))
	}
	for _, r := range []*rawHTTP{silent, partial} {
		if _, err := r.br.ReadByte(); err == nil {
			t.Error("a silent connection was answered instead of closed")
		}
	}
}
