package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The floor scenario is what the machine does with no chat server at all:
// a bare Go program (this binary, started again with floorServerArg, so
// that its CPU is read from /proc like a spawned server's) accepts the
// same number of WebSocket connections as the fan-out room, answers the
// handshake and then writes ready-made frames of the size the fan-out
// scenario's clients read (the same bytes per WebSocket message, the same
// messages per batch) to every socket, with one goroutine per connection
// and one write(2) per frame. The clients are the tool's own, reading and
// counting as in every other scenario. It runs twice: as fast as the
// receivers take it (the floor of the fan-out figures) and paced at
// --rate messages a second (the floor of the latency figures). Every
// fan-out and latency figure is then also given as a ratio to it.
const floorServerArg = "--floor-server"

// floorPublisher is the publisher number the floor's messages carry: above
// the numbers the clients check the order of (the floor's frames repeat).
const floorPublisher = 4096

// floorWriteSlack is how long past its end a run's writes may wait for a
// reader.
const floorWriteSlack = time.Minute

// Frame shapes the floor falls back on when the fan-out or latency
// scenario did not run before it.
const (
	floorDefaultBytes    = 3400
	floorDefaultPerFrame = 24
	floorDefaultPaced    = 145
)

// FloorResult is the floor scenario.
type FloorResult struct {
	Connections int `json:"connections"`
	// Fanout writes as fast as the receivers read; Matched the same
	// frames at the message rate the fan-out run (1 publisher) reached;
	// Paced writes Rate messages a second, a frame each.
	Fanout  FloorRun  `json:"fanout"`
	Matched *FloorRun `json:"matched,omitempty"`
	Paced   *FloorRun `json:"paced,omitempty"`
}

// FloorRun is one run of the floor server; times in milliseconds.
type FloorRun struct {
	// Rate is the messages a second written to each connection; 0: as
	// fast as the receivers read.
	Rate float64 `json:"rate,omitempty"`
	// WriteSeconds is the time until the floor had written its last
	// frame, Seconds until the clients had read it.
	WriteSeconds  float64 `json:"write_seconds"`
	Seconds       float64 `json:"seconds"`
	Frames        int64   `json:"frames"` // WebSocket messages written, all sockets
	BytesPerFrame int     `json:"bytes_per_frame"`
	PerFrame      int     `json:"deliveries_per_frame"`
	Delivered     int64   `json:"delivered"`
	Lost          int64   `json:"lost"`
	// PerSecond is what the clients read while the floor wrote, per
	// second of WriteSeconds.
	PerSecond float64 `json:"deliveries_per_second"`
	// CPU is the floor server's, per delivery.
	CPU *CPU    `json:"server_cpu,omitempty"`
	P50 float64 `json:"p50_ms,omitempty"`
	P99 float64 `json:"p99_ms,omitempty"`
	Max float64 `json:"max_ms,omitempty"`
}

// floorShape is the frame size and messages per frame of a measured run,
// or the defaults.
func floorShape(bytesPerFrame, perFrame float64, defBytes, defPer int) (int, int) {
	if bytesPerFrame <= 0 || perFrame <= 0 {
		return defBytes, defPer
	}
	return int(bytesPerFrame + 0.5), max(int(perFrame+0.5), 1)
}

func (o *options) runFloor(ctx context.Context, rep *Report, st *stats, prog *progress) error {
	res := &FloorResult{Connections: o.roomSize}
	rep.Floor = res
	fs, err := startFloor(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = fs.stop() }()
	url := "ws://" + fs.addr + "/ws"
	clients, err := openMany(ctx, prog, "floor: connect", o.roomSize, o.dialConcurrency, func(ctx context.Context, i int) (*client, error) {
		return dial(ctx, url, st, i, "floor", -1)
	})
	if err != nil {
		return err
	}
	defer closeAll(clients)
	r := &room{clients: clients, st: st, pid: fs.pid}
	ft := &target{pid: fs.pid}

	size, per := floorDefaultBytes, floorDefaultPerFrame
	if len(rep.Fanout) > 0 {
		f := rep.Fanout[0]
		size, per = floorShape(f.BytesPerFrame, f.DeliveriesPerFrame, size, per)
	}
	prog.set("waiting for an idle floor", 0, nil, nil)
	quiesce(ctx, ft)
	res.Fanout, err = r.floorRun(ctx, prog, fs, 0, o.duration, size, per)
	if err != nil {
		return err
	}
	// The same frames at the fan-out run's message rate: the same work a
	// second as the server did, without blocking on full sockets more
	// than it did, so CPU per delivery compares like with like.
	if len(rep.Fanout) > 0 && rep.Fanout[0].MessagesPerSecond > 0 {
		quiesce(ctx, ft)
		frames := rep.Fanout[0].MessagesPerSecond / float64(per)
		matched, err := r.floorRun(ctx, prog, fs, frames, o.duration, size, per)
		if err != nil {
			return err
		}
		res.Matched = &matched
	}
	if !o.wants("latency") && !o.wants("fanout") {
		return nil
	}
	// Paced, the floor writes each message alone, at the size of one
	// message of the latency scenario's frames (a loaded server batches
	// even at 100 messages a second).
	size = floorDefaultPaced
	if l := rep.Latency; l != nil && l.DeliveriesPerFrame > 0 {
		size = int(l.BytesPerFrame/l.DeliveriesPerFrame + 0.5)
	}
	quiesce(ctx, ft)
	paced, err := r.floorRun(ctx, prog, fs, o.rate, o.latencyDur, size, 1)
	if err != nil {
		return err
	}
	res.Paced = &paced
	return nil
}

