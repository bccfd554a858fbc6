// Command parlor-bench is Parlor's load generator. It opens many WebSocket
// clients against a server on this machine, logs them in, joins rooms and
// measures what the server sustains:
//
//   - idle: server memory per idle logged-in connection (RSS after N
//     connections minus RSS before, divided by N)
//   - fanout: deliveries per second into one room with 1 and 4 publishers
//   - latency: publish-to-receive p50/p99/max at a paced rate
//   - modules: fan-out and latency with no module, a module declaring no
//     hook and a pass-through OnMessage module (the cost of the hooks),
//     and with --module-plugin a real module (the moderation plugin) as a
//     fourth server; the servers run at once and take turns in --rounds
//     slices
//   - rooms: fan-out of --room-size clients in 1 room against the same
//     clients in 10 rooms, 10 publishers in both (rooms do not wait for
//     each other: the ratio is at least 1)
//   - logins: logins per second and login round trip, as a guest without
//     plugins and through the authurl plugin against an Auth URL page the
//     tool serves itself (answering 0); the difference is the added latency
//   - floor: the raw TCP fan-out floor of the same run, this binary started
//     again as a bare Go server writing ready-made frames of the fan-out
//     run's size to as many sockets (floor.go); the fan-out and latency
//     figures are also given as ratios to it
//   - cluster: three nodes sharing a NATS server (--nats), the room's
//     members spread over them and the publishers on node 1: deliveries/s
//     and latency of the members on the other nodes, against the same
//     room on a single node in the same run (cluster.go); skipped when
//     NATS does not answer
//
// Around every measured phase the server's CPU time is read from /proc
// and given per operation (delivery, login, join). With --baseline OLD the
// scenarios also run against an older binary, alternately first, and the
// report gives new/old ratios.
//
// Messages lost (sent times receivers minus received) and connections the
// server dropped are reported for every scenario and must be 0.
//
// The target is loopback only. Either the tool starts the server per
// scenario (--spawn bin/parlor: a subprocess with a temporary data
// directory, which gives honest RSS figures; or --in-process, for
// profiling with --cpuprofile/--memprofile), or it uses a running server
// (--url ws://127.0.0.1:8080/ws, with --pid for its RSS).
//
//	parlor-bench --spawn bin/parlor [--baseline old/parlor] [--scenarios idle,fanout,latency,floor,logins]
//	             [--clients 5000] [--room-size 1000] [--publishers 1,4]
//	             [--duration 10s] [--rate 100] [--json] [--markdown BENCHMARKS.md]
//
// A progress line is written to stderr, the summary table (or with --json
// the report) to stdout. The run stops by itself (--timeout, at most 10m).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bounds of a run.
const (
	maxClients  = 20000
	maxDuration = 10 * time.Minute
)

type options struct {
	url        string
	pid        int
	room       int64
	spawn      string
	baseline   string // an older server binary to compare with (--baseline)
	pluginsDir string
	inProcess  bool
	logLevel   string

	scenarios    []string
	clients      int
	idleRoomSize int
	roomSize     int
	publishers   []int
	duration     time.Duration
	rate         float64
	latencyDur   time.Duration
	logins       int
	loginConc    int
	churn        int
	loginSamples int
	window       int64
	guard        int64
	rounds       int
	modulePlugin string // a real module the modules scenario adds as a variant (--module-plugin)
	nats         string // the cluster scenario's NATS server (--nats)
	clusterPubs  int    // the cluster scenario's publishers, on node 1
	clusterDSN   string // a PostgreSQL store the cluster's nodes share ("" each its own SQLite)

	dialConcurrency int
	procs           int
	timeout         time.Duration
	json            bool
	quiet           bool
	markdown        string
	gobench         string
	cpuprofile      string
	memprofile      string

	prefix  string // user name prefix of this run
	command string
}

var allScenarios = []string{"idle", "fanout", "latency", "floor", "logins", "modules", "rooms", "cluster"}

