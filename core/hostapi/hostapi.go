// Package hostapi is the Host API that plugins call back into: the chat's
// accounts, login sessions, rooms and their members, sanctions,
// messaging, held messages, the moderation log, and a key-value and a
// document store private to each plugin, kept in core/store so that
// they survive restarts; and the plugins' cluster events and leases over
// a Cluster (OneNode on a single server).
// core/pluginhost serves it to each module plugin over the go-plugin
// broker (sdk.Host is the interface both sides share). The API also
// enforces nothing itself: it implements chat.Sanctions (an in-memory
// index of the stored sanctions) for core/chat, and session.Holder for
// core/session.
package hostapi

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
)

// Limits on what a plugin may store and send.
const (
	MaxKeyBytes    = 256
	MaxValueBytes  = 64 << 10
	MaxEmailBytes  = 254
	MaxAvatarBytes = 2048
	// DefaultMaxDocBytes is the default of Options.MaxDocBytes.
	DefaultMaxDocBytes = sdk.DefaultMaxDocBytes
	// MaxNoticeBytes bounds a notice's text, MaxEventBytes a custom
	// event's data, MaxEventTypeBytes its type.
	MaxNoticeBytes    = 4 << 10
	MaxEventBytes     = 64 << 10
	MaxEventTypeBytes = 64
	// MaxReasonChars bounds a sanction's or kick's reason, a held
	// message's note and a decline's reason; MaxActorChars an actor.
	MaxReasonChars = 500
	MaxActorChars  = 64
)

// purgeEvery is how often expired sessions and KV entries are removed
// (lazily, by the next call that writes).
const purgeEvery = 10 * time.Minute

// Options configure the API.
type Options struct {
	// OnRevoke is called with the token hashes of sessions that ended
	// (revoked, or their account deleted), so that the connections logged
	// in with them can be closed. May be nil.
	OnRevoke func(tokenHashes [][]byte)
	// OnAccountEnded is called with the former name of an account that
	// was deleted or renamed and a reason for the user ("account
	// deleted", "account renamed"), so that the connection logged in under
	// that name, with a password or a session, can be closed. May be nil.
	OnAccountEnded func(name, reason string)
	// Chat is the chat group the rooms, members, messaging and held
	// messages calls act on (*chat.Group). Those calls fail while it is
	// nil.
	Chat Chat
	// Rooms changes rooms in the store and the chat group together
	// (*serverapi.Dispatcher, the server API's room commands). Create,
	// edit and delete fail while it is nil.
	Rooms RoomChanger
	// Prefixes returns the client command prefixes a plugin declared
	// ("dice."); its custom events' types must start with one. Nil: no
	// plugin may send custom events.
	Prefixes func(plugin string) []string
	// OnBan is called (after storing) with a ban of every room: the
	// session of the banned user, or the connections from the banned
	// addresses, must end. May be nil.
	OnBan func(s chat.Sanction)
	// Notify is called with the notifications of the held queue
	// (sdk.MessageHeld, MessageReleased, MessageDeclined), whatever
	// caused them, for the modules. May be nil.
	Notify func(n sdk.Notification)
	// MaxDocBytes is the largest document a plugin may store;
	// DefaultMaxDocBytes when 0.
	MaxDocBytes int
	// Cluster is the nodes sharing the chat, for the plugins' cluster
	// events and leases; OneNode{} (a single server) when nil.
	Cluster Cluster
	// MaxClusterEventBytes is the most data a plugin's cluster event
	// carries; sdk.DefaultMaxClusterEventBytes when 0.
	MaxClusterEventBytes int
	// Now returns the current time; time.Now when nil.
	Now    func() time.Time
	Logger hclog.Logger
}

// API implements the Host API over a store; For gives each plugin its view.
type API struct {
	st       store.Accounts
	data     store.HostData // nil when st keeps no sanctions, held messages or documents
	sessions *auth.Sessions
	opts     Options
	log      hclog.Logger

	mu         sync.Mutex // guards lastPurge
	lastPurge  time.Time
	purgeAfter time.Duration

	index  sanctionIndex
	heldMu sync.Mutex                // serialises releases and declines of held messages
	parts  atomic.Pointer[chatParts] // opts.Chat and opts.Rooms, or what SetChat gave
}

// chatParts are the chat group and its room changes.
type chatParts struct {
	chat  Chat
	rooms RoomChanger
}

