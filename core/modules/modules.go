// Package modules is the module pipeline: the decision hooks of the
// module plugins in config order, with a deadline and a failure policy,
// a bounded notification stream per plugin, a bounded queue per plugin of
// the events its processes on other nodes sent (ClusterEvent), and client
// commands routed by prefix to the module that owns them. A nil *Pipeline
// is valid and has no modules: every hook passes at no cost.
//
// The pipeline reads each plugin's Capabilities once (New, and again on
// Refresh) and keeps, per hook, the plugins that declared it, and per
// notification kind the streams of the modules that want it. A hook that
// no plugin declared, or a notification of a kind no module wants, costs
// one atomic load (and a map lookup): no lock, no allocation.
package modules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/sdk"
)

// Plugin is one module as the pipeline calls it; *pluginhost.Module is one
// (and tests use in-process fakes). Every call must return when its ctx is
// done: the pipeline bounds calls by their context only. Capabilities may
// change (a plugin that was down at start-up comes up); the pipeline sees
// the change on Refresh.
type Plugin interface {
	Name() string
	Capabilities() sdk.Capabilities
	OnLogin(ctx context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error)
	OnJoin(ctx context.Context, ev sdk.JoinEvent) (sdk.JoinVerdict, error)
	OnMessage(ctx context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error)
	Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error)
	// Notify delivers a batch of notifications; it may block up to ctx.
	Notify(ctx context.Context, batch []sdk.Notification) error
}

// ErrUnavailable is what a Plugin's error wraps when the module is down
// (not started, crashed, stopped), as opposed to a module that answered
// with an error. A gRPC status Unavailable or DeadlineExceeded, and a
// context deadline, mean the same.
var ErrUnavailable = errors.New("module unavailable")

// Options configure a Pipeline.
type Options struct {
	// HookTimeout bounds one hook call (OnLogin, OnJoin, OnMessage);
	// DefaultHookTimeout when 0.
	HookTimeout time.Duration
	// CommandTimeout bounds one client command; DefaultCommandTimeout
	// when 0.
	CommandTimeout time.Duration
	// NotifyQueue bounds the notifications waiting for one plugin;
	// DefaultNotifyQueue when 0.
	NotifyQueue int
	// NotifyBatch is the most notifications handed to one Notify call;
	// DefaultNotifyBatch when 0.
	NotifyBatch int
	// NotifyTimeout bounds one Notify call; DefaultNotifyTimeout when 0.
	// NotifyBatch and NotifyTimeout also bound the calls that hand a
	// module its cluster events.
	NotifyTimeout time.Duration
	// ClusterQueue bounds the cluster events waiting for one plugin
	// (ClusterEvent); DefaultClusterQueue when 0.
	ClusterQueue int
	// Logger receives warnings about failing modules; none when nil.
	Logger hclog.Logger
}

// Defaults of Options.
const (
	DefaultHookTimeout    = 2 * time.Second
	DefaultCommandTimeout = 5 * time.Second
	DefaultNotifyQueue    = 1024
	DefaultNotifyBatch    = 64
	DefaultNotifyTimeout  = 5 * time.Second
	DefaultClusterQueue   = 1024
)

// Hook names used in metrics and logs besides the sdk.Hook* names.
const hookCommand = "command"

// Pipeline runs the hooks of the modules.
type Pipeline struct {
	plugins []Plugin
	opts    Options
	log     hclog.Logger

	tab atomic.Pointer[table]

	failures       *prometheus.CounterVec
	dropped        *prometheus.CounterVec
	clusterDropped *prometheus.CounterVec

	// mu guards streams, clusterQueues and closed (Refresh and Close).
	mu            sync.Mutex
	streams       map[int]*stream       // by index in plugins
	clusterQueues map[int]*clusterQueue // by index in plugins
	closed        bool
	ctx           context.Context // cancelled by Close; parent of Notify calls
	cancel        context.CancelFunc
	wg            sync.WaitGroup
}

