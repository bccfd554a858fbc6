package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

// binDir holds the test plugins, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "go tool not found; cannot build the test plugins:", err)
		return 1
	}
	cmd := exec.Command(gobin, "build", "-o", dir+string(filepath.Separator),
		"./testdata/parlor-plugin-ok", "./testdata/parlor-plugin-hang", "./testdata/parlor-plugin-crash",
		"./testdata/parlor-plugin-dies", "./testdata/parlor-plugin-mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build test plugins: %v\n%s", err, out)
		return 1
	}
	for _, link := range []string{"parlor-plugin-bare", "parlor-plugin-nochannel"} {
		if err := os.Symlink(filepath.Join(dir, "parlor-plugin-mod"), filepath.Join(dir, link)); err != nil {
			fmt.Fprintln(os.Stderr, "link the test module:", err)
			return 1
		}
	}
	binDir = dir
	return m.Run()
}

// start builds a host over binDir with fast timings unless opts says
// otherwise, starts it and stops it when the test ends.
func start(t *testing.T, opts Options, specs ...Spec) (*Host, *testenv.LogBuffer) {
	t.Helper()
	logs := &testenv.LogBuffer{}
	if opts.Dir == "" {
		opts.Dir = binDir
	}
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 2 * time.Second
	}
	if opts.HealthInterval == 0 {
		opts.HealthInterval = time.Hour // tests that want the loop say so
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = time.Second
	}
	opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "pluginhost", Level: hclog.Debug, Output: logs})
	h := New(opts, specs)
	t.Cleanup(h.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatalf("start: %v\nlogs:\n%s", err, logs)
	}
	return h, logs
}

func handle(t *testing.T, h *Host, name string) *Authenticator {
	t.Helper()
	a, ok := h.Authenticator(name)
	if !ok {
		t.Fatalf("no authenticator %q", name)
	}
	return a
}

func login(a *Authenticator, user, password string) (sdk.AuthResult, time.Duration, error) {
	start := time.Now()
	res, err := a.Authenticate(context.Background(), sdk.AuthRequest{Group: "g", Username: user, Password: password, RemoteIP: "192.0.2.7"})
	return res, time.Since(start), err
}

func pidOf(t *testing.T, h *Host, name string) int {
	t.Helper()
	for _, st := range h.Status() {
		if st.Name == name {
			if !st.Running || st.PID == 0 {
				t.Fatalf("plugin %s not running: %+v", name, st)
			}
			return st.PID
		}
	}
	t.Fatalf("plugin %s not in status", name)
	return 0
}

func statusOf(h *Host, name string) PluginStatus {
	for _, st := range h.Status() {
		if st.Name == name {
			return st
		}
	}
	return PluginStatus{}
}

// gone waits up to d for the process pid to disappear.
func gone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAuthenticate(t *testing.T) {
	h, logs := start(t, Options{}, Spec{Name: "ok", Config: map[string]any{"greeting": "Hi "}})
	a := handle(t, h, "ok")
	if a.Name() != "ok" {
		t.Errorf("Name() = %q", a.Name())
	}
	cases := []struct {
		user, pass string
		code       sdk.Code
	}{
		{"alice", "pw", sdk.OK},
		{"admin", "pw", sdk.Admin},
		{"alice", "nope", sdk.WrongPassword},
		{"guest", "", sdk.NoSuchUser},
	}
	for _, c := range cases {
		res, _, err := login(a, c.user, c.pass)
		if err != nil || res.Code != c.code {
			t.Errorf("%s/%q: got %v, %v; want %v", c.user, c.pass, res.Code, err, c.code)
		}
	}
	if res, _, _ := login(a, "alice", "pw"); res.DisplayName != "Hi alice" {
		t.Errorf("display name %q: the config did not reach the plugin", res.DisplayName)
	}
	res, _, err := login(a, "badcode", "pw")
	if res.Code != sdk.LoginError || !errors.Is(err, sdk.ErrInvalidCode) || !strings.Contains(err.Error(), `plugin "ok"`) {
		t.Errorf("invalid code: got %v, %v", res.Code, err)
	}
	if _, ok := h.Authenticator("missing"); ok {
		t.Error("Authenticator(missing) reported ok")
	}
	if got := h.Names(); len(got) != 1 || got[0] != "ok" {
		t.Errorf("Names() = %v", got)
	}
	pidOf(t, h, "ok")

	// Plugin log lines reach the host log tagged with the plugin name.
	deadline := time.Now().Add(2 * time.Second)
	for !(strings.Contains(logs.String(), "configured") && strings.Contains(logs.String(), "stdout line from the ok plugin")) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin output missing from the host log:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "configured") || strings.Contains(line, "stdout line") {
			if !strings.Contains(line, "pluginhost.ok") {
				t.Errorf("plugin line not tagged with the plugin name: %s", line)
			}
		}
	}
}

