package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/testenv"
)

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"ws://127.0.0.1:8080/ws", "ws://127.9.9.9/ws", "ws://[::1]:8080/ws", "ws://localhost:8080/ws"} {
		if _, err := checkLoopback(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"ws://10.0.0.1:8080/ws", "ws://example.com/ws", "wss://127.0.0.1/ws", "ws://0.0.0.0:8080/ws", "http://127.0.0.1/ws"} {
		if _, err := checkLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := parseFlags([]string{"--url", "ws://192.168.1.2:8080/ws"}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("non-loopback --url: err = %v", err)
	}
	if _, err := parseFlags([]string{"--in-process", "--clients", "20001"}); err == nil {
		t.Error("--clients above the bound accepted")
	}
	if _, err := parseFlags([]string{"--in-process", "--timeout", "11m"}); err == nil {
		t.Error("--timeout above the bound accepted")
	}
}

// TestSmoke runs every scenario at a tiny size against an in-process
// server and checks that it ran and lost nothing; it asserts no speed.
// The cluster scenario, which TestClusterScenario runs against spawned
// nodes, is pointed at a NATS address where nothing listens and skips.
func TestSmoke(t *testing.T) {
	pluginDir := filepath.Dir(testenv.GoBuild(t, "./plugins/authurl", "parlor-plugin-authurl"))
	o, err := parseFlags([]string{
		"--in-process", "--plugins-dir", pluginDir, "--quiet", "--nats", "nats://" + testenv.FreeAddr(t),
		"--clients", "30", "--idle-room-size", "10", "--room-size", "20", "--publishers", "1,2",
		"--duration", "1s", "--latency-duration", "1s", "--rate", "50", "--rounds", "1", "--churn", "20",
		"--logins", "20", "--login-samples", "10", "--login-concurrency", "4", "--timeout", "2m",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if rep.Idle == nil || len(rep.Fanout) != 2 || rep.Latency == nil || rep.Logins == nil || rep.Logins.AuthURL == nil || rep.Cluster == nil || rep.Cluster.Skipped == "" {
		t.Fatalf("scenarios missing: %+v", rep)
	}
	if c := rep.Idle.Churn; c == nil || c.Logins != 20 || c.Failures != 0 || c.Online != 30 {
		t.Errorf("churn: %+v", c)
	} else if f := c.Floor; f == nil || f.Logins != 20 || f.Failures != 0 || f.CPU == nil {
		t.Errorf("churn against the floor: %+v", f)
	}
	for _, f := range rep.Fanout {
		if f.Sent == 0 || f.Delivered != f.Sent*int64(f.RoomSize) {
			t.Errorf("fan-out %d publishers: sent %d, delivered %d of %d", f.Publishers, f.Sent, f.Delivered, f.Expected)
		}
	}
	checkRooms(t, rep.Rooms)
	if rep.Latency.Sent == 0 || rep.Latency.Samples != rep.Latency.Sent*20 {
		t.Errorf("latency: sent %d, samples %d", rep.Latency.Sent, rep.Latency.Samples)
	}
	if rep.MessagesLost != 0 || rep.Disconnects != 0 || rep.OutOfOrder != 0 {
		t.Errorf("lost %d, disconnects %d (%v), out of order %d", rep.MessagesLost, rep.Disconnects, rep.DisconnectReasons, rep.OutOfOrder)
	}
	if rep.Logins.Page.Requests == 0 || rep.Logins.Page.P50 <= 0 {
		t.Errorf("auth page probe: %+v", rep.Logins.Page)
	}
	if rep.Logins.PageRequests < 30 || rep.Logins.AuthURL.Sequential.Failures != 0 || rep.Logins.Guest.Concurrent.Failures != 0 {
		t.Errorf("logins: %+v", rep.Logins)
	}

	md := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(md, []byte("# Benchmarks\n\nintro\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second run replaces the rows of the first
		if err := writeMarkdown(md, rep); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(md)
	if got := strings.Count(string(b), "| "+rep.Machine.String()+" |"); got != len(rep.Figures) {
		t.Errorf("%d rows for %d figures:\n%s", got, len(rep.Figures), b)
	}
	if !strings.HasPrefix(string(b), "# Benchmarks\n\nintro\n") {
		t.Errorf("text outside the rows changed:\n%s", b)
	}
}

// TestRoomsScenario runs the rooms scenario alone at a tiny size: the same
// clients in one room, then split over 10 rooms (one publisher each),
// then back; every message reaches every member of its room, in order
// (the re-joins are no gaps). It asserts no speed.
func TestRoomsScenario(t *testing.T) {
	o, err := parseFlags([]string{"--in-process", "--quiet", "--scenarios", "rooms", "--room-size", "30", "--duration", "1s", "--timeout", "2m"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	checkRooms(t, rep.Rooms)
	if rep.MessagesLost != 0 || rep.Disconnects != 0 || rep.OutOfOrder != 0 {
		t.Errorf("lost %d, disconnects %d (%v), out of order %d", rep.MessagesLost, rep.Disconnects, rep.DisconnectReasons, rep.OutOfOrder)
	}
	if !slices.ContainsFunc(rep.Figures, func(f Figure) bool { return strings.HasPrefix(f.Name, "rooms: 10 rooms") }) {
		t.Errorf("no rooms ratio figure: %+v", rep.Figures)
	}
}

// checkRooms checks that the rooms scenario ran its three fan-outs and
// each delivered every message to every member of its room.
func checkRooms(t *testing.T, r *RoomsResult) {
	t.Helper()
	if r == nil || len(r.OneRoom) != 2 || r.Split.RoomSize != r.Clients/10 || r.Split.Publishers != 10 || r.Ratio <= 0 {
		t.Fatalf("rooms: %+v", r)
	}
	for _, f := range append([]FanoutResult{r.Split}, r.OneRoom...) {
		if f.Sent == 0 || f.Delivered != f.Expected || f.Expected < f.Sent*int64(f.RoomSize) {
			t.Errorf("rooms, room of %d: sent %d, delivered %d of %d", f.RoomSize, f.Sent, f.Delivered, f.Expected)
		}
	}
}

// TestModulesScenarioRealModule runs the modules scenario alone at a tiny
// size with --module-plugin set to the moderation plugin: a fourth server
// loads it, every message reaches the whole (unmoderated) room, and the
// report has its ratio against the target. It asserts no speed.
func TestModulesScenarioRealModule(t *testing.T) {
	bin := testenv.GoBuild(t, "./plugins/moderation", "parlor-plugin-moderation")
	o, err := parseFlags([]string{
		"--in-process", "--quiet", "--scenarios", "modules", "--module-plugin", bin,
		"--room-size", "20", "--duration", "1s", "--latency-duration", "1s", "--rate", "50", "--rounds", "1", "--timeout", "2m",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	m := rep.Modules
	if m == nil || len(m.Variants) != 4 || m.Variants[3].Name != "moderation module" {
		t.Fatalf("modules scenario: %+v", m)
	}
	for _, v := range m.Variants {
		if f := v.Fanout; f.Sent == 0 || f.Delivered != f.Sent*int64(f.RoomSize) || f.Lost != 0 {
			t.Errorf("%s: sent %d, delivered %d of %d", v.Name, f.Sent, f.Delivered, f.Expected)
		}
	}
	if m.RealModuleRatio <= 0 {
		t.Errorf("no ratio for the moderation module: %+v", m)
	}
	var found bool
	for _, f := range rep.Figures {
		if strings.Contains(f.Name, "moderation module") && f.Target == ">= 0.80" {
			found = true
		}
	}
	if !found {
		t.Errorf("no figure of the moderation module with its target: %+v", rep.Figures)
	}
}
