package auth

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
)

// LocalName is the name of the local accounts authenticator in logs.
const LocalName = "accounts"

// MaxPasswordBytes is the longest password bcrypt can check.
const MaxPasswordBytes = 72

// HashPassword returns the bcrypt hash of password.
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("hash password: longer than %d bytes", MaxPasswordBytes)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Local is the authenticator of the chat's own accounts (the users table
// that the Host API fills, for example through SSO). It answers:
//   - 4 for a name without an account, so the rest of the chain or the
//     guest rule decides;
//   - 1 for a guest (no password) using an account's name: the name is
//     taken;
//   - 1 for an account without a password: it logs in only through a
//     session (SSO) until a password is set;
//   - 0 when the bcrypt hash matches, 1 when it does not.
//
// Names are looked up by their canonical key (chat.NameKey), so "élise"
// finds the account "Élise". The server appends it to auth.chain; with no
// accounts it answers 4 to everybody and changes nothing.
type Local struct {
	st store.Accounts
}

// NewLocal makes the local accounts authenticator over st.
func NewLocal(st store.Accounts) *Local { return &Local{st: st} }

// Name is LocalName.
func (l *Local) Name() string { return LocalName }

// Authenticate answers one login attempt from the accounts table.
func (l *Local) Authenticate(ctx context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	a, err := l.st.AccountByName(ctx, req.Username)
	if errors.Is(err, store.ErrNotFound) {
		return sdk.AuthResult{Code: sdk.NoSuchUser}, nil
	}
	if err != nil {
		return sdk.AuthResult{Code: sdk.LoginError}, fmt.Errorf("local accounts: %w", err)
	}
	if req.Password == "" {
		return sdk.AuthResult{Code: sdk.WrongPassword, Message: "the name belongs to an account"}, nil
	}
	if a.PasswordHash == "" {
		return sdk.AuthResult{Code: sdk.WrongPassword, Message: "the account has no password; it logs in through the website"}, nil
	}
	if len(req.Password) > MaxPasswordBytes || bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(req.Password)) != nil {
		return sdk.AuthResult{Code: sdk.WrongPassword}, nil
	}
	// The stored spelling of the name wins over the one typed.
	return sdk.AuthResult{Code: sdk.OK, DisplayName: a.Name, Email: a.Email, Avatar: a.Avatar}, nil
}

// Lookalike returns the name of the oldest account whose name looks like
// name (the same chat.NameSkeleton), found through the store's index.
func (l *Local) Lookalike(ctx context.Context, name string) (string, bool, error) {
	a, err := l.st.AccountLookalike(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("local accounts: %w", err)
	}
	return a.Name, true, nil
}