// table is what the pipeline precomputed from the plugins' capabilities;
// it is replaced as a whole (Refresh), never changed.
type table struct {
	login, join, message []*entry
	// notify are the streams of the modules that want every kind; byKind,
	// for each kind some module asked for by name, the streams that want
	// it (those of notify included), in config order.
	notify []*stream
	byKind map[sdk.NotificationKind][]*stream
	routes []route // longest prefix first
	// cluster are the cluster event queues of the modules that declared
	// sdk.HookCluster, by plugin name.
	cluster map[string]*clusterQueue
}

// entry is one plugin as one hook table holds it.
type entry struct {
	p          Plugin
	name       string
	failClosed bool
	quiet      []string
	failures   map[string]prometheus.Counter // by hook
	// warned bounds the warnings of a failing module to one per
	// warnEvery: a module that is down fails every message, and the
	// counter has the count.
	warned *rate.Sometimes
}

// route is a command prefix and the plugin owning it.
type route struct {
	prefix string
	e      *entry
}

// New makes the pipeline over plugins, in config order, and starts the
// notification streams of those that declared sdk.HookNotify. Close
// stops them.
func New(plugins []Plugin, opts Options) *Pipeline {
	if opts.HookTimeout <= 0 {
		opts.HookTimeout = DefaultHookTimeout
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	if opts.NotifyQueue <= 0 {
		opts.NotifyQueue = DefaultNotifyQueue
	}
	if opts.NotifyBatch <= 0 {
		opts.NotifyBatch = DefaultNotifyBatch
	}
	if opts.NotifyTimeout <= 0 {
		opts.NotifyTimeout = DefaultNotifyTimeout
	}
	if opts.ClusterQueue <= 0 {
		opts.ClusterQueue = DefaultClusterQueue
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	p := &Pipeline{
		plugins: append([]Plugin(nil), plugins...),
		opts:    opts,
		log:     log,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parlor", Name: "module_hook_failures_total",
			Help: "Module hook calls that failed (error, timeout, module down), by plugin and hook.",
		}, []string{"plugin", "hook"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parlor", Name: "module_notifications_dropped_total",
			Help: "Notifications dropped because a module's queue was full, by plugin.",
		}, []string{"plugin"}),
		clusterDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parlor", Name: "module_cluster_events_dropped_total",
			Help: "Cluster events from other nodes dropped because a module's queue was full, by plugin.",
		}, []string{"plugin"}),
		streams:       make(map[int]*stream),
		clusterQueues: make(map[int]*clusterQueue),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.Refresh()
	return p
}

// Collectors are the pipeline's metrics, for the /metrics registry:
// parlor_module_hook_failures_total{plugin,hook},
// parlor_module_notifications_dropped_total{plugin} and
// parlor_module_cluster_events_dropped_total{plugin}. None for a nil
// pipeline.
func (p *Pipeline) Collectors() []prometheus.Collector {
	if p == nil {
		return nil
	}
	return []prometheus.Collector{p.failures, p.dropped, p.clusterDropped}
}

