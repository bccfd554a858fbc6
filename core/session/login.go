package session

import (
	"context"
	"encoding/hex"
	"sync"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
)

// doLogin logs the connection in, with a password (or as a guest) or
// with a session: the token of the request, or else the login cookie.
// Both then pass the module login hook and the group's login.
func (c *Client) doLogin(req request) error {
	if c.member != nil {
		return chat.Errorf(chat.CodeAlreadyLoggedIn, "This connection is logged in already as %s.", c.member.Name)
	}
	bySession := req.Session || req.Token != ""
	var (
		id    auth.Identity
		token string
		err   error
	)
	if bySession {
		id, token, err = c.sessionIdentity(req)
	} else {
		id, err = c.n.login.Login(c.ctx, req.User, req.Password, c.ip)
		if err != nil {
			c.n.log.Info("login refused", "user", req.User, "remote", c.ip, "code", chat.CodeOf(err))
		}
	}
	if err != nil {
		return err
	}
	if id, err = c.loginHook(id); err != nil {
		c.n.log.Info("login refused by a module", "user", id.Name, "remote", c.ip, "code", chat.CodeOf(err))
		return err
	}
	m := &chat.Member{
		Name: id.Name, Display: id.Display, Admin: id.Admin, Guest: id.Guest,
		IP: c.ip, Avatar: chat.CleanAvatar(id.Avatar), Conn: c,
	}
	if err := c.n.group.Login(m); err != nil {
		return err
	}
	c.member = m
	c.loggedIn.Store(true)
	c.loginTimer.Stop()
	c.n.log.Info("login", "user", id.Name, "remote", c.ip, "guest", id.Guest, "admin", id.Admin, "by", id.By, "session", bySession)
	issued := false
	if !bySession {
		token = c.issueReconnect(id)
		issued = token != ""
	}
	c.n.countLoggedIn(&c.lim)
	if token != "" {
		c.token = token
		c.session = hex.EncodeToString(auth.HashToken(token))
		c.n.sessions.add(c.session, c)
		c.n.opts.Sessions.Hold(token)
	}
	ok := LoginOKEvent{Type: "login_ok", ID: req.ID, User: LoginUser{
		Name: m.Name, Display: m.Display, Admin: m.Admin, Guest: m.Guest, Avatar: m.Avatar,
	}}
	if issued {
		ok.Token = token
	}
	c.reply(ok)
	c.n.group.SendRoomList(m, "")
	// What is in force against the user (a mute, a room's ban, a kick's
	// cooldown) is told again at every login, so a client knows it.
	for _, s := range c.n.group.SanctionsInForce(m) {
		c.Send(c.n.group.SanctionFrame(s))
	}
	return nil
}

// sessionIdentity checks the session a login asks for and returns its
// identity and token.
func (c *Client) sessionIdentity(req request) (auth.Identity, string, error) {
	s := c.n.opts.Sessions
	if s == nil {
		return auth.Identity{}, "", chat.Errorf(auth.CodeNoSession, "This server has no login sessions.")
	}
	token := req.Token
	if token == "" {
		token = c.cookie
	}
	if token == "" {
		return auth.Identity{}, "", chat.Errorf(auth.CodeNoSession, "There is no login session; please log in.")
	}
	id, err := s.Login(c.ctx, token, c.ip)
	if err != nil {
		c.n.log.Info("session login refused", "remote", c.ip, "code", chat.CodeOf(err), "error", err)
		if chat.CodeOf(err) == "internal" {
			return auth.Identity{}, "", chat.Errorf(chat.CodeLoginError, "Login is not possible right now; please try again later.")
		}
		return auth.Identity{}, "", err
	}
	return id, token, nil
}

// issueReconnect returns a reconnect token for the password login of id,
// or "" for a guest or when the server has no sessions.
func (c *Client) issueReconnect(id auth.Identity) string {
	if id.Guest || c.n.opts.Sessions == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.n.opts.CallTimeout)
	defer cancel()
	token, err := c.n.opts.Sessions.IssueReconnect(ctx, id)
	if err != nil {
		c.n.log.Warn("no reconnect token for the login", "user", id.Name, "error", err)
		return ""
	}
	return token
}

