package tcp

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/session"
)

type guests struct{}

func (guests) Login(_ context.Context, user, _, _ string) (auth.Identity, error) {
	return auth.Identity{Name: user, Guest: true}, nil
}

// serve runs a TCP server over a group with one room and returns its
// address.
func serve(t *testing.T, opts Options) (*chat.Group, string) {
	t.Helper()
	g := chat.NewGroup(chat.Options{History: 0, MaxMessageChars: 1 << 20, Guests: true})
	g.PutRoom(chat.RoomInfo{ID: 1, Name: "Room", Member: true, Open: true}, nil)
	n := session.New(g, guests{}, session.Options{LoginTimeout: time.Minute})
	s := New(n, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		g.CloseAll("test over")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Wait(ctx); err != nil {
			t.Error(err)
		}
	})
	return g, ln.Addr().String()
}

// client is a line client that logs in as name and joins room 1.
type client struct {
	nc net.Conn
	sc *bufio.Scanner
}

func dial(t *testing.T, addr, name string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	sc := bufio.NewScanner(nc)
	sc.Buffer(nil, 4<<20)
	c := &client{nc: nc, sc: sc}
	c.want(t, "hello")
	c.send(t, `{"type":"login","user":"`+name+`"}`)
	c.want(t, "login_ok")
	c.send(t, `{"type":"join","room":1}`)
	c.want(t, "joined")
	return c
}

func (c *client) send(t *testing.T, line string) {
	t.Helper()
	if _, err := c.nc.Write([]byte(line + "\n")); err != nil {
		t.Fatal(err)
	}
}

// want reads lines until one of type typ, each of which must be one
// JSON object.
func (c *client) want(t *testing.T, typ string) map[string]any {
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for c.sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(c.sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", c.sc.Bytes(), err)
		}
		if ev["type"] == typ {
			return ev
		}
	}
	t.Fatalf("no %s event: %v", typ, c.sc.Err())
	return nil
}

func TestEveryEventIsALine(t *testing.T) {
	_, addr := serve(t, Options{MaxLineBytes: 65536, SendQueue: 64, WriteTimeout: 5 * time.Second})
	a := dial(t, addr, "ann")
	b := dial(t, addr, "bob")
	for i := range 20 {
		a.send(t, `{"type":"say","text":"m`+strings.Repeat("x", i)+`"}`)
	}
	for i := range 20 {
		if ev := b.want(t, "message"); ev["text"] != "m"+strings.Repeat("x", i) {
			t.Fatalf("message %d = %v", i, ev)
		}
	}
}

func TestAReaderThatDoesNotReadIsDropped(t *testing.T) {
	g, addr := serve(t, Options{MaxLineBytes: 1 << 20, SendQueue: 8, SendQueueBytes: 1 << 20, WriteTimeout: 60 * time.Second})
	a := dial(t, addr, "ann")
	stuck := dial(t, addr, "stuck") // logged in and in the room, but never reads again
	_ = stuck.nc.(*net.TCPConn).SetReadBuffer(4096)
	big := strings.Repeat("x", 200<<10)
	deadline := time.Now().Add(30 * time.Second)
	rounds := 0
	for {
		if _, online := g.Online("stuck"); !online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a client that does not read is still online")
		}
		a.send(t, `{"type":"say","text":"`+big+`"}`)
		a.want(t, "message")
		rounds++
	}
	t.Logf("dropped after %d messages", rounds)
	if _, online := g.Online("ann"); !online {
		t.Fatal("the speaker was dropped too")
	}
}