func main() {
	if kind, ok := benchPluginKind(os.Args[0]); ok {
		serveBenchPlugin(kind)
		return
	}
	if len(os.Args) == 2 && os.Args[1] == floorServerArg {
		if err := serveFloor(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "parlor-bench floor server:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "parlor-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, os.Stderr)
	if rep != nil {
		if o.json {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			printTable(os.Stdout, rep)
		}
		if o.markdown != "" {
			if merr := writeMarkdown(o.markdown, rep); merr != nil {
				err = errors.Join(err, merr)
			} else {
				fmt.Fprintln(os.Stderr, "parlor-bench: updated", o.markdown)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "parlor-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("parlor-bench", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "", "WebSocket URL of a running server (loopback only), e.g. ws://127.0.0.1:8080/ws")
	fs.IntVar(&o.pid, "pid", 0, "with --url: the server's process id, to read its RSS from /proc")
	room := fs.Int("room", 1, "with --url: the room the clients join (its capacity must fit --room-size)")
	fs.StringVar(&o.spawn, "spawn", "", "start this server binary (bin/parlor) per scenario with a temporary data dir")
	fs.StringVar(&o.baseline, "baseline", "", "with --spawn: also run every scenario against this older server binary, alternately, and print new/old ratios")
	fs.StringVar(&o.pluginsDir, "plugins-dir", "", "plugin binaries for --spawn/--in-process (default: <dir of --spawn>/plugins, else bin/plugins)")
	fs.BoolVar(&o.inProcess, "in-process", false, "run the server inside the tool (for --cpuprofile/--memprofile; no RSS figures)")
	fs.StringVar(&o.logLevel, "server-log-level", "warn", "log level of a server the tool starts")
	scen := fs.String("scenarios", "all", "comma list of idle, fanout, latency, floor, logins, modules, rooms, cluster; or all")
	fs.IntVar(&o.clients, "clients", 5000, fmt.Sprintf("idle connections (at most %d)", maxClients))
	fs.IntVar(&o.idleRoomSize, "idle-room-size", 100, "idle clients are spread over rooms of this many (spawned servers)")
	fs.IntVar(&o.roomSize, "room-size", 1000, "clients in the fan-out and latency room")
	pubs := fs.String("publishers", "1,4", "comma list of publisher counts for the fan-out runs")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each fan-out run")
	fs.Float64Var(&o.rate, "rate", 100, "messages per second of the latency run")
	fs.DurationVar(&o.latencyDur, "latency-duration", 10*time.Second, "length of the latency run")
	fs.IntVar(&o.logins, "logins", 2000, "logins of the throughput pass (per server)")
	fs.IntVar(&o.loginConc, "login-concurrency", 32, "concurrent logins of the throughput pass and of --churn")
	fs.IntVar(&o.churn, "churn", 1000, "connect+login+join+close cycles while the idle clients stay online (0: none)")
	fs.IntVar(&o.loginSamples, "login-samples", 1000, "sequential logins of the latency pass (per server)")
	fs.Int64Var(&o.window, "window", 64, "a publisher's messages in flight before it waits for its own echo")
	fs.IntVar(&o.rounds, "rounds", 5, "slices the modules scenario cuts each run into, its servers taking turns")
	fs.StringVar(&o.modulePlugin, "module-plugin", "", "a module plugin binary (such as bin/plugins/parlor-plugin-moderation) the modules scenario also runs, with its default config, as a fourth server")
	fs.StringVar(&o.nats, "nats", "nats://127.0.0.1:4222", "NATS server (with JetStream, loopback only) of the cluster scenario; the scenario is skipped when it does not answer")
	fs.IntVar(&o.clusterPubs, "cluster-publishers", 1, "publishers of the cluster scenario, all on node 1")
	fs.StringVar(&o.clusterDSN, "cluster-store-dsn", "", "a PostgreSQL DSN the cluster scenario's nodes share as their store (store.driver: postgres); default: each node its own SQLite file")
	fs.Int64Var(&o.guard, "guard", 128, "messages a publisher may be ahead of the slowest receiver (keep below http.send_queue)")
	fs.IntVar(&o.dialConcurrency, "dial-concurrency", 64, "connections being opened at once")
	fs.DurationVar(&o.timeout, "timeout", maxDuration, "stop the whole run after this long (at most 10m)")
	fs.IntVar(&o.procs, "procs", 0, "GOMAXPROCS of the tool (0: Go's default); a spawned server keeps its own")
	fs.BoolVar(&o.json, "json", false, "write the report as JSON to stdout instead of the table")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line")
	fs.StringVar(&o.markdown, "markdown", "", "add or update this run's rows in this Markdown file (BENCHMARKS.md)")
	fs.StringVar(&o.gobench, "gobench", "", "file with `go test -bench` output to include in the report")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the tool (and an --in-process server)")
	fs.StringVar(&o.memprofile, "memprofile", "", "write a heap profile while the idle clients are connected")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.room = int64(*room)
	if *scen == "all" || *scen == "" {
		o.scenarios = allScenarios
	} else {
		for _, s := range strings.Split(*scen, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(allScenarios, s) {
				return nil, fmt.Errorf("--scenarios: unknown scenario %q (use %s)", s, strings.Join(allScenarios, ", "))
			}
			o.scenarios = append(o.scenarios, s)
		}
	}
	for _, s := range strings.Split(*pubs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("--publishers: %q is not a count from 1 to 64", s)
		}
		o.publishers = append(o.publishers, n)
	}
	o.command = "parlor-bench " + strings.Join(args, " ")
	return o, o.validate()
}

func (o *options) validate() error {
	targets := 0
	for _, set := range []bool{o.url != "", o.spawn != "", o.inProcess} {
		if set {
			targets++
		}
	}
	if targets != 1 {
		return errors.New("choose one target: --spawn BIN, --in-process or --url ws://127.0.0.1:PORT/ws")
	}
	if o.url != "" {
		if _, err := checkLoopback(o.url); err != nil {
			return err
		}
	}
	if o.pid != 0 && o.url == "" {
		return errors.New("--pid goes with --url (a spawned server's RSS is read anyway)")
	}
	for name, n := range map[string]int{"--clients": o.clients, "--room-size": o.roomSize, "--logins": o.logins, "--login-samples": o.loginSamples} {
		if n < 1 || n > maxClients {
			return fmt.Errorf("%s %d: use 1 to %d", name, n, maxClients)
		}
	}
	if o.churn < 0 || o.churn > maxClients {
		return fmt.Errorf("--churn %d: use 0 to %d", o.churn, maxClients)
	}
	if o.idleRoomSize < 1 || o.loginConc < 1 || o.loginConc > 1024 || o.dialConcurrency < 1 || o.dialConcurrency > 1024 {
		return errors.New("--idle-room-size, --login-concurrency and --dial-concurrency must be positive (concurrency at most 1024)")
	}
	if o.window < 1 || o.guard < 1 || o.rounds < 1 {
		return errors.New("--window, --guard and --rounds must be positive")
	}
	if o.clusterPubs < 1 || o.clusterPubs > 64 {
		return fmt.Errorf("--cluster-publishers %d: use 1 to 64", o.clusterPubs)
	}
	if err := checkNATS(o.nats); err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"--duration": o.duration, "--latency-duration": o.latencyDur, "--timeout": o.timeout} {
		if d <= 0 || d > maxDuration {
			return fmt.Errorf("%s %s: use a positive duration of at most %s", name, d, maxDuration)
		}
	}
	if o.rate <= 0 || o.rate > 100000 {
		return fmt.Errorf("--rate %g: use 0 < rate <= 100000", o.rate)
	}
	if o.spawn != "" && o.pluginsDir == "" {
		o.pluginsDir = filepath.Join(filepath.Dir(o.spawn), "plugins")
	}
	if o.inProcess && o.pluginsDir == "" {
		o.pluginsDir = filepath.Join("bin", "plugins")
	}
	if o.pluginsDir != "" {
		abs, err := filepath.Abs(o.pluginsDir)
		if err != nil {
			return fmt.Errorf("--plugins-dir: %w", err)
		}
		o.pluginsDir = abs
	}
	if o.spawn != "" {
		abs, err := filepath.Abs(o.spawn)
		if err != nil {
			return fmt.Errorf("--spawn: %w", err)
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("--spawn: %w (run make build)", err)
		}
		o.spawn = abs
	}
	if o.baseline != "" {
		if o.spawn == "" {
			return errors.New("--baseline goes with --spawn (both binaries are started by the tool)")
		}
		abs, err := filepath.Abs(o.baseline)
		if err != nil {
			return fmt.Errorf("--baseline: %w", err)
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("--baseline: %w", err)
		}
		o.baseline = abs
	}
	o.prefix = fmt.Sprintf("pb%04x-", (os.Getpid()^int(time.Now().UnixNano()))&0xffff)
	return nil
}

func (o *options) wants(s string) bool { return slices.Contains(o.scenarios, s) }

// start brings up the server for one scenario.
func (o *options) start(ctx context.Context, spec serverSpec) (*target, error) {
	spec.pluginsDir, spec.logLevel = o.pluginsDir, o.logLevel
	switch {
	case o.spawn != "":
		return spawn(ctx, o.spawn, spec)
	case o.inProcess:
		return startInProcess(ctx, spec)
	default:
		u, err := checkLoopback(o.url)
		if err != nil {
			return nil, err
		}
		return external(u, o.pid, o.room), nil
	}
}

func (t *target) rss() (int64, error) {
	if t.pid == 0 {
		return 0, nil
	}
	return rssBytes(t.pid)
}

// run performs the chosen scenarios; the report holds whatever completed
// even when an error is returned.
func run(ctx context.Context, o *options, progOut io.Writer) (*Report, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if o.procs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.procs))
	}
	need := max(o.clients, o.roomSize, o.loginConc) + 256
	if o.wants("modules") { // its servers keep their rooms connected at once
		need = max(need, moduleVariants(o)*o.roomSize+256)
	}
	if o.wants("cluster") { // the cluster's members and the single node's
		need = max(need, 2*o.roomSize+256)
	}
	if o.inProcess {
		need *= 2
	}
	if err := raiseFileLimit(need); err != nil {
		return nil, err
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep := &Report{
		Machine: machine(), Command: o.command, Target: o.targetName(),
		Started: time.Now().UTC().Format(time.RFC3339), LoadBefore: loadAverage(),
	}
	st := newStats()
	prog := newProgress(progOut, !o.quiet)
	defer prog.stop()

	var errs []error
	fail := func(scenario string, err error) {
		errs = append(errs, fmt.Errorf("%s: %w", scenario, err))
		rep.Errors = append(rep.Errors, scenario+": "+err.Error())
	}
	// With --baseline every scenario that starts a server runs against
	// both binaries, alternately first, so that a machine getting busier
	// or calmer during the run favours neither.
	var old *options
	if o.baseline != "" {
		old = o.against(o.baseline)
		rep.Baseline = &Report{Target: old.targetName()}
	}
	type step struct {
		name string
		run  func(o *options, ctx context.Context, rep *Report, st *stats, prog *progress) error
		both bool // run against the --baseline binary too
	}
	steps := []step{
		{"idle", (*options).runIdle, true},
		{"fanout", (*options).runRoom, true},
		{"floor", (*options).runFloor, false},
		{"logins", (*options).runLogins, true},
		{"modules", (*options).runModules, true},
		{"rooms", (*options).runRooms, true},
		{"cluster", (*options).runCluster, false},
	}
	turn := 0
	for _, s := range steps {
		if !o.wants(s.name) && !(s.name == "fanout" && o.wants("latency")) {
			continue
		}
		if old == nil || !s.both {
			if err := s.run(o, ctx, rep, st, prog); err != nil {
				fail(s.name, err)
			}
			continue
		}
		pair := []struct {
			o   *options
			rep *Report
			tag string
		}{{o, rep, ""}, {old, rep.Baseline, " (baseline)"}}
		if turn%2 == 1 {
			pair[0], pair[1] = pair[1], pair[0]
		}
		turn++
		for _, p := range pair {
			if err := s.run(p.o, ctx, p.rep, st, prog); err != nil {
				fail(s.name+p.tag, err)
			}
		}
	}
	if o.gobench != "" {
		gb, err := readGoBench(o.gobench)
		if err != nil {
			fail("gobench", err)
		}
		rep.GoBench = gb
	}
	rep.Disconnects = st.disconnect.Load()
	st.mu.Lock()
	if len(st.reasons) > 0 {
		rep.DisconnectReasons = st.reasons
	}
	st.mu.Unlock()
	rep.OutOfOrder = st.outOfOrder.Load()
	rep.MessagesLost = lostIn(rep)
	if b := rep.Baseline; b != nil {
		b.MessagesLost = lostIn(b)
		rep.MessagesLost += b.MessagesLost
	}
	rep.LoadAfter = loadAverage()
	rep.Figures = figures(rep)
	prog.stop()
	if rep.MessagesLost != 0 {
		errs = append(errs, fmt.Errorf("%d messages lost", rep.MessagesLost))
	}
	return rep, errors.Join(errs...)
}

