package websocket

import (
	"context"
	"encoding/hex"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
)

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
	// reconnect token expires only once none is.
	Hold(token string)
	Release(token string)
}

// loginOK answers a successful login. Token is the reconnect token of a
// password login: the client logs in with it after a dropped connection
// instead of keeping the password.
type loginOK struct {
	Type  string    `json:"type"` // "login_ok"
	ID    string    `json:"id,omitempty"`
	User  loginUser `json:"user"`
	Token string    `json:"token,omitempty"`
}

type loginUser struct {
	Name    string `json:"name"`
	Display string `json:"display"`
	Admin   bool   `json:"admin"`
	Guest   bool   `json:"guest"`
}

// loggedIn answers a successful login of the connection as id; token, if
// any, is the session it logged in with (or was issued) and that logout
// ends.
func (c *conn) loggedIn(req request, id auth.Identity, token string, issued bool) {
	c.countLoggedIn()
	if token != "" {
		c.token = token
		c.session = hex.EncodeToString(auth.HashToken(token))
		c.h.sessions.add(c.session, c)
		c.h.opts.Sessions.Hold(token)
	}
	ok := loginOK{Type: "login_ok", ID: req.ID, User: loginUser{Name: id.Name, Display: id.Display, Admin: id.Admin, Guest: id.Guest}}
	if issued {
		ok.Token = token
	}
	c.reply(ok)
	c.reply(chat.RoomsEvent{Type: "rooms", Rooms: c.h.group.Rooms()})
}

// issueReconnect returns a reconnect token for the password login of id,
// or "" for a guest or when the server has no sessions.
func (c *conn) issueReconnect(id auth.Identity) string {
	if id.Guest || c.h.opts.Sessions == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.WriteTimeout)
	defer cancel()
	token, err := c.h.opts.Sessions.IssueReconnect(ctx, id)
	if err != nil {
		c.h.log.Warn("no reconnect token for the login", "user", id.Name, "error", err)
		return ""
	}
	return token
}

// sessionCookie returns the session token the browser sent in the login
// cookie, if any.
func sessionCookie(r *http.Request) string {
	c, err := r.Cookie(auth.SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// sessionConns indexes the connections logged in by session by the hash
// of their token, so that ending a session closes them.
type sessionConns struct {
	mu    sync.Mutex
	conns map[string]map[*conn]struct{}
}

func (s *sessionConns) add(key string, c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = make(map[string]map[*conn]struct{})
	}
	set := s.conns[key]
	if set == nil {
		set = make(map[*conn]struct{})
		s.conns[key] = set
	}
	set[c] = struct{}{}
}

func (s *sessionConns) remove(c *conn) {
	if c.session == "" {
		return
	}
	c.h.opts.Sessions.Release(c.token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.conns[c.session]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(s.conns, c.session)
		}
	}
}

func (s *sessionConns) take(key string) []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.conns[key]
	delete(s.conns, key)
	out := make([]*conn, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return out
}

// loggedOut is the event telling a client its login ended.
type loggedOut struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// EndSessions closes the connections logged in with the sessions whose
// token hashes are given (the sessions were revoked or their account
// deleted). Each gets a `logged_out` event first.
func (h *Handler) EndSessions(tokenHashes [][]byte) {
	for _, th := range tokenHashes {
		for _, c := range h.sessions.take(hex.EncodeToString(th)) {
			c.endLogin("session ended")
		}
	}
}

// EndUser closes the connection of the member logged in under name,
// whether with a password or a session, because its account was deleted
// or renamed (reason, such as "account deleted", goes in the `logged_out`
// event). A guest who happens to use the name is left alone.
func (h *Handler) EndUser(name, reason string) {
	m, ok := h.group.Online(name)
	if !ok || m.Guest {
		return
	}
	if c, ok := m.Conn.(*conn); ok {
		c.endLogin(reason)
		return
	}
	m.Conn.Close(reason)
}

// endLogin tells the client why its login ended with a `logged_out` event
// and closes the connection after what is queued.
func (c *conn) endLogin(reason string) {
	c.Send(chat.NewFrame(loggedOut{Type: "logged_out", Reason: reason}))
	c.closeWith(websocket.StatusNormalClosure, "logged out")
}

// doSessionLogin logs the connection in with a session: the token of the
// request, or else the login cookie sent at upgrade.
func (c *conn) doSessionLogin(req request) error {
	if c.member != nil {
		return chat.Errorf(chat.CodeAlreadyLoggedIn, "This connection is logged in already as %s.", c.member.Name)
	}
	if c.h.opts.Sessions == nil {
		return chat.Errorf(auth.CodeNoSession, "This server has no login sessions.")
	}
	token := req.Token
	if token == "" {
		token = c.cookie
	}
	if token == "" {
		return chat.Errorf(auth.CodeNoSession, "There is no login session; please log in.")
	}
	id, err := c.h.opts.Sessions.Login(c.ctx, token, c.ip)
	if err != nil {
		c.h.log.Info("session login refused", "remote", c.ip, "code", chat.CodeOf(err), "error", err)
		if chat.CodeOf(err) == "internal" {
			return chat.Errorf(chat.CodeLoginError, "Login is not possible right now; please try again later.")
		}
		return err
	}
	m := &chat.Member{Name: id.Name, Display: id.Display, Admin: id.Admin, Guest: id.Guest, Conn: c}
	if err := c.h.group.Login(m); err != nil {
		return err
	}
	c.member = m
	c.h.log.Info("login", "user", id.Name, "remote", c.ip, "by", id.By)
	c.loggedIn(req, id, token, false)
	return nil
}

// doLogout ends the connection's login: a session login also ends its
// session (and every connection using it). The client gets `logged_out`
// and the connection closes.
func (c *conn) doLogout(req request) error {
	if c.member == nil {
		return chat.Errorf(chat.CodeNotLoggedIn, "Log in first.")
	}
	c.reply(loggedOut{Type: "logged_out", ID: req.ID, Reason: "logout"})
	if c.token != "" && c.h.opts.Sessions != nil {
		ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.WriteTimeout)
		_, th, err := c.h.opts.Sessions.Revoke(ctx, c.token)
		cancel()
		if err != nil {
			c.h.log.Warn("revoke session at logout failed", "user", c.member.Name, "error", err)
		} else {
			c.h.EndSessions([][]byte{th})
		}
	}
	c.h.log.Info("logout", "user", c.member.Name, "remote", c.ip)
	c.closeWith(websocket.StatusNormalClosure, "logged out")
	return nil
}

// helloEvent is the first frame of every connection.
type helloEvent struct {
	Type     string   `json:"type"` // "hello"
	Server   string   `json:"server"`
	Version  string   `json:"version"`
	Protocol int      `json:"protocol"`
	Guests   bool     `json:"guests"`
	Modules  []string `json:"modules"`
}
