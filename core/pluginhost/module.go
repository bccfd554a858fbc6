package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/parlorchat/parlor/sdk"
)

// MaxModuleBody is the largest request body forwarded to a module.
const MaxModuleBody = 1 << 20

// pluginSet is the host's plugin set for m: the module entry serves m's
// view of the Host API to the plugin.
func (m *managed) pluginSet() plugin.PluginSet {
	set := sdk.PluginSet(sdk.ServeOpts{})
	var host sdk.Host
	if f := m.host.opts.HostAPI; f != nil {
		host = f(m.name)
	}
	set[sdk.ModulePluginName] = &sdk.ModulePlugin{Host: host}
	return set
}

// configure hands cfg to a freshly launched instance and learns what it
// serves: a module answers its capabilities to the module's Configure
// (which configures its authenticator too); a plugin without a module is
// configured through its authenticator and serves nothing else. The
// result is recorded in inst.caps; a declaration the host cannot honour
// is a refused configuration.
func (m *managed) configure(ctx context.Context, inst *instance, cfg sdk.Config) error {
	raw, err := inst.rpc.Dispense(sdk.ModulePluginName)
	if err != nil {
		return fmt.Errorf("dispense %s: %w", sdk.ModulePluginName, err)
	}
	mod, ok := raw.(*sdk.ModuleClient)
	if !ok {
		return fmt.Errorf("dispensed %T, not a module", raw)
	}
	mod.UseChannel(inst.channel)
	caps, err := mod.Setup(ctx, cfg)
	switch {
	case errors.Is(err, sdk.ErrNotServed):
		if err := inst.auth.Configure(ctx, cfg); err != nil {
			return err
		}
		inst.caps = sdk.Capabilities{Authenticator: true}
		return nil
	case err != nil:
		return err
	}
	if err := checkCapabilities(caps); err != nil {
		return declarationError{err}
	}
	inst.module, inst.caps = mod, caps
	return nil
}

// declarationError is a module's declaration the host refuses; like a
// refused configuration, restarting cannot cure it.
type declarationError struct{ err error }

func (e declarationError) Error() string { return "module capabilities: " + e.err.Error() }
func (e declarationError) Unwrap() error { return e.err }

// checkCapabilities refuses declarations that cannot work, whatever
// built the plugin.
func checkCapabilities(c sdk.Capabilities) error {
	var errs []error
	for _, p := range c.Commands {
		if len(p) < 2 || !strings.HasSuffix(p, ".") {
			errs = append(errs, fmt.Errorf("command prefix %q does not end in '.'", p))
		}
	}
	for _, h := range c.Hooks {
		switch h {
		case sdk.HookLogin, sdk.HookJoin, sdk.HookMessage, sdk.HookNotify, sdk.HookStop, sdk.HookCluster:
		default:
			errs = append(errs, fmt.Errorf("unknown hook %q", h))
		}
	}
	for _, k := range c.Notify {
		if k == "" || strings.ContainsAny(string(k), " \t\r\n") {
			errs = append(errs, fmt.Errorf("notification kind %q is not a word", k))
		}
	}
	if len(c.Notify) > 0 && !slices.Contains(c.Hooks, sdk.HookNotify) {
		errs = append(errs, fmt.Errorf("notification kinds %v are declared without the notify hook", c.Notify))
	}
	if p := c.HTTPPrefix; p != "" && (len(p) < 3 || p[0] != '/' || !strings.HasSuffix(p, "/")) {
		errs = append(errs, fmt.Errorf("HTTP prefix %q does not start and end with '/'", p))
	}
	total := 0
	for name, b := range c.Assets {
		total += len(b)
		if !fs.ValidPath(name) || name == "." {
			errs = append(errs, fmt.Errorf("asset path %q is not a clean relative path", name))
		}
	}
	if total > sdk.MaxAssetBytes {
		errs = append(errs, fmt.Errorf("assets of %d bytes exceed %d", total, sdk.MaxAssetBytes))
	}
	if c.Client != "" {
		if _, ok := c.Assets[c.Client]; !ok {
			errs = append(errs, fmt.Errorf("client %q is not one of the assets", c.Client))
		}
	}
	return errors.Join(errs...)
}

