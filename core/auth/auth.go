// Package auth is the login pipeline: the name rule, the ordered chain of
// authenticators and the seed's guest rule, with the limits on password
// guessing and on concurrent password checks (Limits).
package auth

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/sdk"
)

// Authenticator is one link of the chain; core/pluginhost provides them for
// plugins.
type Authenticator interface {
	Name() string
	Authenticate(ctx context.Context, req sdk.AuthRequest) (sdk.AuthResult, error)
}

// Lookalikes is an authenticator that can tell whether a name looks like
// one of its users' (chat.NameSkeleton). Before the pipeline admits a
// guest it asks every authenticator of its chain that is one; Local is.
type Lookalikes interface {
	// Lookalike returns the name of a user whose name looks like name,
	// and whether there is one.
	Lookalike(ctx context.Context, name string) (owner string, found bool, err error)
}

// Identity is who a login established.
type Identity struct {
	Name    string
	Display string
	Email   string
	Avatar  string
	Admin   bool
	Guest   bool
	// By names the authenticator that decided; empty for guests nobody knew.
	By string
}

// Pipeline logs users in.
type Pipeline struct {
	group  string
	chain  []Authenticator
	guests bool
	log    hclog.Logger
	guard  *guard
}

// New builds a pipeline for a group; chain is asked in order. It has the
// zero Limits until WithLimits.
func New(group string, chain []Authenticator, guests bool, log hclog.Logger) *Pipeline {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Pipeline{group: group, chain: chain, guests: guests, log: log, guard: newGuard(Limits{})}
}

// WithLimits sets the pipeline's limits and returns it; call it before the
// pipeline is used.
func (p *Pipeline) WithLimits(l Limits) *Pipeline {
	p.guard = newGuard(l)
	return p
}

// Login decides whether username may log in with password (empty: guest),
// following docs/protocol.md "Login rule". Refusals are *chat.Error values.
//
// A login with a password is refused with chat.CodeRateLimited, before any
// authenticator is asked, while its address or its name is locked out
// after failed logins, and with chat.CodeLoginError when no password check
// is free in time (see Limits). Guests are never throttled and never wait.
func (p *Pipeline) Login(ctx context.Context, username, password, remoteIP string) (Identity, error) {
	if err := chat.CheckName(username); err != nil {
		return Identity{}, err
	}
	if password == "" {
		return p.ask(ctx, username, password, remoteIP)
	}
	at := p.guard.attempt(username, remoteIP)
	if err := at.check(); err != nil {
		p.log.Debug("login throttled", "user", username, "remote", remoteIP, "reason", err)
		return Identity{}, err
	}
	release, err := at.acquire(ctx)
	if err != nil {
		p.log.Debug("login refused: no free password check", "user", username, "remote", remoteIP)
		return Identity{}, err
	}
	defer release()
	// Failures that finished while this login waited may have locked it out.
	if err := at.check(); err != nil {
		p.log.Debug("login throttled", "user", username, "remote", remoteIP, "reason", err)
		return Identity{}, err
	}
	id, err := p.ask(ctx, username, password, remoteIP)
	switch {
	case err == nil:
		at.succeeded()
	case chat.CodeOf(err) == chat.CodeWrongPassword:
		at.wrongPassword()
	case chat.CodeOf(err) == chat.CodeNoSuchUser:
		at.unknownName()
	}
	return id, err
}

// ask runs the chain and the guest rule.
func (p *Pipeline) ask(ctx context.Context, username, password, remoteIP string) (Identity, error) {
	guest := password == ""
	req := sdk.AuthRequest{Group: p.group, Username: username, Password: password, RemoteIP: remoteIP}
	for _, a := range p.chain {
		start := time.Now()
		res, err := a.Authenticate(ctx, req)
		if err != nil {
			p.log.Warn("authenticator failed", "authenticator", a.Name(), "user", username, "error", err, "elapsed", time.Since(start))
			return Identity{}, chat.Errorf(chat.CodeLoginError, "Login is not possible right now; please try again later.")
		}
		p.log.Debug("authenticator answered", "authenticator", a.Name(), "user", username, "code", int(res.Code), "guest", guest)
		if res.Code == sdk.NoSuchUser {
			continue
		}
		return p.decide(username, guest, a.Name(), res)
	}
	if !guest {
		return Identity{}, chat.Errorf(chat.CodeNoSuchUser, "There is no user %q.", username)
	}
	if !p.guests {
		return Identity{}, chat.Errorf(chat.CodeGuestsNotAllowed, "Guests may not log in here; log in with your password.")
	}
	if err := p.refuseLookalike(ctx, username); err != nil {
		return Identity{}, err
	}
	return Identity{Name: username, Display: username, Guest: true}, nil
}

// refuseLookalike refuses a guest a name that mixes Latin, Greek and
// Cyrillic letters or looks like the name of a user an authenticator of
// the chain knows (docs/protocol.md, "Login rule").
func (p *Pipeline) refuseLookalike(ctx context.Context, username string) error {
	if chat.MixedScripts(username) {
		return chat.Errorf(chat.CodeNameConfusable, "Guest names may not mix Latin, Greek and Cyrillic letters, as %q does; choose another name.", username)
	}
	for _, a := range p.chain {
		l, ok := a.(Lookalikes)
		if !ok {
			continue
		}
		owner, found, err := l.Lookalike(ctx, username)
		if err != nil {
			p.log.Warn("look-alike check failed", "authenticator", a.Name(), "user", username, "error", err)
			return chat.Errorf(chat.CodeLoginError, "Login is not possible right now; please try again later.")
		}
		if found {
			return chat.Errorf(chat.CodeNameConfusable, "The name %q looks like the registered name %q; choose another name.", username, owner)
		}
	}
	return nil
}

func (p *Pipeline) decide(username string, guest bool, by string, res sdk.AuthResult) (Identity, error) {
	switch res.Code {
	case sdk.OK, sdk.Admin, sdk.WrongPassword:
		if guest {
			return Identity{}, chat.Errorf(chat.CodeNameTaken, "The name %q belongs to a registered user; log in with its password or choose another name.", username)
		}
		if res.Code == sdk.WrongPassword {
			return Identity{}, chat.Errorf(chat.CodeWrongPassword, "Wrong password for %q.", username)
		}
		id := Identity{Name: username, Display: res.DisplayName, Email: res.Email, Avatar: res.Avatar, Admin: res.Code == sdk.Admin, By: by}
		if id.Display == "" {
			id.Display = username
		}
		return id, nil
	case sdk.NameUnusable:
		return Identity{}, chat.Errorf(chat.CodeNameUnusable, "The name %q can't be used.", username)
	default: // sdk.LoginError and anything unknown
		p.log.Warn("authenticator reported a login error", "authenticator", by, "user", username, "code", int(res.Code), "message", res.Message)
		return Identity{}, chat.Errorf(chat.CodeLoginError, "Login is not possible right now; please try again later.")
	}
}
