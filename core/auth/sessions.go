package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
)

// SessionCookie is the name of the chat's login cookie. It holds a session
// token; the store keeps only the token's SHA-256.
const SessionCookie = "parlor_session"

// DefaultSessionTTL is the lifetime of a session when none is configured.
const DefaultSessionTTL = 30 * 24 * time.Hour

// tokenBytes is the size of a session token's random part (256 bits).
const tokenBytes = 32

// CodeNoSession is the protocol error code of a session login without a
// valid session (no cookie, unknown, revoked or expired token).
const CodeNoSession = "no_session"

// SessionOptions configure Sessions.
type SessionOptions struct {
	// TTL is the default and longest lifetime of a session.
	TTL time.Duration
	// SecureCookie adds the Secure attribute to the cookie (HTTPS sites).
	SecureCookie bool
	// ReconnectTTL is how long a reconnect token (reconnect.go) stays
	// good after its last connection ended.
	ReconnectTTL time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Logger takes the store failures that do not fail a call (a
	// reconnect token kept on this node only); none when nil.
	Logger hclog.Logger
}

// Sessions issues, checks and revokes login sessions. A session is a
// random token handed to a browser in the SessionCookie (or sent in a
// `login` request); it logs the browser in as its account without a
// password. Reconnect tokens (reconnect.go) are sessions of the same kind
// that a password login hands to its client, kept in memory and in the
// store's key-value entries of the core.
type Sessions struct {
	st        store.Accounts
	opts      SessionOptions
	reconnect reconnects
}

// NewSessions makes the session manager over st.
func NewSessions(st store.Accounts, opts SessionOptions) *Sessions {
	if opts.TTL <= 0 {
		opts.TTL = DefaultSessionTTL
	}
	if opts.ReconnectTTL <= 0 {
		opts.ReconnectTTL = DefaultReconnectTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	return &Sessions{st: st, opts: opts}
}

// NewToken returns a random URL-safe token of 256 bits.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken is the SHA-256 of a token, as stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// IssuedSession is a session just issued.
type IssuedSession struct {
	Token     string
	Expires   time.Time
	SetCookie string // Set-Cookie header value handing it to a browser
}

// Issue starts a session for the account userID on behalf of issuer (a
// plugin name). ttl <= 0 or above the configured TTL takes the configured
// TTL. A persistent session's cookie carries Max-Age; otherwise the cookie
// ends with the browser session (the session itself still expires).
func (s *Sessions) Issue(ctx context.Context, userID int64, issuer string, ttl time.Duration, persistent bool) (IssuedSession, error) {
	if ttl <= 0 || ttl > s.opts.TTL {
		ttl = s.opts.TTL
	}
	token, err := NewToken()
	if err != nil {
		return IssuedSession{}, fmt.Errorf("issue session: %w", err)
	}
	now := s.opts.Now()
	rec := store.SessionRecord{
		TokenHash: HashToken(token), UserID: userID, Issuer: issuer,
		Expires: now.Add(ttl), Persistent: persistent, Created: now,
	}
	if err := s.st.CreateSession(ctx, rec); err != nil {
		return IssuedSession{}, fmt.Errorf("issue session: %w", err)
	}
	c := s.cookie(token)
	if persistent {
		c.MaxAge = int(ttl / time.Second)
	}
	return IssuedSession{Token: token, Expires: rec.Expires, SetCookie: c.String()}, nil
}

func (s *Sessions) cookie(value string) *http.Cookie {
	return &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.opts.SecureCookie,
	}
}

// ClearCookie is the Set-Cookie header value that removes the session
// cookie from a browser.
func (s *Sessions) ClearCookie() string {
	c := s.cookie("")
	c.MaxAge = -1
	return c.String()
}

// Account returns the account of an unexpired session token.
func (s *Sessions) Account(ctx context.Context, token string) (store.Account, error) {
	if token == "" {
		return store.Account{}, fmt.Errorf("session: empty token: %w", store.ErrNotFound)
	}
	_, a, err := s.st.SessionAccount(ctx, HashToken(token), s.opts.Now())
	if err != nil {
		return store.Account{}, fmt.Errorf("session: %w", err)
	}
	return a, nil
}

// Login logs in with a session token: the identity of its account (or
// the identity a reconnect token is bound to), or a *chat.Error with
// CodeNoSession when the token is missing, unknown or expired.
func (s *Sessions) Login(ctx context.Context, token, _ string) (Identity, error) {
	if id, ok, err := s.reconnectLogin(ctx, token); ok {
		return id, err
	}
	a, err := s.Account(ctx, token)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Identity{}, chat.Errorf(CodeNoSession, "There is no valid login session; please log in.")
	case err != nil:
		return Identity{}, fmt.Errorf("session login: %w", err)
	case a.NameKey == "":
		// Accounts made before names were compared by key (store.KeyConflicts).
		if _, err := chat.UsableNameKey(a.Name); err != nil {
			return Identity{}, err
		}
		return Identity{}, chat.Errorf(chat.CodeNameTaken, "The account name %q is the same as an older account's; it can log in again once it is renamed.", a.Name)
	}
	return Identity{Name: a.Name, Display: a.Name, Email: a.Email, Avatar: a.Avatar, By: "session"}, nil
}

// Revoke ends the session of token and returns its hash; false when there
// was none.
func (s *Sessions) Revoke(ctx context.Context, token string) (bool, []byte, error) {
	h := HashToken(token)
	ok, err := s.revokeReconnect(ctx, string(h))
	if err != nil {
		return false, nil, fmt.Errorf("revoke session: %w", err)
	}
	if ok {
		return true, h, nil
	}
	ok, err = s.st.DeleteSession(ctx, h)
	if err != nil {
		return false, nil, fmt.Errorf("revoke session: %w", err)
	}
	return ok, h, nil
}
