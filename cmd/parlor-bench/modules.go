package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The modules scenario measures what the module hooks cost on the message
// path: the same fan-out and latency runs into one room against three
// servers, one with no module, one with a module that declares no hook and
// one with a module whose OnMessage passes every message. The modules are
// this binary itself, started by the server under the names below (a
// symbolic link per name in a temporary directory).
const (
	benchPluginNoHook = "parlor-plugin-bench-nohook"
	benchPluginPass   = "parlor-plugin-bench-pass"
)

// Targets of the modules scenario (issue figures): a pass-through
// OnMessage module keeps this share of the throughput without one and adds
// at most this much to the p99 latency. The target of the real module of
// --module-plugin is targetRealModuleThroughput (figures.go).
const (
	targetModuleThroughput = 0.8
	targetModuleAddedP99   = 1.0 // ms
)

// moduleVariants is how many servers the modules scenario runs.
func moduleVariants(o *options) int {
	if o.modulePlugin != "" {
		return 4
	}
	return 3
}

// realModuleName is the plugin name of --module-plugin's binary:
// "moderation" for parlor-plugin-moderation.
func realModuleName(path string) string {
	name := strings.TrimPrefix(filepath.Base(path), "parlor-plugin-")
	if name == "" {
		return "module"
	}
	return name
}

// ModulesResult is the modules scenario.
type ModulesResult struct {
	Variants []ModuleVariant `json:"variants"`
	// ThroughputRatio is the fan-out deliveries per second with the
	// pass-through module over those with no module; NoHookRatio the
	// same for the module that declares no hook.
	ThroughputRatio float64 `json:"throughput_ratio"`
	NoHookRatio     float64 `json:"no_hook_ratio"`
	// AddedP99 is the p99 latency with the pass-through module minus the
	// p99 with none, in milliseconds: the median over the rounds of the
	// difference within a round, whose slices ran minutes apart at most,
	// so that a burst of outside load that hit one slice does not decide
	// it. PooledAddedP99 is the difference of the p99s of all the slices;
	// NoHookAddedP99 the round median for the module without hooks, whose
	// message path is the one without a module: the spread of the method.
	AddedP99       float64 `json:"added_p99_ms"`
	PooledAddedP99 float64 `json:"pooled_added_p99_ms"`
	NoHookAddedP99 float64 `json:"no_hook_added_p99_ms"`
	// RealModuleRatio is the throughput with --module-plugin's module over
	// that with none (0 when it did not run); RealAddedP99 its round
	// median of added p99 latency, ms.
	RealModuleRatio float64 `json:"real_module_ratio,omitempty"`
	RealAddedP99    float64 `json:"real_module_added_p99_ms,omitempty"`
}

// ModuleVariant is one server of the modules scenario.
type ModuleVariant struct {
	Name    string        `json:"name"`
	Fanout  FanoutResult  `json:"fanout"`
	Latency LatencyResult `json:"latency"`
	// Rounds is the p99 latency of each round's slice, ms.
	Rounds []float64 `json:"round_p99_ms"`
}

// benchPluginKind reports whether this process was started as one of the
// scenario's module plugins.
func benchPluginKind(arg0 string) (string, bool) {
	switch base := filepath.Base(arg0); base {
	case benchPluginNoHook, benchPluginPass:
		return base, true
	}
	return "", false
}

// linkBenchPlugins makes a directory holding the scenario's module plugin
// names as links to this binary.
func linkBenchPlugins() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "parlor-bench-plugins-")
	if err != nil {
		return "", fmt.Errorf("plugin dir: %w", err)
	}
	for _, name := range []string{benchPluginNoHook, benchPluginPass} {
		if err := os.Symlink(self, filepath.Join(dir, name)); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("link %s: %w", name, err)
		}
	}
	return dir, nil
}

