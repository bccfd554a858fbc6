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

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/internal/servertest"
)

// testConfig is servertest.Config with rooms that exercise every refusal.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.Rooms = []config.Room{
		{ID: 1, Name: "Lobby", Member: true, Open: true, Max: 50, Welcome: "Welcome to the Lobby"},
		{ID: 2, Name: "Vault", Member: true, Open: true, Password: "sesame"},
		{ID: 3, Name: "Closed", Member: true, Open: false},
		{ID: 4, Name: "Tiny", Member: true, Open: true, Max: 1},
		{ID: 5, Name: "Members", Member: false, Open: true},
	}
	return cfg
}

func TestChatOverWebSocket(t *testing.T) {
	srv := servertest.Start(t, testConfig(t))
	alice, bob := servertest.Dial(t, srv), servertest.Dial(t, srv)
	if u := alice.Login("alice", "")["user"].(map[string]any); u["guest"] != true || u["name"] != "alice" {
		t.Fatalf("login_ok user = %v", u)
	}
	rooms := alice.Want("rooms")["rooms"].([]any)
	if len(rooms) != 5 || rooms[1].(map[string]any)["locked"] != true {
		t.Fatalf("rooms = %v", rooms)
	}
	if _, leaked := rooms[1].(map[string]any)["pwd"]; leaked {
		t.Fatal("room password sent to clients")
	}
	bob.Login("bob", "")
	j := alice.Join(1, "")
	if j["welcome"] != "Welcome to the Lobby" {
		t.Fatalf("joined = %v", j)
	}
	bob.Join(1, "")
	if p := alice.Want("presence"); p["user"] != "bob" || p["event"] != "join" {
		t.Fatalf("presence = %v", p)
	}

	alice.Send(map[string]any{"type": "say", "text": "hello bob", "style": map[string]any{"b": true, "u": true, "color": "#00ff00"}})
	m := bob.Want("message")
	if m["from"] != "alice" || m["text"] != "hello bob" || m["room"] != 1.0 {
		t.Fatalf("bob got %v", m)
	}
	if st := m["style"].(map[string]any); st["b"] != true || st["u"] != true || st["color"] != "#00ff00" {
		t.Fatalf("style = %v", st)
	}
	alice.Want("message") // the sender sees its own message

	bob.Send(map[string]any{"type": "pm", "to": "alice", "text": "just you"})
	if p := alice.Want("private"); p["from"] != "bob" || p["text"] != "just you" {
		t.Fatalf("private = %v", p)
	}
	if p := bob.Want("private"); p["to"] != "alice" {
		t.Fatalf("echo = %v", p)
	}

	bob.Send(map[string]any{"type": "users", "room": 1})
	if u := bob.Want("users")["users"].([]any); len(u) != 2 || u[0] != "alice" || u[1] != "bob" {
		t.Fatalf("users = %v", u)
	}

	// A name that is online already is refused.
	dup := servertest.Dial(t, srv)
	dup.Send(map[string]string{"type": "login", "user": "ALICE"})
	dup.WantError("name_taken")
}

func TestRefusalsAreClear(t *testing.T) {
	srv := servertest.Start(t, testConfig(t))
	c := servertest.Dial(t, srv)
	c.Send(map[string]any{"type": "join", "room": 1})
	c.WantError("not_logged_in")
	c.Send(map[string]string{"type": "login", "user": "<script>"})
	c.WantError("name_unusable")
	c.Login("carol", "")

	c.Send(map[string]any{"type": "join", "room": 2})
	if msg := c.WantError("room_password"); !strings.Contains(msg, "Vault") {
		t.Fatalf("message %q does not name the room", msg)
	}
	c.Send(map[string]any{"type": "join", "room": 2, "password": "wrong"})
	c.WantError("room_password")
	c.Join(2, "sesame")
	c.Send(map[string]any{"type": "join", "room": 3})
	c.WantError("room_closed")
	c.Send(map[string]any{"type": "join", "room": 5})
	c.WantError("members_only")
	c.Send(map[string]any{"type": "join", "room": 42})
	c.WantError("no_such_room")

	other := servertest.Dial(t, srv)
	other.Login("dave", "")
	other.Join(4, "")
	c.Send(map[string]any{"type": "join", "room": 4})
	if msg := c.WantError("room_full"); !strings.Contains(msg, "1 of 1") {
		t.Fatalf("full message %q", msg)
	}
	c.Send(map[string]any{"type": "pm", "to": "nobody", "text": "hi"})
	c.WantError("no_such_user_online")
	c.Send(map[string]any{"type": "say", "text": strings.Repeat("x", 2001)})
	c.WantError("too_long")
}