// lostIn is the messages lost in the scenarios of rep.
func lostIn(rep *Report) int64 {
	var n int64
	for _, f := range rep.Fanout {
		n += f.Lost
	}
	if rep.Latency != nil {
		n += rep.Latency.Lost
	}
	if f := rep.Floor; f != nil {
		n += f.Fanout.Lost
		for _, r := range []*FloorRun{f.Matched, f.Paced} {
			if r != nil {
				n += r.Lost
			}
		}
	}
	if rep.Modules != nil {
		for _, v := range rep.Modules.Variants {
			n += v.Fanout.Lost + v.Latency.Lost
		}
	}
	if r := rep.Rooms; r != nil {
		for _, f := range append([]FanoutResult{r.Split}, r.OneRoom...) {
			n += f.Lost
		}
	}
	if c := rep.Cluster; c != nil {
		for _, v := range []ClusterVariant{c.Cluster, c.Single} {
			n += v.Fanout.Lost + v.Latency.Lost
		}
	}
	return n
}

// against is o with bin as the server binary the scenarios start (the
// --baseline run).
func (o *options) against(bin string) *options {
	c := *o
	c.spawn, c.baseline = bin, ""
	c.prefix = o.prefix + "o"
	return &c
}

func (o *options) targetName() string {
	switch {
	case o.spawn != "":
		return "spawned " + o.spawn
	case o.inProcess:
		return "in-process"
	default:
		return "running server " + o.url
	}
}

