package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/internal/servertest"
)

// refusalCount reads parlor_rate_limited_total{limit=name} from the
// server's /metrics (0 when the limit has refused nothing yet).
func refusalCount(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^parlor_rate_limited_total\{limit="` + regexp.QuoteMeta(name) + `"\} (\S+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("metric %s: %v", name, err)
	}
	return v
}

// wantRateLimited checks that ev is a rate_limited error that says when
// to retry, and returns its message.
func wantRateLimited(t *testing.T, ev map[string]any) string {
	t.Helper()
	msg, _ := ev["message"].(string)
	if ev["type"] != "error" || ev["code"] != "rate_limited" {
		t.Fatalf("got %v, want a rate_limited error", ev)
	}
	if ms, _ := ev["retry_after_ms"].(float64); ms <= 0 || !strings.Contains(msg, "try again in") {
		t.Fatalf("rate_limited error %v does not say when to retry", ev)
	}
	return msg
}

// untilPong returns the events c receives before the pong answering a
// ping with id.
func untilPong(c *servertest.Client, id string) []map[string]any {
	c.Send(map[string]any{"type": "ping", "id": id})
	var evs []map[string]any
	for {
		ev := c.Next()
		if ev["type"] == "pong" && ev["id"] == id {
			return evs
		}
		evs = append(evs, ev)
	}
}

// messageIDs are the ids of the message events from the user named from.
func messageIDs(evs []map[string]any, from string) []float64 {
	var ids []float64
	for _, ev := range evs {
		if ev["type"] == "message" && ev["from"] == from {
			ids = append(ids, ev["id"].(float64))
		}
	}
	return ids
}

func TestFloodIsThrottledAndBystanderKeepsUp(t *testing.T) {
	srv := servertest.Start(t, testConfig(t)) // the default limits
	bystander, flooder := servertest.Dial(t, srv), servertest.Dial(t, srv)
	bystander.Login("bystander", "")
	bystander.Join(1, "")
	flooder.Login("flooder", "")
	flooder.Join(1, "")

	// 2000-character messages as fast as the connection takes them.
	text := strings.Repeat("flood ", 333) + "!!"
	const flood = 800
	for range flood {
		flooder.Send(map[string]any{"type": "say", "text": text})
	}
	// Every say is answered: by its message once stored, or by a refusal.
	// A message's echo may come after the pong of a later ping (it waits
	// for the store), so read on until all are answered.
	var through []float64
	limited := 0
	count := func(ev map[string]any) {
		switch {
		case ev["type"] == "error":
			wantRateLimited(t, ev)
			limited++
		case ev["type"] == "message" && ev["from"] == "flooder":
			through = append(through, ev["id"].(float64))
		}
	}
	for _, ev := range untilPong(flooder, "end") {
		count(ev)
	}
	for len(through)+limited < flood {
		count(flooder.Next())
	}
	if limited == 0 || len(through) == 0 || len(through)+limited != flood {
		t.Fatalf("of %d messages %d went through and %d were refused with rate_limited", flood, len(through), limited)
	}

	// The bystander is still connected and got every message that went
	// through, in order.
	got := messageIDs(untilPong(bystander, "after"), "flooder")
	if fmt.Sprint(got) != fmt.Sprint(through) {
		t.Fatalf("bystander got messages %v, the flooder got %v through", got, through)
	}
	bystander.Send(map[string]any{"type": "say", "text": "still here"})
	if m := bystander.Want("message"); m["text"] != "still here" {
		t.Fatalf("bystander got %v", m)
	}

	base := servertest.URL(srv)
	if n := refusalCount(t, base, "say") + refusalCount(t, base, "say_user"); n != float64(limited) {
		t.Fatalf("/metrics counts %v refused messages, the flooder got %d refusals", n, limited)
	}
}

