// Package session is the chat protocol of docs/protocol.md, written once
// for every transport: it decodes requests, logs connections in and out,
// applies the per-connection abuse limits, runs the module hooks and
// answers with the events of core/chat. A transport (core/transport/...)
// only moves frames: it hands each request to Client.Handle and delivers
// what the session sends through the Transport interface.
package session

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
)

// ProtocolVersion is the version announced in the hello frame.
const ProtocolVersion = 1

// Transport is one client connection as the session sees it. Its methods
// must not block.
type Transport interface {
	// Send queues a frame; false means the queue is full or the
	// connection is closing (the session then closes it as a slow
	// consumer).
	Send(f *chat.Frame) bool
	// Close ends the connection because of a failure or a violation
	// (login timeout, slow consumer), with reason for the log and the
	// close frame.
	Close(reason string)
	// End ends the connection normally after what is queued has been
	// written (logout, ended session).
	End(reason string)
}

// ConnInfo is what the transport knows of a connection when it opens.
type ConnInfo struct {
	RemoteIP string // the client's address
	Cookie   string // the session token of the login cookie, if any
}

// Login establishes who a connection belongs to; *auth.Pipeline is one.
type Login interface {
	Login(ctx context.Context, username, password, remoteIP string) (auth.Identity, error)
}

// SessionLogin checks and ends login sessions; *auth.Sessions is one.
type SessionLogin interface {
	// Login returns the identity of an unexpired session token, or a
	// *chat.Error with code auth.CodeNoSession.
	Login(ctx context.Context, token, remoteIP string) (auth.Identity, error)
	// Revoke ends the session of token and returns the token's hash.
	Revoke(ctx context.Context, token string) (bool, []byte, error)
	// IssueReconnect starts a reconnect token bound to the identity of a
	// password login, handed to the client in login_ok.
	IssueReconnect(ctx context.Context, id auth.Identity) (string, error)
	// Hold and Release count the connections logged in with a token: a
	// reconnect token expires only once none is. Release writes the new
	// expiry to the store.
	Hold(token string)
	Release(ctx context.Context, token string)
}

// Options configures a Node.
type Options struct {
	LoginTimeout time.Duration // a connection must log in within this time
	// CallTimeout bounds one call to the session store (reconnect
	// tokens and their release, revocation at logout).
	CallTimeout time.Duration
	Version     string // server version for the hello frame
	Logger      hclog.Logger
	// Sessions logs connections in by session; nil turns session logins
	// and reconnect tokens off.
	Sessions SessionLogin
	// Modules names the module plugins, listed in the hello frame so that
	// a client asks only for what is there (the web client reads
	// /sso/settings only when "sso" is).
	Modules []string
	// Extensions and Commands are announced in the hello frame: the web
	// client extensions of modules and the command prefixes they own
	// (Announce changes them later).
	Extensions []Extension
	Commands   []string
	// Limits are the abuse limits of connections (limits.go).
	Limits Limits
	// Hooks are the module hooks (hooks.go); nil runs none.
	Hooks Modules
	// Holder keeps the messages a module held; nil refuses them instead.
	Holder Holder
	// MessagesInFlight bounds the messages of one connection whose hooks
	// are being asked at once (order.go); DefaultMessagesInFlight when 0.
	MessagesInFlight int
}

// DefaultMessagesInFlight is Options.MessagesInFlight's default.
const DefaultMessagesInFlight = 32

// Node is the protocol of one chat group, shared by every transport.
type Node struct {
	opts     Options
	group    *chat.Group
	login    Login
	log      hclog.Logger
	hello    atomic.Pointer[[]byte] // the encoded hello frame
	lim      *limiters              // abuse limits (limits.go)
	sessions sessionConns           // clients logged in by session (login.go)
	stacks   *stacks                // where requests run (stacks.go)
}

// New makes the protocol layer of group.
func New(group *chat.Group, login Login, opts Options) *Node {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.MessagesInFlight <= 0 {
		opts.MessagesInFlight = DefaultMessagesInFlight
	}
	n := &Node{
		opts: opts, group: group, login: login, log: opts.Logger,
		lim: newLimiters(opts.Limits), stacks: newStacks(requestWorkers, 10*time.Second),
	}
	n.Announce(opts.Modules, opts.Extensions, opts.Commands)
	return n
}

// Announce changes what the hello frame of new connections lists: the
// modules serving HTTP, the web client extensions and the command
// prefixes (when a module plugin comes up after start, for example).
func (n *Node) Announce(modules []string, extensions []Extension, commands []string) {
	hello, _ := json.Marshal(HelloEvent{
		Type: "hello", Server: "parlor", Version: n.opts.Version,
		Protocol: ProtocolVersion, Guests: n.group.GuestsAllowed(),
		Modules:    append([]string{}, modules...),
		Extensions: append([]Extension{}, extensions...),
		Commands:   append([]string{}, commands...),
	})
	n.hello.Store(&hello)
}

// Group returns the chat group the node serves.
func (n *Node) Group() *chat.Group { return n.group }

// Client is the protocol state of one connection; it implements
// chat.Conn over its Transport. Handle must be called from one goroutine
// (the transport's reader).
type Client struct {
	n      *Node
	t      Transport
	ctx    context.Context
	ip     string
	cookie string

	loginTimer *time.Timer
	loggedIn   atomic.Bool

	lim connLimits // owned by the reader (limits.go)

	order *order // the messages whose hooks are being asked (order.go)

	member  *chat.Member // owned by the reader
	session string       // hash of the session token logged in with, if any
	token   string       // the session token logged in with, if any
}