func (o *options) runIdle(ctx context.Context, rep *Report, st *stats, prog *progress) error {
	rooms := (o.clients + o.idleRoomSize - 1) / o.idleRoomSize
	spec := serverSpec{}
	for i := range rooms {
		spec.rooms = append(spec.rooms, roomSpec{id: int64(i + 1), name: fmt.Sprintf("Idle %d", i+1)})
	}
	t, err := o.start(ctx, spec)
	if err != nil {
		return err
	}
	roomOf := func(i int) int64 { return int64(i/o.idleRoomSize) + 1 }
	if o.url != "" {
		roomOf = func(int) int64 { return o.room }
	}
	res, err := idleScenario(ctx, o, t, st, prog, roomOf)
	rep.Idle = res
	if serr := t.stop(); serr != nil {
		err = errors.Join(err, fmt.Errorf("stop server: %w", serr))
	}
	if err == nil && res.Churn != nil {
		res.Churn.Floor, err = o.churnFloor(ctx, st, prog, roomOf)
	}
	return err
}

// churnFloor runs the churn against the floor server, which answers the
// handshake, the login and the join with one write each and holds no
// chat: the CPU a connect+login+join+close costs the kernel and a bare Go
// program on this machine, with the chat server stopped.
func (o *options) churnFloor(ctx context.Context, st *stats, prog *progress, roomOf func(int) int64) (*ChurnResult, error) {
	fs, err := startFloor(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = fs.stop() }()
	ft := &target{wsURL: "ws://" + fs.addr + "/ws", pid: fs.pid}
	res, err := churn(ctx, o, ft, st, prog, roomOf)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	res.Online = 0
	return res, nil
}