// (a) kill -9 the plugin: the very next call restarts it and succeeds.
func TestKilledPluginRestartsOnNextCall(t *testing.T) {
	h, logs := start(t, Options{}, Spec{Name: "ok"})
	a := handle(t, h, "ok")
	if res, _, err := login(a, "alice", "pw"); err != nil || res.Code != sdk.OK {
		t.Fatalf("before kill: %v, %v", res.Code, err)
	}
	old := pidOf(t, h, "ok")
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	res, d, err := login(a, "alice", "pw")
	if err != nil || res.Code != sdk.OK {
		t.Fatalf("after kill -9: got %v, %v\nlogs:\n%s", res.Code, err, logs)
	}
	t.Logf("first call after kill -9 took %s", d)
	st := statusOf(h, "ok")
	if !st.Running || st.PID == old || st.Restarts != 1 {
		t.Fatalf("status after restart: %+v (old pid %d)", st, old)
	}
	if !gone(old, 2*time.Second) {
		t.Fatalf("old process %d still exists", old)
	}
}

// The health loop notices a dead plugin without any call.
func TestHealthLoopRestarts(t *testing.T) {
	h, _ := start(t, Options{HealthInterval: 50 * time.Millisecond}, Spec{Name: "ok"})
	old := pidOf(t, h, "ok")
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := statusOf(h, "ok")
		if st.Running && st.PID != old {
			if st.Restarts != 1 {
				t.Fatalf("restarts = %d, want 1", st.Restarts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not restarted by the health loop: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res, _, err := login(handle(t, h, "ok"), "alice", "pw"); err != nil || res.Code != sdk.OK {
		t.Fatalf("after restart: %v, %v", res.Code, err)
	}
}

// (b) A hanging call ends with LoginError at CallTimeout while other calls,
// to the same plugin and to another one, are answered at once.
func TestHangingCallTimesOut(t *testing.T) {
	// Long enough that "at once" (under half of it) holds on a loaded
	// machine, where a call answered at once may take a few hundred ms.
	const timeout = 2 * time.Second
	h, _ := start(t, Options{CallTimeout: timeout}, Spec{Name: "ok"}, Spec{Name: "hang"})
	hang, ok := handle(t, h, "hang"), handle(t, h, "ok")

	type result struct {
		res sdk.AuthResult
		err error
		d   time.Duration
	}
	hung := make(chan result, 1)
	go func() {
		res, d, err := login(hang, "hang", "pw")
		hung <- result{res, err, d}
	}()
	time.Sleep(50 * time.Millisecond) // let the hanging call reach the plugin

	var wg sync.WaitGroup
	for _, c := range []struct {
		a    *Authenticator
		user string
	}{{ok, "alice"}, {hang, "alice"}, {ok, "bob"}, {hang, "bob"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, d, err := login(c.a, c.user, "pw")
			if err != nil || res.Code != sdk.OK {
				t.Errorf("%s/%s during a hanging call: %v, %v", c.a.Name(), c.user, res.Code, err)
			}
			if d > timeout/2 {
				t.Errorf("%s/%s took %s during a hanging call", c.a.Name(), c.user, d)
			}
		}()
	}
	wg.Wait()

	r := <-hung
	if r.res.Code != sdk.LoginError || r.err == nil {
		t.Fatalf("hanging call: got %v, %v", r.res.Code, r.err)
	}
	if want := `plugin "hang": authenticate timed out after 2s`; !strings.Contains(r.err.Error(), want) {
		t.Errorf("error %q lacks %q", r.err, want)
	}
	if r.d < timeout || r.d > timeout+500*time.Millisecond {
		t.Errorf("hanging call returned after %s, want about %s", r.d, timeout)
	}
	// A caller's own shorter deadline is reported as such.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := hang.Authenticate(ctx, sdk.AuthRequest{Username: "hang"})
	if err == nil || strings.Contains(err.Error(), "after 2s") || !strings.Contains(err.Error(), "timed out after") {
		t.Errorf("short caller deadline: %v", err)
	}
}

// A plugin that exits during a call costs that call a LoginError; the next
// one works. A panic is survived inside the plugin.
func TestCrashingPlugin(t *testing.T) {
	h, logs := start(t, Options{}, Spec{Name: "crash"})
	a := handle(t, h, "crash")
	pid := pidOf(t, h, "crash")

	res, _, err := login(a, "panic", "pw")
	if res.Code != sdk.LoginError || err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("panic: got %v, %v", res.Code, err)
	}
	if got := pidOf(t, h, "crash"); got != pid {
		t.Fatalf("a panic restarted the plugin (%d -> %d)", pid, got)
	}

	res, _, err = login(a, "crash", "pw")
	if res.Code != sdk.LoginError || err == nil || !strings.Contains(err.Error(), `plugin "crash"`) {
		t.Fatalf("crash: got %v, %v", res.Code, err)
	}
	res, _, err = login(a, "alice", "pw")
	if err != nil || res.Code != sdk.OK {
		t.Fatalf("after crash: got %v, %v\nlogs:\n%s", res.Code, err, logs)
	}
	if st := statusOf(h, "crash"); !st.Running || st.PID == pid || st.Restarts == 0 {
		t.Fatalf("status after crash: %+v", st)
	}
}

// (c) Stop leaves no plugin process behind, even one stuck in a call.
func TestStopKillsEverything(t *testing.T) {
	h, _ := start(t, Options{}, Spec{Name: "ok"}, Spec{Name: "hang"})
	pids := []int{pidOf(t, h, "ok"), pidOf(t, h, "hang")}
	go func() { _, _, _ = login(handle(t, h, "hang"), "hang", "pw") }()
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	h.Stop()
	t.Logf("Stop took %s", time.Since(start))
	for _, pid := range pids {
		if !gone(pid, 100*time.Millisecond) {
			t.Errorf("process %d still exists after Stop", pid)
		}
	}
	for _, st := range h.Status() {
		if st.Running {
			t.Errorf("status after Stop: %+v", st)
		}
	}
	res, _, err := login(handle(t, h, "ok"), "alice", "pw")
	if res.Code != sdk.LoginError || err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("call after Stop: %v, %v", res.Code, err)
	}
	h.Stop() // idempotent
}

// (d) A missing binary fails Start with an error naming plugin and path,
// and the plugins that did start are stopped again.
func TestMissingBinary(t *testing.T) {
	dir := t.TempDir()
	h := New(Options{Dir: dir, Logger: hclog.NewNullLogger()}, []Spec{
		{Name: "ghost"},
		{Name: "ok", Path: filepath.Join(binDir, "parlor-plugin-ok")},
	})
	defer h.Stop()
	err := h.Start(context.Background())
	want := filepath.Join(dir, "parlor-plugin-ghost")
	if err == nil || !strings.Contains(err.Error(), `plugin "ghost"`) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Start: got %v; want an error naming %q and %s", err, "ghost", want)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error does not wrap os.ErrNotExist: %v", err)
	}
	for _, st := range h.Status() {
		if st.Running {
			t.Errorf("%s still running after a failed Start", st.Name)
		}
	}
}

