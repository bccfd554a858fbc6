package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run (the --json output).
type Report struct {
	Machine    Machine         `json:"machine"`
	Command    string          `json:"command"`
	Target     string          `json:"target"`
	Started    string          `json:"started"`
	LoadBefore string          `json:"load_before"` // /proc/loadavg at the start
	LoadAfter  string          `json:"load_after"`  // and at the end
	Idle       *IdleResult     `json:"idle,omitempty"`
	RoomJoin   *JoinResult     `json:"room_join,omitempty"`
	Fanout     []FanoutResult  `json:"fanout,omitempty"`
	Latency    *LatencyResult  `json:"latency,omitempty"`
	Floor      *FloorResult    `json:"floor,omitempty"`
	Logins     *LoginsResult   `json:"logins,omitempty"`
	Modules    *ModulesResult  `json:"modules,omitempty"`
	Rooms      *RoomsResult    `json:"rooms,omitempty"`
	Cluster    *ClusterResult  `json:"cluster,omitempty"`
	GoBench    []GoBenchResult `json:"go_bench,omitempty"`
	// Baseline is the same scenarios against the --baseline binary, run
	// alternately with these (its Figures are not filled in).
	Baseline          *Report        `json:"baseline,omitempty"`
	MessagesLost      int64          `json:"messages_lost"`
	Disconnects       int64          `json:"disconnects"`
	DisconnectReasons map[string]int `json:"disconnect_reasons,omitempty"`
	OutOfOrder        int64          `json:"out_of_order"`
	Figures           []Figure       `json:"figures"`
	Errors            []string       `json:"errors,omitempty"`
}

// Machine describes where the run happened; tool and server share it.
type Machine struct {
	CPU       string  `json:"cpu"`
	Cores     int     `json:"cores"`
	MemoryGiB float64 `json:"memory_gib"`
	Go        string  `json:"go"`
	OS        string  `json:"os"`
}

func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %.0f GiB, %s %s", m.CPU, m.Cores, m.MemoryGiB, m.Go, m.OS)
}

// IdleResult is the idle-connection memory figure.
type IdleResult struct {
	Clients           int     `json:"clients"`
	RSSBefore         int64   `json:"rss_before_bytes"`
	RSSAfter          int64   `json:"rss_after_bytes"`
	Measured          bool    `json:"measured"`
	KiBPerConn        float64 `json:"kib_per_conn"`
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`
	HeapKiBPerConn    float64 `json:"heap_inuse_kib_per_conn"`
	StackKiBPerConn   float64 `json:"stack_inuse_kib_per_conn"`
	ConnectSeconds    float64 `json:"connect_seconds"`
	ConnectsPerSecond float64 `json:"connects_per_second"`
	// ConnectCPU is the server's per connect+login+join while the
	// clients connected before stay online.
	ConnectCPU *CPU `json:"connect_server_cpu,omitempty"`
	// IdleCPU is the server's per connection and second once every
	// client is connected and nobody says anything.
	IdleCPU *CPU `json:"idle_server_cpu,omitempty"`
	// Churn is --churn clients connecting, logging in, joining and
	// leaving while all the idle clients stay online.
	Churn       *ChurnResult `json:"churn,omitempty"`
	Disconnects int64        `json:"disconnects"`
}

// ChurnResult is connect+login+join+close of clients, --login-concurrency
// at a time, while Online clients stay connected.
type ChurnResult struct {
	Online      int     `json:"online"`
	Logins      int     `json:"logins"`
	Concurrency int     `json:"concurrency"`
	Failures    int64   `json:"failures"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"per_second"`
	// CPU is the server's per connect+login+join+close, up to the moment
	// the server is idle again (the room lists and presence the logins
	// caused count for them).
	CPU *CPU `json:"server_cpu,omitempty"`
	// Floor is the same churn against the floor server (a bare Go program
	// answering the same frames, nobody else online), after the chat
	// server stopped.
	Floor *ChurnResult `json:"floor,omitempty"`
}

// JoinResult is the connect+login+join of the fan-out room's clients into
// one room (the ramp before the fan-out runs).
type JoinResult struct {
	Clients   int     `json:"clients"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	CPU       *CPU    `json:"server_cpu,omitempty"`
}