func (o *options) runRoom(ctx context.Context, rep *Report, st *stats, prog *progress) error {
	t, err := o.start(ctx, serverSpec{rooms: []roomSpec{{id: 1, name: "Bench"}}})
	if err != nil {
		return err
	}
	defer func() { _ = t.stop() }()
	maxPub := slices.Max(o.publishers)
	quiesce(ctx, t)
	meter := meterCPU(t.pid)
	start := time.Now()
	clients, err := connectMany(ctx, t, st, prog, "room: connect", o.prefix+"r", o.roomSize, o.dialConcurrency, maxPub, "", func(int) int64 { return t.room })
	if err != nil {
		return err
	}
	defer closeAll(clients)
	join := &JoinResult{Clients: o.roomSize, Seconds: time.Since(start).Seconds()}
	join.PerSecond = float64(join.Clients) / join.Seconds
	rep.RoomJoin = join
	// The joins pushed presence and room lists to everyone: let it pass
	// (its CPU is the joins').
	quiesce(ctx, t)
	join.CPU = meter.done(int64(o.roomSize))
	settle(ctx, time.Second)
	r := &room{clients: clients, st: st, pid: t.pid}
	if o.wants("fanout") {
		for _, p := range o.publishers {
			prog.set("waiting for an idle server", 0, nil, nil)
			quiesce(ctx, t)
			res := r.fanout(ctx, o, prog, p, o.duration)
			rep.Fanout = append(rep.Fanout, res)
			if ctx.Err() != nil {
				return fmt.Errorf("fan-out: %w", ctx.Err())
			}
		}
	}
	if o.wants("latency") {
		prog.set("waiting for an idle server", 0, nil, nil)
		quiesce(ctx, t)
		res := r.latency(ctx, prog, o.rate, o.latencyDur)
		rep.Latency = &res
	}
	return ctx.Err()
}