// loginAgain logs name in on a new connection, waiting until the server
// has noticed that the previous connection of name has gone.
func loginAgain(t *testing.T, srv *server.Server, name string) *servertest.Client {
	t.Helper()
	deadline := time.Now().Add(servertest.Timeout)
	for {
		c := servertest.Dial(t, srv)
		c.Send(map[string]string{"type": "login", "user": name})
		ev := c.Next()
		for ev["type"] == "rooms" {
			ev = c.Next()
		}
		if ev["type"] == "login_ok" {
			return c
		}
		if ev["code"] != "name_taken" || time.Now().After(deadline) {
			t.Fatalf("login again as %s: %v", name, ev)
		}
		_ = c.Conn().Close(websocket.StatusNormalClosure, "")
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMessageLimitOfUserSurvivesReconnect(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.Say = limit.Rate{Every: time.Minute, Burst: 3}
	cfg.Limits.SayUser = limit.Rate{Every: time.Minute, Burst: 5}
	srv := servertest.Start(t, cfg)
	a := servertest.Dial(t, srv)
	a.Login("echo", "")
	a.Join(1, "")
	for i := range 3 {
		a.Send(map[string]any{"type": "say", "text": fmt.Sprint("a", i)})
		a.Want("message")
	}
	a.Send(map[string]any{"type": "say", "text": "a3"})
	wantRateLimited(t, a.Want("error"))
	if err := a.Conn().Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}

	// A new connection has a full bucket of its own, but the user has only
	// two messages left.
	b := loginAgain(t, srv, "ECHO")
	b.Join(1, "")
	for i := range 2 {
		b.Send(map[string]any{"type": "say", "text": fmt.Sprint("b", i)})
		b.Want("message")
	}
	b.Send(map[string]any{"type": "say", "text": "b2"})
	if msg := wantRateLimited(t, b.Want("error")); !strings.Contains(msg, "ECHO") {
		t.Fatalf("message %q does not name the user", msg)
	}
	if n := refusalCount(t, servertest.URL(srv), "say_user"); n != 1 {
		t.Fatalf("say_user refusals = %v, want 1", n)
	}
}

func TestPrivateMessageLimits(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.PM = limit.Rate{Every: time.Minute, Burst: 3}
	cfg.Limits.PMRecipient = limit.Rate{Every: time.Minute, Burst: 5}
	srv := servertest.Start(t, cfg)
	victim, x, y := servertest.Dial(t, srv), servertest.Dial(t, srv), servertest.Dial(t, srv)
	victim.Login("victim", "")
	x.Login("x", "")
	y.Login("y", "")

	// pm sends a private message and returns its echo or the error.
	pm := func(c *servertest.Client, to, text string) map[string]any {
		t.Helper()
		c.Send(map[string]any{"type": "pm", "to": to, "text": text})
		for {
			ev := c.Next()
			if (ev["type"] == "private" && ev["text"] == text) || ev["type"] == "error" {
				return ev
			}
		}
	}
	for i := range 3 {
		if ev := pm(x, "victim", fmt.Sprint("x", i)); ev["type"] != "private" {
			t.Fatalf("pm %d: %v", i, ev)
		}
	}
	// Per pair: x may not send a fourth to victim, but may write to y.
	if msg := wantRateLimited(t, pm(x, "VICTIM", "x3")); !strings.Contains(msg, "VICTIM") {
		t.Fatalf("message %q does not name the recipient", msg)
	}
	if ev := pm(x, "y", "hi y"); ev["type"] != "private" {
		t.Fatalf("pm to y: %v", ev)
	}
	// Per recipient: together x and y have sent victim 5.
	for i := range 2 {
		if ev := pm(y, "victim", fmt.Sprint("y", i)); ev["type"] != "private" {
			t.Fatalf("pm y%d: %v", i, ev)
		}
	}
	if msg := wantRateLimited(t, pm(y, "victim", "y2")); !strings.Contains(msg, "victim is receiving too many") {
		t.Fatalf("message %q", msg)
	}
	got := 0
	for _, ev := range untilPong(victim, "count") {
		if ev["type"] == "private" {
			got++
		}
	}
	if got != 5 {
		t.Fatalf("victim got %d private messages, want 5", got)
	}
	base := servertest.URL(srv)
	if refusalCount(t, base, "pm") != 1 || refusalCount(t, base, "pm_recipient") != 1 {
		t.Fatalf("pm refusals %v, pm_recipient %v", refusalCount(t, base, "pm"), refusalCount(t, base, "pm_recipient"))
	}
}

func TestJoinLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.Join = limit.Rate{Every: time.Minute, Burst: 4}
	srv := servertest.Start(t, cfg)
	c := servertest.Dial(t, srv)
	c.Login("hopper", "")
	c.Join(1, "")
	c.Send(map[string]any{"type": "leave"})
	c.Want("left")
	c.Join(1, "")
	c.Send(map[string]any{"type": "leave"})
	c.Want("left")
	c.Send(map[string]any{"type": "join", "room": 1})
	if msg := wantRateLimited(t, c.Want("error")); !strings.Contains(msg, "room changes") {
		t.Fatalf("message %q", msg)
	}
	c.Send(map[string]any{"type": "leave"})
	wantRateLimited(t, c.Want("error"))
	if n := refusalCount(t, servertest.URL(srv), "join"); n != 2 {
		t.Fatalf("join refusals = %v, want 2", n)
	}
}