// FanoutResult is one fan-out run.
type FanoutResult struct {
	RoomSize          int     `json:"room_size"`
	Publishers        int     `json:"publishers"`
	Window            int64   `json:"window"` // a publisher's messages in flight
	Seconds           float64 `json:"seconds"`
	Sent              int64   `json:"sent"`
	Expected          int64   `json:"expected"`
	Delivered         int64   `json:"delivered"`
	Lost              int64   `json:"lost"`
	PerSecond         float64 `json:"deliveries_per_second"`
	MessagesPerSecond float64 `json:"messages_per_second"`
	Disconnects       int64   `json:"disconnects"`
	// CPU is the server's, per delivery (nil when not measured).
	CPU *CPU `json:"server_cpu,omitempty"`
	// BytesPerFrame is the mean payload of the WebSocket messages the
	// clients read, DeliveriesPerFrame the messages each carried.
	BytesPerFrame      float64 `json:"bytes_per_frame"`
	DeliveriesPerFrame float64 `json:"deliveries_per_frame"`
	Error              string  `json:"error,omitempty"`
}

// LatencyResult is the paced latency run; times in milliseconds.
type LatencyResult struct {
	RoomSize    int     `json:"room_size"`
	Rate        float64 `json:"rate"`
	Sent        int64   `json:"sent"`
	Samples     int64   `json:"samples"`
	Lost        int64   `json:"lost"`
	Disconnects int64   `json:"disconnects"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	P999        float64 `json:"p999_ms"`
	Max         float64 `json:"max_ms"`
	// CPU is the server's, per delivery (nil when not measured).
	CPU                *CPU    `json:"server_cpu,omitempty"`
	BytesPerFrame      float64 `json:"bytes_per_frame"`
	DeliveriesPerFrame float64 `json:"deliveries_per_frame"`
	Error              string  `json:"error,omitempty"`
}

// LoginsResult compares guest logins without plugins with logins through
// the authurl plugin; times in milliseconds.
type LoginsResult struct {
	Guest        LoginServer  `json:"guest"`
	AuthURL      *LoginServer `json:"authurl,omitempty"`
	AddedP50     float64      `json:"added_p50_ms"`
	AddedP99     float64      `json:"added_p99_ms"`
	PageRequests int64        `json:"auth_page_requests"` // asked by the plugin
	// Page is the Auth URL page asked directly from the tool: the HTTP
	// round trip every authurl login contains.
	Page PageResult `json:"auth_page"`
	Note string     `json:"note,omitempty"`
}

// PageResult is a series of sequential requests to the Auth URL page;
// times in milliseconds.
type PageResult struct {
	Requests int     `json:"requests"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
}

// LoginServer holds the two passes against one server.
type LoginServer struct {
	Sequential LoginPass `json:"sequential"`
	Concurrent LoginPass `json:"concurrent"`
}

// LoginPass is one series of logins: the time from sending login to
// receiving login_ok.
type LoginPass struct {
	Logins      int     `json:"logins"`
	Concurrency int     `json:"concurrency"`
	Failures    int     `json:"failures"`
	PerSecond   float64 `json:"logins_per_second"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	Max         float64 `json:"max_ms"`
	// CPU is the server's per login (nil when not measured).
	CPU   *CPU   `json:"server_cpu,omitempty"`
	Error string `json:"error,omitempty"`
}

// GoBenchResult is one line of `go test -bench` output.
type GoBenchResult struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  int64   `json:"bytes_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
	Extra       string  `json:"extra,omitempty"`
}

