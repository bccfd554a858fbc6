package auth

import (
	"context"
	"encoding/hex"
	"encoding/json"
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
// dropped from memory and the store purged of expired entries (lazily, by
// the next token issued).
const reconnectSweepEvery = time.Minute

// ByReconnect is Identity.By of a login with a reconnect token.
const ByReconnect = "reconnect"

// reconnectOwner is the owner, in the store's key-value table, of the
// reconnect tokens' entries (keyed by the hex of the token's hash). It is
// one of the core's names (store.CoreKVPrefix): no plugin reads it.
const reconnectOwner = store.CoreKVPrefix + "reconnect"

// reconnects are the reconnect tokens of a Sessions, kept in memory by the
// hash of the token.
//
// A reconnect token is a login session that a password login hands to its
// client, so that the client can log in again after a dropped connection
// without keeping the password. It is bound to the identity the login
// established (name, display name, e-mail, avatar, administrator),
// whoever the authenticator was, so it needs no account of its own. It
// stays good while a connection logged in with it is open and for the
// reconnect TTL after the last one ended; logout revokes it, and the
// token of a local account ends with the account (deleted or renamed).
//
// Each token is also in the store (the core's key-value entries, owner
// core.reconnect, by the token's hash) with its identity, its local
// account and its expiry, written when it is issued and again when its
// last connection on a node ends. So every node sharing the store takes
// it, and so does this node after a restart: the client of a node that
// died reconnects to another one without its password. A login with a
// token reads the store (the entry may have been revoked or refreshed by
// another node) unless a connection of this node holds it; memory alone
// decides when the store cannot be read, or when the token's entry could
// not be written there (then only this node knows it). The store keeps
// an entry for one more TTL after it expired, so that a late client is
// told its login expired, then PurgeExpired removes it.
//
// The store's expiry is not refreshed while connections hold a token: a
// connection open longer than the reconnect TTL on a node that then
// crashes (kill -9, no clean end of its connections) leaves a token that
// the other nodes take for expired; its client logs in with its password
// again. A token revoked on one node while a connection of another holds
// it stays good on that other node until that connection ends.
type reconnects struct {
	mu        sync.Mutex
	byHash    map[string]*reconnectEntry
	lastSweep time.Time
}

type reconnectEntry struct {
	id        Identity
	accountID int64 // the local account logged in, 0 for another authenticator
	conns     int   // open connections of this node logged in with the token
	expires   time.Time
	stored    bool // the store has the entry
}

// storedReconnect is a reconnect token's entry in the store.
type storedReconnect struct {
	Name      string `json:"name"`
	Display   string `json:"display"`
	Email     string `json:"email,omitempty"`
	Avatar    string `json:"avatar,omitempty"`
	Admin     bool   `json:"admin,omitempty"`
	By        string `json:"by"`
	AccountID int64  `json:"account_id,omitempty"`
	Expires   int64  `json:"expires"` // Unix milliseconds
}

// errReconnectExpired is the refusal of an expired reconnect token.
func errReconnectExpired() error {
	return chat.Errorf(CodeNoSession, "Your login has expired; please log in again.")
}

// IssueReconnect starts a reconnect token for the identity of a password
// login. Guests get none: they log in again by name. When the store
// cannot take the token, the failure is logged and the token is good on
// this node only.
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
	h := string(HashToken(token))
	e := &reconnectEntry{id: id, accountID: accountID, expires: now.Add(s.opts.ReconnectTTL)}
	if err := s.storeReconnect(ctx, h, e); err != nil {
		s.opts.Logger.Warn("reconnect token kept on this node only", "user", id.Name, "error", err)
	} else {
		e.stored = true
	}
	if s.reconnect.add(h, e, now) {
		if err := s.st.PurgeExpired(ctx, now); err != nil {
			s.opts.Logger.Warn("purge of expired sessions and reconnect tokens failed", "error", err)
		}
	}
	return token, nil
}

