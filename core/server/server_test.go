package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
)

// testConfig is the embedded defaults on a free port and a fresh data dir,
// with rooms that exercise every refusal.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Rooms = []config.Room{
		{ID: 1, Name: "Lobby", Member: true, Open: true, Max: 50, Welcome: "Welcome to the Lobby"},
		{ID: 2, Name: "Vault", Member: true, Open: true, Password: "sesame"},
		{ID: 3, Name: "Closed", Member: true, Open: false},
		{ID: 4, Name: "Tiny", Member: true, Open: true, Max: 1},
		{ID: 5, Name: "Members", Member: false, Open: true},
	}
	return cfg
}

func startServer(t *testing.T, cfg *config.Config) *server.Server {
	t.Helper()
	srv, err := server.New(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

// client is a protocol client for tests; it reads events in the background.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	events chan map[string]any
	closed chan error
}

func dial(t *testing.T, srv *server.Server) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+srv.HTTPAddr()+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	c := &client{t: t, ws: ws, events: make(chan map[string]any, 1024), closed: make(chan error, 1)}
	go c.read()
	t.Cleanup(func() { _ = ws.CloseNow() })
	if ev := c.want("hello"); ev["protocol"] != 1.0 {
		t.Fatalf("hello = %v", ev)
	}
	return c
}

func (c *client) read() {
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.closed <- err
			close(c.events)
			return
		}
		if len(data) > 0 && data[0] == '[' {
			var batch []map[string]any
			if err := json.Unmarshal(data, &batch); err != nil {
				c.closed <- fmt.Errorf("bad batch %q: %w", data, err)
				return
			}
			for _, ev := range batch {
				c.events <- ev
			}
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal(data, &ev); err != nil {
			c.closed <- fmt.Errorf("bad frame %q: %w", data, err)
			return
		}
		c.events <- ev
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// want returns the next event of type typ, skipping others.
func (c *client) want(typ string) map[string]any {
	c.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s", typ)
			}
			if ev["type"] == typ {
				return ev
			}
		case <-timeout:
			c.t.Fatalf("no %s event within 5s", typ)
		}
	}
}

// wantError returns the next error event and checks its code.
func (c *client) wantError(code string) string {
	c.t.Helper()
	ev := c.want("error")
	if ev["code"] != code {
		c.t.Fatalf("error %v, want code %s", ev, code)
	}
	msg, _ := ev["message"].(string)
	if msg == "" {
		c.t.Fatalf("error %s without a message", code)
	}
	return msg
}

func (c *client) login(name, password string) map[string]any {
	c.t.Helper()
	c.send(map[string]string{"type": "login", "user": name, "password": password})
	return c.want("login_ok")
}

func (c *client) join(room int, password string) map[string]any {
	c.t.Helper()
	c.send(map[string]any{"type": "join", "room": room, "password": password})
	return c.want("joined")
}

func TestChatOverWebSocket(t *testing.T) {
	srv := startServer(t, testConfig(t))
	alice, bob := dial(t, srv), dial(t, srv)
	if u := alice.login("alice", "")["user"].(map[string]any); u["guest"] != true || u["name"] != "alice" {
		t.Fatalf("login_ok user = %v", u)
	}
	rooms := alice.want("rooms")["rooms"].([]any)
	if len(rooms) != 5 || rooms[1].(map[string]any)["locked"] != true {
		t.Fatalf("rooms = %v", rooms)
	}
	if _, leaked := rooms[1].(map[string]any)["pwd"]; leaked {
		t.Fatal("room password sent to clients")
	}
	bob.login("bob", "")
	j := alice.join(1, "")
	if j["welcome"] != "Welcome to the Lobby" {
		t.Fatalf("joined = %v", j)
	}
	bob.join(1, "")
	if p := alice.want("presence"); p["user"] != "bob" || p["event"] != "join" {
		t.Fatalf("presence = %v", p)
	}

	alice.send(map[string]any{"type": "say", "text": "hello bob", "style": map[string]any{"b": true, "u": true, "color": "#00ff00"}})
	m := bob.want("message")
	if m["from"] != "alice" || m["text"] != "hello bob" || m["room"] != 1.0 {
		t.Fatalf("bob got %v", m)
	}
	if st := m["style"].(map[string]any); st["b"] != true || st["u"] != true || st["color"] != "#00ff00" {
		t.Fatalf("style = %v", st)
	}
	alice.want("message") // the sender sees its own message

	bob.send(map[string]any{"type": "pm", "to": "alice", "text": "just you"})
	if p := alice.want("private"); p["from"] != "bob" || p["text"] != "just you" {
		t.Fatalf("private = %v", p)
	}
	if p := bob.want("private"); p["to"] != "alice" {
		t.Fatalf("echo = %v", p)
	}

	bob.send(map[string]any{"type": "users", "room": 1})
	if u := bob.want("users")["users"].([]any); len(u) != 2 || u[0] != "alice" || u[1] != "bob" {
		t.Fatalf("users = %v", u)
	}

	// A name that is online already is refused.
	dup := dial(t, srv)
	dup.send(map[string]string{"type": "login", "user": "ALICE"})
	dup.wantError("name_taken")
}

