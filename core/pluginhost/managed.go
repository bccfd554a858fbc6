package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/sdk"
)

// killGrace is how long a graceful shutdown of a plugin may take before
// its process is killed outright.
const killGrace = 3 * time.Second

// errStopped is returned for calls after Stop.
var errStopped = errors.New("plugin host stopped")

// instance is one running plugin process.
type instance struct {
	cmd     *exec.Cmd
	client  *plugin.Client
	rpc     plugin.ClientProtocol
	auth    sdk.Authenticator
	module  *sdk.ModuleClient   // nil when the plugin serves no module
	channel *sdk.MessageChannel // offered to the plugin; nil where there are none
	caps    sdk.Capabilities    // what this process declared
	pid     int
	started time.Time
}

// alive reports whether the process has not exited (as far as go-plugin
// has noticed).
func (i *instance) alive() bool { return !i.client.Exited() }

// flight is one restart in progress; everybody who needs the plugin while
// it runs waits for the same result.
type flight struct {
	done chan struct{}
	at   time.Time // when the launch begins (after the backoff delay)
	inst *instance
	err  error
}

// managed is one configured plugin and its current process.
type managed struct {
	host    *Host
	name    string
	path    string
	config  map[string]any
	log     hclog.Logger
	timeout time.Duration

	mu        sync.Mutex // guards the fields below
	raw       []byte     // config as JSON, set by start
	inst      *instance  // nil while down
	flight    *flight
	stopped   bool
	restarts  int
	caps      sdk.Capabilities           // what the plugin declared at its last launch
	capsKnown bool                       // caps is set: the plugin has run
	assets    map[string]asset           // caps.Assets, ready to serve
	backoff   backoff.ExponentialBackOff // delays between launches (see backOffLocked)
	notBefore time.Time                  // no restart before this
	lastErr   error
}

// backoffJitter spreads restart delays by ±20%, so that plugins that fail
// together (their database is down) do not retry in step.
const backoffJitter = 0.2

func newManaged(h *Host, name, path string, config map[string]any) *managed {
	m := &managed{
		host:    h,
		name:    name,
		path:    path,
		config:  config,
		log:     h.log.Named(name),
		timeout: h.opts.CallTimeout,
		backoff: backoff.ExponentialBackOff{
			InitialInterval:     minBackoff,
			RandomizationFactor: backoffJitter,
			Multiplier:          2,
			MaxInterval:         h.opts.MaxBackoff,
		},
	}
	m.backoff.Reset()
	return m
}

// backOffLocked sets the earliest time of the next launch after one that
// just ended, whether it failed or not: a plugin that failed to start and
// one that crashed later take the same path. The delays grow from
// minBackoff, doubling up to MaxBackoff; check resets them once the plugin
// has stayed healthy for MaxBackoff. m.mu is held.
func (m *managed) backOffLocked() time.Duration {
	d := min(m.backoff.NextBackOff(), m.host.opts.MaxBackoff)
	m.notBefore = time.Now().Add(d)
	return d
}

// permanentError is a start-up failure that trying again cannot cure: the
// binary is missing or not a file, the plugin speaks another protocol
// version, or the running plugin refused its configuration. Start fails
// with it; every other failure (the process died, the connection broke, no
// handshake in time) leaves the plugin down and retried with backoff.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// isPermanent reports whether err is (or wraps) a permanentError.
func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// start launches the plugin for the first time. It fails only for a
// permanent error (or when ctx ends); a plugin that could not start for
// another reason is left down with its error in Status, and the health
// loop and the calls that need it restart it with backoff, as after any
// crash.
func (m *managed) start(ctx context.Context) error {
	raw, err := json.Marshal(m.config)
	if err != nil {
		return fmt.Errorf("plugin %q: encode config: %w", m.name, err)
	}
	if m.config == nil {
		raw = nil
	}
	m.mu.Lock()
	m.raw = raw
	m.mu.Unlock()

	inst, err := m.launch(ctx)
	if err != nil {
		m.mu.Lock()
		m.lastErr = err
		next := m.backOffLocked()
		m.mu.Unlock()
		if isPermanent(err) || ctx.Err() != nil {
			return fmt.Errorf("plugin %q: %w", m.name, err)
		}
		m.log.Error("plugin failed to start; it is down and will be restarted", "path", m.path, "error", err, "next_attempt_in", next)
		return nil
	}
	m.mu.Lock()
	stopped := m.stopped
	if !stopped {
		m.inst = inst
	}
	m.mu.Unlock()
	if stopped {
		m.kill(inst, true)
		return fmt.Errorf("plugin %q: %w", m.name, errStopped)
	}
	m.learn(inst)
	m.log.Info("plugin started", "path", m.path, "pid", inst.pid)
	return nil
}