// floorRun has the floor server write frames of per messages for dur
// (rate frames a second, or as fast as the receivers read with rate 0) and
// counts what arrived.
func (r *room) floorRun(ctx context.Context, prog *progress, fs *floorServer, rate float64, dur time.Duration, size, per int) (FloorRun, error) {
	st := r.st
	phase := st.phase.Add(1)
	run := FloorRun{Rate: rate * float64(per), BytesPerFrame: size, PerFrame: per}
	base := r.snapshot()
	label := "floor: fan-out"
	if rate > 0 {
		label = fmt.Sprintf("floor: %.0f msg/s", run.Rate)
		st.hist.reset()
		st.latency.Store(true)
		defer st.latency.Store(false)
	}
	prog.set(label, 0, nil, func() string {
		return fmt.Sprintf("delivered %d", r.counts(base).delivered)
	})
	meter := meterCPU(r.pid)
	start := time.Now()
	prog.clock(start, dur)
	frames, err := fs.run(ctx, floorCmd{phase: phase, dur: dur, rate: rate, size: size, per: per})
	if err != nil {
		return run, err
	}
	// What the clients took in while the floor wrote: the frames still in
	// the sockets' buffers then are drained after and count for the CPU
	// per delivery, not for the rate.
	run.WriteSeconds = time.Since(start).Seconds()
	inWindow := r.counts(base).delivered
	expected := frames * int64(per)
	deadline := time.Now().Add(10 * time.Second)
	for r.counts(base).delivered < expected && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	run.Seconds = time.Since(start).Seconds()
	pc := r.counts(base)
	run.CPU = meter.done(pc.delivered)
	run.Frames, run.Delivered, run.Lost = frames, pc.delivered, expected-pc.delivered
	if run.WriteSeconds > 0 {
		run.PerSecond = float64(inWindow) / run.WriteSeconds
	}
	if rate > 0 {
		run.P50 = ms(st.hist.quantile(0.50))
		run.P99 = ms(st.hist.quantile(0.99))
		run.Max = ms(time.Duration(st.hist.max.Load()))
	}
	if err := ctx.Err(); err != nil {
		return run, fmt.Errorf("floor: %w", err)
	}
	return run, nil
}

// floorServer is a running floor server process.
type floorServer struct {
	addr string
	pid  int
	in   io.WriteCloser
	out  *bufio.Scanner
	wait func() error
}

// startFloor starts this binary as a floor server.
func startFloor(ctx context.Context) (*floorServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, floorServerArg)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("floor server: %w", err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("floor server: %w", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start floor server: %w", err)
	}
	fs := &floorServer{pid: cmd.Process.Pid, in: in, out: bufio.NewScanner(outPipe), wait: cmd.Wait}
	line, err := fs.line()
	if err != nil {
		_ = fs.stop()
		return nil, err
	}
	addr, ok := strings.CutPrefix(line, "addr ")
	if !ok {
		_ = fs.stop()
		return nil, fmt.Errorf("floor server said %q, want its address", line)
	}
	fs.addr = addr
	return fs, nil
}

func (fs *floorServer) line() (string, error) {
	if fs.out.Scan() {
		return fs.out.Text(), nil
	}
	if err := fs.out.Err(); err != nil {
		return "", fmt.Errorf("floor server: %w", err)
	}
	return "", errors.New("floor server ended")
}

