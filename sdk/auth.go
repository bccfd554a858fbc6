package sdk

import (
	"context"
	"fmt"
)

// Code is an authentication result. The values are the Auth URL digits of
// the seed (docs/plugins.md).
type Code int

// Result codes, as answered by an Auth URL page.
const (
	OK            Code = 0 // login successfully
	WrongPassword Code = 1 // wrong password
	NameUnusable  Code = 2 // the username can't be used
	LoginError    Code = 3 // login error (database down, timeout, ...)
	NoSuchUser    Code = 4 // username does not exist; a guest may enter
	Admin         Code = 5 // login successfully as an administrator
)

// String names the code for logs and error messages.
func (c Code) String() string {
	switch c {
	case OK:
		return "ok"
	case WrongPassword:
		return "wrong password"
	case NameUnusable:
		return "name unusable"
	case LoginError:
		return "login error"
	case NoSuchUser:
		return "no such user"
	case Admin:
		return "ok (administrator)"
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Valid reports whether c is one of the six defined codes.
func (c Code) Valid() bool { return c >= OK && c <= Admin }

// AuthRequest is one login attempt. Password is empty for a guest.
type AuthRequest struct {
	Group    string
	Username string
	Password string
	RemoteIP string
}

// AuthResult is an authenticator's answer.
type AuthResult struct {
	Code        Code
	DisplayName string // optional; the username is shown when empty
	Email       string
	Avatar      string
	Message     string // optional human-readable reason; never a secret
}

// Authenticator decides who may log in. Implementations must be safe for
// concurrent use and honour ctx cancellation.
type Authenticator interface {
	// Configure receives the plugin's `config` block from parlor.yaml
	// before the first Authenticate call (and again after a restart).
	Configure(ctx context.Context, cfg Config) error
	// Authenticate answers one login attempt. An error is reported to the
	// user as LoginError.
	Authenticate(ctx context.Context, req AuthRequest) (AuthResult, error)
}
