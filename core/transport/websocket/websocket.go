// Package websocket is the browser transport: the JSON protocol of
// docs/protocol.md over one WebSocket per client.
package websocket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
)

// ProtocolVersion is the version announced in the hello frame.
const ProtocolVersion = 1

// maxBatch bounds how many queued frames one write carries.
const maxBatch = 64

// Login establishes who a connection belongs to; *auth.Pipeline is one.
type Login interface {
	Login(ctx context.Context, username, password, remoteIP string) (auth.Identity, error)
}

// Options configures the handler.
type Options struct {
	MaxFrameBytes int64         // largest frame a client may send
	SendQueue     int           // frames queued per connection before it is dropped
	LoginTimeout  time.Duration // a connection must log in within this time
	WriteTimeout  time.Duration // one write to a client must finish within this time
	PingInterval  time.Duration // keep-alive pings
	Version       string        // server version for the hello frame
	Logger        hclog.Logger
}

// Handler accepts WebSocket connections at /ws.
type Handler struct {
	opts  Options
	group *chat.Group
	login Login
	log   hclog.Logger
	hello []byte

	active sync.WaitGroup // connections being served
}

// Wait blocks until every connection has ended or ctx is done.
func (h *Handler) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		h.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for connections: %w", ctx.Err())
	}
}

// New makes a handler for one group.
func New(group *chat.Group, login Login, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	hello, _ := json.Marshal(map[string]any{
		"type": "hello", "server": "parlor", "version": opts.Version,
		"protocol": ProtocolVersion, "guests": group.GuestsAllowed(),
	})
	return &Handler{opts: opts, group: group, login: login, log: opts.Logger, hello: hello}
}

// ServeHTTP upgrades the request and serves the connection until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		h.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "error", err)
		return
	}
	h.active.Add(1)
	defer h.active.Done()
	ws.SetReadLimit(h.opts.MaxFrameBytes)
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		h: h, ws: ws, ctx: ctx, cancel: cancel,
		out: make(chan *chat.Frame, h.opts.SendQueue),
		ip:  remoteIP(r),
	}
	h.group.Connect(c)
	c.Send(chat.RawFrame(h.hello))
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.writeLoop()
	}()
	c.readLoop()
	cancel()
	<-done
	h.group.Disconnect(c, c.member)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// conn is one client connection; it implements chat.Conn.
type conn struct {
	h      *Handler
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	out    chan *chat.Frame
	ip     string

	closeOnce sync.Once
	status    websocket.StatusCode
	reason    string

	member *chat.Member // owned by the read loop
}

// Send queues f without blocking; false means the queue is full (the hub
// then closes the connection) or the connection is closing.
func (c *conn) Send(f *chat.Frame) bool {
	if c.ctx.Err() != nil {
		return false
	}
	select {
	case c.out <- f:
		return true
	default:
		return false
	}
}

// Close ends the connection; the writer sends what is queued (unless the
// connection is a slow consumer) and then the close frame.
func (c *conn) Close(reason string) {
	c.closeWith(websocket.StatusPolicyViolation, reason)
}

func (c *conn) closeWith(status websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.status, c.reason = status, reason
		c.cancel()
	})
}

// writeLoop sends queued frames, several per write when they pile up, and
// keeps the connection alive with pings.
func (c *conn) writeLoop() {
	ping := time.NewTicker(c.h.opts.PingInterval)
	defer ping.Stop()
	batch := make([]*chat.Frame, 0, maxBatch)
	for {
		select {
		case <-c.ctx.Done():
			c.closeOnce.Do(func() { c.status, c.reason = websocket.StatusNormalClosure, "" })
			if c.status != websocket.StatusNormalClosure {
				c.h.log.Debug("closing connection", "remote", c.ip, "reason", c.reason)
			}
			if c.reason != chat.ReasonSlowConsumer {
				c.flush(batch)
			}
			_ = c.ws.Close(c.status, c.reason)
			return
		case f := <-c.out:
			batch = append(batch[:0], f)
		drain:
			for len(batch) < maxBatch {
				select {
				case g := <-c.out:
					batch = append(batch, g)
				default:
					break drain
				}
			}
			if err := c.write(batch); err != nil {
				c.closeWith(websocket.StatusGoingAway, "write failed")
			}
			clear(batch)
		case <-ping.C:
			ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.WriteTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil && c.ctx.Err() == nil {
				c.closeWith(websocket.StatusGoingAway, "ping timeout")
			}
		}
	}
}

// flush writes what is still queued when the connection closes (a notice
// telling the user why, for example), bounded by the write timeout. A slow
// consumer is closed without it.
func (c *conn) flush(batch []*chat.Frame) {
	batch = batch[:0]
queued:
	for len(batch) < cap(batch) {
		select {
		case f := <-c.out:
			batch = append(batch, f)
		default:
			break queued
		}
	}
	if len(batch) == 0 {
		return
	}
	_ = c.write(batch)
}