// Refresh re-reads the Capabilities of every plugin and replaces the hook
// tables at once: calls already running finish with the old tables. It
// starts the notification stream of a plugin that newly declared
// sdk.HookNotify (core/server calls it when a plugin that was down comes
// up). Safe to call at any time, also concurrently with hooks.
func (p *Pipeline) Refresh() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &table{}
	owners := map[string]string{} // prefix -> plugin name
	var filtered []kindFilter     // streams of modules that named their kinds
	for i, pl := range p.plugins {
		caps := pl.Capabilities()
		name := pl.Name()
		e := &entry{p: pl, name: name, failClosed: caps.FailClosed, quiet: caps.Quiet, failures: map[string]prometheus.Counter{},
			warned: &rate.Sometimes{Interval: warnEvery}}
		for _, h := range caps.Hooks {
			if _, dup := e.failures[h]; dup {
				continue
			}
			switch h {
			case sdk.HookLogin:
				t.login = append(t.login, e)
			case sdk.HookJoin:
				t.join = append(t.join, e)
			case sdk.HookMessage:
				t.message = append(t.message, e)
			case sdk.HookNotify:
				s := p.streamLocked(i, e)
				switch {
				case s == nil:
				case len(caps.Notify) == 0:
					t.notify = append(t.notify, s)
					filtered = append(filtered, kindFilter{s: s})
				default:
					filtered = append(filtered, kindFilter{s: s, kinds: caps.Notify})
				}
			case sdk.HookCluster:
				if q := p.clusterLocked(i, e); q != nil {
					if t.cluster == nil {
						t.cluster = map[string]*clusterQueue{}
					}
					t.cluster[name] = q
				}
			case sdk.HookStop:
				continue // the plugin host calls it when it stops the plugin
			default:
				p.log.Warn("module declared an unknown hook; ignoring it", "plugin", name, "hook", h)
				continue
			}
			e.failures[h] = p.failures.WithLabelValues(name, h)
		}
		if len(caps.Commands) > 0 {
			e.failures[hookCommand] = p.failures.WithLabelValues(name, hookCommand)
		}
		for _, prefix := range caps.Commands {
			if !strings.HasSuffix(prefix, ".") || len(prefix) < 2 {
				p.log.Warn("module declared a command prefix that does not end in '.'; ignoring it", "plugin", name, "prefix", prefix)
				continue
			}
			if other, taken := owners[prefix]; taken {
				if other != name {
					p.log.Warn("command prefix already owned by an earlier module; ignoring it", "plugin", name, "prefix", prefix, "owner", other)
				}
				continue
			}
			owners[prefix] = name
			t.routes = append(t.routes, route{prefix: prefix, e: e})
		}
	}
	sort.SliceStable(t.routes, func(i, j int) bool { return len(t.routes[i].prefix) > len(t.routes[j].prefix) })
	t.byKind = kindTable(filtered)
	p.tab.Store(t)
}

// kindFilter is a notification stream and the kinds its module wants;
// none means every kind.
type kindFilter struct {
	s     *stream
	kinds []sdk.NotificationKind
}

// kindTable maps each kind named by a filter to the streams that want it,
// in the order of filters; nil when no module named its kinds.
func kindTable(filters []kindFilter) map[sdk.NotificationKind][]*stream {
	var out map[sdk.NotificationKind][]*stream
	for _, f := range filters {
		for _, k := range f.kinds {
			if _, done := out[k]; done {
				continue
			}
			if out == nil {
				out = map[sdk.NotificationKind][]*stream{}
			}
			var list []*stream
			for _, g := range filters {
				if len(g.kinds) == 0 || slices.Contains(g.kinds, k) {
					list = append(list, g.s)
				}
			}
			out[k] = list
		}
	}
	return out
}

// load returns the current tables; nil (no modules) for a nil pipeline.
func (p *Pipeline) load() *table {
	if p == nil {
		return nil
	}
	return p.tab.Load()
}

// The hook tables of t; none when t is nil.
func (t *table) loginHooks() []*entry {
	if t == nil {
		return nil
	}
	return t.login
}

func (t *table) joinHooks() []*entry {
	if t == nil {
		return nil
	}
	return t.join
}

func (t *table) messageHooks() []*entry {
	if t == nil {
		return nil
	}
	return t.message
}

// streams are the streams that want a notification of kind k.
func (t *table) streams(k sdk.NotificationKind) []*stream {
	if t == nil {
		return nil
	}
	if list, ok := t.byKind[k]; ok {
		return list
	}
	return t.notify
}

