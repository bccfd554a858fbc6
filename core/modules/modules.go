// Package modules is the module pipeline: the decision hooks of the
// module plugins in config order, with a deadline and a failure policy,
// a bounded notification stream per plugin, and client commands routed by
// prefix to the module that owns them. A nil *Pipeline is valid and has no
// modules: every hook passes at no cost.
package modules

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
)

// Plugin is one module as the pipeline calls it; *pluginhost.Module is one
// (and tests use in-process fakes). Capabilities must not change while the
// pipeline runs.
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

// Options configure a Pipeline.
type Options struct {
	// HookTimeout bounds one hook call; DefaultHookTimeout when 0.
	HookTimeout time.Duration
	// NotifyQueue bounds the notifications waiting for one plugin;
	// DefaultNotifyQueue when 0.
	NotifyQueue int
	Logger      hclog.Logger
}

// Defaults of Options.
const (
	DefaultHookTimeout = 2 * time.Second
	DefaultNotifyQueue = 1024
)

// Pipeline runs the hooks of the modules.
type Pipeline struct {
	plugins []Plugin
	opts    Options
}

// New makes the pipeline over plugins, in config order.
func New(plugins []Plugin, opts Options) *Pipeline {
	return &Pipeline{plugins: plugins, opts: opts}
}

// Login asks OnLogin of each module that declared it. A refusal is a
// *chat.Error the user sees; otherwise the verdict holds the changes
// (display name, role) of all modules.
func (p *Pipeline) Login(ctx context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
	return sdk.LoginVerdict{}, nil
}

// Join asks OnJoin of each module that declared it; a refusal is a
// *chat.Error the user sees.
func (p *Pipeline) Join(ctx context.Context, ev sdk.JoinEvent) error {
	return nil
}

// Message runs OnMessage through the modules that declared it and returns
// the final verdict (Pass, or Modify with the text to deliver, Hold,
// Reject or Drop). failClosed (a pre-moderated room) refuses the message
// with a *chat.Error while a module is down or late.
func (p *Pipeline) Message(ctx context.Context, ev sdk.MessageEvent, failClosed bool) (sdk.MessageVerdict, error) {
	return sdk.MessageVerdict{}, nil
}

// Owner returns the module that owns the command type, if any.
func (p *Pipeline) Owner(typ string) (Plugin, bool) {
	return nil, false
}

// Command routes a client command to the module owning its prefix; an
// unknown prefix is a *chat.Error with code unknown_command.
func (p *Pipeline) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	return sdk.Reply{}, nil
}

// Notify queues n for every module that declared HookNotify without
// waiting; a full queue drops it and counts the drop.
func (p *Pipeline) Notify(n sdk.Notification) {}

// Close stops the notification streams.
func (p *Pipeline) Close() {}