// launch starts a process, dispenses the authenticator and configures it,
// learning its capabilities (inst.caps).
func (m *managed) launch(ctx context.Context) (*instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("launch %s: %w", m.path, err)
	}
	fi, err := os.Stat(m.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, permanentError{fmt.Errorf("binary %s not found (check plugins.dir or the plugin's path): %w", m.path, fs.ErrNotExist)}
	case err != nil:
		return nil, permanentError{fmt.Errorf("binary %s: %w", m.path, err)}
	case fi.IsDir():
		return nil, permanentError{fmt.Errorf("binary %s is a directory", m.path)}
	case fi.Mode().Perm()&0o111 == 0:
		return nil, permanentError{fmt.Errorf("binary %s is not executable", m.path)}
	}

	startTimeout := DefaultStartTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < startTimeout {
		startTimeout = time.Until(dl)
	}
	out := m.log.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	cmd := exec.Command(m.path)
	channel, err := sdk.NewMessageChannel(cmd)
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", m.path, err)
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		Plugins:          m.pluginSet(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  sdk.GRPCDialOptions(),
		Managed:          false,
		StartTimeout:     startTimeout,
		Logger:           m.log,
		SyncStdout:       out,
		SyncStderr:       out,
	})
	rpc, err := client.Client()
	channel.Started()
	if err != nil {
		_ = channel.Close()
		client.Kill()
		err = fmt.Errorf("launch %s: %w", m.path, err)
		// go-plugin's words for a handshake of another protocol version.
		if strings.Contains(err.Error(), "incompatible") {
			err = permanentError{err}
		}
		return nil, err
	}
	raw, err := rpc.Dispense(sdk.AuthenticatorPluginName)
	if err != nil {
		_ = channel.Close()
		client.Kill()
		return nil, fmt.Errorf("%s: dispense %s: %w", m.path, sdk.AuthenticatorPluginName, err)
	}
	auth, ok := raw.(sdk.Authenticator)
	if !ok {
		_ = channel.Close()
		client.Kill()
		return nil, fmt.Errorf("%s: dispensed %T, not an authenticator", m.path, raw)
	}
	inst := &instance{cmd: cmd, client: client, rpc: rpc, auth: auth, channel: channel, started: time.Now()}
	if rc := client.ReattachConfig(); rc != nil {
		inst.pid = rc.Pid
	}

	m.mu.Lock()
	cfg := sdk.Config{Raw: m.raw}
	m.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	err = m.configure(cctx, inst, cfg)
	_ = channel.Close() // a no-op when the module took it up
	if err != nil {
		refused := configRefused(inst, err)
		m.kill(inst, true)
		if cctx.Err() != nil {
			return nil, fmt.Errorf("%s: configure timed out after %s: %w", m.path, m.timeout, err)
		}
		err = fmt.Errorf("%s: %w", m.path, err)
		if refused {
			err = permanentError{err}
		}
		return nil, err
	}
	return inst, nil
}