// Login asks OnLogin of each module that declared it, in config order. A
// refusal is a *chat.Error the user sees (code refused, or the code of a
// module's *sdk.Refusal); otherwise the verdict holds the changes of all
// modules: Display is the final display name and Role the final server
// role (admin or user), each empty when no module changed it. Each module
// sees the event as the modules before it changed it. A module that fails
// is skipped (fail-open) unless it declared FailClosed; then the login is
// refused with code module_unavailable.
func (p *Pipeline) Login(ctx context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
	hooks := p.load().loginHooks()
	if len(hooks) == 0 {
		return sdk.LoginVerdict{}, nil
	}
	var out sdk.LoginVerdict
	for _, e := range hooks {
		v, err := invoke(ctx, p.opts.HookTimeout, e, sdk.HookLogin, ev, Plugin.OnLogin)
		if err != nil {
			if stop := p.failure(ctx, e, sdk.HookLogin, err, false, "you cannot log in right now"); stop != nil {
				return sdk.LoginVerdict{}, stop
			}
			continue
		}
		if v.Deny {
			return sdk.LoginVerdict{}, refusal("", v.Reason, fmt.Sprintf("The %s module refused your login.", e.name))
		}
		if v.Display != "" {
			ev.Display = v.Display
			out.Display = v.Display
		}
		switch v.Role {
		case "":
		case sdk.RoleAdmin, sdk.RoleUser:
			ev.Admin = v.Role == sdk.RoleAdmin
			out.Role = v.Role
		default:
			p.log.Warn("module gave a login a role other than admin or user; ignoring it", "plugin", e.name, "role", string(v.Role), "user", ev.Name)
		}
	}
	return out, nil
}

// Join asks OnJoin of each module that declared it, in config order; the
// first denial refuses the join with a *chat.Error the user sees (code
// refused, or the code of a module's *sdk.Refusal). A module that fails is
// skipped unless it declared FailClosed (code module_unavailable).
func (p *Pipeline) Join(ctx context.Context, ev sdk.JoinEvent) error {
	hooks := p.load().joinHooks()
	if len(hooks) == 0 {
		return nil
	}
	for _, e := range hooks {
		v, err := invoke(ctx, p.opts.HookTimeout, e, sdk.HookJoin, ev, Plugin.OnJoin)
		if err != nil {
			if stop := p.failure(ctx, e, sdk.HookJoin, err, false, "you cannot enter the room right now"); stop != nil {
				return stop
			}
			continue
		}
		if v.Deny {
			return refusal("", v.Reason, fmt.Sprintf("The %s module refused to let you in.", e.name))
		}
	}
	return nil
}

// Message runs OnMessage through the modules that declared it, in config
// order, and returns the final verdict. Modify hands the changed text and
// style to the next module; the first Hold, Reject or Drop ends the chain
// and is returned (a Hold carries the message to hold in Text and Style, a
// Reject always has a Reason). When any module modified the message and
// none ended the chain, the verdict is Modify with the final Text and
// Style; otherwise Pass. A *sdk.Refusal from a module refuses with its
// code. A module that fails is skipped (fail-open) unless failClosed (a
// pre-moderated room) or the module declared FailClosed: then the message
// is refused with a *chat.Error, code module_unavailable.
func (p *Pipeline) Message(ctx context.Context, ev sdk.MessageEvent, failClosed bool) (sdk.MessageVerdict, error) {
	hooks := p.load().messageHooks()
	if len(hooks) == 0 {
		return sdk.MessageVerdict{}, nil
	}
	return p.messageFrom(ctx, hooks, messageChain{ev: ev, failClosed: failClosed})
}

// messageFrom asks the message hooks from c.next on, one after the other.
func (p *Pipeline) messageFrom(ctx context.Context, hooks []*entry, c messageChain) (sdk.MessageVerdict, error) {
	for ; c.next < len(hooks); c.next++ {
		e := hooks[c.next]
		v, err := invoke(ctx, p.opts.HookTimeout, e, sdk.HookMessage, c.ev, Plugin.OnMessage)
		if v, err, end := p.messageStep(ctx, e, &c, v, err); end {
			return v, err
		}
	}
	return c.verdict(), nil
}

