package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/parlorchat/parlor/sdk"
)

// MaxModuleBody is the largest request body forwarded to a module.
const MaxModuleBody = 1 << 20

// kinds records what a plugin serves.
type kinds struct {
	known  bool // set after the first successful launch
	auth   bool
	module bool
}

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

// configure hands cfg to a freshly launched instance: through the module
// when the plugin serves one (which configures its authenticator too),
// otherwise through the authenticator. It records what the plugin serves.
func (m *managed) configure(ctx context.Context, inst *instance, cfg sdk.Config) error {
	k := kinds{known: true, auth: true}
	raw, err := inst.rpc.Dispense(sdk.ModulePluginName)
	if err != nil {
		return fmt.Errorf("dispense %s: %w", sdk.ModulePluginName, err)
	}
	mod, ok := raw.(*sdk.ModuleClient)
	if !ok {
		return fmt.Errorf("dispensed %T, not a module", raw)
	}
	info, err := mod.Setup(ctx, cfg)
	switch {
	case errors.Is(err, sdk.ErrNotServed):
		if err := inst.auth.Configure(ctx, cfg); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		inst.module = mod
		k.module, k.auth = true, info.Authenticator
	}
	m.mu.Lock()
	m.kinds = k
	m.mu.Unlock()
	return nil
}

// servesAuth reports whether the plugin serves an authenticator (true until
// it is known).
func (m *managed) servesAuth() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.kinds.known || m.kinds.auth
}

// servesModule reports whether the plugin serves a module (true until it
// is known, for a plugin that has not started yet).
func (m *managed) servesModule() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.kinds.known || m.kinds.module
}

// Module is the host's handle on a module plugin. It stays valid across
// restarts of the plugin and is safe for concurrent use.
type Module struct {
	m *managed
}

// Module returns the handle of the plugin called name when it serves a
// module, or may: a plugin that is down since start-up is not known yet,
// and its handle answers once it runs (sdk.ErrNotServed if it turns out
// to serve no module).
func (h *Host) Module(name string) (*Module, bool) {
	m, ok := h.plugins[name]
	if !ok || !m.servesModule() {
		return nil, false
	}
	return &Module{m: m}, true
}

// Modules lists the plugins that serve a module, in spec order.
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

// ServeHTTP forwards one request to the plugin, bounded by the host's
// CallTimeout (and ctx). A plugin that is down is restarted first; a call
// that loses the connection is retried once on the restarted plugin.
func (mod *Module) ServeHTTP(ctx context.Context, req sdk.HTTPRequest) (sdk.HTTPResponse, error) {
	m := mod.m
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	fail := func(err error) (sdk.HTTPResponse, error) {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return sdk.HTTPResponse{}, fmt.Errorf("plugin %q: serve http timed out after %s: %w", m.name, m.timeout, context.DeadlineExceeded)
		}
		return sdk.HTTPResponse{}, fmt.Errorf("plugin %q: %w", m.name, err)
	}
	inst, err := m.current(ctx)
	if err != nil {
		return fail(err)
	}
	if inst.module == nil {
		return fail(sdk.ErrNotServed)
	}
	res, err := inst.module.ServeHTTP(ctx, req)
	if err == nil {
		return res, nil
	}
	if ctx.Err() == nil && lostConnection(inst, err) {
		m.log.Warn("lost the plugin during a call; restarting it", "error", err)
		inst, rerr := m.ensure(ctx, inst)
		if rerr != nil {
			return fail(fmt.Errorf("%w (restart: %w)", err, rerr))
		}
		if inst.module == nil {
			return fail(sdk.ErrNotServed)
		}
		if res, err = inst.module.ServeHTTP(ctx, req); err == nil {
			return res, nil
		}
	}
	return fail(err)
}

// HTTPHandler serves HTTP requests through the plugin. Request bodies are
// limited to MaxModuleBody; the cookies named in hideCookies (the chat's
// session cookie) are removed before the request reaches the plugin. When
// the plugin fails, the client gets 502 with a JSON error.
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
			Header: header, Body: body, RemoteIP: clientIP(r),
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
			_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "message": "The " + mod.m.name + " service is not available right now."})
			return
		}
		for name, values := range res.Header {
			for _, v := range values {
				w.Header().Add(name, v)
			}
		}
		w.WriteHeader(res.Status)
		_, _ = w.Write(res.Body)
	})
}

// stripCookies removes the named cookies from the Cookie header.
func stripCookies(h http.Header, names []string) {
	if len(names) == 0 || len(h.Values("Cookie")) == 0 {
		return
	}
	req := http.Request{Header: http.Header{"Cookie": h.Values("Cookie")}}
	var kept []string
	for _, c := range req.Cookies() {
		hidden := false
		for _, n := range names {
			hidden = hidden || c.Name == n
		}
		if !hidden {
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