func (o *options) runLogins(ctx context.Context, rep *Report, st *stats, prog *progress) error {
	res := &LoginsResult{}
	rep.Logins = res
	spec := serverSpec{rooms: []roomSpec{{id: 1, name: "Bench"}}}
	guest, err := o.loginServer(ctx, st, prog, spec, "guest", "")
	if err != nil {
		return err
	}
	res.Guest = guest
	if o.url != "" {
		res.Note = "the authurl pass needs a server the tool starts (--spawn or --in-process)"
		return nil
	}
	page, err := startAuthPage()
	if err != nil {
		return err
	}
	defer page.close()
	floor, err := page.roundTrips(ctx, o.loginSamples)
	if err != nil {
		return err
	}
	res.Page = floor
	probes := page.requests.Load()
	spec.authURL = page.url()
	au, err := o.loginServer(ctx, st, prog, spec, "authurl", "bench-password")
	if err != nil {
		return err
	}
	res.AuthURL = &au
	res.PageRequests = page.requests.Load() - probes
	res.AddedP50 = au.Sequential.P50 - guest.Sequential.P50
	res.AddedP99 = au.Sequential.P99 - guest.Sequential.P99
	return nil
}

// loginServer runs a sequential latency pass and a concurrent throughput
// pass against one server.
func (o *options) loginServer(ctx context.Context, st *stats, prog *progress, spec serverSpec, kind, password string) (LoginServer, error) {
	var out LoginServer
	t, err := o.start(ctx, spec)
	if err != nil {
		return out, err
	}
	defer func() { _ = t.stop() }()
	prefix := o.prefix + "l" + kind[:1]
	// Warm up: plugin connections, the Auth URL page's keep-alive pool.
	if _, err := loginPass(ctx, t, st, prog, "logins "+kind+": warm-up", prefix+"w", password, 50, 4); err != nil {
		return out, err
	}
	if out.Sequential, err = loginPass(ctx, t, st, prog, "logins "+kind+": sequential", prefix+"s", password, o.loginSamples, 1); err != nil {
		return out, err
	}
	if out.Concurrent, err = loginPass(ctx, t, st, prog, "logins "+kind+": concurrent", prefix+"c", password, o.logins, o.loginConc); err != nil {
		return out, err
	}
	return out, nil
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemoryGiB = float64(kb) / (1 << 20)
				}
			}
		}
	}
	return m
}