var (
	_ chat.Sanctions      = (*API)(nil)
	_ chat.SanctionLister = (*API)(nil)
)

// New makes the API over st; sessions issues the login sessions. When st
// also implements store.HostData (*store.SQLite does), sanctions, held
// messages and documents are kept there; call Load before serving.
func New(st store.Accounts, sessions *auth.Sessions, opts Options) *API {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.MaxDocBytes <= 0 {
		opts.MaxDocBytes = DefaultMaxDocBytes
	}
	if opts.Cluster == nil {
		opts.Cluster = OneNode{}
	}
	if opts.MaxClusterEventBytes <= 0 {
		opts.MaxClusterEventBytes = sdk.DefaultMaxClusterEventBytes
	}
	data, _ := st.(store.HostData)
	a := &API{st: st, data: data, sessions: sessions, opts: opts, log: opts.Logger, purgeAfter: purgeEvery}
	a.SetChat(opts.Chat, opts.Rooms)
	return a
}

// SetChat gives the API the chat group and its room changes when they
// are made after it (the group takes the API as its chat.Sanctions, so
// one of them comes first). It replaces Options.Chat and Options.Rooms.
func (a *API) SetChat(c Chat, rooms RoomChanger) {
	a.parts.Store(&chatParts{chat: c, rooms: rooms})
}

// chat returns the chat group, nil before there is one.
func (a *API) chat() Chat { return a.parts.Load().chat }

// For returns the Host API as plugin sees it: its own KV namespace and the
// sessions it issued. A name in the core's KV namespace
// (store.IsCoreKVOwner) has no KV: every call is refused.
func (a *API) For(plugin string) sdk.Host {
	return &host{api: a, plugin: plugin}
}

// Purge removes expired sessions and KV entries now.
func (a *API) Purge(ctx context.Context) error {
	a.mu.Lock()
	a.lastPurge = a.opts.Now()
	a.mu.Unlock()
	if err := a.st.PurgeExpired(ctx, a.opts.Now()); err != nil {
		return fmt.Errorf("host api: %w", err)
	}
	return nil
}

// maybePurge purges when the last purge is older than purgeEvery.
func (a *API) maybePurge(ctx context.Context) {
	a.mu.Lock()
	due := a.opts.Now().Sub(a.lastPurge) >= a.purgeAfter
	a.mu.Unlock()
	if due {
		if err := a.Purge(ctx); err != nil {
			a.log.Warn("purge of expired entries failed", "error", err)
		}
	}
}

func (a *API) accountEnded(name, reason string) {
	if a.opts.OnAccountEnded != nil {
		a.opts.OnAccountEnded(name, reason)
	}
}

func (a *API) revoked(hashes [][]byte) {
	if len(hashes) > 0 && a.opts.OnRevoke != nil {
		a.opts.OnRevoke(hashes)
	}
}

// host is one plugin's view of the API, or the server API's (plugin
// empty, src "api").
type host struct {
	api    *API
	plugin string
	src    string // the default Source of what it does; the plugin's name when empty
}

// source is the default Source of sanctions and audit entries.
func (h *host) source() string {
	if h.src != "" {
		return h.src
	}
	return h.plugin
}

// Operator returns the Host API as the server API uses it: what it does
// has the source "api" and is recorded as the server's own (no plugin).
func (a *API) Operator() sdk.Host {
	return &host{api: a, src: "api"}
}

func (h *host) Users() sdk.Users       { return users{h} }
func (h *host) Sessions() sdk.Sessions { return sessions{h} }
func (h *host) KV() sdk.KV             { return kv{h} }
func (h *host) Rooms() sdk.Rooms       { return rooms{h} }
func (h *host) Members() sdk.Members   { return members{h} }
func (h *host) Sanctions() sdk.Sanctions {
	return sanctions{h}
}
func (h *host) Messages() sdk.Messages { return messages{h} }
func (h *host) Held() sdk.Held         { return held{h} }
func (h *host) Docs() sdk.Docs         { return docs{h} }
func (h *host) Audit() sdk.Audit       { return audit{h} }

