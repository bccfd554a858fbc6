package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// Targets of the modules scenario: a pass-through OnMessage module keeps
// this share of the throughput without one, and the p99 latency with it is
// at most this multiple of the p99 without.
const (
	targetModuleThroughput = 0.8
	targetModuleP99        = 1.1
)

// ModulesResult is the modules scenario.
type ModulesResult struct {
	Variants []ModuleVariant `json:"variants"`
	// ThroughputRatio is the fan-out deliveries per second with the
	// pass-through module over those with no module; NoHookRatio the
	// same for the module that declares no hook.
	ThroughputRatio float64 `json:"throughput_ratio"`
	NoHookRatio     float64 `json:"no_hook_ratio"`
	// AddedP99 is the p99 latency with the pass-through module minus the
	// p99 with none, in milliseconds; P99Ratio the one over the other.
	AddedP99 float64 `json:"added_p99_ms"`
	P99Ratio float64 `json:"p99_ratio"`
}

// ModuleVariant is one server of the modules scenario.
type ModuleVariant struct {
	Name    string        `json:"name"`
	Fanout  FanoutResult  `json:"fanout"`
	Latency LatencyResult `json:"latency"`
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
	for i, v := range variants {
		mv, err := o.moduleVariant(ctx, st, prog, fmt.Sprintf("m%d", i), v.name, v.modules)
		res.Variants = append(res.Variants, mv)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
	}
	none, nohook, pass := res.Variants[0], res.Variants[1], res.Variants[2]
	if none.Fanout.PerSecond > 0 {
		res.ThroughputRatio = pass.Fanout.PerSecond / none.Fanout.PerSecond
		res.NoHookRatio = nohook.Fanout.PerSecond / none.Fanout.PerSecond
	}
	res.AddedP99 = pass.Latency.P99 - none.Latency.P99
	if none.Latency.P99 > 0 {
		res.P99Ratio = pass.Latency.P99 / none.Latency.P99
	}
	return nil
}

// moduleVariant runs fan-out (one publisher) and latency against a server
// loading modules.
func (o *options) moduleVariant(ctx context.Context, st *stats, prog *progress, tag, name string, modules []moduleSpec) (ModuleVariant, error) {
	mv := ModuleVariant{Name: name}
	t, err := o.start(ctx, serverSpec{rooms: []roomSpec{{id: 1, name: "Bench"}}, modules: modules})
	if err != nil {
		return mv, err
	}
	defer func() { _ = t.stop() }()
	label := "modules (" + name + "): connect"
	clients, err := connectMany(ctx, t, st, prog, label, o.prefix+tag, o.roomSize, o.dialConcurrency, 1, "", func(int) int64 { return t.room })
	if err != nil {
		return mv, err
	}
	defer closeAll(clients)
	settle(ctx, time.Second)
	r := &room{clients: clients, st: st, pid: t.pid}
	prog.set("waiting for an idle server", 0, nil, nil)
	quiesce(ctx, t)
	mv.Fanout = r.fanout(ctx, o, prog, 1, o.duration)
	prog.set("waiting for an idle server", 0, nil, nil)
	quiesce(ctx, t)
	mv.Latency = r.latency(ctx, prog, o.rate, o.latencyDur)
	if ctx.Err() != nil {
		return mv, fmt.Errorf("modules: %w", ctx.Err())
	}
	if msgs := strings.TrimSpace(mv.Fanout.Error + " " + mv.Latency.Error); msgs != "" {
		return mv, errors.New(msgs)
	}
	return mv, nil
}

// moduleFigures are the summary rows of the modules scenario.
func moduleFigures(m *ModulesResult) []Figure {
	var out []Figure
	for _, v := range m.Variants {
		out = append(out, Figure{
			Name: fmt.Sprintf("modules: %s, fan-out into %d, 1 publisher / latency at %.0f msg/s", v.Name, v.Fanout.RoomSize, v.Latency.Rate),
			Value: fmt.Sprintf("%s/s (lost %d), %s; p50 %.2f ms, p99 %.2f ms (lost %d), %s",
				thousands(v.Fanout.PerSecond), v.Fanout.Lost, cpuText(v.Fanout.CPU, "delivery"),
				v.Latency.P50, v.Latency.P99, v.Latency.Lost, cpuText(v.Latency.CPU, "delivery")),
		})
	}
	if len(m.Variants) == 3 {
		out = append(out,
			Figure{
				Name:   "modules: throughput with a pass-through OnMessage module / with none (same run)",
				Value:  fmt.Sprintf("%.2f (module without hooks: %.2f)", m.ThroughputRatio, m.NoHookRatio),
				Target: fmt.Sprintf(">= %.2f", targetModuleThroughput),
				Met:    met(m.ThroughputRatio >= targetModuleThroughput),
			},
			Figure{
				Name:   "modules: p99 latency with a pass-through OnMessage module / with none (same run)",
				Value:  fmt.Sprintf("%.2f (%+.2f ms)", m.P99Ratio, m.AddedP99),
				Target: fmt.Sprintf("<= %.2f", targetModuleP99),
				Met:    met(m.P99Ratio > 0 && m.P99Ratio <= targetModuleP99),
			})
	}
	return out
}