// kill ends inst's process. hard kills it at once (it is dead or sick);
// otherwise the plugin gets killGrace to shut down cleanly.
func (m *managed) kill(inst *instance, hard bool) {
	if hard && inst.alive() && inst.cmd.Process != nil {
		_ = inst.cmd.Process.Kill()
	}
	done := make(chan struct{})
	go func() {
		inst.client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(killGrace):
		m.log.Warn("plugin did not shut down; killing it", "pid", inst.pid)
		if inst.cmd.Process != nil {
			_ = inst.cmd.Process.Kill()
		}
		<-done
	}
}

// current returns the running instance, restarting the plugin first when
// it is down.
func (m *managed) current(ctx context.Context) (*instance, error) {
	m.mu.Lock()
	inst, stopped := m.inst, m.stopped
	m.mu.Unlock()
	if stopped {
		return nil, errStopped
	}
	if inst != nil && inst.alive() {
		return inst, nil
	}
	return m.ensure(ctx, inst)
}

// running returns the plugin's instance if it runs, without starting
// it: nil when it is down, starting or stopped.
func (m *managed) running() *instance {
	m.mu.Lock()
	inst, stopped := m.inst, m.stopped
	m.mu.Unlock()
	if stopped || inst == nil || !inst.alive() {
		return nil
	}
	return inst
}

// ensure returns a running instance other than stale, restarting the
// plugin if needed. Concurrent callers share one restart; the restart
// honours the backoff, and a caller whose ctx ends before the restart can
// begin gets an error at once (the restart goes on without it).
func (m *managed) ensure(ctx context.Context, stale *instance) (*instance, error) {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return nil, errStopped
	}
	if cur := m.inst; cur != nil && cur != stale && cur.alive() {
		m.mu.Unlock()
		return cur, nil
	}
	f := m.flight
	if f == nil {
		f = &flight{done: make(chan struct{}), at: m.notBefore}
		m.flight = f
		old := m.inst
		m.inst = nil
		m.host.wg.Add(1) // before Stop waits: Stop marks m stopped under m.mu first
		go m.restart(f, old)
	}
	m.mu.Unlock()

	if wait := time.Until(f.at); wait > 0 {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, fmt.Errorf("plugin down; next restart in %s", wait.Round(time.Millisecond))
		}
	}
	select {
	case <-f.done:
		return f.inst, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin restarting: %w", ctx.Err())
	}
}

// restart replaces old (which may be nil) by a new process after the
// backoff delay, then publishes the result on f.
func (m *managed) restart(f *flight, old *instance) {
	defer m.host.wg.Done()
	hostCtx := m.host.ctx
	if old != nil {
		m.kill(old, true)
	}
	var (
		inst *instance
		err  error
	)
	if wait := time.Until(f.at); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-hostCtx.Done():
			t.Stop()
			err = errStopped
		}
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(hostCtx, DefaultStartTimeout)
		inst, err = m.launch(ctx)
		cancel()
	}
	if err == nil {
		// Before the instance is visible, so that whoever sees it running
		// sees its capabilities; a call OnReady makes waits for f.
		m.learn(inst)
	}

	m.mu.Lock()
	if err == nil && m.stopped {
		m.mu.Unlock()
		m.kill(inst, true)
		inst, err = nil, errStopped
		m.mu.Lock()
	}
	m.flight = nil
	next := m.backOffLocked()
	switch {
	case errors.Is(err, errStopped):
	case err != nil:
		m.lastErr = err
		m.log.Error("plugin restart failed", "error", err, "next_attempt_in", next)
	default:
		m.inst = inst
		m.restarts++
		m.log.Info("plugin restarted", "pid", inst.pid, "restarts", m.restarts)
	}
	f.inst, f.err = inst, err
	m.mu.Unlock()
	close(f.done)
}

// healthLoop checks the plugin every HealthInterval until ctx ends.
func (m *managed) healthLoop(ctx context.Context) {
	t := time.NewTicker(m.host.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.check(ctx)
	}
}

