package sdk_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// both is a module that is also an authenticator.
type both struct {
	configured atomic.Int32
	host       atomic.Bool
}

func (b *both) Configure(_ context.Context, cfg sdk.Config) error {
	b.configured.Add(1)
	b.host.Store(cfg.Host != nil)
	var c struct {
		Fail bool `json:"fail"`
	}
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	if c.Fail {
		return errors.New("told to fail")
	}
	return nil
}

func (b *both) Authenticate(context.Context, sdk.AuthRequest) (sdk.AuthResult, error) {
	return sdk.AuthResult{Code: sdk.OK}, nil
}

func (b *both) ServeHTTP(_ context.Context, req sdk.HTTPRequest) (sdk.HTTPResponse, error) {
	if req.Path == "/panic" {
		panic("boom")
	}
	return sdk.HTTPResponse{
		Status: 201,
		Header: map[string][]string{"X-Echo": {req.Method + " " + req.Path + "?" + req.RawQuery}, "Set-Cookie": {"a=1", "b=2"}},
		Body:   append([]byte("got "), req.Body...),
	}, nil
}

func TestPluginSetKinds(t *testing.T) {
	auth := sdk.PluginSet(sdk.ServeOpts{Authenticator: &both{}})
	if _, ok := auth[sdk.ModulePluginName]; ok {
		t.Error("an authenticator-only plugin serves a module")
	}
	mod := sdk.PluginSet(sdk.ServeOpts{Module: &both{}})
	if _, ok := mod[sdk.AuthenticatorPluginName]; ok {
		t.Error("a module-only plugin serves an authenticator")
	}
	host := sdk.PluginSet(sdk.ServeOpts{})
	if len(host) != 2 {
		t.Errorf("the host's set has %d entries, want both kinds", len(host))
	}
}

func TestModuleServeHTTP(t *testing.T) {
	impl := &both{}
	m := sdktest.Module(t, impl, map[string]any{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := m.ServeHTTP(ctx, sdk.HTTPRequest{Method: "POST", Path: "/x/y", RawQuery: "a=1", Body: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 201 || string(res.Body) != "got hi" || res.Header["X-Echo"][0] != "POST /x/y?a=1" || len(res.Header["Set-Cookie"]) != 2 {
		t.Fatalf("response %+v", res)
	}
	// A panic is an error for this request; the plugin stays up.
	if _, err := m.ServeHTTP(ctx, sdk.HTTPRequest{Path: "/panic"}); err == nil {
		t.Fatal("a panic answered no error")
	}
	if _, err := m.ServeHTTP(ctx, sdk.HTTPRequest{Path: "/again"}); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
	// Without a Host API the module gets none.
	if impl.host.Load() {
		t.Fatal("cfg.Host set although the host offered none")
	}
}

func TestModuleConfiguresAuthenticatorOnce(t *testing.T) {
	impl := &both{}
	set := plugin.PluginSet{sdk.ModulePluginName: &sdk.ModulePlugin{Impl: impl, Auth: impl}}
	client, server := plugin.TestPluginGRPCConn(t, false, set)
	t.Cleanup(func() { server.Stop(); _ = client.Conn.Close() })
	raw, err := client.Dispense(sdk.ModulePluginName)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := raw.(*sdk.ModuleClient).Setup(ctx, sdk.Config{})
	if err != nil || !info.Authenticator {
		t.Fatalf("setup: %+v %v", info, err)
	}
	if n := impl.configured.Load(); n != 1 {
		t.Fatalf("configured %d times, want once", n)
	}
	if _, err := raw.(*sdk.ModuleClient).Setup(ctx, sdk.Config{Raw: []byte(`{"fail":true}`)}); err == nil {
		t.Fatal("a failing Configure answered no error")
	}
}

func TestModuleNotServed(t *testing.T) {
	// An authenticator-only plugin answers module calls with ErrNotServed.
	set := sdk.PluginSet(sdk.ServeOpts{Authenticator: &both{}})
	client, server := plugin.TestPluginGRPCConn(t, false, set)
	t.Cleanup(func() { server.Stop(); _ = client.Conn.Close() })
	mp := &sdk.ModulePlugin{}
	raw, err := mp.GRPCClient(context.Background(), nil, client.Conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := raw.(*sdk.ModuleClient).Setup(ctx, sdk.Config{}); !errors.Is(err, sdk.ErrNotServed) {
		t.Fatalf("setup of an authenticator: %v", err)
	}
}