func (o *options) runModules(ctx context.Context, rep *Report, st *stats, prog *progress) error {
	if o.url != "" {
		return errors.New("the modules scenario needs servers the tool starts (--spawn or --in-process)")
	}
	dir, err := linkBenchPlugins()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res := &ModulesResult{}
	rep.Modules = res
	variants := []struct {
		name    string
		modules []moduleSpec
	}{
		{"no module", nil},
		{"module without hooks", []moduleSpec{{"nohook", filepath.Join(dir, benchPluginNoHook)}}},
		{"pass-through OnMessage", []moduleSpec{{"pass", filepath.Join(dir, benchPluginPass)}}},
	}
	if o.modulePlugin != "" {
		path, err := filepath.Abs(o.modulePlugin)
		if err != nil {
			return fmt.Errorf("--module-plugin: %w", err)
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("--module-plugin: %w", err)
		}
		name := realModuleName(path)
		variants = append(variants, struct {
			name    string
			modules []moduleSpec
		}{name + " module", []moduleSpec{{name, path}}})
	}
	servers := make([]*moduleServer, len(variants))
	defer func() {
		for _, s := range servers {
			if s != nil {
				s.close()
			}
		}
	}()
	for i, v := range variants {
		res.Variants = append(res.Variants, ModuleVariant{Name: v.name})
		s, err := o.moduleServer(ctx, st, prog, fmt.Sprintf("m%d", i), v.name, v.modules)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		servers[i] = s
	}
	settle(ctx, time.Second)
	// The publisher keeps at least moduleWindow messages on their way:
	// with the --window the other fan-out runs use (64), one publisher
	// waits for its own echo so often that the run measures the round
	// trip of a message, and a hook's latency looks like lost throughput.
	// One publisher at 256 queues at most a quarter of http.send_queue at
	// a receiver.
	o = o.withWindow(moduleWindow)
	// Each variant's fan-out and latency runs are cut into --rounds
	// slices, and the servers take turns (the order rotating every
	// round), so that load from outside the tool falls on all three alike
	// instead of on whichever ran while it lasted.
	fanDur := max(o.duration/time.Duration(o.rounds), 100*time.Millisecond)
	latDur := max(o.latencyDur/time.Duration(o.rounds), 100*time.Millisecond)
	for round := range o.rounds {
		for k := range servers {
			i := (k + round) % len(servers)
			s := servers[i]
			prog.set("waiting for an idle server", 0, nil, nil)
			quiesce(ctx, s.t)
			s.fanout.add(s.r.fanout(ctx, o, prog, 1, fanDur))
			prog.set("waiting for an idle server", 0, nil, nil)
			quiesce(ctx, s.t)
			s.latency.add(s.r.latency(ctx, prog, o.rate, latDur), &st.hist)
			if ctx.Err() != nil {
				return fmt.Errorf("modules: %w", ctx.Err())
			}
		}
	}
	for i, s := range servers {
		v := &res.Variants[i]
		v.Fanout, v.Latency, v.Rounds = s.fanout.result(), s.latency.result(), s.latency.rounds
		if msgs := strings.TrimSpace(v.Fanout.Error + " " + v.Latency.Error); msgs != "" {
			return fmt.Errorf("%s: %s", v.Name, msgs)
		}
	}
	none, nohook, pass := res.Variants[0], res.Variants[1], res.Variants[2]
	if none.Fanout.PerSecond > 0 {
		res.ThroughputRatio = pass.Fanout.PerSecond / none.Fanout.PerSecond
		res.NoHookRatio = nohook.Fanout.PerSecond / none.Fanout.PerSecond
	}
	res.PooledAddedP99 = pass.Latency.P99 - none.Latency.P99
	res.AddedP99 = medianDiff(servers[2].latency.rounds, servers[0].latency.rounds)
	res.NoHookAddedP99 = medianDiff(servers[1].latency.rounds, servers[0].latency.rounds)
	if len(servers) == 4 {
		if none.Fanout.PerSecond > 0 {
			res.RealModuleRatio = res.Variants[3].Fanout.PerSecond / none.Fanout.PerSecond
		}
		res.RealAddedP99 = medianDiff(servers[3].latency.rounds, servers[0].latency.rounds)
	}
	return nil
}

// moduleWindow is the smallest publisher window and guard of the
// modules scenario's fan-out runs.
const moduleWindow = 256