// write sends one frame as is, or several as one JSON array. It is bounded
// by the write timeout only, not by c.ctx: frames queued before a Close
// still go out.
func (c *conn) write(batch []*chat.Frame) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.h.opts.WriteTimeout)
	defer cancel()
	if len(batch) == 1 {
		return c.ws.Write(ctx, websocket.MessageText, batch[0].JSON())
	}
	w, err := c.ws.Writer(ctx, websocket.MessageText)
	if err != nil {
		return err
	}
	sep := []byte{'['}
	for _, f := range batch {
		if _, err := w.Write(sep); err != nil {
			return err
		}
		if _, err := w.Write(f.JSON()); err != nil {
			return err
		}
		sep[0] = ','
	}
	if _, err := w.Write([]byte{']'}); err != nil {
		return err
	}
	return w.Close()
}

// request is any client-to-server frame.
type request struct {
	Type     string     `json:"type"`
	ID       string     `json:"id"`
	User     string     `json:"user"`
	Password string     `json:"password"`
	Room     int64      `json:"room"`
	Text     string     `json:"text"`
	To       string     `json:"to"`
	Style    chat.Style `json:"style"`
}

func (c *conn) readLoop() {
	loginTimer := time.AfterFunc(c.h.opts.LoginTimeout, func() {
		c.closeWith(websocket.StatusPolicyViolation, "login timeout")
	})
	defer loginTimer.Stop()
	for {
		// Not c.ctx: cancelling a read would drop the connection without a
		// close frame; the writer closes it properly and that ends the read.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			if s := websocket.CloseStatus(err); s == -1 && c.ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				c.h.log.Debug("read failed", "remote", c.ip, "error", err)
			}
			return
		}
		if typ != websocket.MessageText {
			c.reply(chat.ErrorEvent{Type: "error", Code: chat.CodeBadRequest, Message: "Frames must be JSON text."})
			continue
		}
		var req request
		if err := json.Unmarshal(data, &req); err != nil {
			c.reply(chat.ErrorEvent{Type: "error", Code: chat.CodeBadRequest, Message: "The frame is not valid JSON: " + err.Error()})
			continue
		}
		if err := c.handle(req); err != nil {
			c.reply(chat.ErrorEvent{Type: "error", ID: req.ID, Code: chat.CodeOf(err), Message: err.Error()})
		}
		if c.member != nil {
			loginTimer.Stop()
		}
	}
}

func (c *conn) reply(ev any) {
	if !c.Send(chat.NewFrame(ev)) {
		c.Close(chat.ReasonSlowConsumer)
	}
}

func (c *conn) handle(req request) error {
	g := c.h.group
	switch req.Type {
	case "ping":
		c.reply(struct {
			Type string `json:"type"`
			ID   string `json:"id,omitempty"`
		}{"pong", req.ID})
		return nil
	case "login":
		return c.doLogin(req)
	case "rooms", "join", "leave", "say", "pm", "users":
	default:
		return chat.Errorf(chat.CodeBadRequest, "Unknown request type %q.", req.Type)
	}
	m := c.member
	if m == nil {
		return chat.Errorf(chat.CodeNotLoggedIn, "Log in first.")
	}
	switch req.Type {
	case "rooms":
		c.reply(chat.RoomsEvent{Type: "rooms", ID: req.ID, Rooms: g.Rooms()})
	case "join":
		ev, err := g.Join(m, req.Room, req.Password)
		if err != nil {
			return err
		}
		ev.ID = req.ID
		c.reply(ev)
	case "leave":
		c.reply(map[string]any{"type": "left", "id": req.ID, "room": g.Leave(m)})
	case "say":
		_, err := g.Say(m, req.Text, req.Style)
		return err
	case "pm":
		if req.To == "" {
			return chat.Errorf(chat.CodeBadRequest, "A private message needs a recipient (to).")
		}
		return g.Private(m, req.To, req.Text, req.Style)
	case "users":
		users, err := g.Users(req.Room)
		if err != nil {
			return err
		}
		c.reply(map[string]any{"type": "users", "id": req.ID, "room": req.Room, "users": users})
	}
	return nil
}

func (c *conn) doLogin(req request) error {
	if c.member != nil {
		return chat.Errorf(chat.CodeAlreadyLoggedIn, "This connection is logged in already as %s.", c.member.Name)
	}
	id, err := c.h.login.Login(c.ctx, req.User, req.Password, c.ip)
	if err != nil {
		c.h.log.Info("login refused", "user", req.User, "remote", c.ip, "code", chat.CodeOf(err))
		return err
	}
	m := &chat.Member{Name: id.Name, Display: id.Display, Admin: id.Admin, Guest: id.Guest, Conn: c}
	if err := c.h.group.Login(m); err != nil {
		return err
	}
	c.member = m
	c.h.log.Info("login", "user", id.Name, "remote", c.ip, "guest", id.Guest, "admin", id.Admin, "by", id.By)
	c.reply(map[string]any{"type": "login_ok", "id": req.ID, "user": map[string]any{
		"name": id.Name, "display": id.Display, "admin": id.Admin, "guest": id.Guest,
	}})
	c.reply(chat.RoomsEvent{Type: "rooms", Rooms: c.h.group.Rooms()})
	return nil
}