// run has the floor server write to every connection it has and returns
// the frames it wrote.
func (fs *floorServer) run(ctx context.Context, c floorCmd) (int64, error) {
	if _, err := fmt.Fprintln(fs.in, c.String()); err != nil {
		return 0, fmt.Errorf("floor server: %w", err)
	}
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		l, err := fs.line()
		got <- answer{l, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		return 0, fmt.Errorf("floor server: %w", ctx.Err())
	}
	if a.err != nil {
		return 0, a.err
	}
	rest, ok := strings.CutPrefix(a.line, "done ")
	n, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("floor server said %q", a.line)
	}
	return n, nil
}

// stop ends the floor server (it exits when its input closes).
func (fs *floorServer) stop() error {
	_ = fs.in.Close()
	return fs.wait()
}

// floorCmd is one run of the floor server, sent as a line on its input.
type floorCmd struct {
	phase     int64
	dur       time.Duration
	rate      float64
	size, per int
}

func (c floorCmd) String() string {
	return fmt.Sprintf("run %d %d %g %d %d", c.phase, c.dur, c.rate, c.size, c.per)
}

func parseFloorCmd(line string) (floorCmd, error) {
	var c floorCmd
	var d int64
	if _, err := fmt.Sscanf(line, "run %d %d %g %d %d", &c.phase, &d, &c.rate, &c.size, &c.per); err != nil {
		return c, fmt.Errorf("floor command %q: %w", line, err)
	}
	c.dur = time.Duration(d)
	if c.dur <= 0 || c.per < 1 || c.size < 0 || c.rate < 0 {
		return c, fmt.Errorf("floor command %q: out of range", line)
	}
	return c, nil
}

// serveFloor is the floor server: it prints its address, accepts
// WebSocket connections and runs each command line of in against every
// connection it has, answering "done <frames written>"; it returns when
// in ends.
func serveFloor(in io.Reader, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("floor listen: %w", err)
	}
	defer ln.Close()
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				resp, err := floorHandshake(c, br)
				if err != nil {
					_ = c.Close()
					return
				}
				// Listed before the hello: a run starts once every client
				// has its hello, and then reaches every connection.
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				if _, err := c.Write(append(resp, wsFrame([]byte(`{"type":"hello"}`))...)); err != nil {
					_ = c.Close()
					return
				}
				floorAnswer(c, br)
				mu.Lock()
				conns = slices.DeleteFunc(conns, func(k net.Conn) bool { return k == c })
				mu.Unlock()
			}()
		}
	}()
	if _, err := fmt.Fprintf(out, "addr %s\n", ln.Addr()); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		cmd, err := parseFloorCmd(sc.Text())
		if err != nil {
			return err
		}
		mu.Lock()
		cs := slices.Clone(conns)
		mu.Unlock()
		snapshot := slices.Clone(cs)
		// One deadline per connection and run, far beyond the run: it only
		// ends a run whose reader stopped. A write it cuts short leaves
		// part of a frame, so that connection is closed.
		for _, c := range cs {
			_ = c.SetWriteDeadline(time.Now().Add(cmd.dur + floorWriteSlack))
		}
		var n int64
		if cmd.rate > 0 {
			n = floorPaced(cs, cmd)
		} else {
			n = floorFlood(cs, floorFrame(cmd.phase, 0, cmd.size, cmd.per), cmd.dur)
		}
		mu.Lock()
		for i, c := range snapshot {
			if cs[i] == nil { // closed by the run
				conns = slices.DeleteFunc(conns, func(k net.Conn) bool { return k == c })
			}
		}
		mu.Unlock()
		if _, err := fmt.Fprintf(out, "done %d\n", n); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return sc.Err()
}

// floorFlood writes frame to every connection, one goroutine each, until
// dur has passed; it returns the frames written. A connection whose write
// fails is closed and set to nil in conns.
func floorFlood(conns []net.Conn, frame []byte, dur time.Duration) int64 {
	end := time.Now().Add(dur)
	var total atomic.Int64
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			for time.Now().Before(end) {
				if _, err := c.Write(frame); err != nil {
					_ = c.Close()
					conns[i] = nil
					break
				}
				n++
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	return total.Load()
}

// floorPaced writes cmd.rate frames a second of cmd.per messages, each
// carrying its send time, to every connection; the connections are split over one goroutine per
// processor. It returns the frames written. A connection whose write
// fails is closed and set to nil in conns.
func floorPaced(conns []net.Conn, cmd floorCmd) int64 {
	shards := runtime.GOMAXPROCS(0)
	tick := time.NewTicker(time.Duration(float64(time.Second) / cmd.rate))
	defer tick.Stop()
	var total atomic.Int64
	start := time.Now()
	for time.Since(start) < cmd.dur {
		<-tick.C
		frame := floorFrame(cmd.phase, time.Now().UnixNano(), cmd.size, cmd.per)
		var wg sync.WaitGroup
		for s := range shards {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var n int64
				for i := s; i < len(conns); i += shards {
					if conns[i] == nil {
						continue
					}
					if _, err := conns[i].Write(frame); err != nil {
						_ = conns[i].Close()
						conns[i] = nil
						continue
					}
					n++
				}
				total.Add(n)
			}()
		}
		wg.Wait()
	}
	return total.Load()
}