// withWindow returns o with --window and --guard at least n.
func (o *options) withWindow(n int64) *options {
	c := *o
	c.window, c.guard = max(c.window, n), max(c.guard, n)
	return &c
}

// moduleServer is one variant of the modules scenario: its server, the
// clients in its room and the sums of its slices so far.
type moduleServer struct {
	t       *target
	clients []*client
	r       *room
	fanout  fanoutSum
	latency latencySum
}

// moduleServer starts a server loading modules and connects the room's
// clients to it.
func (o *options) moduleServer(ctx context.Context, st *stats, prog *progress, tag, name string, modules []moduleSpec) (*moduleServer, error) {
	// The publisher keeps up to --guard messages on their way; with the
	// say limits off, a connection's messages in its hooks are bounded
	// by modules.messages_in_flight alone (the say limit keeps a real
	// connection far below it), so the server may take as many as the
	// publisher sends and the runs measure the module, not that bound.
	t, err := o.start(ctx, serverSpec{rooms: []roomSpec{{id: 1, name: "Bench"}}, modules: modules, inFlight: max(o.guard, moduleWindow)})
	if err != nil {
		return nil, err
	}
	label := "modules (" + name + "): connect"
	clients, err := connectMany(ctx, t, st, prog, label, o.prefix+tag, o.roomSize, o.dialConcurrency, 1, "", func(int) int64 { return t.room })
	if err != nil {
		_ = t.stop()
		return nil, err
	}
	return &moduleServer{t: t, clients: clients, r: &room{clients: clients, st: st, pid: t.pid}}, nil
}

func (s *moduleServer) close() {
	closeAll(s.clients)
	_ = s.t.stop()
}

// fanoutSum adds up fan-out slices of one server.
type fanoutSum struct {
	FanoutResult
	frames frameSum
}

// frameSum adds up the WebSocket messages the clients read in slices, for
// the mean bytes and deliveries per message.
type frameSum struct{ frames, bytes, deliveries float64 }

// add counts a slice of delivered deliveries, perFrame per message of
// bytesPerFrame bytes.
func (s *frameSum) add(delivered int64, perFrame, bytesPerFrame float64) {
	if perFrame <= 0 {
		return
	}
	n := float64(delivered) / perFrame
	s.frames += n
	s.bytes += n * bytesPerFrame
	s.deliveries += float64(delivered)
}

// means returns the bytes and the deliveries per message.
func (s frameSum) means() (bytesPerFrame, perFrame float64) {
	if s.frames == 0 {
		return 0, 0
	}
	return s.bytes / s.frames, s.deliveries / s.frames
}

func (f *fanoutSum) add(r FanoutResult) {
	f.RoomSize, f.Publishers, f.Window = r.RoomSize, r.Publishers, r.Window
	f.Seconds += r.Seconds
	f.Sent += r.Sent
	f.Expected += r.Expected
	f.Delivered += r.Delivered
	f.Lost += r.Lost
	f.Disconnects += r.Disconnects
	f.CPU = addCPU(f.CPU, r.CPU)
	f.frames.add(r.Delivered, r.DeliveriesPerFrame, r.BytesPerFrame)
	if f.Error == "" {
		f.Error = r.Error
	}
}

func (f *fanoutSum) result() FanoutResult {
	r := f.FanoutResult
	if r.Seconds > 0 {
		r.PerSecond = float64(r.Delivered) / r.Seconds
		r.MessagesPerSecond = float64(r.Sent) / r.Seconds
	}
	r.BytesPerFrame, r.DeliveriesPerFrame = f.frames.means()
	return r
}

// latencySum adds up latency slices of one server, with a histogram of
// all their samples for the quantiles and each slice's p99.
type latencySum struct {
	LatencyResult
	hist   histogram
	rounds []float64 // p99 of each slice, ms
	frames frameSum
}

// addCPU adds the CPU of two slices of a phase (nil when either was not
// measured).
func addCPU(a, b *CPU) *CPU {
	if b == nil {
		return a
	}
	if a == nil {
		c := *b
		return &c
	}
	c := &CPU{Seconds: a.Seconds + b.Seconds, Ops: a.Ops + b.Ops, PluginSeconds: a.PluginSeconds + b.PluginSeconds}
	if c.Ops > 0 {
		c.MicrosPerOp = c.Seconds * 1e6 / float64(c.Ops)
		c.PluginMicrosPerOp = c.PluginSeconds * 1e6 / float64(c.Ops)
	}
	return c
}