// AsyncMessager is a Plugin that can answer OnMessage without a goroutine
// waiting for it: done gets the answer once, and must not block.
// *pluginhost.Module is one.
type AsyncMessager interface {
	OnMessageAsync(ctx context.Context, ev sdk.MessageEvent, done func(sdk.MessageVerdict, error))
}

// MessageAsync asks the message hooks like Message but returns at once:
// done gets the outcome exactly once. While the modules answer
// asynchronously (AsyncMessager), done runs where the last answer
// arrived, usually the goroutine reading a plugin's answers, so it must
// be quick and not block; otherwise it runs on a goroutine of its own.
func (p *Pipeline) MessageAsync(ctx context.Context, ev sdk.MessageEvent, failClosed bool, done func(sdk.MessageVerdict, error)) {
	hooks := p.load().messageHooks()
	if len(hooks) == 0 {
		done(sdk.MessageVerdict{}, nil)
		return
	}
	p.messageAsync(ctx, hooks, messageChain{ev: ev, failClosed: failClosed}, done)
}

// messageAsync asks hooks[c.next] without waiting and goes on with the
// next hook from its answer.
func (p *Pipeline) messageAsync(ctx context.Context, hooks []*entry, c messageChain, done func(sdk.MessageVerdict, error)) {
	if c.next == len(hooks) {
		done(c.verdict(), nil)
		return
	}
	e := hooks[c.next]
	a, ok := e.p.(AsyncMessager)
	if !ok {
		go func() { done(p.messageFrom(ctx, hooks, c)) }()
		return
	}
	hctx, cancel := context.WithTimeout(ctx, p.opts.HookTimeout)
	a.OnMessageAsync(hctx, c.ev, func(v sdk.MessageVerdict, err error) {
		err = hookError(hctx, p.opts.HookTimeout, e, sdk.HookMessage, err)
		cancel()
		if v, err, end := p.messageStep(ctx, e, &c, v, err); end {
			done(v, err)
			return
		}
		c.next++
		p.messageAsync(ctx, hooks, c, done)
	})
}

// messageChain is where a message is in the message hooks: the event as
// the modules so far left it and the next hook to ask.
type messageChain struct {
	ev         sdk.MessageEvent
	failClosed bool
	modified   bool
	next       int
}

// verdict is the outcome once every hook passed or modified.
func (c *messageChain) verdict() sdk.MessageVerdict {
	if c.modified {
		return sdk.MessageVerdict{Action: sdk.Modify, Text: c.ev.Text, Style: c.ev.Style}
	}
	return sdk.MessageVerdict{}
}

// messageStep applies e's answer (v, err) to the chain: end is true, with
// the outcome, when it ends the chain (a hold, reject, drop or a failure
// that refuses); otherwise the next hook is asked.
func (p *Pipeline) messageStep(ctx context.Context, e *entry, c *messageChain, v sdk.MessageVerdict, err error) (_ sdk.MessageVerdict, _ error, end bool) {
	if err == nil && (v.Action < sdk.Pass || v.Action > sdk.Drop) {
		err = fmt.Errorf("module %q: unknown message action %d", e.name, v.Action)
	}
	if err != nil {
		if stop := p.failure(ctx, e, sdk.HookMessage, err, c.failClosed, "your message was not sent"); stop != nil {
			return sdk.MessageVerdict{}, stop, true
		}
		return sdk.MessageVerdict{}, nil, false
	}
	switch v.Action {
	case sdk.Modify:
		c.ev.Text, c.ev.Style = v.Text, v.Style
		c.modified = true
	case sdk.Hold:
		return sdk.MessageVerdict{Action: sdk.Hold, Text: c.ev.Text, Style: c.ev.Style, Note: v.Note}, nil, true
	case sdk.Reject:
		reason := v.Reason
		if reason == "" {
			reason = fmt.Sprintf("The %s module refused your message.", e.name)
		}
		return sdk.MessageVerdict{Action: sdk.Reject, Reason: reason}, nil, true
	case sdk.Drop:
		return sdk.MessageVerdict{Action: sdk.Drop}, nil, true
	}
	return sdk.MessageVerdict{}, nil, false
}

