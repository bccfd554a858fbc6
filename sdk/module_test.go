package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// both is a module that is also an authenticator and serves HTTP.
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

func (b *both) Manifest() sdk.Manifest {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /x/form", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "name=%s q=%s ip=%s host=%s cookie=%s", r.FormValue("name"), r.URL.Query().Get("q"), sdk.ClientIP(r), r.Host, r.Header.Get("Cookie"))
	})
	mux.HandleFunc("GET /x/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("GET /x/huge", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), sdk.MaxHTTPResponse+1))
	})
	return sdk.Manifest{HTTPPrefix: "/x/", HTTP: mux}
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

// A module's http.Handler sees a plain *http.Request: form, query, client
// address, Host and headers; its status, headers and body come back.
func TestModuleHTTPHandler(t *testing.T) {
	impl := &both{}
	m := sdktest.Module(t, impl, map[string]any{}, nil)
	if caps := m.Capabilities(); caps.HTTPPrefix != "/x/" || !caps.Authenticator || !caps.Module || len(caps.Hooks) != 0 {
		t.Fatalf("capabilities %+v", caps)
	}
	srv := httptest.NewServer(m.HTTP())
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/x/form?q=hi", strings.NewReader(url.Values{"name": {"Zoë & co"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "c=3")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if want := "name=Zoë & co q=hi ip=127.0.0.1 host=" + host + " cookie=c=3"; res.StatusCode != 201 || string(body) != want || len(res.Header.Values("Set-Cookie")) != 2 {
		t.Fatalf("got %d %q %v, want 201 %q", res.StatusCode, body, res.Header, want)
	}
	for path, code := range map[string]int{"/x/nothing": 404, "/x/panic": 502, "/x/huge": 502, "/x/again": 404} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != code {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, code)
		}
	}
	// Without a Host API the module gets none.
	if impl.host.Load() {
		t.Fatal("cfg.Host set although the host offered none")
	}
}

// hooked implements every hook; noHTTP serves nothing over HTTP.
type hooked struct{}

func (hooked) OnLogin(context.Context, sdk.LoginEvent) (sdk.LoginVerdict, error) {
	return sdk.LoginVerdict{}, nil
}
func (hooked) OnJoin(context.Context, sdk.JoinEvent) (sdk.JoinVerdict, error) {
	return sdk.JoinVerdict{}, nil
}
func (hooked) OnMessage(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
	return sdk.MessageVerdict{}, nil
}
func (hooked) OnNotify(context.Context, []sdk.Notification) {}

type manifested struct{ m sdk.Manifest }

func (m manifested) Manifest() sdk.Manifest { return m.m }

type commanding struct{ manifested }

type notifying struct{ manifested }

func (notifying) OnNotify(context.Context, []sdk.Notification) {}

func (commanding) Command(context.Context, sdk.Command) (sdk.Reply, error) { return sdk.Reply{}, nil }