func TestStartErrors(t *testing.T) {
	ok := filepath.Join(binDir, "parlor-plugin-ok")
	notExec := filepath.Join(t.TempDir(), "parlor-plugin-ok")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		specs []Spec
		want  string
	}{
		"configure refused": {[]Spec{{Name: "ok", Config: map[string]any{"greeting": "refuse"}}}, `greeting "refuse" is refused`},
		"duplicate":         {[]Spec{{Name: "ok"}, {Name: "ok"}}, `plugin "ok" is listed twice`},
		"no name":           {[]Spec{{Path: ok}}, "without a name"},
		"not executable":    {[]Spec{{Name: "ok", Path: notExec}}, notExec + " is not executable"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := New(Options{Dir: binDir, Logger: hclog.NewNullLogger()}, c.specs)
			defer h.Stop()
			err := h.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Start: got %v, want %q", err, c.want)
			}
		})
	}
}

// The delays between launches double from minBackoff up to MaxBackoff,
// spread by the jitter, and start again from minBackoff after a reset.
func TestBackoffDelays(t *testing.T) {
	h := New(Options{MaxBackoff: time.Second, Logger: hclog.NewNullLogger()}, []Spec{{Name: "ok"}})
	m := h.plugins["ok"]
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	m.mu.Lock()
	defer m.mu.Unlock()
	for round := range 2 {
		for i, w := range want {
			w *= time.Millisecond
			d := m.backOffLocked()
			lo := time.Duration(float64(w) * (1 - backoffJitter))
			hi := min(time.Duration(float64(w)*(1+backoffJitter))+1, time.Second)
			if d < lo || d > hi {
				t.Errorf("round %d, delay %d: %s, want %s to %s", round, i, d, lo, hi)
			}
			if until := time.Until(m.notBefore); until > d || until < d-time.Second/2 {
				t.Errorf("next launch in %s after a delay of %s", until, d)
			}
		}
		m.backoff.Reset()
	}
}