// HasMessageHooks reports whether a module declared OnMessage.
func (p *Pipeline) HasMessageHooks() bool {
	return len(p.load().messageHooks()) > 0
}

// Owner returns the module that owns the command type: the one that
// declared the longest prefix of typ.
func (p *Pipeline) Owner(typ string) (Plugin, bool) {
	if e := p.load().owner(typ); e != nil {
		return e.p, true
	}
	return nil, false
}

func (t *table) owner(typ string) *entry {
	if t == nil {
		return nil
	}
	for _, r := range t.routes {
		// A type is a prefix and a name after it: "dice." alone is none.
		if len(typ) > len(r.prefix) && strings.HasPrefix(typ, r.prefix) {
			return r.e
		}
	}
	return nil
}

// Quiet reports whether a muted user may still send the command type: its
// owner lists it in Capabilities.Quiet, exactly or by a prefix ending in
// '.'.
func (p *Pipeline) Quiet(typ string) bool {
	e := p.load().owner(typ)
	if e == nil {
		return false
	}
	for _, q := range e.quiet {
		if q == typ || (strings.HasSuffix(q, ".") && strings.HasPrefix(typ, q)) {
			return true
		}
	}
	return false
}

// Command routes a client command to the module owning its prefix,
// bounded by Options.CommandTimeout. Errors are *chat.Error values the
// caller sees: unknown_command for a prefix nobody owns, the module's own
// code for a *sdk.Refusal, module_unavailable when the module is down or
// late, module_error when it failed otherwise.
func (p *Pipeline) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	e := p.load().owner(cmd.Type)
	if e == nil {
		return sdk.Reply{}, chatError(chat.CodeUnknownCommand, fmt.Sprintf("No module answers %s commands.", cmd.Type))
	}
	r, err := invoke(ctx, p.opts.CommandTimeout, e, hookCommand, cmd, Plugin.Command)
	if err == nil {
		return r, nil
	}
	var ref *sdk.Refusal
	if errors.As(err, &ref) {
		return sdk.Reply{}, refusal(ref.Code, ref.Message, fmt.Sprintf("The %s module refused.", e.name))
	}
	if ctx.Err() != nil {
		return sdk.Reply{}, fmt.Errorf("command %s: %w", cmd.Type, ctx.Err())
	}
	p.count(e, hookCommand)
	p.log.Warn("module failed to answer a command", "plugin", e.name, "command", cmd.Type, "error", err)
	if unavailable(err) {
		return sdk.Reply{}, chatError(chat.CodeModuleUnavailable, fmt.Sprintf("The %s module is not available; try again later.", e.name))
	}
	return sdk.Reply{}, chatError(chat.CodeModuleError, fmt.Sprintf("The %s module could not answer; try again.", e.name))
}

// invoke calls one hook f of e with ev under a deadline of timeout,
// turning a panic of an in-process plugin into an error. f is a method
// expression (Plugin.OnMessage), so a call allocates nothing but its
// deadline.
func invoke[E, V any](ctx context.Context, timeout time.Duration, e *entry, hook string, ev E, f func(Plugin, context.Context, E) (V, error)) (v V, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			var zero V
			v, err = zero, fmt.Errorf("module %q: %s panicked: %v", e.name, hook, r)
		}
	}()
	v, err = f(e.p, ctx, ev)
	return v, hookError(ctx, timeout, e, hook, err)
}

// hookError is the error err of e's hook as the pipeline reports it: a
// refusal as it is, a timeout saying after how long (ctx is the hook's),
// anything else naming the module.
func hookError(ctx context.Context, timeout time.Duration, e *entry, hook string, err error) error {
	if err == nil {
		return nil
	}
	var ref *sdk.Refusal
	if errors.As(err, &ref) {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("module %q: %s timed out after %s: %w", e.name, hook, timeout, err)
	}
	return fmt.Errorf("module %q: %s: %w", e.name, hook, err)
}