// add puts e under h and drops the expired tokens nobody holds, at most
// every reconnectSweepEvery; true when it did (the store is due a purge).
func (r *reconnects) add(h string, e *reconnectEntry, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byHash == nil {
		r.byHash = make(map[string]*reconnectEntry)
	}
	r.byHash[h] = e
	if now.Sub(r.lastSweep) < reconnectSweepEvery {
		return false
	}
	r.lastSweep = now
	for k, old := range r.byHash {
		if old.conns == 0 && !now.Before(old.expires) {
			delete(r.byHash, k)
		}
	}
	return true
}

// lookup returns a copy of the entry under h.
func (r *reconnects) lookup(h string) (reconnectEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byHash[h]
	if !ok {
		return reconnectEntry{}, false
	}
	return *e, true
}

// learn keeps in memory a token found in the store, or moves the expiry
// of the one there to the store's when that is later.
func (r *reconnects) learn(h string, e reconnectEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byHash[h]; ok {
		old.stored = true
		if e.expires.After(old.expires) {
			old.expires = e.expires
		}
		return
	}
	if r.byHash == nil {
		r.byHash = make(map[string]*reconnectEntry)
	}
	e.conns, e.stored = 0, true
	r.byHash[h] = &e
}

// reconnectKey is the store's key of the token hash h.
func reconnectKey(h string) string { return hex.EncodeToString([]byte(h)) }

// storeReconnect writes the entry e of the token hash h to the store,
// kept there for one TTL past its expiry.
func (s *Sessions) storeReconnect(ctx context.Context, h string, e *reconnectEntry) error {
	v, err := json.Marshal(storedReconnect{
		Name: e.id.Name, Display: e.id.Display, Email: e.id.Email, Avatar: e.id.Avatar,
		Admin: e.id.Admin, By: e.id.By, AccountID: e.accountID, Expires: e.expires.UnixMilli(),
	})
	if err != nil {
		return fmt.Errorf("store reconnect token: %w", err)
	}
	if err := s.st.KVSet(ctx, reconnectOwner, reconnectKey(h), v, e.expires.Add(s.opts.ReconnectTTL)); err != nil {
		return fmt.Errorf("store reconnect token: %w", err)
	}
	return nil
}

// loadReconnect reads the entry of the token hash h from the store; found
// is false when there is none.
func (s *Sessions) loadReconnect(ctx context.Context, h string) (e reconnectEntry, found bool, err error) {
	v, found, err := s.st.KVGet(ctx, reconnectOwner, reconnectKey(h), s.opts.Now())
	if err != nil || !found {
		return reconnectEntry{}, false, err
	}
	var rec storedReconnect
	if err := json.Unmarshal(v, &rec); err != nil {
		return reconnectEntry{}, false, fmt.Errorf("reconnect token entry: %w", err)
	}
	return reconnectEntry{
		id: Identity{
			Name: rec.Name, Display: rec.Display, Email: rec.Email, Avatar: rec.Avatar,
			Admin: rec.Admin, By: rec.By,
		},
		accountID: rec.AccountID,
		expires:   time.UnixMilli(rec.Expires),
		stored:    true,
	}, true, nil
}

// reconnectLogin is Login for a reconnect token: found is false when the
// token is not one.
func (s *Sessions) reconnectLogin(ctx context.Context, token string) (id Identity, found bool, err error) {
	h := string(HashToken(token))
	now := s.opts.Now()
	local, inMemory := s.reconnect.lookup(h)
	if inMemory && local.conns > 0 {
		// A connection of this node holds it: good, whatever the store says.
		return s.reconnectAccount(ctx, h, local)
	}
	e, inStore, err := s.loadReconnect(ctx, h)
	switch {
	case err != nil && inMemory && now.Before(local.expires):
		s.opts.Logger.Warn("reconnect token checked on this node only: the store failed", "user", local.id.Name, "error", err)
		return s.reconnectAccount(ctx, h, local)
	case err != nil:
		return Identity{}, true, fmt.Errorf("reconnect login: %w", err)
	case inStore:
		if inMemory && local.expires.After(e.expires) {
			e.expires = local.expires // its refresh at Release did not reach the store
		}
		if !now.Before(e.expires) {
			s.dropReconnect(h)
			return Identity{}, true, errReconnectExpired()
		}
		s.reconnect.learn(h, e)
		return s.reconnectAccount(ctx, h, e)
	case !inMemory:
		return Identity{}, false, nil
	case local.stored:
		// The store had it and has it no more: another node revoked it
		// (or it expired long ago and was purged).
		s.dropReconnect(h)
		if !now.Before(local.expires) {
			return Identity{}, true, errReconnectExpired()
		}
		return Identity{}, false, nil
	case !now.Before(local.expires):
		s.dropReconnect(h)
		return Identity{}, true, errReconnectExpired()
	}
	// Only this node knows it: the store could not take it.
	return s.reconnectAccount(ctx, h, local)
}