// A plugin whose process dies during start-up does not fail Start: it is
// reported down with its error and restarted with backoff, like a plugin
// that crashes later, until it comes up.
func TestPluginDyingAtStartUpIsRetried(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	readies := &readyLog{}
	h, logs := start(t, Options{HealthInterval: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, OnReady: readies.add},
		Spec{Name: "dies", Config: map[string]any{"ready_file": ready}},
		Spec{Name: "true", Path: "/bin/true"}, // exits before its handshake
		Spec{Name: "ok"})
	pidOf(t, h, "ok")
	for _, name := range []string{"dies", "true"} {
		st := statusOf(h, name)
		path := filepath.Join(binDir, "parlor-plugin-dies")
		if name == "true" {
			path = "/bin/true"
		}
		if st.Running || !strings.Contains(st.LastError, path) {
			t.Fatalf("%s after start: %+v", name, st)
		}
	}
	res, _, err := login(handle(t, h, "dies"), "alice", "pw")
	if res.Code != sdk.LoginError || err == nil || !strings.Contains(err.Error(), `plugin "dies"`) {
		t.Fatalf("login through a plugin that is down: %v, %v", res.Code, err)
	}
	if readies.count("dies") != 0 || readies.count("ok") != 1 {
		t.Fatalf("OnReady before the plugin runs: %v", readies.names)
	}
	// Until it runs, it may be a module, declaring nothing.
	if mod, ok := h.Module("dies"); !ok || mod.Ready() || len(mod.Capabilities().Hooks) != 0 {
		t.Fatalf("module handle of a plugin that never ran: %v", ok)
	}

	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !statusOf(h, "dies").Running {
		if time.Now().After(deadline) {
			t.Fatalf("plugin not restarted after it became ready: %+v\nlogs:\n%s", statusOf(h, "dies"), logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res, _, err := login(handle(t, h, "dies"), "alice", "pw"); err != nil || res.Code != sdk.OK {
		t.Fatalf("login once the plugin runs: %v, %v", res.Code, err)
	}
	// Its capabilities became known when it came up.
	if n := readies.count("dies"); n != 1 {
		t.Fatalf("OnReady(dies) called %d times once it runs, want 1", n)
	}
	if mod, ok := h.Module("ok"); ok || mod != nil {
		t.Fatal("the authenticator ok is listed as a module")
	}
	if _, ok := h.Module("dies"); ok {
		t.Fatal("the authenticator that came up late is listed as a module")
	}
	if st := statusOf(h, "true"); st.Running || st.Restarts != 0 {
		t.Fatalf("/bin/true: %+v", st)
	}
	if !strings.Contains(logs.String(), "plugin failed to start") {
		t.Errorf("no log line for the failed start:\n%s", logs)
	}
}

// A restart that fails is reported, backs off and is retried.
func TestRestartFailureBacksOff(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(binDir, "parlor-plugin-ok"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "custom-ok")
	if err := os.WriteFile(path, src, 0o755); err != nil {
		t.Fatal(err)
	}
	h, _ := start(t, Options{}, Spec{Name: "ok", Path: path})
	a := handle(t, h, "ok")

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pidOf(t, h, "ok"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	res, _, err := login(a, "alice", "pw")
	failedAt := time.Now()
	if res.Code != sdk.LoginError || err == nil || !strings.Contains(err.Error(), path+" not found") {
		t.Fatalf("restart without a binary: got %v, %v", res.Code, err)
	}
	if st := statusOf(h, "ok"); st.Running || !strings.Contains(st.LastError, "not found") {
		t.Fatalf("status: %+v", st)
	}

	if err := os.WriteFile(path, src, 0o755); err != nil {
		t.Fatal(err)
	}
	res, _, err = login(a, "alice", "pw")
	if err != nil || res.Code != sdk.OK {
		t.Fatalf("after the binary came back: got %v, %v", res.Code, err)
	}
	if d := time.Since(failedAt); d < minBackoff/2 {
		t.Errorf("restarted %s after a failed restart, want at least %s", d, minBackoff)
	}
}

// BenchmarkAuthenticate measures one call through the host to a plugin
// process.
func BenchmarkAuthenticate(b *testing.B) {
	h := New(Options{Dir: binDir, Logger: hclog.NewNullLogger()}, []Spec{{Name: "ok"}})
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer h.Stop()
	a, _ := h.Authenticator("ok")
	req := sdk.AuthRequest{Username: "alice", Password: "pw"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res, err := a.Authenticate(context.Background(), req); err != nil || res.Code != sdk.OK {
				b.Fatalf("got %v, %v", res.Code, err)
			}
		}
	})
}
