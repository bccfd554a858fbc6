package serverapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// Names of the server API's limits in /metrics
// (parlor_rate_limited_total{limit=...}).
const (
	LimitFailedPasswords = "server_api_failed_passwords_per_addr"
	LimitConnsPerAddr    = "server_api_conns_per_addr"
)

// GroupAccess is a group the dispatcher serves, with its credentials.
type GroupAccess struct {
	Chat *chat.Group
	// Password is the group's api_pwd; empty disables the API for it.
	Password string
	// AllowFrom lists the addresses commands may come from: IPs, CIDR
	// prefixes or "*".
	AllowFrom []string
}

// Options configures a Dispatcher.
type Options struct {
	Store  store.Store
	Groups []GroupAccess
	// DefaultGroup is used by commands that name no group; the first of
	// Groups when empty.
	DefaultGroup string
	// MaxFrameBytes bounds an HTTP request body (DefaultMaxFrameBytes when
	// zero); the TCP listener has its own setting.
	MaxFrameBytes int
	// FailedPasswords throttles wrong api_pwd per address (limit.IPKey),
	// on every transport: after Burst of them the address gets
	// CodeRateLimited, one more try every Every. A right api_pwd clears
	// the address's failures. The zero Rate throttles nothing.
	FailedPasswords limit.Rate
	// Refusals counts refusals for /metrics; nil counts nothing.
	Refusals *limit.Refusals
	// Now is the clock of the throttle; time.Now when nil.
	Now func() time.Time
	// Scheduler reports whether a module applies rooms' opening times
	// (the schedule module runs); nil: none does. Replies say so.
	Scheduler func() bool
	Logger    hclog.Logger
}

// Dispatcher checks and runs server API commands for both transports.
type Dispatcher struct {
	store        store.Store
	groups       map[string]*target
	defaultGroup string
	maxBody      int
	log          hclog.Logger
	failed       *limit.Keyed // wrong api_pwd by address
	refusals     *limit.Refusals
	scheduler    func() bool // Options.Scheduler

	roomMu sync.Mutex // serialises room changes (store, then group)

	host atomic.Pointer[sdk.Host] // the moderation commands' Host API (SetHost)
}

type target struct {
	chat     *chat.Group
	pwdHash  [sha256.Size]byte
	disabled bool
	anyAddr  bool
	allow    []netip.Prefix
}

// New builds a dispatcher. It fails without a store and on an
// allowed-address entry that is not an IP, a CIDR prefix or "*".
func New(opts Options) (*Dispatcher, error) {
	if opts.Store == nil {
		return nil, errors.New("server api: no store")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = DefaultMaxFrameBytes
	}
	d := &Dispatcher{store: opts.Store, groups: map[string]*target{}, defaultGroup: opts.DefaultGroup,
		maxBody: opts.MaxFrameBytes, log: opts.Logger, refusals: opts.Refusals, scheduler: opts.Scheduler,
		failed: limit.NewKeyed(opts.FailedPasswords, limit.Options{Name: LimitFailedPasswords, Refusals: opts.Refusals, Now: opts.Now})}
	for _, g := range opts.Groups {
		if g.Chat == nil {
			return nil, errors.New("server api: a group without a chat group")
		}
		t := &target{chat: g.Chat, pwdHash: sha256.Sum256([]byte(g.Password)), disabled: g.Password == ""}
		for _, entry := range g.AllowFrom {
			if err := config.CheckAllowFrom(entry); err != nil {
				return nil, fmt.Errorf("server api: group %s: allow_from: %w", g.Chat.Name(), err)
			}
			entry = strings.TrimSpace(entry)
			switch {
			case entry == "*":
				t.anyAddr = true
			case strings.Contains(entry, "/"):
				p, _ := netip.ParsePrefix(entry) // checked above
				t.allow = append(t.allow, p.Masked())
			default:
				a, _ := netip.ParseAddr(entry)
				a = a.Unmap()
				t.allow = append(t.allow, netip.PrefixFrom(a, a.BitLen()))
			}
		}
		d.groups[g.Chat.Name()] = t
		if d.defaultGroup == "" {
			d.defaultGroup = g.Chat.Name()
		}
	}
	return d, nil
}

// Admits reports whether a group with an api_pwd allows commands from a:
// the TCP listener closes other connections before reading anything.
func (d *Dispatcher) Admits(a netip.Addr) bool {
	for _, t := range d.groups {
		if !t.disabled && t.allowed(a) {
			return true
		}
	}
	return false
}

