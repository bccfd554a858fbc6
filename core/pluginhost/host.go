// Package pluginhost launches Parlor's plugin binaries (hashicorp/go-plugin
// over gRPC), hands them their configuration and learns what they serve
// (their capabilities, declared once per process), bounds every call with
// a timeout through one wrapper (restart and retry once on a lost
// connection, a duration histogram), health-checks them, restarts a
// crashed plugin with exponential backoff and, on Stop, calls each
// module's Stop hook (with the Host API still served) before it ends
// every plugin process. A module's handle (*Module) implements core/modules.Plugin;
// Assets serves the modules' web client files.
//
// A plugin named N is the binary <Options.Dir>/parlor-plugin-N unless its
// Spec gives an explicit Path. Plugin log output reaches the host logger
// tagged with the plugin name.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parlorchat/parlor/sdk"
)

// BinaryPrefix starts the file name of every plugin binary.
const BinaryPrefix = "parlor-plugin-"

// Defaults for zero Options fields.
const (
	DefaultCallTimeout    = 3 * time.Second
	DefaultHealthInterval = 2 * time.Second
	DefaultMaxBackoff     = 30 * time.Second
	// DefaultStartTimeout bounds a plugin's launch when the context given
	// to Start has no earlier deadline.
	DefaultStartTimeout = 10 * time.Second
	// DefaultStopTimeout bounds a module's Stop hook.
	DefaultStopTimeout = 5 * time.Second
)

// minBackoff is the first delay between two restarts of a crashing plugin.
const minBackoff = 100 * time.Millisecond

// Spec says which plugin to load.
type Spec struct {
	// Name identifies the plugin in config, logs and Status.
	Name string
	// Path is the binary; empty means <Options.Dir>/parlor-plugin-<Name>.
	Path string
	// Config is handed to the plugin's Configure as JSON.
	Config map[string]any
}

// Options tune the host. Zero durations take the defaults above.
type Options struct {
	// Dir is where plugin binaries are looked up by name.
	Dir string
	// CallTimeout bounds every call into a plugin (and Configure).
	CallTimeout time.Duration
	// HealthInterval is how often each plugin is pinged.
	HealthInterval time.Duration
	// MaxBackoff caps the delay between restarts of a crashing plugin; a
	// plugin that stayed healthy that long gets its backoff reset.
	MaxBackoff time.Duration
	// StopTimeout bounds the Stop hook of a module (sdk.Stopper), called
	// on Stop before its process is ended.
	StopTimeout time.Duration
	// Logger receives the host's and the plugins' log lines; plugin lines
	// go through Logger.Named(<plugin name>).
	Logger hclog.Logger
	// HostAPI returns the Host API served to the module of the plugin
	// called name (see core/hostapi); nil offers none.
	HostAPI func(name string) sdk.Host
	// OnReady, when set, is called with a plugin's name when its
	// capabilities become known: when it first runs (during Start, or
	// later for a plugin that was down at start-up) and when a restarted
	// plugin declares something else. The module pipeline refreshes its
	// view of the modules then. It is called from the goroutine that
	// launched the plugin and must not block.
	OnReady func(name string)
}

// PluginStatus describes one plugin for /healthz.
type PluginStatus struct {
	// Name is the configured plugin name.
	Name string `json:"name"`
	// Running reports a live process.
	Running bool `json:"running"`
	// Restarts counts successful restarts since Start.
	Restarts int `json:"restarts"`
	// PID is the process id while running.
	PID int `json:"pid,omitempty"`
	// LastError is the most recent launch or restart failure, if any.
	LastError string `json:"last_error,omitempty"`
}

// Host owns the plugin processes.
type Host struct {
	opts    Options
	log     hclog.Logger
	order   []string
	plugins map[string]*managed
	specErr error

	mu      sync.Mutex // guards started, stopped
	started bool
	stopped bool

	ctx    context.Context // canceled by Stop; ends health loops and restarts
	cancel context.CancelFunc
	wg     sync.WaitGroup // health loops and restart goroutines

	calls *prometheus.HistogramVec // parlor_plugin_call_duration_seconds
}

