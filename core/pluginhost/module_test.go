package pluginhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parlorchat/parlor/core/modules"
	"github.com/parlorchat/parlor/sdk"
)

var _ modules.Plugin = (*Module)(nil)

// readyLog records Options.OnReady calls.
type readyLog struct {
	mu    sync.Mutex
	names []string
}

func (r *readyLog) add(name string) {
	r.mu.Lock()
	r.names = append(r.names, name)
	r.mu.Unlock()
}

func (r *readyLog) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.names {
		if s == name {
			n++
		}
	}
	return n
}

func modHandle(t *testing.T, h *Host, name string) *Module {
	t.Helper()
	mod, ok := h.Module(name)
	if !ok {
		t.Fatalf("no module %q", name)
	}
	return mod
}

// calls returns how many calls of method to plugin the histogram saw.
func calls(t *testing.T, h *Host, plugin, method string) uint64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "parlor_plugin_call_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["plugin"] == plugin && labels["method"] == method {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Capabilities are learnt once at start: kinds, hooks, commands, HTTP,
// assets; OnReady names every plugin that came up.
func TestModuleCapabilities(t *testing.T) {
	ready := &readyLog{}
	h, _ := start(t, Options{OnReady: ready.add}, Spec{Name: "mod"}, Spec{Name: "bare", Config: map[string]any{"prefix": "/bare/"}}, Spec{Name: "ok"})
	for _, name := range []string{"mod", "bare", "ok"} {
		if n := ready.count(name); n != 1 {
			t.Errorf("OnReady(%s) called %d times, want once", name, n)
		}
	}
	caps := modHandle(t, h, "mod").Capabilities()
	if !caps.Module || caps.Authenticator || len(caps.Hooks) != 6 || !slices.Equal(caps.Commands, []string{"mod."}) ||
		caps.HTTPPrefix != "/mod/" || caps.Client != "main.js" || len(caps.Assets) != 3 {
		t.Fatalf("mod capabilities %+v", caps)
	}
	if !modHandle(t, h, "mod").Ready() {
		t.Error("mod is not ready after Start")
	}
	if u := modHandle(t, h, "mod").ClientURL(); u != "/plugins/mod/main.js" {
		t.Errorf("ClientURL() = %q", u)
	}
	if caps := modHandle(t, h, "bare").Capabilities(); len(caps.Hooks) != 0 || len(caps.Commands) != 0 || caps.HTTPPrefix != "/bare/" {
		t.Fatalf("bare capabilities %+v", caps)
	}
	if _, ok := h.Module("ok"); ok {
		t.Error("an authenticator-only plugin is listed as a module")
	}
	if _, ok := h.Authenticator("mod"); ok {
		t.Error("a module-only plugin is listed as an authenticator")
	}
	var names []string
	for _, m := range h.Modules() {
		names = append(names, m.Name())
	}
	if !slices.Equal(names, []string{"mod", "bare"}) {
		t.Errorf("Modules() = %v", names)
	}
}