func TestRefusalsAreClear(t *testing.T) {
	srv := startServer(t, testConfig(t))
	c := dial(t, srv)
	c.send(map[string]any{"type": "join", "room": 1})
	c.wantError("not_logged_in")
	c.send(map[string]string{"type": "login", "user": "<script>"})
	c.wantError("name_unusable")
	c.login("carol", "")

	c.send(map[string]any{"type": "join", "room": 2})
	if msg := c.wantError("room_password"); !strings.Contains(msg, "Vault") {
		t.Fatalf("message %q does not name the room", msg)
	}
	c.send(map[string]any{"type": "join", "room": 2, "password": "wrong"})
	c.wantError("room_password")
	c.join(2, "sesame")
	c.send(map[string]any{"type": "join", "room": 3})
	c.wantError("room_closed")
	c.send(map[string]any{"type": "join", "room": 5})
	c.wantError("members_only")
	c.send(map[string]any{"type": "join", "room": 42})
	c.wantError("no_such_room")

	other := dial(t, srv)
	other.login("dave", "")
	other.join(4, "")
	c.send(map[string]any{"type": "join", "room": 4})
	if msg := c.wantError("room_full"); !strings.Contains(msg, "1 of 1") {
		t.Fatalf("full message %q", msg)
	}
	c.send(map[string]any{"type": "pm", "to": "nobody", "text": "hi"})
	c.wantError("no_such_user_online")
	c.send(map[string]any{"type": "say", "text": strings.Repeat("x", 2001)})
	c.wantError("too_long")
}

func TestBadInputKeepsTheConnection(t *testing.T) {
	srv := startServer(t, testConfig(t))
	c := dial(t, srv)
	if err := c.ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"login",`)); err != nil {
		t.Fatal(err)
	}
	if msg := c.wantError("bad_request"); !strings.Contains(msg, "JSON") {
		t.Fatalf("message %q", msg)
	}
	c.send(map[string]string{"type": "teleport"})
	c.wantError("bad_request")
	c.login("erin", "") // still usable
	c.send(map[string]string{"type": "login", "user": "erin2"})
	c.wantError("already_logged_in")
}

func TestOversizedFrameClosesOnlyThatConnection(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.MaxFrameBytes = 1024
	srv := startServer(t, cfg)
	good, bad := dial(t, srv), dial(t, srv)
	good.login("good", "")
	good.join(1, "")
	bad.login("bad", "")
	big := `{"type":"say","text":"` + strings.Repeat("a", 4096) + `"}`
	_ = bad.ws.Write(context.Background(), websocket.MessageText, []byte(big))
	select {
	case err := <-bad.closed:
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("closed with %v, want status 1009", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("oversized frame did not close the connection")
	}
	good.send(map[string]any{"type": "say", "text": "still here"})
	if m := good.want("message"); m["text"] != "still here" {
		t.Fatalf("got %v", m)
	}
}

func TestLoginTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.LoginTimeout = 300 * time.Millisecond
	srv := startServer(t, cfg)
	c := dial(t, srv)
	select {
	case err := <-c.closed:
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Reason != "login timeout" {
			t.Fatalf("closed with %v, want reason 'login timeout'", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a connection that never logs in is kept")
	}
}

func TestHistoryAndRoomsSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	srv, err := server.New(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := dial(t, srv)
	c.login("frank", "")
	c.join(1, "")
	for i := range 55 {
		c.send(map[string]any{"type": "say", "text": fmt.Sprintf("line %d", i)})
		c.want("message")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	srv2 := startServer(t, cfg) // same data dir
	d := dial(t, srv2)
	d.login("gina", "")
	hist := d.join(1, "")["history"].([]any)
	if len(hist) != 50 {
		t.Fatalf("history after restart has %d messages, want 50", len(hist))
	}
	first, last := hist[0].(map[string]any), hist[49].(map[string]any)
	if first["text"] != "line 5" || last["text"] != "line 54" || last["from"] != "frank" {
		t.Fatalf("history runs %v .. %v", first["text"], last["text"])
	}
	d.send(map[string]any{"type": "say", "text": "after restart"})
	if m := d.want("message"); m["id"].(float64) <= last["id"].(float64) {
		t.Fatalf("new message id %v not above stored %v", m["id"], last["id"])
	}
}

func TestHealthAndMetrics(t *testing.T) {
	srv := startServer(t, testConfig(t))
	c := dial(t, srv)
	c.login("hank", "")
	c.join(1, "")
	c.send(map[string]any{"type": "say", "text": "count me"})
	c.want("message")

	resp, err := http.Get("http://" + srv.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != 200 || health["status"] != "ok" || health["users"] != 1.0 || health["rooms"] != 5.0 {
		t.Fatalf("healthz %d %v", resp.StatusCode, health)
	}

	resp, err = http.Get("http://" + srv.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{"parlor_connections 1", "parlor_users_logged_in 1", "parlor_rooms 5", "parlor_messages_total 1"} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

func TestWebClientIsServed(t *testing.T) {
	srv := startServer(t, testConfig(t))
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "app.js") {
		t.Fatalf("GET / = %d %.200s", resp.StatusCode, body)
	}
}
