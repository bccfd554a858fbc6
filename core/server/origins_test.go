package server_test

import (
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/internal/servertest"
)

// TestWebSocketChecksOrigins: a page of another origin may open the
// WebSocket only when it is one of the chat's servers (the absolute
// http.ws_urls) or listed in http.allowed_origins; the chat's own page and
// clients without an Origin (bots) always may.
func TestWebSocketChecksOrigins(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.WSURLs = []string{"/ws", "wss://chat-b.example.com/ws", "ws://[::1]:8081/ws"}
	cfg.HTTP.AllowedOrigins = []string{"https://www.example.com", "https://*.example.org"}
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)
	dial := func(origin string) (int, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		_, resp, err := dialRaw(t, base, &websocket.DialOptions{HTTPHeader: h})
		if resp == nil {
			return 0, err
		}
		return resp.StatusCode, err
	}
	for _, origin := range []string{"", base, "https://chat-b.example.com", "http://[::1]:8081", "https://WWW.example.com", "https://a.example.org", "https://a.b.example.org"} {
		if code, err := dial(origin); err != nil {
			t.Errorf("Origin %q refused (%d): %v", origin, code, err)
		}
	}
	for _, origin := range []string{"http://chat-b.example.com", "https://chat-b.example.com:8443", "https://evil.example.net", "https://www.example.com.evil.net", "https://example.org", "http://[::1]:8082", "https://evil.net/.example.org"} {
		if code, err := dial(origin); err == nil || code != http.StatusForbidden {
			t.Errorf("Origin %q: status %d, err %v, want 403", origin, code, err)
		}
	}

	// Without either key only the chat's own page may.
	plain := servertest.URL(servertest.Start(t, testConfig(t)))
	if _, resp, err := dialRaw(t, plain, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://chat-b.example.com"}}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("another origin without http.allowed_origins: err %v, want 403", err)
	}
}