// A module that declares no hook is never called for one; a declared hook
// is, and every call is counted in the histogram.
func TestUndeclaredHooksAreNotCalled(t *testing.T) {
	h, _ := start(t, Options{}, Spec{Name: "mod"}, Spec{Name: "bare"})
	bare, mod := modHandle(t, h, "bare"), modHandle(t, h, "mod")
	ctx := bg(t)
	if _, err := bare.OnLogin(ctx, sdk.LoginEvent{Name: "ann"}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("OnLogin: %v", err)
	}
	if _, err := bare.OnJoin(ctx, sdk.JoinEvent{}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("OnJoin: %v", err)
	}
	if _, err := bare.OnMessage(ctx, sdk.MessageEvent{Text: "hang"}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("OnMessage: %v", err)
	}
	if _, err := bare.Command(ctx, sdk.Command{Type: "mod.seen"}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("Command: %v", err)
	}
	if err := bare.Notify(ctx, []sdk.Notification{{Kind: sdk.Joined}}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("Notify: %v", err)
	}
	if err := bare.ClusterEvents(ctx, []sdk.ClusterEvent{{Topic: "x"}}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("ClusterEvents: %v", err)
	}
	if _, err := mod.Command(ctx, sdk.Command{Type: "dice.roll"}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("Command of another prefix: %v", err)
	}
	for _, method := range []string{MethodOnLogin, MethodOnJoin, MethodOnMessage, MethodCommand, MethodNotify, MethodCluster} {
		if n := calls(t, h, "bare", method); n != 0 {
			t.Errorf("%s reached the plugin %d times", method, n)
		}
	}
	if _, err := mod.OnMessage(ctx, sdk.MessageEvent{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if n := calls(t, h, "mod", MethodOnMessage); n != 1 {
		t.Errorf("histogram has %d on_message samples for mod, want 1", n)
	}
}

// Hook verdicts, refusals, command replies and notifications cross the
// process boundary.
func TestModuleHooks(t *testing.T) {
	h, _ := start(t, Options{}, Spec{Name: "mod"})
	mod := modHandle(t, h, "mod")
	ctx := bg(t)
	if v, err := mod.OnLogin(ctx, sdk.LoginEvent{Name: "mallory"}); err != nil || !v.Deny || v.Reason != "not you, mallory" {
		t.Errorf("login: %+v, %v", v, err)
	}
	if v, err := mod.OnLogin(ctx, sdk.LoginEvent{Name: "ann"}); err != nil || v.Deny || v.Display != "ANN" {
		t.Errorf("login: %+v, %v", v, err)
	}
	_, err := mod.OnJoin(ctx, sdk.JoinEvent{User: sdk.Caller{Name: "ann", Role: sdk.RoleUser}, Room: sdk.Room{Name: "Stage", Moderated: true}})
	var r *sdk.Refusal
	if !errors.As(err, &r) || r.Code != "closed" || r.Message != "Room Stage is closed." {
		t.Errorf("join: %v", err)
	}
	style := sdk.Style{Italic: true, Color: "#00ff00"}
	if v, err := mod.OnMessage(ctx, sdk.MessageEvent{Text: "hi", Style: style}); err != nil || v.Action != sdk.Modify || v.Text != "HI" || v.Style != style {
		t.Errorf("message: %+v, %v", v, err)
	}
	if _, err := mod.OnMessage(ctx, sdk.MessageEvent{Text: "refuse"}); !errors.As(err, &r) || r.Code != "flood" {
		t.Errorf("refused message: %v", err)
	}
	reply, err := mod.Command(ctx, sdk.Command{Type: "mod.echo", Caller: sdk.Caller{Name: "ann", Role: sdk.RoleSpeaker}, Room: 4, Data: json.RawMessage(`{"type":"mod.echo","id":"7"}`)})
	if err != nil || string(reply.Data) != `{"caller":"ann","frame":{"type":"mod.echo","id":"7"},"role":"speaker","room":4}` {
		t.Errorf("command: %s, %v", reply.Data, err)
	}
	if _, err := mod.Command(ctx, sdk.Command{Type: "mod.nope"}); !errors.As(err, &r) || r.Code != "unknown" {
		t.Errorf("refused command: %v", err)
	}
	for range 3 {
		if err := mod.Notify(ctx, []sdk.Notification{{Kind: sdk.Joined, User: "ann", Room: 1}, {Kind: sdk.Left, User: "ann", Room: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		reply, err := mod.Command(ctx, sdk.Command{Type: "mod.seen"})
		if err == nil && string(reply.Data) == "6" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("module saw %s notifications (%v), want 6", reply.Data, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := calls(t, h, "mod", MethodNotify); n != 3 {
		t.Errorf("histogram has %d notify samples, want 3", n)
	}
	if err := mod.ClusterEvents(ctx, []sdk.ClusterEvent{{Node: "n2", Topic: "t.a", Data: []byte("1")}, {Node: "n3", Topic: "t.b"}}); err != nil {
		t.Fatal(err)
	}
	if reply, err := mod.Command(ctx, sdk.Command{Type: "mod.cluster"}); err != nil || string(reply.Data) != `["n2 t.a 1","n3 t.b "]` {
		t.Errorf("cluster events the module got: %s, %v", reply.Data, err)
	}
}

// A module's messages go on the message channel when its plugin takes
// it, and on the gRPC stream when it does not (a plugin of an earlier
// sdk): the answers are the same. Many calls at once are answered each
// with its own verdict.
func TestMessagesOnTheChannelAndWithout(t *testing.T) {
	h, _ := start(t, Options{}, Spec{Name: "mod"}, Spec{Name: "nochannel"})
	for _, c := range []struct {
		name    string
		channel bool
	}{{"mod", true}, {"nochannel", false}} {
		mod := modHandle(t, h, c.name)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				text := fmt.Sprintf("hi %d", i)
				if v, err := mod.OnMessage(bg(t), sdk.MessageEvent{Text: text}); err != nil || v.Text != strings.ToUpper(text) {
					t.Errorf("%s: message %q: %+v, %v", c.name, text, v, err)
				}
			})
		}
		wg.Wait()
		if got := mod.m.running().module.OnChannel(); got != c.channel {
			t.Errorf("%s: on the message channel: %v, want %v", c.name, got, c.channel)
		}
	}
}

// A hook call that hangs is cut at the call timeout; the module answers
// the next call.
func TestHangingHookTimesOut(t *testing.T) {
	h, _ := start(t, Options{CallTimeout: 300 * time.Millisecond}, Spec{Name: "mod"})
	mod := modHandle(t, h, "mod")
	_, err := mod.OnMessage(context.Background(), sdk.MessageEvent{Text: "hang"})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `plugin "mod": on_message timed out after 300ms`) {
		t.Fatalf("hanging hook: %v", err)
	}
	if v, err := mod.OnMessage(context.Background(), sdk.MessageEvent{Text: "next"}); err != nil || v.Text != "NEXT" {
		t.Fatalf("after the hang: %+v, %v", v, err)
	}
	if n := calls(t, h, "mod", MethodOnMessage); n != 2 {
		t.Errorf("histogram has %d samples, want 2", n)
	}
}

// A plugin that dies during a hook call is restarted and the call retried
// once: the caller gets the answer of the new process. The same
// capabilities do not call OnReady again.
func TestCrashedModuleIsRestartedAndCallRetried(t *testing.T) {
	ready := &readyLog{}
	marker := filepath.Join(t.TempDir(), "crashed")
	h, logs := start(t, Options{OnReady: ready.add}, Spec{Name: "mod", Config: map[string]any{"crash_file": marker}})
	mod := modHandle(t, h, "mod")
	pid := pidOf(t, h, "mod")
	v, err := mod.OnMessage(bg(t), sdk.MessageEvent{Text: "crash-once"})
	if err != nil || v.Action != sdk.Pass {
		t.Fatalf("call during a crash: %+v, %v\nlogs:\n%s", v, err, logs)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the plugin did not crash: %v", err)
	}
	if st := statusOf(h, "mod"); !st.Running || st.PID == pid || st.Restarts != 1 {
		t.Fatalf("status after the retry: %+v (old pid %d)", st, pid)
	}
	if !strings.Contains(logs.String(), "lost the plugin during a call") {
		t.Errorf("no log line for the lost call:\n%s", logs)
	}
	if n := ready.count("mod"); n != 1 {
		t.Errorf("OnReady called %d times for unchanged capabilities", n)
	}
	// A plugin that crashes on every try costs the call an error.
	if _, err := mod.OnMessage(bg(t), sdk.MessageEvent{Text: "crash"}); err == nil || !strings.Contains(err.Error(), `plugin "mod"`) {
		t.Fatalf("crash twice: %v", err)
	}
}

// A module that stops reading its notification stream costs a Notify no
// more than the call timeout; the next batch goes on a new stream.
func TestStuckNotificationStream(t *testing.T) {
	h, _ := start(t, Options{CallTimeout: 500 * time.Millisecond}, Spec{Name: "mod"})
	mod := modHandle(t, h, "mod")
	if err := mod.Notify(context.Background(), []sdk.Notification{{Kind: sdk.Joined, User: "hang"}}); err != nil {
		t.Fatal(err)
	}
	// Fill the stream's flow-control window until a send must wait.
	batch := make([]sdk.Notification, 2000)
	for i := range batch {
		batch[i] = sdk.Notification{Kind: sdk.Delivered, Room: 1, Message: &sdk.Message{Text: strings.Repeat("x", 100)}}
	}
	var err error
	for range 200 {
		if err = mod.Notify(context.Background(), batch); err != nil {
			break
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "notify timed out after 500ms") {
		t.Fatalf("notify on a stuck stream: %v", err)
	}
	if err := mod.Notify(context.Background(), []sdk.Notification{{Kind: sdk.Left, User: "ann"}}); err != nil {
		t.Fatalf("notify after the stuck stream: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		reply, err := mod.Command(context.Background(), sdk.Command{Type: "mod.seen"})
		if err == nil && string(reply.Data) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("module saw %s notifications on the new stream (%v), want 1", reply.Data, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestModuleHTTPHandler(t *testing.T) {
	h, _ := start(t, Options{}, Spec{Name: "mod"})
	srv := httptest.NewServer(modHandle(t, h, "mod").HTTPHandler("parlor_session"))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/mod/echo", strings.NewReader(url.Values{"say": {"hello"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "parlor_session=secret; theme=dark")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := `hello from 127.0.0.1 cookie "theme=dark"`; res.StatusCode != 200 || string(body) != want {
		t.Fatalf("got %d %q, want %q", res.StatusCode, body, want)
	}
	for _, path := range []string{"/other/echo", "/mod/missing"} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	if n := calls(t, h, "mod", MethodServeHTTP); n != 2 {
		t.Errorf("histogram has %d serve_http samples, want 2 (the path outside the prefix is not sent)", n)
	}
}

func TestAssets(t *testing.T) {
	h, _ := start(t, Options{}, Spec{Name: "mod"}, Spec{Name: "ok"})
	srv := httptest.NewServer(h.Assets())
	defer srv.Close()
	get := func(method, path string, header http.Header) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	cases := []struct{ path, ctype, body string }{
		{"/plugins/mod/main.js", "text/javascript; charset=utf-8", "export default function init(api) {}\n"},
		{"/plugins/mod/css/panel.css", "text/css; charset=utf-8", ".panel{}\n"},
		{"/plugins/mod/LICENSE", "application/octet-stream", "MIT\n"},
	}
	for _, c := range cases {
		res, body := get("GET", c.path, nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != c.ctype || body != c.body || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d %q %q %v", c.path, res.StatusCode, res.Header.Get("Content-Type"), body, res.Header)
		}
	}
	res, _ := get("GET", "/plugins/mod/main.js", nil)
	if res2, _ := get("GET", "/plugins/mod/main.js", http.Header{"If-None-Match": {res.Header.Get("ETag")}}); res.Header.Get("ETag") == "" || res2.StatusCode != 304 {
		t.Errorf("revalidation: etag %q, status %d", res.Header.Get("ETag"), res2.StatusCode)
	}
	for _, path := range []string{"/plugins/mod/missing.js", "/plugins/ghost/main.js", "/plugins/ok/main.js", "/plugins/mod/", "/plugins/mod", "/other/mod/main.js", "/plugins/mod/../ok/x"} {
		if res, _ := get("GET", path, nil); res.StatusCode != 404 || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	if res, _ := get("POST", "/plugins/mod/main.js", nil); res.StatusCode != 405 {
		t.Errorf("POST: %d, want 405", res.StatusCode)
	}
}

// BenchmarkOnMessage measures one OnMessage call through the host to a
// module process (the module upper-cases the text).
func BenchmarkOnMessage(b *testing.B) {
	h := New(Options{Dir: binDir, Logger: hclog.NewNullLogger()}, []Spec{{Name: "mod"}})
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer h.Stop()
	mod, _ := h.Module("mod")
	ev := sdk.MessageEvent{From: sdk.Caller{Name: "ann", Role: sdk.RoleUser, Room: 1}, Room: 1, Text: "hello there"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if v, err := mod.OnMessage(context.Background(), ev); err != nil || v.Text != "HELLO THERE" {
				b.Fatalf("got %+v, %v", v, err)
			}
		}
	})
}

// BenchmarkOnMessageIdle measures a call on an idle host, one every 3 ms
// as users talk: each call finds both processes asleep, so it pays their
// wake-ups, which cost more than the call. The sub-benchmarks compare the
// message channel with the gRPC stream (a plugin that leaves the channel
// alone); each reports the median and 99th percentile of the round trip
// and the plugin's CPU per call.
func BenchmarkOnMessageIdle(b *testing.B) {
	h := New(Options{Dir: binDir, Logger: hclog.NewNullLogger()}, []Spec{{Name: "mod"}, {Name: "nochannel"}})
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer h.Stop()
	ev := sdk.MessageEvent{From: sdk.Caller{Name: "ann", Role: sdk.RoleUser, Room: 1}, Room: 1, Text: "hello there"}
	for _, c := range []struct{ name, plugin string }{{"channel", "mod"}, {"grpc", "nochannel"}} {
		b.Run(c.name, func(b *testing.B) {
			mod, _ := h.Module(c.plugin)
			if _, err := mod.OnMessage(context.Background(), ev); err != nil {
				b.Fatal(err)
			}
			pid := mod.m.running().pid
			var took []time.Duration
			cpu0 := cpuTime(b, pid)
			for b.Loop() {
				time.Sleep(3 * time.Millisecond)
				t0 := time.Now()
				if _, err := mod.OnMessage(context.Background(), ev); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
			}
			cpu := cpuTime(b, pid) - cpu0
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(cpu.Microseconds())/float64(len(took)), "plugin-cpu-µs/op")
		})
	}
}

// cpuTime is the CPU time process pid has used so far (Linux; clock
// ticks of 10 ms).
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Skipf("no CPU time of the plugin: %v", err)
	}
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// memHost is a Host API with a KV only, served to the test module.
type memHost struct {
	sdk.Host
	mu sync.Mutex
	kv map[string][]byte
}

func newMemHost() *memHost { return &memHost{kv: map[string][]byte{}} }

func (h *memHost) KV() sdk.KV { return h }

func (h *memHost) Get(_ context.Context, key string) ([]byte, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.kv[key]
	return v, ok, nil
}

func (h *memHost) Set(_ context.Context, key string, value []byte, _ time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.kv[key] = value
	return nil
}

func (h *memHost) Delete(_ context.Context, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.kv, key)
	return nil
}

func (h *memHost) value(key string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.kv[key])
}

// Stop calls a module's Stop hook once, before the process ends and
// while the Host API still works: what Stop writes through it is there
// afterwards. A module without the hook is not asked.
func TestStopHookRunsWithTheHostAPI(t *testing.T) {
	host := newMemHost()
	h, logs := start(t, Options{HostAPI: func(string) sdk.Host { return host }}, Spec{Name: "mod"}, Spec{Name: "bare"})
	pid := pidOf(t, h, "mod")
	h.Stop()
	if v := host.value("stops"); v != "+" {
		t.Fatalf("KV stops = %q after Stop, want %q (one Stop that reached the Host API)\nlogs:\n%s", v, "+", logs)
	}
	if !gone(pid, time.Second) {
		t.Errorf("process %d still exists after Stop", pid)
	}
	h.Stop()
	if v := host.value("stops"); v != "+" {
		t.Errorf("KV stops = %q after a second Stop, want the hook called once", v)
	}
	if n := calls(t, h, "mod", MethodStop); n != 1 {
		t.Errorf("%d stop calls to mod, want 1", n)
	}
	if n := calls(t, h, "bare", MethodStop); n != 0 {
		t.Errorf("%d stop calls to bare, which has no Stop", n)
	}
	if l := logs.String(); strings.Contains(l, "module stop failed") || strings.Contains(l, "module stop timed out") {
		t.Errorf("a warning about a Stop that worked:\n%s", logs)
	}
}

// A Stop hook that never returns holds the shutdown for the stop timeout
// only; the process is ended all the same, with a warning.
func TestHangingStopDoesNotHoldTheShutdown(t *testing.T) {
	host := newMemHost()
	const limit = 300 * time.Millisecond
	h, logs := start(t, Options{StopTimeout: limit, HostAPI: func(string) sdk.Host { return host }},
		Spec{Name: "mod", Config: map[string]any{"stop": "hang"}})
	pid := pidOf(t, h, "mod")
	begin := time.Now()
	h.Stop()
	took := time.Since(begin)
	t.Logf("Stop took %s", took)
	if host.value("stopping") != "yes" {
		t.Fatalf("the Stop hook was not called\nlogs:\n%s", logs)
	}
	if took < limit || took > limit+2*time.Second {
		t.Errorf("Stop took %s with a hook that hangs and a stop timeout of %s", took, limit)
	}
	if !gone(pid, time.Second) {
		t.Errorf("process %d still exists after Stop", pid)
	}
	if !strings.Contains(logs.String(), "module stop timed out") {
		t.Errorf("no warning about the hanging Stop:\n%s", logs)
	}
}
