package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// connectMany opens n clients (at most conc dialling at once), logs each
// in and, when room returns a room id above 0, joins it. Clients whose
// index is below pubs are publishers.
func connectMany(ctx context.Context, t *target, st *stats, prog *progress, label, prefix string, n, conc, pubs int, password string, room func(i int) int64) ([]*client, error) {
	return openMany(ctx, prog, label, n, conc, func(ctx context.Context, i int) (*client, error) {
		return openClient(ctx, t, st, i, fmt.Sprintf("%s%d", prefix, i), i < pubs, password, room(i))
	})
}

// openMany opens n clients with open, at most conc at once; on the first
// error it closes those it opened.
func openMany(ctx context.Context, prog *progress, label string, n, conc int, open func(ctx context.Context, i int) (*client, error)) ([]*client, error) {
	clients := make([]*client, n)
	var (
		done     atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, conc)
	prog.set(label, int64(n), done.Load, nil)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := open(ctx, i)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
				return
			}
			clients[i] = c
			done.Add(1)
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("connect clients: %w", ctx.Err())
	}
	if firstErr != nil {
		closeAll(clients)
		return nil, fmt.Errorf("connect %d clients (%d done): %w", n, done.Load(), firstErr)
	}
	return clients, nil
}

func openClient(ctx context.Context, t *target, st *stats, i int, name string, publisher bool, password string, room int64) (*client, error) {
	pub := -1
	if publisher {
		pub = i
	}
	c, err := dial(ctx, t.wsURL, st, i, name, pub)
	if err != nil {
		return nil, err
	}
	if err := c.login(ctx, password); err != nil {
		c.close()
		return nil, err
	}
	if room > 0 {
		if err := c.join(ctx, room); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

func closeAll(clients []*client) {
	for _, c := range clients {
		if c != nil {
			c.close()
		}
	}
}

// idleScenario measures the server's memory per idle logged-in connection.
func idleScenario(ctx context.Context, o *options, t *target, st *stats, prog *progress, roomOf func(int) int64) (*IdleResult, error) {
	res := &IdleResult{Clients: o.clients}
	settle(ctx, 2*time.Second)
	rss0, err := t.rss()
	if err != nil {
		return nil, err
	}
	m0 := runtimeMetrics(ctx, t.base)
	d0 := st.disconnect.Load()
	defer func() { res.Disconnects = st.disconnect.Load() - d0 }()
	meter := meterCPU(t.pid)
	start := time.Now()
	clients, err := connectMany(ctx, t, st, prog, "idle: connect", o.prefix+"i", o.clients, o.dialConcurrency, 0, "", roomOf)
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)
	res.ConnectSeconds = time.Since(start).Seconds()
	res.ConnectsPerSecond = float64(o.clients) / res.ConnectSeconds
	prog.set("idle: settle", 0, nil, nil)
	// Let the room list pushes, status file writes and the garbage of
	// the login burst settle (their CPU is the logins'), then take the
	// median of three readings.
	quiesce(ctx, t)
	res.ConnectCPU = meter.done(int64(o.clients))
	settle(ctx, time.Second)
	// What the idle connections cost: keep-alive pings, timers.
	idle := meterCPU(t.pid)
	idleStart := time.Now()
	settle(ctx, 2*time.Second)
	if c := idle.done(int64(o.clients)); c != nil {
		c.Window = time.Since(idleStart).Seconds()
		c.MicrosPerOp /= c.Window
		c.PluginMicrosPerOp /= c.Window
		c.WritesPerOp /= c.Window
		res.IdleCPU = c
	}
	var readings []int64
	for k := range 3 {
		if k > 0 {
			settle(ctx, time.Second)
		}
		r, err := t.rss()
		if err != nil {
			return nil, err
		}
		readings = append(readings, r)
	}
	rss1 := median3(readings)
	if o.churn > 0 {
		if res.Churn, err = churn(ctx, o, t, st, prog, roomOf); err != nil {
			return nil, err
		}
	}
	if o.memprofile != "" {
		if err := writeHeapProfile(o.memprofile); err != nil {
			return nil, err
		}
	}
	m1 := runtimeMetrics(ctx, t.base)
	res.RSSBefore, res.RSSAfter = rss0, rss1
	if rss0 > 0 {
		res.KiBPerConn = float64(rss1-rss0) / 1024 / float64(o.clients)
		res.Measured = true
	}
	n := float64(o.clients)
	res.GoroutinesPerConn = (m1.goroutines - m0.goroutines) / n
	res.HeapKiBPerConn = (m1.heapInuse - m0.heapInuse) / 1024 / n
	res.StackKiBPerConn = (m1.stackInuse - m0.stackInuse) / 1024 / n
	return res, nil
}

// churn connects, logs in, joins and closes --churn clients,
// --login-concurrency at a time, while the idle clients stay online: what
// a login costs a server that already has many users.
func churn(ctx context.Context, o *options, t *target, st *stats, prog *progress, roomOf func(int) int64) (*ChurnResult, error) {
	res := &ChurnResult{Online: o.clients, Logins: o.churn, Concurrency: o.loginConc}
	prog.set("idle: settle", 0, nil, nil)
	quiesce(ctx, t)
	var (
		done     atomic.Int64
		failures atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	label := fmt.Sprintf("idle: %d logins while %d stay online", o.churn, o.clients)
	prog.set(label, int64(o.churn), done.Load, nil)
	meter := meterCPU(t.pid)
	start := time.Now()
	jobs := make(chan int)
	for range o.loginConc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c, err := openClient(ctx, t, st, i, fmt.Sprintf("%sch%d", o.prefix, i), false, "", roomOf(i))
				done.Add(1)
				if err != nil {
					failures.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				c.close()
			}
		}()
	}
	for i := range o.churn {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.PerSecond = float64(o.churn) / res.Seconds
	res.Failures = failures.Load()
	prog.set("idle: settle", 0, nil, nil)
	quiesce(ctx, t)
	res.CPU = meter.done(int64(o.churn))
	if res.Failures > 0 {
		return res, fmt.Errorf("churn: %d of %d logins failed, the first: %w", res.Failures, o.churn, firstErr)
	}
	return res, nil
}

type runtimeFigures struct{ goroutines, heapInuse, stackInuse float64 }

// runtimeMetrics reads the server's Go runtime gauges from /metrics; zero
// values when they are not available.
func runtimeMetrics(ctx context.Context, base string) runtimeFigures {
	var f runtimeFigures
	f.goroutines, _ = metric(ctx, base, "go_goroutines")
	f.heapInuse, _ = metric(ctx, base, "go_memstats_heap_inuse_bytes")
	f.stackInuse, _ = metric(ctx, base, "go_memstats_stack_inuse_bytes")
	return f
}

func median3(v []int64) int64 {
	a, b, c := v[0], v[1], v[2]
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	if a > b {
		return a
	}
	return b
}

// quiesce waits until the server has finished the work of the previous
// phase (history written to the store after a fan-out, for example): its
// CPU use over half a second is below 5% of a core, or 20 s have passed.
// Without a process to watch it waits 3 s.
func quiesce(ctx context.Context, t *target) {
	if t.pid == 0 {
		settle(ctx, 3*time.Second)
		return
	}
	deadline := time.Now().Add(20 * time.Second)
	prev, err := cpuTicks(t.pid)
	for err == nil && time.Now().Before(deadline) && ctx.Err() == nil {
		settle(ctx, 500*time.Millisecond)
		cur, cerr := cpuTicks(t.pid)
		if cerr != nil {
			return
		}
		// Clock ticks are 1/100 s: 5% of a core over 0.5 s is 2.5 ticks.
		if cur-prev <= 2 {
			return
		}
		prev = cur
	}
}

func settle(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// room is a set of clients joined to one room, publishers first.
type room struct {
	clients []*client
	st      *stats
	pid     int // the server process whose CPU is measured; 0 none
}

// wire is what a set of clients read: WebSocket messages and their bytes.
type wire struct{ frames, bytes int64 }

func (r *room) wire() wire {
	var w wire
	for _, c := range r.clients {
		w.frames += c.frames.Load()
		w.bytes += c.bytes.Load()
	}
	return w
}

// framing sets the mean size of the WebSocket messages read between w0
// and w1 and the deliveries each carried.
func framing(w0, w1 wire, delivered int64) (bytesPerFrame, perFrame float64) {
	n := w1.frames - w0.frames
	if n <= 0 {
		return 0, 0
	}
	return float64(w1.bytes-w0.bytes) / float64(n), float64(delivered) / float64(n)
}

// snapshot returns each client's received count.
func (r *room) snapshot() []int64 {
	out := make([]int64, len(r.clients))
	for i, c := range r.clients {
		out[i] = c.received.Load()
	}
	return out
}

// phaseCounts is what a phase delivered per live client.
type phaseCounts struct {
	delivered, minimum int64
	live               int
}

func (r *room) counts(base []int64) phaseCounts {
	pc := phaseCounts{minimum: -1}
	for i, c := range r.clients {
		select {
		case <-c.done:
			pc.delivered += c.received.Load() - base[i]
			continue
		default:
		}
		n := c.received.Load() - base[i]
		pc.delivered += n
		pc.live++
		if pc.minimum < 0 || n < pc.minimum {
			pc.minimum = n
		}
	}
	if pc.minimum < 0 {
		pc.minimum = 0
	}
	return pc
}

// drain waits until every live client has all sent messages or timeout.
func (r *room) drain(ctx context.Context, base []int64, sent int64, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	for {
		pc := r.counts(base)
		if pc.live == 0 || pc.minimum >= sent || time.Now().After(deadline) || ctx.Err() != nil {
			return time.Now()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fanout publishes as fast as the slowest receiver allows for dur. Each
// publisher keeps at most window of its own messages unechoed, and no
// publisher runs more than guard messages ahead of the slowest receiver,
// so the figure is sustainable throughput rather than a queue overflow.
func (r *room) fanout(ctx context.Context, o *options, prog *progress, pubs int, dur time.Duration) FanoutResult {
	return fanoutRooms(ctx, o, prog, []*room{r}, pubs, dur)
}

// fanoutRooms is fanout into several rooms at once, with the first pubs
// clients of each room publishing into it. The window and the guard hold
// per room: no publisher runs more than guard messages (of its room's
// publishers) ahead of its room's slowest receiver, so every connection
// has at most the same backlog whatever the number of rooms. RoomSize in
// the result is the first room's; Publishers, Sent and Expected are the
// totals.
func fanoutRooms(ctx context.Context, o *options, prog *progress, rooms []*room, pubs int, dur time.Duration) FanoutResult {
	st := rooms[0].st
	phase := st.phase.Add(1)
	type roomRun struct {
		*room
		base         []int64
		sent, minRcv atomic.Int64
	}
	runs := make([]*roomRun, len(rooms))
	var w0 wire
	for i, r := range rooms {
		runs[i] = &roomRun{room: r, base: r.snapshot()}
		w := r.wire()
		w0.frames, w0.bytes = w0.frames+w.frames, w0.bytes+w.bytes
	}
	totals := func() (sent int64, pc phaseCounts) {
		pc.minimum = -1
		for _, rr := range runs {
			sent += rr.sent.Load()
			c := rr.counts(rr.base)
			pc.delivered += c.delivered
			pc.live += c.live
			if pc.minimum < 0 || c.minimum < pc.minimum {
				pc.minimum = c.minimum
			}
		}
		return sent, pc
	}
	d0 := st.disconnect.Load()
	stop := make(chan struct{})
	// Track the slowest live receiver of each room.
	var trackWG sync.WaitGroup
	trackWG.Add(1)
	go func() {
		defer trackWG.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				for _, rr := range runs {
					rr.minRcv.Store(rr.counts(rr.base).minimum)
				}
			}
		}
	}()
	label := fmt.Sprintf("fan-out %d pub", pubs*len(rooms))
	if len(rooms) > 1 {
		label = fmt.Sprintf("fan-out %d rooms x %d pub", len(rooms), pubs)
	}
	prog.set(label, int64(dur/time.Millisecond), nil, func() string {
		sent, pc := totals()
		return fmt.Sprintf("sent %d delivered %d lost conns %d", sent, pc.delivered, st.disconnect.Load()-d0)
	})
	meter := meterCPU(rooms[0].pid)
	start := time.Now()
	end := start.Add(dur)
	prog.clock(start, dur)
	var wg sync.WaitGroup
	var sendErr atomic.Value
	for _, rr := range runs {
		for p := 0; p < pubs && p < len(rr.clients); p++ {
			c := rr.clients[p]
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 0, 96)
				timer := time.NewTimer(time.Hour)
				defer timer.Stop()
				seq := c.echoed.Load()
				for time.Now().Before(end) && ctx.Err() == nil {
					next := seq + 1
					for next-c.echoed.Load() > o.window || rr.sent.Load()-rr.minRcv.Load() > o.guard {
						timer.Reset(time.Millisecond)
						select {
						case <-c.wake:
						case <-timer.C:
						case <-ctx.Done():
							return
						case <-c.done:
							return
						}
						if !time.Now().Before(end) {
							return
						}
					}
					var err error
					if buf, err = c.say(ctx, phase, next, buf); err != nil {
						sendErr.Store(err)
						return
					}
					seq = next
					rr.sent.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	finished, deadline := start, time.Now().Add(10*time.Second)
	for _, rr := range runs {
		if f := rr.drain(ctx, rr.base, rr.sent.Load(), max(time.Until(deadline), 0)); f.After(finished) {
			finished = f
		}
	}
	close(stop)
	trackWG.Wait()
	sent, pc := totals()
	res := FanoutResult{
		RoomSize: len(rooms[0].clients), Publishers: pubs * len(rooms), Window: o.window, Seconds: finished.Sub(start).Seconds(),
		Sent: sent, Delivered: pc.delivered, Disconnects: st.disconnect.Load() - d0,
		CPU: meter.done(pc.delivered),
	}
	var w1 wire
	for _, r := range rooms {
		w := r.wire()
		w1.frames, w1.bytes = w1.frames+w.frames, w1.bytes+w.bytes
	}
	res.BytesPerFrame, res.DeliveriesPerFrame = framing(w0, w1, pc.delivered)
	for _, rr := range runs {
		res.Expected += rr.sent.Load() * int64(len(rr.clients))
	}
	res.Lost = res.Expected - res.Delivered
	if res.Seconds > 0 {
		res.PerSecond = float64(res.Delivered) / res.Seconds
		res.MessagesPerSecond = float64(res.Sent) / res.Seconds
	}
	if err, ok := sendErr.Load().(error); ok {
		res.Error = err.Error()
	}
	return res
}

// latency publishes rate messages a second from one publisher for dur and
// records publish-to-receive time at every receiver.
func (r *room) latency(ctx context.Context, prog *progress, rate float64, dur time.Duration) LatencyResult {
	st := r.st
	phase := st.phase.Add(1)
	base := r.snapshot()
	d0 := st.disconnect.Load()
	st.hist.reset()
	st.latency.Store(true)
	var sent int64
	w0 := r.wire()
	meter := meterCPU(r.pid)
	prog.set(fmt.Sprintf("latency %.0f msg/s", rate), 0, nil, func() string {
		return fmt.Sprintf("sent %d p99 %s", atomic.LoadInt64(&sent), st.hist.quantile(0.99))
	})
	start := time.Now()
	prog.clock(start, dur)
	interval := time.Duration(float64(time.Second) / rate)
	tick := time.NewTicker(interval)
	c := r.clients[0]
	seq := c.echoed.Load()
	buf := make([]byte, 0, 96)
	res := LatencyResult{RoomSize: len(r.clients), Rate: rate}
loop:
	for time.Since(start) < dur {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		var err error
		if buf, err = c.say(ctx, phase, seq+1, buf); err != nil {
			res.Error = err.Error()
			break
		}
		seq++
		atomic.AddInt64(&sent, 1)
	}
	tick.Stop()
	r.drain(ctx, base, sent, 10*time.Second)
	st.latency.Store(false)
	pc := r.counts(base)
	res.CPU = meter.done(pc.delivered)
	res.BytesPerFrame, res.DeliveriesPerFrame = framing(w0, r.wire(), pc.delivered)
	res.Sent = sent
	res.Samples = st.hist.total.Load()
	res.Lost = sent*int64(len(r.clients)) - pc.delivered
	res.Disconnects = st.disconnect.Load() - d0
	res.P50 = ms(st.hist.quantile(0.50))
	res.P99 = ms(st.hist.quantile(0.99))
	res.P999 = ms(st.hist.quantile(0.999))
	res.Max = ms(time.Duration(st.hist.max.Load()))
	return res
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loginPass logs n clients in (conc at a time) and measures the time from
// sending login to receiving login_ok; each connection is closed after.
func loginPass(ctx context.Context, t *target, st *stats, prog *progress, label, prefix, password string, n, conc int) (LoginPass, error) {
	res := LoginPass{Logins: n, Concurrency: conc}
	var (
		mu       sync.Mutex
		lat      = make(sample, 0, n)
		done     atomic.Int64
		failures atomic.Int64
		firstErr error
		wg       sync.WaitGroup
	)
	prog.set(label, int64(n), done.Load, nil)
	jobs := make(chan int)
	meter := meterCPU(t.pid)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				d, err := loginOnce(ctx, t, st, fmt.Sprintf("%s%d", prefix, i), password)
				done.Add(1)
				mu.Lock()
				if err != nil {
					failures.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	res.CPU = meter.done(int64(len(lat)))
	res.Failures = int(failures.Load())
	res.PerSecond = float64(len(lat)) / elapsed.Seconds()
	res.P50, res.P99, res.Max = ms(lat.quantile(0.5)), ms(lat.quantile(0.99)), ms(lat.quantile(1))
	if firstErr != nil {
		res.Error = firstErr.Error()
	}
	if len(lat) == 0 {
		return res, fmt.Errorf("%s: no login succeeded: %w", label, firstErr)
	}
	return res, nil
}

func loginOnce(ctx context.Context, t *target, st *stats, name, password string) (time.Duration, error) {
	c, err := dial(ctx, t.wsURL, st, 0, name, -1)
	if err != nil {
		return 0, err
	}
	defer c.close()
	start := time.Now()
	if err := c.login(ctx, password); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// authPage is a tiny Auth URL page answering 0 (ok) to every request.
type authPage struct {
	srv      *http.Server
	ln       net.Listener
	requests atomic.Int64
}

func startAuthPage() (*authPage, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("auth page listen: %w", err)
	}
	p := &authPage{ln: ln}
	p.srv = &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			p.requests.Add(1)
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("0"))
		}),
	}
	go func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the page ends with the run
		}
	}()
	return p, nil
}

// roundTrips asks the page n times in a row from a Go HTTP client with
// keep-alive, as the authurl plugin does, and returns the round trips in
// milliseconds: the floor under any login that has to ask the page.
func (p *authPage) roundTrips(ctx context.Context, n int) (PageResult, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	lat := make(sample, 0, n)
	for i := range n + n/10 { // the first tenth warms up and is not kept
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url()+"?username=probe&password=x", nil)
		if err != nil {
			return PageResult{}, fmt.Errorf("auth page request: %w", err)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return PageResult{}, fmt.Errorf("auth page: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if i >= n/10 {
			lat = append(lat, time.Since(start))
		}
	}
	return PageResult{Requests: len(lat), P50: ms(lat.quantile(0.5)), P99: ms(lat.quantile(0.99))}, nil
}

func (p *authPage) url() string { return "http://" + p.ln.Addr().String() + "/auth" }

func (p *authPage) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}