func TestWrongRoomPasswordsAreThrottled(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.RoomPassword = limit.Rate{Every: time.Minute, Burst: 3}
	srv := servertest.Start(t, cfg)
	c := servertest.Dial(t, srv)
	c.Login("guesser", "")
	// A missing password is not a wrong one.
	c.Send(map[string]any{"type": "join", "room": 2})
	c.WantError("room_password")
	for _, guess := range []string{"open", "please", "letmein"} {
		c.Send(map[string]any{"type": "join", "room": 2, "password": guess})
		c.WantError("room_password")
	}
	// Used up: even the right password waits, rooms without one do not.
	c.Send(map[string]any{"type": "join", "room": 2, "password": "sesame"})
	if msg := wantRateLimited(t, c.Want("error")); !strings.Contains(msg, "room passwords") {
		t.Fatalf("message %q", msg)
	}
	c.Join(1, "")
	// Another connection is not affected.
	d := servertest.Dial(t, srv)
	d.Login("friend", "")
	d.Join(2, "sesame")
	if n := refusalCount(t, servertest.URL(srv), "room_password"); n != 1 {
		t.Fatalf("room_password refusals = %v, want 1", n)
	}
}

// dialRaw opens a WebSocket to base without waiting for hello.
func dialRaw(t *testing.T, base string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", opts)
	if err == nil {
		t.Cleanup(func() { _ = ws.CloseNow() })
	}
	return ws, resp, err
}

// wantConnRefused dials base and checks that the server answers with a
// rate_limited error and closes with 1013 and a reason containing reason.
func wantConnRefused(t *testing.T, base, reason string) {
	t.Helper()
	ws, _, err := dialRaw(t, base, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read the refusal: %v", err)
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("refusal %q: %v", data, err)
	}
	wantRateLimited(t, ev)
	_, _, err = ws.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusTryAgainLater || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("closed with %v, want 1013 and a reason with %q", err, reason)
	}
}

