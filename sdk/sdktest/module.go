package sdktest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/parlorchat/parlor/sdk"
)

// CallTimeout bounds each call a ModuleHandle makes when the caller's
// context has no earlier deadline.
const CallTimeout = 10 * time.Second

// ConnectModule serves impl over an in-process gRPC connection, with host
// offered as the Host API through the go-plugin broker exactly as the
// server does, and returns the host side without calling Configure. host
// may be nil (no Host API). The connection is closed when the test ends.
func ConnectModule(t testing.TB, impl sdk.Module, host sdk.Host) *sdk.ModuleClient {
	t.Helper()
	if impl == nil {
		t.Fatal("sdktest: nil module")
	}
	set := plugin.PluginSet{sdk.ModulePluginName: &sdk.ModulePlugin{Impl: impl, Host: host}}
	if a, ok := impl.(sdk.Authenticator); ok {
		set[sdk.ModulePluginName].(*sdk.ModulePlugin).Auth = a
	}
	client, server := plugin.TestPluginGRPCConn(t, false, set)
	t.Cleanup(func() {
		server.Stop()
		_ = client.Conn.Close()
	})
	raw, err := client.Dispense(sdk.ModulePluginName)
	if err != nil {
		t.Fatalf("sdktest: dispense %s: %v", sdk.ModulePluginName, err)
	}
	m, ok := raw.(*sdk.ModuleClient)
	if !ok {
		t.Fatalf("sdktest: dispensed %T, not an *sdk.ModuleClient", raw)
	}
	return m
}

// ModuleHandle drives a module served in-process the way the server
// does: every call goes through the plugin protocol (its gRPC encoding,
// the refusals it carries, the hooks the module did not declare). Its
// methods are those of the server's module pipeline (core/modules.Plugin),
// so a handle can stand in for a plugin process.
type ModuleHandle struct {
	t      testing.TB
	name   string
	client *sdk.ModuleClient
	caps   sdk.Capabilities
}

// Module serves impl like ConnectModule, configures it with cfg (see
// Config) and host, as the server does with a plugin's `config` block, and
// returns a handle on it. A Configure error fails the test.
func Module(t testing.TB, impl sdk.Module, cfg any, host sdk.Host) *ModuleHandle {
	t.Helper()
	c := ConnectModule(t, impl, host)
	ctx, cancel := context.WithTimeout(context.Background(), ConfigureTimeout)
	defer cancel()
	caps, err := c.Setup(ctx, Config(t, cfg))
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	h := &ModuleHandle{t: t, name: "module", client: c, caps: caps}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ConfigureTimeout)
		defer cancel()
		_ = c.CloseNotify(ctx)
	})
	return h
}

// SetName sets what Name answers ("module" by default).
func (h *ModuleHandle) SetName(name string) { h.name = name }

// Name is the module's name as the host would know it.
func (h *ModuleHandle) Name() string { return h.name }

// Client is the host side of the connection.
func (h *ModuleHandle) Client() *sdk.ModuleClient { return h.client }

// Capabilities is what the module declared when it was configured.
func (h *ModuleHandle) Capabilities() sdk.Capabilities { return h.caps }

func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, CallTimeout)
}

// declared reports whether the module declared hook; the host never
// calls a hook that is not declared, and neither does the handle.
func (h *ModuleHandle) declared(hook string) bool {
	for _, d := range h.caps.Hooks {
		if d == hook {
			return true
		}
	}
	return false
}

// OnLogin asks the module's OnLogin; a module without one answers an
// error wrapping sdk.ErrNotServed, a refusal is a *sdk.Refusal.
func (h *ModuleHandle) OnLogin(ctx context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
	if !h.declared(sdk.HookLogin) {
		return sdk.LoginVerdict{}, sdk.ErrNotServed
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	return h.client.OnLogin(ctx, ev)
}

// OnJoin asks the module's OnJoin, like OnLogin.
func (h *ModuleHandle) OnJoin(ctx context.Context, ev sdk.JoinEvent) (sdk.JoinVerdict, error) {
	if !h.declared(sdk.HookJoin) {
		return sdk.JoinVerdict{}, sdk.ErrNotServed
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	return h.client.OnJoin(ctx, ev)
}

// OnMessage asks the module's OnMessage, like OnLogin.
func (h *ModuleHandle) OnMessage(ctx context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error) {
	if !h.declared(sdk.HookMessage) {
		return sdk.MessageVerdict{}, sdk.ErrNotServed
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	return h.client.OnMessage(ctx, ev)
}

// Command hands a client command to the module; a type outside the
// declared prefixes answers an error wrapping sdk.ErrNotServed.
func (h *ModuleHandle) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	owned := false
	for _, p := range h.caps.Commands {
		owned = owned || (len(cmd.Type) > len(p) && cmd.Type[:len(p)] == p)
	}
	if !owned {
		return sdk.Reply{}, sdk.ErrNotServed
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	return h.client.Command(ctx, cmd)
}

// Notify sends a batch of notifications and returns once the module has
// handled it, so a test can look at its effect right away. As on the
// server, the module gets only the kinds it declared (Manifest.Notify); a
// batch left empty is not sent.
func (h *ModuleHandle) Notify(ctx context.Context, batch []sdk.Notification) error {
	if !h.declared(sdk.HookNotify) {
		return sdk.ErrNotServed
	}
	if len(h.caps.Notify) > 0 {
		kept := make([]sdk.Notification, 0, len(batch))
		for _, n := range batch {
			if slices.Contains(h.caps.Notify, n.Kind) {
				kept = append(kept, n)
			}
		}
		if batch = kept; len(batch) == 0 {
			return nil
		}
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	if err := h.client.Notify(ctx, batch); err != nil {
		return err
	}
	return h.client.CloseNotify(ctx)
}

// Stop calls the module's Stop as the server does before it ends the
// plugin process (the Host API still served); a module that is not an
// sdk.Stopper answers an error wrapping sdk.ErrNotServed.
func (h *ModuleHandle) Stop(ctx context.Context) error {
	if !h.declared(sdk.HookStop) {
		return sdk.ErrNotServed
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	return h.client.Stop(ctx)
}

// ClusterEvents hands the module a batch of events as the server does
// with what the plugin's processes on other nodes published, and returns
// once the module has handled them; a module that is not an
// sdk.ClusterListener answers an error wrapping sdk.ErrNotServed.
// Cluster delivers to attached handles this way.
func (h *ModuleHandle) ClusterEvents(ctx context.Context, batch []sdk.ClusterEvent) error {
	if !h.declared(sdk.HookCluster) {
		return sdk.ErrNotServed
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	return h.client.ClusterEvents(ctx, batch)
}

// HTTP is an http.Handler forwarding to the module's HTTP handler as the
// server does (use it with httptest); a module without HTTP answers 404,
// a failing one 502.
func (h *ModuleHandle) HTTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		ctx, cancel := bounded(r.Context())
		defer cancel()
		res, err := h.client.ServeHTTP(ctx, sdk.HTTPRequest{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(),
			Body: body, RemoteIP: ip, Host: r.Host,
		})
		switch {
		case errors.Is(err, sdk.ErrNotServed):
			http.NotFound(w, r)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		res.Write(w)
	})
}