// learn records the capabilities of a newly running instance and calls
// Options.OnReady when they are new: the first time the plugin runs, or
// when a restarted plugin declares something else.
func (m *managed) learn(inst *instance) {
	m.mu.Lock()
	changed := !m.capsKnown || !sameCapabilities(m.caps, inst.caps)
	m.caps, m.capsKnown = inst.caps, true
	if changed {
		m.assets = newAssetSet(inst.caps.Assets)
	}
	m.mu.Unlock()
	if changed && m.host.opts.OnReady != nil {
		m.host.opts.OnReady(m.name)
	}
}

// sameCapabilities compares two declarations.
func sameCapabilities(a, b sdk.Capabilities) bool {
	if a.Authenticator != b.Authenticator || a.Module != b.Module || a.HTTPPrefix != b.HTTPPrefix ||
		a.Client != b.Client || a.FailClosed != b.FailClosed || !slices.Equal(a.Hooks, b.Hooks) ||
		!slices.Equal(a.Commands, b.Commands) || !slices.Equal(a.Quiet, b.Quiet) || !slices.Equal(a.Notify, b.Notify) ||
		len(a.Assets) != len(b.Assets) {
		return false
	}
	for k, v := range a.Assets {
		if w, ok := b.Assets[k]; !ok || string(v) != string(w) {
			return false
		}
	}
	return true
}

// capabilities returns what the plugin declared when it last started, and
// whether it has started at all.
func (m *managed) capabilities() (sdk.Capabilities, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.caps, m.capsKnown
}

// servesAuth reports whether the plugin serves an authenticator: as
// declared, or true while it has never run (so that an authenticator that
// is down at start-up keeps its place in the chain).
func (m *managed) servesAuth() bool {
	caps, known := m.capabilities()
	return !known || caps.Authenticator
}

// servesModule reports whether the plugin serves a module: as declared, or
// true while it has never run.
func (m *managed) servesModule() bool {
	caps, known := m.capabilities()
	return !known || caps.Module
}

// Module is the host's handle on a module plugin. It implements
// core/modules.Plugin. It stays valid across restarts of the plugin and is
// safe for concurrent use.
type Module struct {
	m *managed
}

// Module returns the handle of the plugin called name when it serves a
// module, or may: a plugin that is down since start-up is not known yet;
// its handle declares nothing until it runs (Options.OnReady says when).
func (h *Host) Module(name string) (*Module, bool) {
	m, ok := h.plugins[name]
	if !ok || !m.servesModule() {
		return nil, false
	}
	return &Module{m: m}, true
}

// Modules lists the plugins that serve a module (or may, see Module), in
// spec order.
func (h *Host) Modules() []*Module {
	var out []*Module
	for _, name := range h.order {
		if mod, ok := h.Module(name); ok {
			out = append(out, mod)
		}
	}
	return out
}

// Name returns the plugin's configured name.
func (mod *Module) Name() string { return mod.m.name }

// Capabilities returns what the module declared when it last started; the
// zero value (nothing) while it has never run. The result must not be
// modified.
func (mod *Module) Capabilities() sdk.Capabilities {
	caps, _ := mod.m.capabilities()
	return caps
}

// Ready reports whether the plugin's capabilities are known (it has run
// since Start); until then Capabilities is empty. Options.OnReady says when
// this changes.
func (mod *Module) Ready() bool {
	_, known := mod.m.capabilities()
	return known
}

// declares reports whether the module declared hook.
func (mod *Module) declares(hook string) bool {
	caps, _ := mod.m.capabilities()
	return slices.Contains(caps.Hooks, hook)
}

// notServed is the error of a call the module did not declare; the
// plugin is not asked.
func (mod *Module) notServed(what string) error {
	return fmt.Errorf("plugin %q: %s: %w", mod.m.name, what, sdk.ErrNotServed)
}

// moduleOf returns inst's module client.
func moduleOf(inst *instance) (*sdk.ModuleClient, error) {
	if inst.module == nil {
		return nil, sdk.ErrNotServed
	}
	return inst.module, nil
}