func TestConnectionCapsPerAddress(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.ConnsPerIP = 3
	cfg.Limits.UnauthenticatedPerIP = 2
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)
	a, _ := servertest.Dial(t, srv), servertest.Dial(t, srv)
	wantConnRefused(t, base, "not logged in")

	a.Login("anna", "") // one of the two is no longer unauthenticated
	c := servertest.Dial(t, srv)
	wantConnRefused(t, base, "too many connections from your address")
	c.Login("carl", "")
	if refusalCount(t, base, "conns_per_ip") != 1 || refusalCount(t, base, "unauthenticated_per_ip") != 1 {
		t.Fatalf("conns_per_ip %v, unauthenticated_per_ip %v", refusalCount(t, base, "conns_per_ip"), refusalCount(t, base, "unauthenticated_per_ip"))
	}

	// A closed connection makes room for a new one (once the server has
	// noticed that it is gone).
	if err := a.Conn().Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(servertest.Timeout)
	for {
		ws, _, err := dialRaw(t, base, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
		_, data, err := ws.Read(ctx)
		cancel()
		if err == nil && strings.Contains(string(data), `"hello"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection accepted after one closed: %s %v", data, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.ReadHeaderTimeout = 200 * time.Millisecond
	cfg.HTTP.ReadTimeout = 200 * time.Millisecond
	cfg.HTTP.ResponseTimeout = 200 * time.Millisecond
	cfg.HTTP.IdleTimeout = 200 * time.Millisecond
	srv := servertest.Start(t, cfg)
	c := servertest.Dial(t, srv)
	c.Login("patient", "")
	c.Join(1, "")
	select {
	case err := <-c.Closed():
		t.Fatalf("the WebSocket was closed: %v", err)
	case <-time.After(time.Second):
	}
	c.Send(map[string]any{"type": "say", "text": "after the read timeout"})
	if m := c.Want("message"); m["text"] != "after the read timeout" {
		t.Fatalf("got %v", m)
	}
}

// wantClosedByServer waits until the server closes conn, reading (and
// discarding) what it sends, and fails when that takes longer than within.
func wantClosedByServer(t *testing.T, conn net.Conn, r io.Reader, within time.Duration, what string) {
	t.Helper()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(within))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server kept the connection for %v", what, within)
	}
}

func TestIdleKeepAliveIsClosed(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.IdleTimeout = 300 * time.Millisecond
	srv := servertest.Start(t, cfg)
	conn, err := net.Dial("tcp", srv.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: parlor\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET /healthz: %d, close %v", resp.StatusCode, resp.Close)
	}
	wantClosedByServer(t, conn, br, 10*time.Second, "idle keep-alive connection")
}

func TestHugeHeaderIsRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.MaxHeaderBytes = 2048
	srv := servertest.Start(t, cfg)
	req, _ := http.NewRequest(http.MethodGet, servertest.URL(srv)+"/healthz", nil)
	req.Header.Set("X-Filler", strings.Repeat("a", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 16 KiB header: %d, want 431", resp.StatusCode)
	}
}

func TestTricklingBodyIsCutOff(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.ReadTimeout = 500 * time.Millisecond
	srv := servertest.Start(t, cfg)
	conn, err := net.Dial("tcp", srv.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The body would take 100 s at one byte every 100 ms.
	if _, err := io.WriteString(conn, "POST /api/v1/get_online HTTP/1.1\r\nHost: parlor\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	wantClosedByServer(t, conn, conn, 10*time.Second, "a request whose body trickles")
}

func TestAdminListener(t *testing.T) {
	cfg := testConfig(t)
	cfg.Admin.Addr = "127.0.0.1:0"
	srv := servertest.Start(t, cfg)
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if srv.AdminAddr() == "" {
		t.Fatal("no admin listener with admin.addr set")
	}
	admin := "http://" + srv.AdminAddr()
	if code, body := get(admin + "/metrics"); code != 200 || !strings.Contains(body, "parlor_connections 0\n") {
		t.Fatalf("admin /metrics: %d %.200s", code, body)
	}
	if code, body := get(admin + "/healthz"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("admin /healthz: %d %.200s", code, body)
	}
	for _, path := range []string{"/metrics", "/healthz"} {
		if code, _ := get(servertest.URL(srv) + path); code != http.StatusNotFound {
			t.Fatalf("%s on http.addr: %d, want 404", path, code)
		}
	}
	if code, _ := get(admin + "/"); code != http.StatusNotFound {
		t.Fatalf("the web client on the admin listener: %d, want 404", code)
	}
	servertest.Dial(t, srv).Login("still", "") // the chat is on http.addr
}

func TestWebSocketChecksPublicNames(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.PublicNames = []string{"chat.example.com"}
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)
	_, port, _ := net.SplitHostPort(srv.HTTPAddr())
	for _, host := range []string{"chat.example.com", "chat.example.com:" + port, "CHAT.example.com."} {
		if _, _, err := dialRaw(t, base, &websocket.DialOptions{Host: host}); err != nil {
			t.Errorf("Host %s refused: %v", host, err)
		}
	}
	for _, host := range []string{"evil.example.net:" + port, "127.0.0.1:" + port, "chat.example.com.evil.net"} {
		_, resp, err := dialRaw(t, base, &websocket.DialOptions{Host: host})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("Host %s: err %v, want 403", host, err)
		}
	}

	// Without public names any host is accepted.
	open := servertest.Start(t, testConfig(t))
	if _, _, err := dialRaw(t, servertest.URL(open), &websocket.DialOptions{Host: "anything.example"}); err != nil {
		t.Fatalf("no public names: %v", err)
	}
}