// New prepares a host for specs; nothing is launched before Start.
func New(opts Options, specs []Spec) *Host {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = DefaultHealthInterval
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.MaxBackoff < minBackoff {
		opts.MaxBackoff = minBackoff
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "pluginhost"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Host{
		opts:    opts,
		log:     opts.Logger,
		plugins: make(map[string]*managed, len(specs)),
		ctx:     ctx,
		cancel:  cancel,
		calls:   newCallDuration(),
	}
	var errs []error
	for _, s := range specs {
		if s.Name == "" {
			errs = append(errs, errors.New("plugin spec without a name"))
			continue
		}
		if _, dup := h.plugins[s.Name]; dup {
			errs = append(errs, fmt.Errorf("plugin %q is listed twice", s.Name))
			continue
		}
		path := s.Path
		if path == "" {
			path = filepath.Join(opts.Dir, BinaryPrefix+s.Name)
		}
		h.order = append(h.order, s.Name)
		h.plugins[s.Name] = newManaged(h, s.Name, path, s.Config)
	}
	h.specErr = errors.Join(errs...)
	return h
}

// Start launches and configures every plugin, then starts the health
// loops. A plugin that fails to start because its process died, its
// connection broke or its handshake did not come in time is left down
// (Status shows it with its error) and restarted with backoff like any
// plugin that crashes later. Start fails only for a permanent error — a
// missing binary, another protocol version, a configuration the plugin
// refuses — or when ctx ends: the plugins already started are then
// stopped and the error names each failing plugin and its path.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	switch {
	case h.stopped:
		h.mu.Unlock()
		return errors.New("start plugins: host already stopped")
	case h.started:
		h.mu.Unlock()
		return errors.New("start plugins: already started")
	}
	h.started = true
	h.mu.Unlock()
	if h.specErr != nil {
		return fmt.Errorf("start plugins: %w", h.specErr)
	}

	errs := make([]error, len(h.order))
	var wg sync.WaitGroup
	for i, name := range h.order {
		m := h.plugins[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.start(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.Stop()
		return fmt.Errorf("start plugins: %w", err)
	}
	for _, name := range h.order {
		m := h.plugins[name]
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			m.healthLoop(h.ctx)
		}()
	}
	down := 0
	for _, st := range h.Status() {
		if !st.Running {
			down++
		}
	}
	h.log.Info("plugins started", "count", len(h.order), "down", down)
	return nil
}

// Stop ends the health loops and every plugin process; it returns when
// they are gone. Before a module's process is ended, its notification
// stream is closed (the module handles what was sent) and its Stop hook,
// if it declared one, is called under StopTimeout while the Host API is
// still served; a hook that fails or times out is logged and the process
// is ended all the same. The plugins stop in parallel. It is safe to call
// more than once.
func (h *Host) Stop() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.stopped = true
	h.mu.Unlock()

	for _, m := range h.plugins {
		m.markStopped()
	}
	h.cancel()
	h.wg.Wait()

	var wg sync.WaitGroup
	for _, m := range h.plugins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.shutdown()
		}()
	}
	wg.Wait()
}

// Names lists the configured plugins in spec order.
func (h *Host) Names() []string {
	return append([]string(nil), h.order...)
}

// Authenticator returns the handle of the plugin called name; false when
// there is none or, once started, it serves no authenticator (a module
// only). The handle stays valid across restarts of the plugin.
func (h *Host) Authenticator(name string) (*Authenticator, bool) {
	m, ok := h.plugins[name]
	if !ok || !m.servesAuth() {
		return nil, false
	}
	return &Authenticator{m: m}, true
}

// Status reports every plugin in spec order.
func (h *Host) Status() []PluginStatus {
	out := make([]PluginStatus, 0, len(h.order))
	for _, name := range h.order {
		out = append(out, h.plugins[name].status())
	}
	return out
}