// floorFrame is an unmasked WebSocket text frame whose payload, of about
// size bytes, holds per message events the tool's clients count (an array
// when per > 1), like a batch of the server's.
func floorFrame(phase, ts int64, size, per int) []byte {
	ev := fmt.Sprintf(`{"type":"message","room":1,"id":1,"user":"floor","text":"b%d %d 0 %d"`, phase, floorPublisher, ts)
	var p []byte
	if per > 1 {
		p = append(p, '[')
	}
	for i := range per {
		if i > 0 {
			p = append(p, ',')
		}
		p = append(p, ev...)
		if i < per-1 {
			p = append(p, '}')
		}
	}
	// The last event carries the padding that brings the payload to size.
	closing := 1
	if per > 1 {
		closing = 2
	}
	const padField = `,"pad":""`
	switch extra := size - len(p) - closing; {
	case extra >= len(padField):
		p = append(p, `,"pad":"`...)
		p = append(p, strings.Repeat("x", extra-len(padField))...)
		p = append(p, '"')
	case extra > 0: // too little room for the field: white space
		p = append(p, strings.Repeat(" ", extra)...)
	}
	p = append(p, '}')
	if per > 1 {
		p = append(p, ']')
	}
	return wsFrame(p)
}

// wsFrame puts the header of an unmasked final text frame before payload.
func wsFrame(payload []byte) []byte {
	n := len(payload)
	h := []byte{0x81}
	switch {
	case n < 126:
		h = append(h, byte(n))
	case n < 1<<16:
		h = append(h, 126, byte(n>>8), byte(n))
	default:
		h = append(h, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(h, payload...)
}

// floorHandshake reads a client's WebSocket handshake from br (c's
// reader, which keeps what the client sent after it) and returns the 101
// response to write (RFC 6455, no extensions).
func floorHandshake(c net.Conn, br *bufio.Reader) ([]byte, error) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("floor handshake: %w", err)
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if key == "" || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		return nil, errors.New("floor handshake: not a WebSocket request")
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"), nil
}

// The floor's answers to a login and a join: what the tool's clients wait
// for, with nothing in them.
var (
	floorLoginOK = wsFrame([]byte(`[{"type":"login_ok","user":{"name":"floor"}},{"type":"rooms","rooms":[]}]`))
	floorJoined  = wsFrame([]byte(`{"type":"joined","room":{"id":1},"users":[],"members":[],"history":[]}`))
)

// floorAnswer reads the client's frames until it goes away, answering a
// login and a join with one write each, as a chat server would at the
// least; it then closes c.
func floorAnswer(c net.Conn, br *bufio.Reader) {
	defer c.Close()
	var hdr [14]byte
	payload := make([]byte, 0, 256)
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			return
		}
		op, n := hdr[0]&0x0f, uint64(hdr[1]&0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[2:4]); err != nil {
				return
			}
			n = uint64(hdr[2])<<8 | uint64(hdr[3])
		case 127:
			if _, err := io.ReadFull(br, hdr[2:10]); err != nil {
				return
			}
			n = 0
			for _, b := range hdr[2:10] {
				n = n<<8 | uint64(b)
			}
		}
		if n > 1<<20 {
			return
		}
		var mask [4]byte
		if hdr[1]&0x80 != 0 {
			if _, err := io.ReadFull(br, mask[:]); err != nil {
				return
			}
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
		var answer []byte
		switch {
		case op == 8: // close
			return
		case op != 1:
		case bytes.Contains(payload, []byte(`"type":"login"`)):
			answer = floorLoginOK
		case bytes.Contains(payload, []byte(`"type":"join"`)):
			answer = floorJoined
		}
		if answer != nil {
			if _, err := c.Write(answer); err != nil {
				return
			}
		}
	}
}