// OnLogin asks the module's OnLogin. A module that did not declare it is
// not asked (the error wraps sdk.ErrNotServed); a refusal is a
// *sdk.Refusal; any other error means no answer came (the plugin failed,
// was down or late).
func (mod *Module) OnLogin(ctx context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
	if !mod.declares(sdk.HookLogin) {
		return sdk.LoginVerdict{}, mod.notServed(MethodOnLogin)
	}
	var v sdk.LoginVerdict
	err := mod.m.call(ctx, MethodOnLogin, func(ctx context.Context, inst *instance) error {
		c, err := moduleOf(inst)
		if err != nil {
			return err
		}
		v, err = c.OnLogin(ctx, ev)
		return err
	})
	return v, err
}

// OnJoin asks the module's OnJoin, like OnLogin.
func (mod *Module) OnJoin(ctx context.Context, ev sdk.JoinEvent) (sdk.JoinVerdict, error) {
	if !mod.declares(sdk.HookJoin) {
		return sdk.JoinVerdict{}, mod.notServed(MethodOnJoin)
	}
	var v sdk.JoinVerdict
	err := mod.m.call(ctx, MethodOnJoin, func(ctx context.Context, inst *instance) error {
		c, err := moduleOf(inst)
		if err != nil {
			return err
		}
		v, err = c.OnJoin(ctx, ev)
		return err
	})
	return v, err
}

// OnMessage asks the module's OnMessage, like OnLogin.
func (mod *Module) OnMessage(ctx context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error) {
	if !mod.declares(sdk.HookMessage) {
		return sdk.MessageVerdict{}, mod.notServed(MethodOnMessage)
	}
	var v sdk.MessageVerdict
	err := mod.m.call(ctx, MethodOnMessage, func(ctx context.Context, inst *instance) error {
		c, err := moduleOf(inst)
		if err != nil {
			return err
		}
		v, err = c.OnMessage(ctx, ev)
		return err
	})
	return v, err
}

// OnMessageAsync asks the module's OnMessage like OnMessage but returns
// at once; done gets the answer exactly once, usually on the goroutine
// that reads the plugin's answers, so it must not block. When the plugin
// is not running, or the connection is lost during the call, the call is
// made as OnMessage makes it (starting or restarting the plugin and
// retrying once) on a goroutine of its own.
func (mod *Module) OnMessageAsync(ctx context.Context, ev sdk.MessageEvent, done func(sdk.MessageVerdict, error)) {
	if !mod.declares(sdk.HookMessage) {
		done(sdk.MessageVerdict{}, mod.notServed(MethodOnMessage))
		return
	}
	inst := mod.m.running()
	if inst == nil || inst.module == nil {
		go func() { done(mod.OnMessage(ctx, ev)) }()
		return
	}
	parent := ctx
	c, ctx, cancel := mod.m.begin(ctx, MethodOnMessage)
	inst.module.OnMessageAsync(ctx, ev, func(v sdk.MessageVerdict, err error) {
		defer cancel()
		var refusal *sdk.Refusal
		if err != nil && !errors.As(err, &refusal) && ctx.Err() == nil && lostConnection(inst, err) {
			go func() { done(mod.OnMessage(parent, ev)) }()
			return
		}
		done(v, c.end(ctx, err))
	})
}

// Command hands a client command to the module. A type outside the
// module's declared prefixes is not sent (sdk.ErrNotServed); a refusal is
// a *sdk.Refusal.
func (mod *Module) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	caps, _ := mod.m.capabilities()
	if !slices.ContainsFunc(caps.Commands, func(p string) bool { return strings.HasPrefix(cmd.Type, p) && len(cmd.Type) > len(p) }) {
		return sdk.Reply{}, mod.notServed(MethodCommand + " " + cmd.Type)
	}
	var r sdk.Reply
	err := mod.m.call(ctx, MethodCommand, func(ctx context.Context, inst *instance) error {
		c, err := moduleOf(inst)
		if err != nil {
			return err
		}
		r, err = c.Command(ctx, cmd)
		return err
	})
	return r, err
}