// reconnectAccount finishes the login with the token entry e: the token
// of a local account that was deleted or renamed ends.
func (s *Sessions) reconnectAccount(ctx context.Context, h string, e reconnectEntry) (Identity, bool, error) {
	id := e.id
	if e.accountID != 0 {
		a, err := s.st.AccountByID(ctx, e.accountID)
		switch {
		case errors.Is(err, store.ErrNotFound) || err == nil && chat.NameKey(a.Name) != chat.NameKey(id.Name):
			if _, err := s.revokeReconnect(ctx, h); err != nil {
				s.opts.Logger.Warn("reconnect token of an ended account left in the store", "user", id.Name, "error", err)
			}
			return Identity{}, true, chat.Errorf(CodeNoSession, "The account %q no longer exists.", id.Name)
		case err != nil:
			return Identity{}, true, fmt.Errorf("reconnect login: %w", err)
		}
	}
	id.By = ByReconnect
	return id, true, nil
}

// dropReconnect forgets the token hash h in memory; false when it was not
// there.
func (s *Sessions) dropReconnect(h string) bool {
	r := &s.reconnect
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.byHash[h]
	delete(r.byHash, h)
	return ok
}

// revokeReconnect ends the reconnect token of hash h in memory and in the
// store; false when it is none.
func (s *Sessions) revokeReconnect(ctx context.Context, h string) (bool, error) {
	ok := s.dropReconnect(h)
	if !ok {
		var err error
		if _, ok, err = s.st.KVGet(ctx, reconnectOwner, reconnectKey(h), s.opts.Now()); err != nil {
			return false, fmt.Errorf("revoke reconnect token: %w", err)
		}
	}
	if !ok {
		return false, nil
	}
	if err := s.st.KVDelete(ctx, reconnectOwner, reconnectKey(h)); err != nil {
		return false, fmt.Errorf("revoke reconnect token: %w", err)
	}
	return true, nil
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
// the last, a reconnect token expires after the reconnect TTL, in memory
// and in the store (a failure to write is logged: the other nodes then
// keep the expiry they knew).
func (s *Sessions) Release(ctx context.Context, token string) {
	h := string(HashToken(token))
	r := &s.reconnect
	r.mu.Lock()
	e, ok := r.byHash[h]
	if !ok || e.conns == 0 {
		r.mu.Unlock()
		return
	}
	e.conns--
	if e.conns > 0 {
		r.mu.Unlock()
		return
	}
	e.expires = s.opts.Now().Add(s.opts.ReconnectTTL)
	snapshot := *e
	r.mu.Unlock()

	if err := s.storeReconnect(ctx, h, &snapshot); err != nil {
		s.opts.Logger.Warn("reconnect token's new expiry not stored", "user", snapshot.id.Name, "error", err)
		return
	}
	r.mu.Lock()
	cur, still := r.byHash[h]
	if still && cur == e {
		e.stored = true
	}
	r.mu.Unlock()
	if !still {
		// Revoked while its expiry was written: the write must not bring it back.
		if err := s.st.KVDelete(ctx, reconnectOwner, reconnectKey(h)); err != nil {
			s.opts.Logger.Warn("revoked reconnect token left in the store", "user", snapshot.id.Name, "error", err)
		}
	}
}
