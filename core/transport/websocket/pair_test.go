package websocket

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// pair returns a server-side conn of a handler with opts and the
// WebSocket client at its other end, over loopback.
func pair(tb testing.TB, opts Options) (*conn, *websocket.Conn) {
	tb.Helper()
	got := make(chan *conn, 1)
	h := New(nil, opts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &hijackWriter{ResponseWriter: w, timeout: h.opts.WriteTimeout}
		ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			tb.Error(err)
			got <- nil
			return
		}
		// Without a session no hello follows: the 101 goes out alone.
		if err := hw.wire.Flush(); err != nil {
			tb.Error(err)
			got <- nil
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		got <- &conn{
			h: h, ws: ws, w: hw.wire, ctx: ctx, cancel: cancel, ended: make(chan struct{}),
			ping: time.AfterFunc(time.Hour, func() {}),
		}
	}))
	tb.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
	if err != nil {
		tb.Fatal(err)
	}
	client.SetReadLimit(-1)
	c := <-got
	if c == nil {
		tb.FailNow()
	}
	tb.Cleanup(func() {
		c.ping.Stop()
		_ = c.ws.CloseNow()
		_ = client.CloseNow()
	})
	return c, client
}