// Figure is one row of the summary: a value and, where the project set
// one, its target.
type Figure struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Target string `json:"target,omitempty"`
	Met    string `json:"met,omitempty"` // "yes", "no" or empty when there is no target
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// thousands formats a rate with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	if v < 10 && v != float64(int64(v)) {
		return fmt.Sprintf("%.2f", v)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func printTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "Parlor benchmark: %s\nserver: %s\n\n", rep.Machine, rep.Target)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tTARGET\tMET")
	for _, f := range rep.Figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Value, dash(f.Target), dash(f.Met))
	}
	_ = tw.Flush()
	if len(rep.DisconnectReasons) > 0 {
		fmt.Fprintln(w, "\nconnections ended by the server:")
		for r, n := range rep.DisconnectReasons {
			fmt.Fprintf(w, "  %6d  %s\n", n, r)
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(w, "error:", e)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$`)

// readGoBench parses `go test -bench -benchmem` output.
func readGoBench(path string) ([]GoBenchResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read go bench output: %w", err)
	}
	defer f.Close()
	var out []GoBenchResult
	pkg := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(p), "github.com/parlorchat/parlor/")
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		r := GoBenchResult{Name: m[1]}
		if pkg != "" {
			r.Name = pkg + " " + m[1]
		}
		fmt.Sscanf(m[2], "%g", &r.NsPerOp)
		fields := strings.Fields(m[3])
		var extra []string
		for i := 0; i+1 < len(fields); i += 2 {
			switch fields[i+1] {
			case "B/op":
				fmt.Sscanf(fields[i], "%d", &r.BytesPerOp)
			case "allocs/op":
				fmt.Sscanf(fields[i], "%d", &r.AllocsPerOp)
			default:
				extra = append(extra, fields[i]+" "+fields[i+1])
			}
		}
		r.Extra = strings.Join(extra, ", ")
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read go bench output: %w", err)
	}
	return out, nil
}

// progress draws one status line on stderr: in place on a terminal, a
// line every few seconds otherwise.
type progress struct {
	w       io.Writer
	enabled bool
	tty     bool

	mu      sync.Mutex
	label   string
	total   int64
	cur     func() int64
	extra   func() string
	start   time.Time
	dur     time.Duration
	began   time.Time
	lastLen int

	quit chan struct{}
	done chan struct{}
	once sync.Once
}

func newProgress(w io.Writer, enabled bool) *progress {
	p := &progress{w: w, enabled: enabled, quit: make(chan struct{}), done: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if !enabled {
		close(p.done)
		return p
	}
	go p.loop()
	return p
}

// set starts a new step: total items counted by cur, or a timed step
// (see clock); extra adds live numbers.
func (p *progress) set(label string, total int64, cur func() int64, extra func() string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.enabled && !p.tty && p.label != "" && p.label != label {
		fmt.Fprintln(p.w, p.lineLocked())
	}
	p.label, p.total, p.cur, p.extra = label, total, cur, extra
	p.dur = 0
	p.began = time.Now()
}

// clock makes the current step a timed one of length dur from start.
func (p *progress) clock(start time.Time, dur time.Duration) {
	p.mu.Lock()
	p.start, p.dur = start, dur
	p.mu.Unlock()
}

func (p *progress) loop() {
	defer close(p.done)
	interval := 200 * time.Millisecond
	if !p.tty {
		interval = 5 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			p.mu.Lock()
			if p.tty && p.lastLen > 0 {
				fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lastLen))
			}
			p.mu.Unlock()
			return
		case <-tick.C:
			p.mu.Lock()
			if p.label != "" {
				line := p.lineLocked()
				if p.tty {
					pad := ""
					if n := p.lastLen - len(line); n > 0 {
						pad = strings.Repeat(" ", n)
					}
					fmt.Fprintf(p.w, "\r%s%s", line, pad)
					p.lastLen = len(line)
				} else {
					fmt.Fprintln(p.w, line)
				}
			}
			p.mu.Unlock()
		}
	}
}

func (p *progress) lineLocked() string {
	frac := -1.0
	count := ""
	switch {
	case p.dur > 0:
		frac = float64(time.Since(p.start)) / float64(p.dur)
	case p.total > 0 && p.cur != nil:
		c := p.cur()
		frac = float64(c) / float64(p.total)
		count = fmt.Sprintf(" %d/%d", c, p.total)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-26s", p.label)
	if frac >= 0 {
		frac = min(frac, 1)
		const width = 24
		n := int(frac * width)
		fmt.Fprintf(&b, " [%s%s] %3.0f%%", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100)
	}
	b.WriteString(count)
	fmt.Fprintf(&b, " %5.1fs", time.Since(p.began).Seconds())
	if p.extra != nil {
		b.WriteString("  " + p.extra())
	}
	return b.String()
}

func (p *progress) stop() {
	p.once.Do(func() { close(p.quit) })
	<-p.done
}