// check restarts the plugin when it is down, has exited or does not answer
// a ping, and forgives past crashes once it has been healthy for
// MaxBackoff.
func (m *managed) check(ctx context.Context) {
	m.mu.Lock()
	inst, busy, stopped := m.inst, m.flight != nil, m.stopped
	m.mu.Unlock()
	if busy || stopped {
		return
	}
	switch {
	case inst == nil:
	case !inst.alive():
		m.log.Warn("plugin process exited; restarting", "pid", inst.pid)
	default:
		err := m.ping(ctx, inst)
		if err == nil {
			if time.Since(inst.started) >= m.host.opts.MaxBackoff {
				m.mu.Lock()
				m.backoff.Reset()
				m.notBefore = time.Time{}
				m.mu.Unlock()
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		m.log.Warn("plugin failed its health check; restarting", "pid", inst.pid, "error", err)
	}
	if _, err := m.ensure(ctx, inst); err != nil && ctx.Err() == nil {
		m.log.Debug("plugin still down", "error", err)
	}
}

// ping asks the plugin's gRPC health service, bounded by the call timeout.
func (m *managed) ping(ctx context.Context, inst *instance) error {
	res := make(chan error, 1)
	go func() { res <- inst.rpc.Ping() }()
	t := time.NewTimer(m.timeout)
	defer t.Stop()
	select {
	case err := <-res:
		if err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("ping timed out after %s", m.timeout)
	case <-ctx.Done():
		return fmt.Errorf("ping: %w", ctx.Err())
	}
}

// markStopped refuses further calls and restarts.
func (m *managed) markStopped() {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
}

// shutdown ends the current process, if any: a module is told first
// (stopModule), then the process is ended.
func (m *managed) shutdown() {
	m.mu.Lock()
	inst := m.inst
	m.inst = nil
	m.mu.Unlock()
	if inst != nil {
		m.stopModule(inst)
		m.kill(inst, false)
		m.log.Info("plugin stopped", "pid", inst.pid)
	}
}

// stopModule prepares a running module for the end of its process, while
// the broker still serves it the Host API (go-plugin closes the broker
// first when it ends a process): its notification stream is closed, so
// that the batches already sent are handled (within the call timeout),
// then its Stop hook, if declared, is called under the stop timeout. A
// failure is logged; the process is ended all the same.
func (m *managed) stopModule(inst *instance) {
	if inst.module == nil || !inst.alive() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	if err := inst.module.CloseNotify(ctx); err != nil {
		m.log.Warn("closing the notification stream failed", "error", err)
	}
	cancel()
	if !slices.Contains(inst.caps.Hooks, sdk.HookStop) {
		return
	}
	limit := m.host.opts.StopTimeout
	ctx, cancel = context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	err := inst.module.Stop(ctx)
	m.host.calls.WithLabelValues(m.name, MethodStop).Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		m.log.Debug("module stopped", "elapsed", time.Since(start))
	case ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded:
		m.log.Warn("module stop timed out; ending the plugin anyway", "timeout", limit, "config_key", "modules.stop_timeout")
	default:
		m.log.Warn("module stop failed; ending the plugin anyway", "error", err)
	}
}

func (m *managed) status() PluginStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := PluginStatus{Name: m.name, Restarts: m.restarts}
	if m.inst != nil && m.inst.alive() {
		st.Running = true
		st.PID = m.inst.pid
	}
	if m.lastErr != nil {
		st.LastError = m.lastErr.Error()
	}
	return st
}

// configRefused reports whether the Configure error err is the plugin's
// answer (it refused its configuration) rather than a sign that the
// process died or the connection broke.
func configRefused(inst *instance, err error) bool {
	switch status.Code(err) {
	case codes.Canceled, codes.DeadlineExceeded:
		return false
	}
	return !lostConnection(inst, err)
}

// lostConnection reports whether err means the plugin process is gone
// rather than that it answered with an error.
func lostConnection(inst *instance, err error) bool {
	return status.Code(err) == codes.Unavailable || !inst.alive()
}