// The sdk declares exactly the hooks a module implements, and refuses a
// declaration that cannot work with a sentence saying why.
func TestModuleCapabilities(t *testing.T) {
	caps, err := sdk.ModuleCapabilities(hooked{})
	if err != nil || !slices.Equal(caps.Hooks, []string{sdk.HookLogin, sdk.HookJoin, sdk.HookMessage, sdk.HookNotify}) {
		t.Fatalf("hooked: %+v, %v", caps, err)
	}
	caps, err = sdk.ModuleCapabilities(struct{}{})
	if err != nil || len(caps.Hooks) != 0 || !caps.Module {
		t.Fatalf("no hooks: %+v, %v", caps, err)
	}
	assets := fstest.MapFS{"main.js": {Data: []byte("export {}")}, "img/a.png": {Data: []byte("png")}}
	caps, err = sdk.ModuleCapabilities(commanding{manifested{sdk.Manifest{Commands: []string{"dice."}, Quiet: []string{"dice.list"}, Assets: assets, Client: "main.js", FailClosed: true}}})
	if err != nil || !slices.Equal(caps.Commands, []string{"dice."}) || string(caps.Assets["img/a.png"]) != "png" || caps.Client != "main.js" || !caps.FailClosed || caps.Quiet[0] != "dice.list" {
		t.Fatalf("manifest: %+v, %v", caps, err)
	}
	huge := fstest.MapFS{"a.bin": {Data: make([]byte, sdk.MaxAssetBytes/2+1)}, "b.bin": {Data: make([]byte, sdk.MaxAssetBytes/2)}}
	bad := map[string]struct {
		m    sdk.Module
		want string
	}{
		"commands without Command": {manifested{sdk.Manifest{Commands: []string{"dice."}}}, "has no Command method"},
		"Command without prefixes": {commanding{}, "declares no command prefix"},
		"prefix without dot":       {commanding{manifested{sdk.Manifest{Commands: []string{"dice"}}}}, `"dice" must be a word ending in '.'`},
		"handler without prefix":   {manifested{sdk.Manifest{HTTP: http.NotFoundHandler()}}, "without an HTTPPrefix"},
		"bad prefix":               {manifested{sdk.Manifest{HTTP: http.NotFoundHandler(), HTTPPrefix: "/x"}}, "must start and end with '/'"},
		"assets too large":         {manifested{sdk.Manifest{Assets: huge}}, "over the limit of 4194304 bytes (4 MiB)"},
		"client not an asset":      {manifested{sdk.Manifest{Assets: assets, Client: "app.js"}}, `client "app.js" is not one of the assets`},
		"kinds without OnNotify":   {manifested{sdk.Manifest{Notify: []sdk.NotificationKind{sdk.RoomChanged}}}, "has no OnNotify method"},
		"unknown kind":             {notifying{manifested{sdk.Manifest{Notify: []sdk.NotificationKind{"room_change"}}}}, `notification kind "room_change" is not one of`},
	}
	for name, c := range bad {
		if _, err := sdk.ModuleCapabilities(c.m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	// A module refusing its declarations fails Configure with the reason.
	c := sdktest.ConnectModule(t, manifested{sdk.Manifest{Assets: huge}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Setup(ctx, sdk.Config{}); err == nil || !strings.Contains(err.Error(), "4 MiB") {
		t.Fatalf("setup with huge assets: %v", err)
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
	caps, err := raw.(*sdk.ModuleClient).Setup(ctx, sdk.Config{})
	if err != nil || !caps.Authenticator || !caps.Module {
		t.Fatalf("setup: %+v %v", caps, err)
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

// A module without a hook answers ErrNotServed even when asked directly.
func TestUndeclaredHookNotServed(t *testing.T) {
	m := sdktest.Module(t, &both{}, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.Client().OnMessage(ctx, sdk.MessageEvent{Text: "hi"}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("OnMessage: %v", err)
	}
	if _, err := m.Client().Command(ctx, sdk.Command{Type: "x.y"}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("Command: %v", err)
	}
	// The refusal comes with the send when the stream has ended by then,
	// or else at the stream's end.
	err := m.Client().Notify(ctx, []sdk.Notification{{Kind: sdk.Joined}})
	if err == nil {
		err = m.Client().CloseNotify(ctx)
	}
	if !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("Notify: %v", err)
	}
}

func TestConfigDecodeStrict(t *testing.T) {
	var c struct {
		Greeting string `json:"greeting"`
		Count    int    `json:"count"`
	}
	cases := map[string]string{
		`{"greting":"hi"}`:        `decode plugin config: unknown key "greting"`,
		`{"count":"three"}`:       `decode plugin config: key "count": string is not a int`,
		`{"greeting":"a"} {}`:     "unexpected data after",
		`{"greeting":`:            "decode plugin config",
		`{"greeting":"a","x":{}}`: `unknown key "x"`,
	}
	for raw, want := range cases {
		err := sdk.Config{Raw: []byte(raw)}.Decode(&c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
	for _, raw := range []string{``, `null`, ` {"greeting":"hi","count":2} `} {
		if err := (sdk.Config{Raw: []byte(raw)}).Decode(&c); err != nil {
			t.Errorf("%q: %v", raw, err)
		}
	}
	if c.Greeting != "hi" || c.Count != 2 {
		t.Fatalf("decoded %+v", c)
	}
}

// stopper saves a counter through the Host API's KV in Stop, or hangs
// there until its context ends.
type stopper struct {
	notifying
	host sdk.Host
	hang bool
}

func (s *stopper) Configure(_ context.Context, cfg sdk.Config) error {
	s.host = cfg.Host
	return nil
}

func (s *stopper) Stop(ctx context.Context) error {
	if s.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	v, _, err := s.host.KV().Get(ctx, "stops")
	if err != nil {
		return err
	}
	return s.host.KV().Set(ctx, "stops", append(v, '+'), 0)
}

// kvHost is a Host API with a KV only.
type kvHost struct {
	sdk.Host
	mu sync.Mutex
	kv map[string][]byte
}

func (h *kvHost) KV() sdk.KV { return h }

func (h *kvHost) Get(_ context.Context, key string) ([]byte, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.kv[key]
	return v, ok, nil
}

func (h *kvHost) Set(_ context.Context, key string, value []byte, _ time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.kv[key] = value
	return nil
}

func (h *kvHost) Delete(_ context.Context, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.kv, key)
	return nil
}

// A Stopper declares the stop hook; its Stop crosses the wire with the
// host's deadline and may use the Host API; the notification kinds a
// module wants reach the host side. A module that is not a Stopper
// answers ErrNotServed.
func TestModuleStopAndNotifyKinds(t *testing.T) {
	host := &kvHost{kv: map[string][]byte{}}
	kinds := []sdk.NotificationKind{sdk.RoomChanged, sdk.MessageHeld}
	m := &stopper{notifying: notifying{manifested{sdk.Manifest{Notify: kinds}}}}
	h := sdktest.Module(t, m, nil, host)
	caps := h.Capabilities()
	if !slices.Equal(caps.Hooks, []string{sdk.HookNotify, sdk.HookStop}) || !slices.Equal(caps.Notify, kinds) {
		t.Fatalf("capabilities %+v", caps)
	}
	if err := h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := host.Get(context.Background(), "stops"); string(v) != "+" {
		t.Fatalf("KV after Stop: %q, want one stop saved", v)
	}

	hung := sdktest.Module(t, &stopper{hang: true}, nil, host)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := hung.Stop(ctx); err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("a hanging Stop: %v after %s", err, time.Since(start))
	}

	plain := sdktest.Module(t, hooked{}, nil, host)
	if err := plain.Client().Stop(context.Background()); !errors.Is(err, sdk.ErrNotServed) {
		t.Fatalf("Stop of a module without one: %v", err)
	}
}