// medianDiff is the median of a[i]-b[i].
func medianDiff(a, b []float64) float64 {
	n := min(len(a), len(b))
	if n == 0 {
		return 0
	}
	d := make([]float64, n)
	for i := range d {
		d[i] = a[i] - b[i]
	}
	slices.Sort(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

// add counts slice r, whose samples are in h.
func (l *latencySum) add(r LatencyResult, h *histogram) {
	l.RoomSize, l.Rate = r.RoomSize, r.Rate
	l.Sent += r.Sent
	l.Samples += r.Samples
	l.Lost += r.Lost
	l.Disconnects += r.Disconnects
	l.CPU = addCPU(l.CPU, r.CPU)
	l.frames.add(r.Samples, r.DeliveriesPerFrame, r.BytesPerFrame)
	if l.Error == "" {
		l.Error = r.Error
	}
	l.hist.merge(h)
	l.rounds = append(l.rounds, r.P99)
}

func (l *latencySum) result() LatencyResult {
	r := l.LatencyResult
	r.P50 = ms(l.hist.quantile(0.50))
	r.P99 = ms(l.hist.quantile(0.99))
	r.P999 = ms(l.hist.quantile(0.999))
	r.Max = ms(time.Duration(l.hist.max.Load()))
	r.BytesPerFrame, r.DeliveriesPerFrame = l.frames.means()
	return r
}

// moduleFigures are the summary rows of the modules scenario.
func moduleFigures(m *ModulesResult) []Figure {
	var out []Figure
	for _, v := range m.Variants {
		out = append(out, Figure{
			Name: fmt.Sprintf("modules: %s, fan-out into %d, 1 publisher (window %d) / latency at %.0f msg/s", v.Name, v.Fanout.RoomSize, v.Fanout.Window, v.Latency.Rate),
			Value: fmt.Sprintf("%s/s (lost %d), %s; p50 %.2f ms, p99 %.2f ms (lost %d), %s",
				thousands(v.Fanout.PerSecond), v.Fanout.Lost, cpuText(v.Fanout.CPU, "delivery"),
				v.Latency.P50, v.Latency.P99, v.Latency.Lost, cpuText(v.Latency.CPU, "delivery")),
		})
	}
	if len(m.Variants) >= 3 {
		out = append(out,
			Figure{
				Name:   "modules: throughput with a pass-through OnMessage module / with none (same run)",
				Value:  fmt.Sprintf("%.2f (module without hooks: %.2f)", m.ThroughputRatio, m.NoHookRatio),
				Target: fmt.Sprintf(">= %.2f", targetModuleThroughput),
				Met:    met(m.ThroughputRatio >= targetModuleThroughput),
			},
			Figure{
				Name:   "modules: p99 latency added by a pass-through OnMessage module",
				Value:  fmt.Sprintf("%+.2f ms, median of %d rounds (all slices pooled: %+.2f ms; module without hooks: %+.2f ms)", m.AddedP99, len(m.Variants[0].Rounds), m.PooledAddedP99, m.NoHookAddedP99),
				Target: fmt.Sprintf("<= %.0f ms", targetModuleAddedP99),
				Met:    met(m.AddedP99 <= targetModuleAddedP99),
			})
	}
	if len(m.Variants) == 4 {
		real := m.Variants[3].Name
		out = append(out, Figure{
			Name:   "modules: throughput with the " + real + " (unmoderated room) / with none (same run)",
			Value:  fmt.Sprintf("%.2f (p99 latency added: %+.2f ms, median of %d rounds)", m.RealModuleRatio, m.RealAddedP99, len(m.Variants[0].Rounds)),
			Target: fmt.Sprintf(">= %.2f", targetRealModuleThroughput),
			Met:    met(m.RealModuleRatio >= targetRealModuleThroughput),
		})
	}
	return out
}