// storeErr maps store errors to the SDK's sentinels, keeping the message
// (without the store sentinel's own text).
func storeErr(err error) error {
	for _, m := range []struct{ from, to error }{
		{store.ErrNotFound, sdk.ErrNotFound}, {store.ErrExists, sdk.ErrExists},
		{store.ErrInvalid, sdk.ErrInvalid}, {store.ErrConflict, sdk.ErrConflict},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("%s: %w", strings.TrimSuffix(err.Error(), ": "+m.from.Error()), m.to)
		}
	}
	return err
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), sdk.ErrInvalid)
}

func toUser(a store.Account) sdk.User {
	return sdk.User{ID: a.ID, Name: a.Name, Email: a.Email, Avatar: a.Avatar, HasPassword: a.PasswordHash != "", Created: a.Created}
}

// checkEmail accepts an empty e-mail (none) or a bare address that has a
// canonical key (chat.EmailKey).
func checkEmail(email string) error {
	if email == "" {
		return nil
	}
	if len(email) > MaxEmailBytes {
		return invalid("the e-mail is longer than %d bytes", MaxEmailBytes)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return invalid("%q is not an e-mail address", email)
	}
	if _, err := chat.EmailKey(email); err != nil {
		return invalid("%q has characters the chat cannot compare in e-mail addresses", email)
	}
	return nil
}

// checkName accepts a name a user can log in with (chat.CheckName).
func checkName(name string) error {
	if err := chat.CheckName(name); err != nil {
		return invalid("%s", strings.TrimSuffix(err.Error(), "."))
	}
	return nil
}

func checkAvatar(avatar string) error {
	if len(avatar) > MaxAvatarBytes || !utf8.ValidString(avatar) || strings.ContainsAny(avatar, "\r\n") {
		return invalid("the avatar URL is not acceptable")
	}
	return nil
}

func hashPassword(password string) (string, error) {
	if password == "" {
		return "", nil
	}
	if len(password) > auth.MaxPasswordBytes {
		return "", invalid("the password is longer than %d bytes", auth.MaxPasswordBytes)
	}
	h, err := auth.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("set password: %w", err)
	}
	return h, nil
}

type users struct{ h *host }

func (u users) ByID(ctx context.Context, id int64) (sdk.User, error) {
	a, err := u.h.api.st.AccountByID(ctx, id)
	if err != nil {
		return sdk.User{}, storeErr(err)
	}
	return toUser(a), nil
}

func (u users) ByName(ctx context.Context, name string) (sdk.User, error) {
	a, err := u.h.api.st.AccountByName(ctx, name)
	if err != nil {
		return sdk.User{}, storeErr(err)
	}
	return toUser(a), nil
}

func (u users) ByEmail(ctx context.Context, email string) (sdk.User, error) {
	a, err := u.h.api.st.AccountByEmail(ctx, email)
	if err != nil {
		return sdk.User{}, storeErr(err)
	}
	return toUser(a), nil
}

func (u users) Create(ctx context.Context, nu sdk.NewUser) (sdk.User, error) {
	if err := errors.Join(checkName(nu.Name), checkEmail(nu.Email), checkAvatar(nu.Avatar)); err != nil {
		return sdk.User{}, err
	}
	hash, err := hashPassword(nu.Password)
	if err != nil {
		return sdk.User{}, err
	}
	a, err := u.h.api.st.CreateAccount(ctx, store.Account{Name: nu.Name, Email: nu.Email, PasswordHash: hash, Avatar: nu.Avatar, Created: u.h.api.opts.Now()})
	if err != nil {
		return sdk.User{}, storeErr(err)
	}
	u.h.api.log.Info("account created", "plugin", u.h.plugin, "user", a.Name, "id", a.ID, "password", a.PasswordHash != "")
	return toUser(a), nil
}

func (u users) Edit(ctx context.Context, id int64, e sdk.UserEdit) (sdk.User, error) {
	a, err := u.h.api.st.AccountByID(ctx, id)
	if err != nil {
		return sdk.User{}, storeErr(err)
	}
	oldName := a.Name
	if e.Name != nil {
		if err := checkName(*e.Name); err != nil {
			return sdk.User{}, err
		}
		a.Name = *e.Name
	}
	if e.Email != nil {
		if err := checkEmail(*e.Email); err != nil {
			return sdk.User{}, err
		}
		a.Email = *e.Email
	}
	if e.Avatar != nil {
		if err := checkAvatar(*e.Avatar); err != nil {
			return sdk.User{}, err
		}
		a.Avatar = *e.Avatar
	}
	if err := u.h.api.st.UpdateAccount(ctx, a); err != nil {
		return sdk.User{}, storeErr(err)
	}
	if a.Name != oldName {
		u.h.api.log.Info("account renamed", "plugin", u.h.plugin, "id", id, "from", oldName, "to", a.Name)
		u.h.api.accountEnded(oldName, "account renamed")
	}
	return toUser(a), nil
}

