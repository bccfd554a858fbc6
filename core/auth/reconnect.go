package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
)

// DefaultReconnectTTL is how long a reconnect token stays good after its
// last connection ended, when none is configured.
const DefaultReconnectTTL = 30 * time.Minute

// reconnectSweepEvery bounds how often expired reconnect tokens are
// dropped (lazily, by the next token issued).
const reconnectSweepEvery = time.Minute

// ByReconnect is Identity.By of a login with a reconnect token.
const ByReconnect = "reconnect"

// reconnects are the reconnect tokens of a Sessions, kept in memory by the
// hash of the token.
//
// A reconnect token is a login session that a password login hands to its
// client, so that the client can log in again after a dropped connection
// without keeping the password. It is bound to the identity the login
// established (name, display name, administrator), whoever the
// authenticator was, so it needs no account in the store. It stays good
// while a connection logged in with it is open and for the reconnect TTL
// after the last one ended; logout revokes it, and the token of a local
// account ends with the account. A restart forgets every token: clients
// then log in again with their password.
type reconnects struct {
	mu        sync.Mutex
	byHash    map[string]*reconnectEntry
	lastSweep time.Time
}

type reconnectEntry struct {
	id        Identity
	accountID int64 // the local account logged in, 0 for another authenticator
	conns     int   // open connections logged in with the token
	expires   time.Time
}

// IssueReconnect starts a reconnect token for the identity of a password
// login. Guests get none: they log in again by name.
func (s *Sessions) IssueReconnect(ctx context.Context, id Identity) (string, error) {
	if id.Guest {
		return "", errors.New("issue reconnect token: guests have none")
	}
	var accountID int64
	if id.By == LocalName {
		a, err := s.st.AccountByName(ctx, id.Name)
		if err != nil {
			return "", fmt.Errorf("issue reconnect token: %w", err)
		}
		accountID = a.ID
	}
	token, err := NewToken()
	if err != nil {
		return "", fmt.Errorf("issue reconnect token: %w", err)
	}
	now := s.opts.Now()
	r := &s.reconnect
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byHash == nil {
		r.byHash = make(map[string]*reconnectEntry)
	}
	if now.Sub(r.lastSweep) >= reconnectSweepEvery {
		r.lastSweep = now
		for h, e := range r.byHash {
			if e.conns == 0 && !now.Before(e.expires) {
				delete(r.byHash, h)
			}
		}
	}
	r.byHash[string(HashToken(token))] = &reconnectEntry{id: id, accountID: accountID, expires: now.Add(s.opts.ReconnectTTL)}
	return token, nil
}

// reconnectLogin is Login for a reconnect token: found is false when the
// token is not one.
func (s *Sessions) reconnectLogin(ctx context.Context, token string) (id Identity, found bool, err error) {
	h := string(HashToken(token))
	r := &s.reconnect
	r.mu.Lock()
	e, ok := r.byHash[h]
	if ok && e.conns == 0 && !s.opts.Now().Before(e.expires) {
		delete(r.byHash, h)
		ok = false
		found = true
	}
	var accountID int64
	if ok {
		id, accountID = e.id, e.accountID
	}
	r.mu.Unlock()
	if !ok {
		if found {
			return Identity{}, true, chat.Errorf(CodeNoSession, "Your login has expired; please log in again.")
		}
		return Identity{}, false, nil
	}
	if accountID != 0 {
		a, err := s.st.AccountByID(ctx, accountID)
		switch {
		case errors.Is(err, store.ErrNotFound) || err == nil && chat.NameKey(a.Name) != chat.NameKey(id.Name):
			s.dropReconnect(h)
			return Identity{}, true, chat.Errorf(CodeNoSession, "The account %q no longer exists.", id.Name)
		case err != nil:
			return Identity{}, true, fmt.Errorf("reconnect login: %w", err)
		}
	}
	id.By = ByReconnect
	return id, true, nil
}

func (s *Sessions) dropReconnect(h string) bool {
	r := &s.reconnect
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.byHash[h]
	delete(r.byHash, h)
	return ok
}

// Hold notes that a connection logged in with token; a reconnect token
// does not expire while one is. Other tokens are left alone.
func (s *Sessions) Hold(token string) {
	r := &s.reconnect
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.byHash[string(HashToken(token))]; ok {
		e.conns++
	}
}

// Release notes that a connection that Hold counted has ended; when it was
// the last, a reconnect token expires after the reconnect TTL.
func (s *Sessions) Release(token string) {
	r := &s.reconnect
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.byHash[string(HashToken(token))]; ok && e.conns > 0 {
		e.conns--
		if e.conns == 0 {
			e.expires = s.opts.Now().Add(s.opts.ReconnectTTL)
		}
	}
}