// doLogout ends the connection's login: a session login also ends its
// session, and with it every other connection using it. The client gets
// `logged_out` and the connection closes.
func (c *Client) doLogout(req request) error {
	if c.member == nil {
		return chat.Errorf(chat.CodeNotLoggedIn, "Log in first.")
	}
	if c.token != "" && c.n.opts.Sessions != nil {
		ctx, cancel := context.WithTimeout(c.ctx, c.n.opts.CallTimeout)
		_, th, err := c.n.opts.Sessions.Revoke(ctx, c.token)
		cancel()
		if err != nil {
			c.n.log.Warn("revoke session at logout failed", "user", c.member.Name, "error", err)
		} else {
			c.n.revoke(c.n.sessions.take(hex.EncodeToString(th)), "session ended", c)
		}
	}
	c.n.log.Info("logout", "user", c.member.Name, "remote", c.ip)
	c.end(req.ID, "logout")
	return nil
}

// EndSessions closes the connections logged in with the sessions whose
// token hashes are given (the sessions were revoked or their account
// deleted). Each gets a `logged_out` event first.
func (n *Node) EndSessions(tokenHashes [][]byte) {
	for _, th := range tokenHashes {
		n.revoke(n.sessions.take(hex.EncodeToString(th)), "session ended", nil)
	}
}

// EndUser closes the connection of the member logged in under name,
// whether with a password or a session, because its account was deleted
// or renamed (reason, such as "account deleted", goes in the `logged_out`
// event). A guest who happens to use the name is left alone.
func (n *Node) EndUser(name, reason string) {
	m, ok := n.group.Online(name)
	if !ok || m.Guest {
		return
	}
	if c, ok := m.Conn.(*Client); ok {
		n.revoke([]*Client{c}, reason, nil)
		return
	}
	m.Conn.Close(reason)
}

// EndBanned ends the login of every member a ban of the whole chat now
// covers (by name or address), guests too; the `logged_out` reason says
// why. It is called after the ban is in force, so that nobody can log
// straight back in.
func (n *Node) EndBanned() {
	for _, m := range n.group.Everyone() {
		s := n.group.Sanctioned(m, chat.SanctionBan, 0)
		if s == nil {
			continue
		}
		reason := "banned"
		if s.Reason != "" {
			reason += ": " + s.Reason
		}
		if s.User == "" || chat.NameKey(s.User) != chat.NameKey(m.Name) {
			// Banned by address: the Host API told only the user it names.
			n.group.SendMember(m, n.group.SanctionFrame(*s))
		}
		if c, ok := m.Conn.(*Client); ok {
			n.revoke([]*Client{c}, reason, nil)
			continue
		}
		m.Conn.Close(reason)
	}
}

// revoke is the one way a login is ended from outside its connection:
// each client but except gets `logged_out` with reason and is closed
// after what is queued.
func (n *Node) revoke(clients []*Client, reason string, except *Client) {
	for _, c := range clients {
		if c != except {
			c.end("", reason)
		}
	}
}

// end tells the client why its login ended and closes the connection
// after what is queued.
func (c *Client) end(id, reason string) {
	c.t.Send(chat.NewFrame(LoggedOutEvent{Type: "logged_out", ID: id, Reason: reason}))
	c.t.End("logged out")
}

// sessionConns indexes the clients logged in by session by the hash of
// their token, so that ending a session closes them.
type sessionConns struct {
	mu    sync.Mutex
	conns map[string]map[*Client]struct{}
}

func (s *sessionConns) add(key string, c *Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = make(map[string]map[*Client]struct{})
	}
	set := s.conns[key]
	if set == nil {
		set = make(map[*Client]struct{})
		s.conns[key] = set
	}
	set[c] = struct{}{}
}

func (s *sessionConns) remove(c *Client) {
	if c.session == "" {
		return
	}
	// The connection has ended (and its context with it); the release
	// still gets its time to write.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), c.n.opts.CallTimeout)
	c.n.opts.Sessions.Release(ctx, c.token)
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.conns[c.session]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(s.conns, c.session)
		}
	}
}

func (s *sessionConns) take(key string) []*Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.conns[key]
	delete(s.conns, key)
	out := make([]*Client, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return out
}