// failure applies the fail policy to the error err of a decision hook: a
// *sdk.Refusal refuses with its code; a cancelled caller ends the hook
// without counting a failure; a failure of a fail-closed module (or under
// failClosed) refuses with module_unavailable; any other failure is
// logged, counted and skipped (nil). what ends the sentence the user
// sees ("your message was not sent").
func (p *Pipeline) failure(ctx context.Context, e *entry, hook string, err error, failClosed bool, what string) error {
	var ref *sdk.Refusal
	if errors.As(err, &ref) {
		return refusal(ref.Code, ref.Message, fmt.Sprintf("The %s module refused.", e.name))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", hook, ctx.Err())
	}
	p.count(e, hook)
	if failClosed || e.failClosed {
		e.warned.Do(func() {
			p.log.Warn("module failed; refusing (fail-closed)", "plugin", e.name, "hook", hook, "error", err, "next_warning_after", warnEvery)
		})
		return chatError(chat.CodeModuleUnavailable, fmt.Sprintf("The %s module is not available; %s.", e.name, what))
	}
	e.warned.Do(func() {
		p.log.Warn("module failed; skipping it (fail-open)", "plugin", e.name, "hook", hook, "error", err, "next_warning_after", warnEvery)
	})
	return nil
}

// warnEvery is the least time between two warnings about one failing
// module; parlor_module_hook_failures_total counts every failure.
const warnEvery = 10 * time.Second

// chatError is the refusal a user sees.
func chatError(code, msg string) error { return &chat.Error{Code: code, Message: msg} }

func (p *Pipeline) count(e *entry, hook string) {
	if c := e.failures[hook]; c != nil {
		c.Inc()
	}
}

// unavailable reports whether err means the module is down or late rather
// than that it answered with an error.
func unavailable(err error) bool {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// refusal is the *chat.Error of a module's refusal: code (refused when
// empty) and reason (def when empty).
func refusal(code, reason, def string) error {
	if code == "" {
		code = chat.CodeRefused
	}
	if reason == "" {
		reason = def
	}
	return &chat.Error{Code: code, Message: reason}
}

// Notify queues n, without waiting, for every module that declared
// HookNotify and wants its kind (Capabilities.Notify, empty for every
// kind); a full queue drops it and counts the drop.
func (p *Pipeline) Notify(n sdk.Notification) {
	for _, s := range p.load().streams(n.Kind) {
		s.push(n)
	}
}

// ClusterListener is a Plugin that takes the events its processes on
// other nodes published (sdk.HookCluster); *pluginhost.Module is one.
// ClusterEvents returns once the module has handled the batch, or when
// ctx ends.
type ClusterListener interface {
	ClusterEvents(ctx context.Context, batch []sdk.ClusterEvent) error
}

// ClusterEvent queues, without waiting, an event that the plugin called
// plugin published on another node (ev.Node), for this node's process of
// the same plugin; the cluster transport calls it for every event it
// receives. Events reach the module in the order of the calls, in
// batches. A plugin that did not declare sdk.HookCluster (or is not
// configured here) gets nothing, at the cost of a map lookup; a full
// queue (Options.ClusterQueue) drops the event and counts the drop.
func (p *Pipeline) ClusterEvent(plugin string, ev sdk.ClusterEvent) {
	t := p.load()
	if t == nil {
		return
	}
	if q := t.cluster[plugin]; q != nil {
		q.push(ev)
	}
}

// Close stops the notification streams and cluster event queues and
// waits for them; what is still queued is dropped. Hooks and commands
// keep working after Close.
func (p *Pipeline) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.closed = true
	t := *p.tab.Load()
	t.notify, t.byKind, t.cluster = nil, nil, nil
	p.tab.Store(&t)
	p.cancel()
	p.mu.Unlock()
	p.wg.Wait()
}
