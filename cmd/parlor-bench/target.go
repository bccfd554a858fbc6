package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
)

// checkLoopback refuses a WebSocket URL whose host is not a loopback
// address (127.0.0.0/8, ::1) or "localhost": the tool opens thousands of
// connections and must never be pointed at someone else's server.
func checkLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--url %q: %w", raw, err)
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("--url %q: the scheme must be ws:// (loopback only, no TLS)", raw)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("--url %q: no host", raw)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("--url %q: refusing a target that is not loopback (127.0.0.0/8, ::1 or localhost)", raw)
	}
	return u, nil
}

// isLoopback reports whether host is "localhost" or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkNATS refuses a NATS URL (--nats) that is not nats://HOST:PORT on
// a loopback host: the cluster scenario's nodes publish every message
// there.
func checkNATS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--nats %q: %w", raw, err)
	}
	if u.Scheme != "nats" || u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("--nats %q: use nats://HOST:PORT", raw)
	}
	if !isLoopback(u.Hostname()) {
		return fmt.Errorf("--nats %q: refusing a NATS server that is not loopback (127.0.0.0/8, ::1 or localhost)", raw)
	}
	return nil
}

// raiseFileLimit lifts RLIMIT_NOFILE to its hard limit (a spawned server
// inherits it) and checks that need descriptors fit.
func raiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	if uint64(need) > lim.Cur {
		return fmt.Errorf("this run needs about %d file descriptors but RLIMIT_NOFILE is %d (raise the hard limit: ulimit -Hn)", need, lim.Cur)
	}
	return nil
}

// serverSpec describes a server the tool starts for one scenario.
type serverSpec struct {
	rooms      []roomSpec
	authURL    string // configure the authurl plugin against this page ("" none)
	pluginsDir string
	logLevel   string
	// modules are module plugins to load, by name and binary path.
	modules []moduleSpec
	// inFlight is modules.messages_in_flight (0: the server's default).
	inFlight int64
	// cluster makes the server a node of a cluster (nil: alone).
	cluster *clusterSpec
}

// clusterSpec is the cluster.* configuration of a node the tool starts.
type clusterSpec struct {
	natsURL, node, prefix string
	// storeDSN, when set, puts the node on a shared PostgreSQL store
	// (store.driver: postgres) with the chat group group, instead of
	// the node's own SQLite file.
	storeDSN, group string
}

// moduleSpec is one module plugin a spawned server loads.
type moduleSpec struct {
	name, path string
}

type roomSpec struct {
	id   int64
	name string
}

// target is a server under test.
type target struct {
	wsURL string // ws://host:port/ws
	base  string // http://host:port
	pid   int    // process to read RSS from; 0 unknown
	room  int64  // room the fan-out clients join (--url mode)

	stop   func() error
	logTo  string // file holding a spawned server's output
	inProc bool
}

// external is a server the user started (--url, --pid).
func external(u *url.URL, pid int, room int64) *target {
	return &target{
		wsURL: u.String(), base: "http://" + u.Host, pid: pid, room: room,
		stop: func() error { return nil },
	}
}

