package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/testenv"
)

// TestMain lets the test binary stand in for parlor-bench where the tool
// starts itself: as the floor server and as the modules scenario's
// plugins.
func TestMain(m *testing.M) {
	if kind, ok := benchPluginKind(os.Args[0]); ok {
		serveBenchPlugin(kind)
		return
	}
	if len(os.Args) == 2 && os.Args[1] == floorServerArg {
		if err := serveFloor(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "floor server:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses; utime 1234, stime 56.
	line := "4242 (parlor (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1234 56 0 0 20 0 9 0 100 1000000 2000 18446744073709551615\n"
	d, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1290 * 10 * time.Millisecond; d != want {
		t.Fatalf("parseStat = %s, want %s", d, want)
	}
	for _, bad := range []string{"", "4242 parlor S 1", "4242 (parlor) S 1 2 3", "4242 (parlor) S 1 4242 4242 0 -1 4194560 2000 0 0 0 x 56 0 0"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
	// This process's own line parses and its time grows with work.
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := processCPU(os.Getpid())
	if err != nil || after <= before {
		t.Fatalf("own CPU %s -> %s (%v)", before, after, err)
	}
}

// TestCPUMeter checks the CPU per operation of a phase and that a server
// without a process is not measured.
func TestCPUMeter(t *testing.T) {
	if c := meterCPU(0).done(10); c != nil {
		t.Fatalf("no process, measured %+v", c)
	}
	m := meterCPU(os.Getpid())
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
	}
	c := m.done(1000)
	if c == nil || c.Seconds <= 0 || c.Ops != 1000 || math.Abs(c.MicrosPerOp-c.Seconds*1e3) > 1e-6 {
		t.Fatalf("meter: %+v", c)
	}
	if got := cpuText(nil, "delivery"); got != "server CPU -" {
		t.Errorf("cpuText(nil) = %q", got)
	}
	if got := cpuText(&CPU{MicrosPerOp: 0.84, PluginMicrosPerOp: 12}, "delivery"); got != "server CPU 0.84 us/delivery (+12.0 in plugins)" {
		t.Errorf("cpuText = %q", got)
	}
	if got := cpuText(&CPU{MicrosPerOp: 440, WritesPerOp: 9.5}, "login"); got != "server CPU 440 us/login, 9.50 writes/login" {
		t.Errorf("cpuText with writes = %q", got)
	}
}

// TestFloorFrame checks that the floor's frames have the asked size and
// are counted message by message by the tool's clients.
func TestFloorFrame(t *testing.T) {
	for _, tc := range []struct{ size, per int }{{3400, 24}, {145, 1}, {80, 1}, {75, 1}, {300, 3}, {70000, 2}} {
		f := floorFrame(7, 123, tc.size, tc.per)
		payload, ok := wsPayload(f)
		if !ok {
			t.Fatalf("size %d: not an unmasked text frame: % x", tc.size, f[:4])
		}
		if min := len(floorFrame(7, 123, 0, tc.per)) - (len(f) - len(payload)); tc.size >= min && len(payload) != tc.size {
			t.Errorf("size %d, %d per frame: payload of %d bytes", tc.size, tc.per, len(payload))
		}
		st := newStats()
		st.phase.Store(7)
		c := &client{st: st, pub: -1, wake: make(chan struct{}, 1), ctrl: make(chan ctrlEvent, 8)}
		c.handle(payload)
		c.handle(payload)
		if got := c.received.Load(); got != int64(2*tc.per) {
			t.Errorf("size %d, %d per frame: two frames counted as %d messages", tc.size, tc.per, got)
		}
		if st.outOfOrder.Load() != 0 || st.stale.Load() != 0 {
			t.Errorf("the floor's repeated frames count as out of order (%d) or stale (%d)", st.outOfOrder.Load(), st.stale.Load())
		}
	}
}

// wsPayload returns the payload of one unmasked final text frame.
func wsPayload(f []byte) ([]byte, bool) {
	if len(f) < 2 || f[0] != 0x81 || f[1]&0x80 != 0 {
		return nil, false
	}
	n, h := int(f[1]), 2
	switch n {
	case 126:
		n, h = int(f[2])<<8|int(f[3]), 4
	case 127:
		n, h = int(f[6])<<24|int(f[7])<<16|int(f[8])<<8|int(f[9]), 10
	}
	if len(f) != h+n {
		return nil, false
	}
	return f[h:], true
}

// TestFloor runs the floor alone at a tiny size: a separate process that
// every client reaches, whose frames all arrive and whose CPU is read.
func TestFloor(t *testing.T) {
	o, err := parseFlags([]string{"--in-process", "--quiet", "--scenarios", "fanout,floor,latency", "--publishers", "1", "--room-size", "20", "--latency-duration", "1s", "--rate", "50", "--duration", "1s", "--timeout", "2m"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	fl := rep.Floor
	if fl == nil || fl.Connections != 20 || fl.Paced == nil || fl.Matched == nil {
		t.Fatalf("floor: %+v", fl)
	}
	// The floor writes the fan-out run's frames: its size and batch.
	if f := rep.Fanout[0]; fl.Fanout.BytesPerFrame != int(f.BytesPerFrame+0.5) || fl.Matched.PerFrame != fl.Fanout.PerFrame || fl.Matched.Rate <= 0 {
		t.Errorf("floor frames %d bytes of %d (matched: %d at %g msg/s), fan-out read %.1f bytes of %.1f",
			fl.Fanout.BytesPerFrame, fl.Fanout.PerFrame, fl.Matched.PerFrame, fl.Matched.Rate, f.BytesPerFrame, f.DeliveriesPerFrame)
	}
	for _, r := range []FloorRun{fl.Fanout, *fl.Matched, *fl.Paced} {
		if r.Frames == 0 || r.Delivered != r.Frames*int64(r.PerFrame) || r.Lost != 0 || r.PerSecond <= 0 {
			t.Errorf("floor run at rate %g: %d frames of %d, delivered %d, lost %d", r.Rate, r.Frames, r.PerFrame, r.Delivered, r.Lost)
		}
		if r.CPU == nil || r.CPU.Ops != r.Delivered {
			t.Errorf("floor run at rate %g: CPU %+v", r.Rate, r.CPU)
		}
	}
	// The latency run before the floor gave it the size of its messages.
	l := rep.Latency
	if want := int(l.BytesPerFrame/l.DeliveriesPerFrame + 0.5); fl.Paced.BytesPerFrame != want || fl.Paced.P99 <= 0 {
		t.Errorf("paced floor: %d-byte frames (latency scenario: %d), p99 %g ms", fl.Paced.BytesPerFrame, want, fl.Paced.P99)
	}
	// An in-process server has no CPU of its own: its figures say so.
	v := figure(t, rep, "publish-to-receive latency")
	if !strings.Contains(v.Value, "server CPU -") {
		t.Errorf("in-process latency figure: %q", v.Value)
	}
	if f := figure(t, rep, "latency / floor, 50 msg/s: server CPU"); f.Value != "-" {
		t.Errorf("in-process CPU ratio: %q", f.Value)
	}
	if f := figure(t, rep, "floor: raw TCP fan-out into 20"); !strings.Contains(f.Value, "us/delivery") {
		t.Errorf("floor figure: %q", f.Value)
	}
	// A figure's name is its row in BENCHMARKS.md: what a run measured
	// (frame sizes, the matched rate) goes in the value, or each run
	// would add rows instead of replacing them.
	other := *fl
	m, p := *fl.Matched, *fl.Paced
	other.Fanout.BytesPerFrame, other.Fanout.PerFrame = 1+fl.Fanout.BytesPerFrame, 1+fl.Fanout.PerFrame
	m.Rate, p.BytesPerFrame = 1+m.Rate, 1+p.BytesPerFrame
	other.Matched, other.Paced = &m, &p
	a, b := floorFigures(fl), floorFigures(&other)
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Value == b[i].Value {
			t.Errorf("floor figure %d: %q = %q, then %q = %q", i, a[i].Name, a[i].Value, b[i].Name, b[i].Value)
		}
	}
}

// figure returns the first figure of rep whose name starts with prefix.
func figure(t *testing.T, rep *Report, prefix string) Figure {
	t.Helper()
	for _, f := range rep.Figures {
		if strings.HasPrefix(f.Name, prefix) {
			return f
		}
	}
	t.Fatalf("no figure %q in %+v", prefix, rep.Figures)
	return Figure{}
}

// TestBaseline runs the latency scenario against a spawned server and a
// baseline binary (the same one here) and checks that both ran, their CPU
// was read from /proc and the report compares them.
func TestBaseline(t *testing.T) {
	bin := testenv.GoBuild(t, "./cmd/parlor", "parlor")
	old := filepath.Join(t.TempDir(), "parlor-old")
	if err := os.Symlink(bin, old); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"--spawn", bin, "--baseline", old, "--quiet", "--scenarios", "fanout,latency",
		"--room-size", "20", "--publishers", "1", "--duration", "1s", "--latency-duration", "1s", "--rate", "50", "--timeout", "2m"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	b := rep.Baseline
	if b == nil || b.Latency == nil || len(b.Fanout) != 1 || rep.Latency == nil || !strings.Contains(b.Target, "parlor-old") {
		t.Fatalf("baseline: %+v", b)
	}
	for _, r := range []*Report{rep, b} {
		if r.Latency.Sent == 0 || r.Latency.Lost != 0 || r.Latency.CPU == nil || r.Latency.CPU.Ops != r.Latency.Sent*20 {
			t.Errorf("%s: latency %+v, CPU %+v", r.Target, r.Latency, r.Latency.CPU)
		}
		if r.RoomJoin == nil || r.RoomJoin.CPU == nil || r.RoomJoin.CPU.Ops != 20 {
			t.Errorf("%s: room join %+v", r.Target, r.RoomJoin)
		}
	}
	for _, name := range []string{"server CPU per delivery, paced 50 msg/s", "latency p99, paced 50 msg/s", "latency max, paced 50 msg/s", "fan-out deliveries/s, 1 publisher(s)"} {
		f := figure(t, rep, "new / old binary (same run): "+name)
		if !strings.Contains(f.Value, "(new ") || strings.HasPrefix(f.Value, "-") {
			t.Errorf("%s: %q", f.Name, f.Value)
		}
	}
	if _, err := parseFlags([]string{"--in-process", "--baseline", old}); err == nil {
		t.Error("--baseline without --spawn accepted")
	}
}

// TestTargetRatios checks the ratio rows and their targets on a made-up
// report.
func TestTargetRatios(t *testing.T) {
	rep := &Report{
		Fanout:  []FanoutResult{{RoomSize: 1000, Publishers: 1, PerSecond: 500000, CPU: &CPU{MicrosPerOp: 1.0}}},
		Latency: &LatencyResult{RoomSize: 1000, Rate: 100, P99: 40, Max: 80, CPU: &CPU{MicrosPerOp: 9}},
		Floor: &FloorResult{Connections: 1000,
			Fanout:  FloorRun{PerSecond: 1250000, CPU: &CPU{MicrosPerOp: 0.25}},
			Matched: &FloorRun{PerSecond: 500000, CPU: &CPU{MicrosPerOp: 0.5}},
			Paced:   &FloorRun{Rate: 100, P99: 10, Max: 20, CPU: &CPU{MicrosPerOp: 10}}},
		Idle: &IdleResult{Clients: 5000, ConnectCPU: &CPU{MicrosPerOp: 300},
			Churn: &ChurnResult{Online: 5000, CPU: &CPU{MicrosPerOp: 300}}},
		Baseline: &Report{Latency: &LatencyResult{RoomSize: 1000, Rate: 100, P99: 40, Max: 60, CPU: &CPU{MicrosPerOp: 10}},
			Idle: &IdleResult{Clients: 5000, ConnectCPU: &CPU{MicrosPerOp: 900},
				Churn: &ChurnResult{Online: 5000, CPU: &CPU{MicrosPerOp: 1000}}}},
	}
	rep.Figures = figures(rep)
	for _, want := range []struct{ name, value, met string }{
		{"fan-out / floor, 1 publisher(s): deliveries/s", "0.40", "yes"},
		{"fan-out / floor, 1 publisher(s): server CPU per delivery", "2.00", "yes"}, // against the matched run
		{"latency / floor, 100 msg/s: server CPU per delivery", "0.90", "yes"},
		{"latency / floor, 100 msg/s: p99", "4.00 (max 4.00)", "no"},
		{"new / old binary (same run): server CPU per delivery, paced 100 msg/s", "0.90 (new 9.000, old 10.0 us)", "no"},
		{"new / old binary (same run): latency p99, paced 100 msg/s", "1.00 (new 40.0, old 40.0 ms)", "yes"},
		{"new / old binary (same run): latency max, paced 100 msg/s", "1.33 (new 80.0, old 60.0 ms)", "no"},
		{"new / old binary (same run): server CPU per connect+login+join+close, 5000 online", "0.30 (new 300, old 1000 us)", "no"},
	} {
		f := figure(t, rep, want.name)
		if f.Value != want.value || f.Met != want.met {
			t.Errorf("%s: %q met %q, want %q met %q", want.name, f.Value, f.Met, want.value, want.met)
		}
	}
	// A quarter of the old binary's login CPU meets the target.
	rep.Baseline.Idle.Churn.CPU.MicrosPerOp = 1200
	rep.Figures = figures(rep)
	if f := figure(t, rep, "new / old binary (same run): server CPU per connect+login+join+close"); f.Met != "yes" || f.Target != "<= 0.25" {
		t.Errorf("a quarter of the old login CPU: %q met %q (target %q)", f.Value, f.Met, f.Target)
	}
	// Without a measured CPU there is no ratio, and no target is met.
	rep.Fanout[0].CPU = nil
	rep.Figures = figures(rep)
	if f := figure(t, rep, "fan-out / floor, 1 publisher(s): server CPU"); f.Value != "-" || f.Met != "no" {
		t.Errorf("unmeasured CPU ratio: %q met %q", f.Value, f.Met)
	}
}