// Connect starts the session of a new connection: it counts it under the
// per-address caps, registers it with the group, sends the hello frame
// and arms the login timeout. ctx ends when the connection does. An error
// is the refusal (a *chat.Error) the transport sends before it closes the
// connection; Closed must then not be called.
func (n *Node) Connect(ctx context.Context, t Transport, info ConnInfo) (*Client, error) {
	c := &Client{n: n, t: t, ctx: ctx, ip: info.RemoteIP, cookie: info.Cookie, order: newOrder(n.opts.MessagesInFlight)}
	if err := n.admit(&c.lim, c.ip); err != nil {
		return nil, err
	}
	n.group.Connect(c)
	c.Send(chat.RawFrame(*n.hello.Load()))
	c.loginTimer = time.AfterFunc(n.opts.LoginTimeout, func() {
		if !c.loggedIn.Load() {
			c.t.Close("login timeout")
		}
	})
	return c, nil
}

// Send implements chat.Conn.
func (c *Client) Send(f *chat.Frame) bool { return c.t.Send(f) }

// Close implements chat.Conn.
func (c *Client) Close(reason string) { c.t.Close(reason) }

// RemoteIP is the client's address.
func (c *Client) RemoteIP() string { return c.ip }

// Closed ends the session once the transport's connection has ended: the
// member is logged out and the limits forget the connection.
func (c *Client) Closed() {
	c.loginTimer.Stop()
	c.n.sessions.remove(c)
	c.n.group.Disconnect(c, c.member)
	c.n.releaseLimits(&c.lim)
}

// Handle decodes and answers one request frame (a JSON object). It keeps
// nothing of data once it returns: the transport may read the next frame
// into the same buffer.
func (c *Client) Handle(data []byte) {
	c.n.stacks.run(func() { c.process(data) })
}

// Refuse answers a frame the transport could not take (binary, too
// large) with an error event.
func (c *Client) Refuse(err error) {
	c.reply(chat.ErrorEventOf("", err))
}

// requestWorkers is how many goroutines with grown stacks wait for
// requests at most (stacks.go).
const requestWorkers = 64

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
	// Emotion is a say or pm's emoticon, "e1".."e32" (chat.CleanEmotion).
	Emotion string `json:"emotion"`
	Session bool   `json:"session"` // login with the session cookie
	Token   string `json:"token"`   // login with a session token
}

func (c *Client) process(data []byte) {
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		c.reply(chat.ErrorEvent{Type: "error", Code: chat.CodeBadRequest, Message: "The frame is not valid JSON: " + err.Error()})
		return
	}
	if err := c.handle(req, data); err != nil {
		c.reply(chat.ErrorEventOf(req.ID, err))
	}
}

// reply sends ev to this client, closing it as a slow consumer when its
// queue is full.
func (c *Client) reply(ev any) {
	if !c.t.Send(chat.NewFrame(ev)) {
		c.t.Close(chat.ReasonSlowConsumer)
	}
}

func (c *Client) handle(req request, raw []byte) error {
	g := c.n.group
	switch req.Type {
	case "ping":
		c.reply(PongEvent{Type: "pong", ID: req.ID})
		return nil
	case "login":
		return c.doLogin(req)
	case "logout":
		c.order.wait()
		return c.doLogout(req)
	case "rooms", "join", "leave", "say", "pm", "users":
	default:
		if !strings.Contains(req.Type, ".") {
			return chat.Errorf(chat.CodeBadRequest, "Unknown request type %q.", req.Type)
		}
	}
	m := c.member
	if m == nil {
		return chat.Errorf(chat.CodeNotLoggedIn, "Log in first.")
	}
	switch req.Type {
	case "rooms":
		g.SendRoomList(m, req.ID)
	case "join":
		c.order.wait()
		return c.join(req)
	case "leave":
		c.order.wait()
		if err := c.allowJoin(); err != nil {
			return err
		}
		c.reply(chat.LeftEvent{Type: "left", ID: req.ID, Room: g.Leave(m)})
	case "say":
		return c.say(req)
	case "pm":
		return c.private(req)
	case "users":
		return c.users(req)
	default:
		return c.command(req, raw)
	}
	return nil
}

func (c *Client) join(req request) error {
	if err := c.allowJoin(); err != nil {
		return err
	}
	if err := c.checkRoomPassword(req.Room); err != nil {
		return err
	}
	if err := c.joinHook(req.Room); err != nil {
		return err
	}
	// The group sends the joined event itself, in order with the room's
	// presence.
	if err := c.n.group.Enter(c.member, req.Room, req.Password, req.ID); err != nil {
		c.joinFailed(err, req.Password)
		return err
	}
	return nil
}

// users answers with the members of a room, by name and with their
// roles.
func (c *Client) users(req request) error {
	g := c.n.group
	names, err := g.Users(req.Room)
	if err != nil {
		return err
	}
	info, _ := g.RoomInfo(req.Room)
	members := make([]chat.MemberView, 0, len(names))
	for _, name := range names {
		v := chat.MemberView{Name: name}
		if m, ok := g.Online(name); ok {
			v.Display, v.Avatar, v.Role = m.Display, m.Avatar, chat.RoleIn(m, info)
		}
		members = append(members, v)
	}
	c.reply(chat.UsersEvent{Type: "users", ID: req.ID, Room: req.Room, Users: names, Members: members})
	return nil
}