func TestBadInputKeepsTheConnection(t *testing.T) {
	srv := servertest.Start(t, testConfig(t))
	c := servertest.Dial(t, srv)
	if err := c.Conn().Write(context.Background(), websocket.MessageText, []byte(`{"type":"login",`)); err != nil {
		t.Fatal(err)
	}
	if msg := c.WantError("bad_request"); !strings.Contains(msg, "JSON") {
		t.Fatalf("message %q", msg)
	}
	c.Send(map[string]string{"type": "teleport"})
	c.WantError("bad_request")
	c.Login("erin", "") // still usable
	c.Send(map[string]string{"type": "login", "user": "erin2"})
	c.WantError("already_logged_in")
}

func TestOversizedFrameClosesOnlyThatConnection(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.MaxFrameBytes = 1024
	srv := servertest.Start(t, cfg)
	good, bad := servertest.Dial(t, srv), servertest.Dial(t, srv)
	good.Login("good", "")
	good.Join(1, "")
	bad.Login("bad", "")
	big := `{"type":"say","text":"` + strings.Repeat("a", 4096) + `"}`
	_ = bad.Conn().Write(context.Background(), websocket.MessageText, []byte(big))
	select {
	case err := <-bad.Closed():
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("closed with %v, want status 1009", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("oversized frame did not close the connection")
	}
	good.Send(map[string]any{"type": "say", "text": "still here"})
	if m := good.Want("message"); m["text"] != "still here" {
		t.Fatalf("got %v", m)
	}
}

func TestLoginTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.LoginTimeout = 300 * time.Millisecond
	srv := servertest.Start(t, cfg)
	c := servertest.Dial(t, srv)
	select {
	case err := <-c.Closed():
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Reason != "login timeout" {
			t.Fatalf("closed with %v, want reason 'login timeout'", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a connection that never logs in is kept")
	}
}

func TestIdleConnectionIsKept(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.PingInterval = 200 * time.Millisecond
	cfg.HTTP.WriteTimeout = 100 * time.Millisecond
	srv := servertest.Start(t, cfg)
	c := servertest.Dial(t, srv)
	c.Login("idle", "")
	// Idle for several ping intervals, well past the write timeout of the
	// last frame written: the keep-alive pings must not end the connection.
	select {
	case err := <-c.Closed():
		t.Fatalf("an idle connection that answers pings was closed: %v", err)
	case <-time.After(1500 * time.Millisecond):
	}
	c.Send(map[string]any{"type": "ping", "id": "still-there"})
	c.WantMatch("pong", func(ev map[string]any) bool { return ev["id"] == "still-there" })
}

func TestHistoryAndRoomsSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.Say, cfg.Limits.SayUser = limit.Rate{}, limit.Rate{} // 55 messages in a row
	srv := servertest.Start(t, cfg)
	c := servertest.Dial(t, srv)
	c.Login("frank", "")
	c.Join(1, "")
	for i := range 55 {
		c.Send(map[string]any{"type": "say", "text": fmt.Sprintf("line %d", i)})
		c.Want("message")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	srv2 := servertest.Start(t, cfg) // same data dir
	d := servertest.Dial(t, srv2)
	d.Login("gina", "")
	hist := d.Join(1, "")["history"].([]any)
	if len(hist) != 50 {
		t.Fatalf("history after restart has %d messages, want 50", len(hist))
	}
	first, last := hist[0].(map[string]any), hist[49].(map[string]any)
	if first["text"] != "line 5" || last["text"] != "line 54" || last["from"] != "frank" {
		t.Fatalf("history runs %v .. %v", first["text"], last["text"])
	}
	d.Send(map[string]any{"type": "say", "text": "after restart"})
	if m := d.Want("message"); m["id"].(float64) <= last["id"].(float64) {
		t.Fatalf("new message id %v not above stored %v", m["id"], last["id"])
	}
}

func TestHealthAndMetrics(t *testing.T) {
	srv := servertest.Start(t, testConfig(t))
	c := servertest.Dial(t, srv)
	c.Login("hank", "")
	c.Join(1, "")
	c.Send(map[string]any{"type": "say", "text": "count me"})
	c.Want("message")

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
	srv := servertest.Start(t, testConfig(t))
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