// writeConfig writes a server configuration for spec into dir and returns
// its path and the HTTP address it listens on.
func writeConfig(dir string, spec serverSpec) (path, addr string, err error) {
	port, err := freePort()
	if err != nil {
		return "", "", err
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	level := spec.logLevel
	if level == "" {
		level = "warn"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir: %q\n", filepath.Join(dir, "data"))
	fmt.Fprintf(&b, "log: {level: %s}\n", level)
	fmt.Fprintf(&b, "http: {addr: %q, login_timeout: 120s}\n", addr)
	b.WriteString("server_api: {addr: \"\", http: false}\n")
	// The tool opens thousands of connections from 127.0.0.1 and publishes
	// as fast as the receivers take it: the abuse limits would measure
	// themselves.
	b.WriteString("limits: {say: {every: 0s}, say_user: {every: 0s}, join: {every: 0s}, pm: {every: 0s}, " +
		"pm_recipient: {every: 0s}, conns_per_ip: 0, unauthenticated_per_ip: 0}\n")
	if spec.pluginsDir != "" {
		fmt.Fprintf(&b, "plugins:\n  dir: %q\n", spec.pluginsDir)
	} else {
		b.WriteString("plugins:\n")
	}
	if spec.authURL == "" && len(spec.modules) == 0 {
		b.WriteString("  load: {}\n")
	} else {
		b.WriteString("  load:\n")
	}
	if spec.authURL != "" {
		fmt.Fprintf(&b, "    authurl:\n      config: {url: %q, method: GET, timeout: 3s}\n", spec.authURL)
	}
	for _, m := range spec.modules {
		fmt.Fprintf(&b, "    %s: {path: %q}\n", m.name, m.path)
	}
	if spec.inFlight > 0 {
		fmt.Fprintf(&b, "modules: {messages_in_flight: %d}\n", spec.inFlight)
	}
	if spec.authURL != "" {
		b.WriteString("auth: {chain: [authurl]}\n")
	} else {
		b.WriteString("auth: {chain: []}\n")
	}
	if c := spec.cluster; c != nil {
		fmt.Fprintf(&b, "cluster: {nats: {url: %q}, node: %q, prefix: %q}\n", c.natsURL, c.node, c.prefix)
		if c.storeDSN != "" {
			fmt.Fprintf(&b, "store: {driver: postgres, postgres: {dsn: %q}}\n", c.storeDSN)
			fmt.Fprintf(&b, "chat: {group: %q}\n", c.group)
		}
	}
	b.WriteString("rooms:\n")
	for _, r := range spec.rooms {
		fmt.Fprintf(&b, "  - {id: %d, name: %q, max: 0, member: true, en: true}\n", r.id, r.name)
	}
	path = filepath.Join(dir, "parlor.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", "", fmt.Errorf("write server config: %w", err)
	}
	return path, addr, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// prepare makes a temporary data directory holding a configuration for
// spec; it returns the directory, the configuration's path and the HTTP
// address the server will listen on.
func prepare(spec serverSpec) (dir, cfgPath, addr string, err error) {
	dir, err = os.MkdirTemp("", "parlor-bench-")
	if err != nil {
		return "", "", "", fmt.Errorf("temp dir: %w", err)
	}
	cfgPath, addr, err = writeConfig(dir, spec)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", "", "", err
	}
	return dir, cfgPath, addr, nil
}

// spawn starts bin as a subprocess with a temporary data directory and a
// configuration made from spec, and waits until it answers /healthz.
func spawn(ctx context.Context, bin string, spec serverSpec) (*target, error) {
	dir, cfgPath, addr, err := prepare(spec)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("server log: %w", err)
	}
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = dir
	cmd.Env = withoutParlorEnv(os.Environ())
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	// exited is closed once the process has ended (waitErr is then set):
	// both the health wait and stop may look.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t := &target{
		wsURL: "ws://" + addr + "/ws", base: "http://" + addr, pid: cmd.Process.Pid, room: 1,
		logTo: logPath,
	}
	t.stop = func() error {
		defer func() { _ = logFile.Close() }()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		return os.RemoveAll(dir)
	}
	if err := waitHealthy(ctx, t.base, exited, func() error { return waitErr }); err != nil {
		out := tail(logPath) // before stop removes the directory
		_ = t.stop()
		return nil, fmt.Errorf("server %s did not come up: %w%s", bin, err, out)
	}
	return t, nil
}

// startInProcess runs the server inside the tool (for profiling with
// --cpuprofile; RSS figures are then not available).
func startInProcess(ctx context.Context, spec serverSpec) (*target, error) {
	dir, cfgPath, addr, err := prepare(spec)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath, nil, nil)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("load server config: %w", err)
	}
	srv, err := server.New(cfg, hclog.New(&hclog.LoggerOptions{Name: "parlor", Level: hclog.LevelFromString(cfg.Log.Level), Output: os.Stderr}))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("new server: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start server: %w", err)
	}
	t := &target{wsURL: "ws://" + addr + "/ws", base: "http://" + addr, room: 1, inProc: true}
	t.stop = func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		return errors.Join(err, os.RemoveAll(dir))
	}
	return t, nil
}

func withoutParlorEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, config.EnvPrefix) {
			out = append(out, kv)
		}
	}
	return out
}

func waitHealthy(ctx context.Context, base string, exited <-chan struct{}, waitErr func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if err != nil {
			return fmt.Errorf("health request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("it exited: %v", waitErr())
		case <-ctx.Done():
			return fmt.Errorf("wait for health: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("no healthy answer within 30s")
		}
	}
}

// tail returns the end of a log file for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\nserver output:\n" + string(b)
}

// rssBytes reads VmRSS of a process from /proc/<pid>/status.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) < 1 {
				break
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", line, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// metric reads one unlabelled value from the server's /metrics.
func metric(ctx context.Context, base, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return 0, fmt.Errorf("metric %s: %w", name, err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}