func (u users) Delete(ctx context.Context, id int64) error {
	a, err := u.h.api.st.AccountByID(ctx, id)
	if err != nil {
		return storeErr(err)
	}
	hashes, err := u.h.api.st.DeleteAccount(ctx, id)
	if err != nil {
		return storeErr(err)
	}
	u.h.api.log.Info("account deleted", "plugin", u.h.plugin, "id", id, "user", a.Name, "sessions", len(hashes))
	u.h.api.accountEnded(a.Name, "account deleted")
	u.h.api.revoked(hashes)
	return nil
}

func (u users) SetPassword(ctx context.Context, id int64, password string) error {
	a, err := u.h.api.st.AccountByID(ctx, id)
	if err != nil {
		return storeErr(err)
	}
	if a.PasswordHash, err = hashPassword(password); err != nil {
		return err
	}
	if err := u.h.api.st.UpdateAccount(ctx, a); err != nil {
		return storeErr(err)
	}
	return nil
}

type sessions struct{ h *host }

func (s sessions) Issue(ctx context.Context, userID int64, ttl time.Duration, persistent bool) (sdk.Session, error) {
	if ttl < 0 {
		return sdk.Session{}, invalid("negative session lifetime %s", ttl)
	}
	if _, err := s.h.api.st.AccountByID(ctx, userID); err != nil {
		return sdk.Session{}, storeErr(err)
	}
	s.h.api.maybePurge(ctx)
	is, err := s.h.api.sessions.Issue(ctx, userID, s.h.plugin, ttl, persistent)
	if err != nil {
		return sdk.Session{}, err
	}
	return sdk.Session{Token: is.Token, Expires: is.Expires, SetCookie: is.SetCookie}, nil
}

func (s sessions) Revoke(ctx context.Context, token string) (int, string, error) {
	ok, h, err := s.h.api.sessions.Revoke(ctx, token)
	if err != nil {
		return 0, "", err
	}
	clear := s.h.api.sessions.ClearCookie()
	if !ok {
		return 0, clear, nil
	}
	s.h.api.revoked([][]byte{h})
	return 1, clear, nil
}

func (s sessions) RevokeUser(ctx context.Context, userID int64) (int, string, error) {
	hashes, err := s.h.api.st.DeleteUserSessions(ctx, userID, s.h.plugin)
	if err != nil {
		return 0, "", err
	}
	s.h.api.revoked(hashes)
	return len(hashes), s.h.api.sessions.ClearCookie(), nil
}

type kv struct{ h *host }

// check refuses a key out of bounds, and every key of a plugin whose name
// is one of the core's KV owners (store.IsCoreKVOwner): those entries are
// the core's own, such as the reconnect tokens.
func (k kv) check(key string) error {
	if store.IsCoreKVOwner(k.h.plugin) {
		return denied("the key-value names starting with %q are the core's", store.CoreKVPrefix)
	}
	return checkKey(key)
}

func checkKey(key string) error {
	if key == "" || len(key) > MaxKeyBytes {
		return invalid("a key must be 1 to %d bytes", MaxKeyBytes)
	}
	return nil
}

func (k kv) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := k.check(key); err != nil {
		return nil, false, err
	}
	return k.h.api.st.KVGet(ctx, k.h.plugin, key, k.h.api.opts.Now())
}

func (k kv) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := k.check(key); err != nil {
		return err
	}
	if len(value) > MaxValueBytes {
		return invalid("a value must be at most %d bytes", MaxValueBytes)
	}
	if ttl < 0 {
		return invalid("negative lifetime %s", ttl)
	}
	var expires time.Time
	if ttl > 0 {
		expires = k.h.api.opts.Now().Add(ttl)
	}
	k.h.api.maybePurge(ctx)
	return k.h.api.st.KVSet(ctx, k.h.plugin, key, value, expires)
}

func (k kv) Delete(ctx context.Context, key string) error {
	if err := k.check(key); err != nil {
		return err
	}
	return k.h.api.st.KVDelete(ctx, k.h.plugin, key)
}