// Notify sends a batch on the plugin's notification stream (one per
// plugin process), bounded by the call timeout and ctx. A module that did
// not declare notifications is not sent any.
func (mod *Module) Notify(ctx context.Context, batch []sdk.Notification) error {
	if !mod.declares(sdk.HookNotify) {
		return mod.notServed(MethodNotify)
	}
	return mod.m.call(ctx, MethodNotify, func(ctx context.Context, inst *instance) error {
		c, err := moduleOf(inst)
		if err != nil {
			return err
		}
		return c.Notify(ctx, batch)
	})
}

// ClusterEvents hands the module a batch of events its processes on
// other nodes published, bounded by the call timeout and ctx; it returns
// once the module has handled them. A module that did not declare
// sdk.HookCluster is not sent any. It implements
// core/modules.ClusterListener.
func (mod *Module) ClusterEvents(ctx context.Context, batch []sdk.ClusterEvent) error {
	if !mod.declares(sdk.HookCluster) {
		return mod.notServed(MethodCluster)
	}
	return mod.m.call(ctx, MethodCluster, func(ctx context.Context, inst *instance) error {
		c, err := moduleOf(inst)
		if err != nil {
			return err
		}
		return c.ClusterEvents(ctx, batch)
	})
}

// ServeHTTP forwards one request to the plugin, bounded by the host's
// CallTimeout (and ctx). A module that declared no HTTP prefix, or a path
// outside it, is not asked (sdk.ErrNotServed); one that has never run is
// started first, then asked if its prefix covers the path. A plugin that is down is
// restarted first; a call that loses the connection is retried once on
// the restarted plugin.
func (mod *Module) ServeHTTP(ctx context.Context, req sdk.HTTPRequest) (sdk.HTTPResponse, error) {
	if caps, known := mod.m.capabilities(); known && !servesPath(caps, req.Path) {
		return sdk.HTTPResponse{}, mod.notServed(MethodServeHTTP)
	}
	// A plugin that has never run is started by the call and asked if its
	// declaration covers the path.
	var res sdk.HTTPResponse
	err := mod.m.call(ctx, MethodServeHTTP, func(ctx context.Context, inst *instance) error {
		c, err := moduleOf(inst)
		if err != nil {
			return err
		}
		if !servesPath(inst.caps, req.Path) {
			return sdk.ErrNotServed
		}
		res, err = c.ServeHTTP(ctx, req)
		return err
	})
	return res, err
}

// servesPath reports whether caps declare an HTTP prefix covering path.
func servesPath(caps sdk.Capabilities, path string) bool {
	return caps.HTTPPrefix != "" && strings.HasPrefix(path, caps.HTTPPrefix)
}

// HTTPHandler serves HTTP requests through the plugin; mount it at the
// module's Capabilities().HTTPPrefix. Request bodies are limited to
// MaxModuleBody; the cookies named in hideCookies (the chat's session
// cookie) are removed before the request reaches the plugin. A path the
// module does not serve answers 404; when the plugin fails, the client
// gets 502 with a JSON error.
func (mod *Module) HTTPHandler(hideCookies ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxModuleBody))
		if err != nil {
			http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		header := r.Header.Clone()
		stripCookies(header, hideCookies)
		start := time.Now()
		res, err := mod.ServeHTTP(r.Context(), sdk.HTTPRequest{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Header: header, Body: body, RemoteIP: clientIP(r), Host: r.Host,
		})
		if errors.Is(err, sdk.ErrNotServed) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			mod.m.log.Warn("http request failed", "path", r.URL.Path, "error", err, "elapsed", time.Since(start))
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(httpFailure{Message: "The " + mod.m.name + " service is not available right now."})
			return
		}
		res.Write(w)
	})
}

// httpFailure is the JSON body of a 502 from HTTPHandler.
type httpFailure struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// stripCookies removes the named cookies from the Cookie header.
func stripCookies(h http.Header, names []string) {
	if len(names) == 0 || len(h.Values("Cookie")) == 0 {
		return
	}
	req := http.Request{Header: http.Header{"Cookie": h.Values("Cookie")}}
	var kept []string
	for _, c := range req.Cookies() {
		if !slices.Contains(names, c.Name) {
			kept = append(kept, c.Name+"="+c.Value)
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