func (t *target) allowed(a netip.Addr) bool {
	if t.anyAddr {
		return true
	}
	a = a.Unmap()
	if !a.IsValid() {
		return false
	}
	for _, p := range t.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Do checks a command's group, address and password, then runs it. It
// never panics on bad input; every refusal is a reply with a code and a
// sentence, and refusals of access are logged.
func (d *Dispatcher) Do(ctx context.Context, cmd Command) Reply {
	r := d.do(ctx, cmd)
	if r.Type == "" {
		r.Type = cmd.Type
	}
	return r
}

func (d *Dispatcher) do(ctx context.Context, cmd Command) Reply {
	group := cmd.Group
	if group == "" {
		group = d.defaultGroup
	}
	t, ok := d.groups[group]
	if !ok {
		d.log.Warn("server API command refused", "reason", "no such group", "group", clip(group, 64), "type", clip(cmd.Type, 32), "remote", cmd.Remote)
		return Fail(CodeNoSuchGroup, "There is no group %q on this server.", clip(group, 64))
	}
	if !t.allowed(cmd.Remote) {
		d.log.Warn("server API command refused", "reason", "address not allowed", "group", group, "type", clip(cmd.Type, 32), "remote", cmd.Remote)
		return Fail(CodeDenied, "Commands from %s are not allowed (server_api.groups.%s.allow_from).", addrText(cmd.Remote), group)
	}
	if t.disabled {
		d.log.Warn("server API command refused", "reason", "no api_pwd configured", "group", group, "type", clip(cmd.Type, 32), "remote", cmd.Remote)
		return Fail(CodeDisabled, "The server API of group %s is off: set server_api.groups.%s.api_pwd to enable it.", group, group)
	}
	addrKey := limit.IPKey(addrText(cmd.Remote))
	if retry, ok := d.failed.Check(addrKey); !ok {
		d.log.Warn("server API command refused", "reason", "too many wrong api_pwd", "group", group, "type", clip(cmd.Type, 32), "remote", cmd.Remote, "retry", retry)
		e := chat.RateLimited("Too many wrong api_pwd from "+addrText(cmd.Remote), retry)
		return Reply{Code: CodeRateLimited, Message: e.Message, RetryAfter: e.RetryAfter}
	}
	given := sha256.Sum256([]byte(cmd.Password))
	if subtle.ConstantTimeCompare(given[:], t.pwdHash[:]) != 1 {
		d.failed.Fail(addrKey)
		d.log.Warn("server API command refused", "reason", "wrong api_pwd", "group", group, "type", clip(cmd.Type, 32), "remote", cmd.Remote)
		return Fail(CodeDenied, "Wrong api_pwd for group %s.", group)
	}
	d.failed.Reset(addrKey)
	h, ok := handlers[cmd.Type]
	if !ok {
		return Fail(CodeUnknownType, "Unknown command type %q (known: %s).", clip(cmd.Type, 32), strings.Join(commandTypes(), ", "))
	}
	a := &attrs{m: cmd.Attrs}
	if err := a.only(h.attrs); err != nil {
		return failErr(CodeBadArgument, err)
	}
	if (len(cmd.Times) > 0 || cmd.HasTimes) && !h.times {
		return Fail(CodeBadArgument, "roomOpen applies to add_room and edit_room only.")
	}
	if _, err := schedule.ParseAll(cmd.Times); err != nil {
		return Fail(CodeBadArgument, "roomOpen: %s.", err)
	}
	r := h.run(ctx, d, t.chat, a, cmd)
	switch {
	case r.Code == CodeOK && h.query:
		d.log.Debug("server API query", "type", cmd.Type, "group", group, "remote", cmd.Remote)
	case r.Code == CodeOK:
		d.log.Info("server API command", "type", cmd.Type, "group", group, "remote", cmd.Remote, "result", r.Message)
	default:
		d.log.Debug("server API command failed", "type", cmd.Type, "group", group, "remote", cmd.Remote, "code", r.Code, "result", r.Message)
	}
	return r
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "an unknown address"
	}
	return a.Unmap().String()
}

// chatReply turns an error of the chat domain into a reply.
func chatReply(err error) Reply {
	switch chat.CodeOf(err) {
	case chat.CodeNoSuchRoom, chat.CodeNotOnline:
		return failErr(CodeNotFound, err)
	case chat.CodeTooLong, chat.CodeEmpty:
		return failErr(CodeBadArgument, err)
	default:
		return failErr(CodeInternal, err)
	}
}
