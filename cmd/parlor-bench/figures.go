package main

import (
	"fmt"
	"math"
)

// Targets of the project (figures, not test assertions). They are ratios
// to figures of the same run (the raw TCP floor, an older binary, another
// layout) or server CPU per operation, which a busy machine moves much
// less than rates and latencies; where the project set a time (the room
// join) it is kept.
const (
	targetIdleKiB     = 20.0 // KiB of server RSS per idle logged-in connection
	targetIdleClients = 5000
	// Server CPU per connect+login+join while the clients connected
	// before stay online (the idle scenario's ramp of 5000).
	targetLoginCPU = 250.0 // us
	// The fan-out room's clients all connected, logged in and in the room.
	targetRoomJoinSeconds = 0.5
	targetFanoutRoom      = 1000
	// Fan-out against the raw TCP floor of the same run: deliveries per
	// second at least this share of the full-speed floor's, server CPU per
	// delivery at most this multiple of the floor's at the same message
	// rate (2.4-2.6 when these targets were set).
	targetFanoutRate = 0.33
	targetFanoutCPU  = 2.0
	// The paced latency run against the floor paced at the same rate.
	targetLatencyRate   = 100.0
	targetLatencyCPU    = 1.5 // server CPU per delivery / the floor's (1.8 on a quiet machine when set)
	targetLatencyP99    = 2.0 // p99 / the floor's p99
	targetLoginAddedP99 = 2.0 // authurl p99 - guest p99, in Auth URL page p99 round trips
	// Against an older binary in the same run (--baseline): server CPU per
	// delivery in the paced run at most this share of the old binary's,
	// p99 and the max no higher.
	targetBaselineCPU = 0.85
	targetBaselineP99 = 1.0
	targetBaselineMax = 1.0
	// Server CPU per connect+login+join+close with the idle clients
	// online at most this share of the old binary's (targetLoginCPU was
	// a quarter of the figure of its day).
	targetBaselineLoginCPU = 0.25
	// The modules scenario with --module-plugin: fan-out into the room
	// (targetFanoutRoom clients, not moderated) with the moderation module
	// loaded keeps at least this share of the throughput without a module
	// (same run).
	targetRealModuleThroughput = 0.8
)

// ratio is a/b, NaN when either is not a positive figure.
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return math.NaN()
	}
	return a / b
}

// ratioText formats a ratio, "-" when there is none.
func ratioText(r float64) string {
	if math.IsNaN(r) {
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

// atMost and atLeast are a target's Met: "no" without a figure.
func atMost(r, limit float64) string  { return met(!math.IsNaN(r) && r <= limit) }
func atLeast(r, limit float64) string { return met(!math.IsNaN(r) && r >= limit) }

func figures(rep *Report) []Figure {
	var out []Figure
	if i := rep.Idle; i != nil {
		out = append(out, idleFigures(i)...)
	}
	if j := rep.RoomJoin; j != nil {
		f := Figure{
			Name:  fmt.Sprintf("room: %d clients connect+login+join one room", j.Clients),
			Value: fmt.Sprintf("%.2f s (%s/s), %s", j.Seconds, thousands(j.PerSecond), cpuText(j.CPU, "join")),
		}
		if j.Clients == targetFanoutRoom {
			f.Target = fmt.Sprintf("< %.1f s", targetRoomJoinSeconds)
			f.Met = met(j.Seconds < targetRoomJoinSeconds)
		}
		out = append(out, f)
	}
	fl := rep.Floor
	for _, r := range rep.Fanout {
		out = append(out, Figure{
			Name: fmt.Sprintf("fan-out deliveries/s, room of %d, %d publisher(s)", r.RoomSize, r.Publishers),
			Value: fmt.Sprintf("%s/s (%.0f msg/s; lost %d, dropped %d), %s; %.0f bytes and %.1f deliveries per frame",
				thousands(r.PerSecond), r.MessagesPerSecond, r.Lost, r.Disconnects, cpuText(r.CPU, "delivery"), r.BytesPerFrame, r.DeliveriesPerFrame),
		})
		if fl == nil {
			continue
		}
		// CPU per delivery against the floor at the same message rate
		// when it ran (the 1-publisher run's), else at full speed.
		floorCPU := fl.Fanout.CPU
		if fl.Matched != nil {
			floorCPU = fl.Matched.CPU
		}
		rate, cpu := ratio(r.PerSecond, fl.Fanout.PerSecond), ratio(perOp(r.CPU), perOp(floorCPU))
		rf := Figure{
			Name:  fmt.Sprintf("fan-out / floor, %d publisher(s): deliveries/s", r.Publishers),
			Value: ratioText(rate),
		}
		cf := Figure{
			Name:  fmt.Sprintf("fan-out / floor, %d publisher(s): server CPU per delivery", r.Publishers),
			Value: ratioText(cpu),
		}
		if r.RoomSize == targetFanoutRoom && fl.Connections == r.RoomSize {
			rf.Target, rf.Met = fmt.Sprintf(">= %.2f", targetFanoutRate), atLeast(rate, targetFanoutRate)
			cf.Target, cf.Met = fmt.Sprintf("<= %.1f", targetFanoutCPU), atMost(cpu, targetFanoutCPU)
		}
		out = append(out, rf, cf)
	}
	if l := rep.Latency; l != nil {
		out = append(out, Figure{
			Name: fmt.Sprintf("publish-to-receive latency, %.0f msg/s into a room of %d", l.Rate, l.RoomSize),
			Value: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d samples, lost %d), %s",
				l.P50, l.P99, l.Max, l.Samples, l.Lost, cpuText(l.CPU, "delivery")),
		})
		if fl != nil && fl.Paced != nil {
			p := fl.Paced
			cpu, p99 := ratio(perOp(l.CPU), perOp(p.CPU)), ratio(l.P99, p.P99)
			cf := Figure{Name: fmt.Sprintf("latency / floor, %.0f msg/s: server CPU per delivery", l.Rate), Value: ratioText(cpu)}
			pf := Figure{Name: fmt.Sprintf("latency / floor, %.0f msg/s: p99", l.Rate), Value: fmt.Sprintf("%s (max %s)", ratioText(p99), ratioText(ratio(l.Max, p.Max)))}
			if l.RoomSize == targetFanoutRoom && l.Rate == targetLatencyRate && p.Rate == l.Rate && fl.Connections == l.RoomSize {
				cf.Target, cf.Met = fmt.Sprintf("<= %.1f", targetLatencyCPU), atMost(cpu, targetLatencyCPU)
				pf.Target, pf.Met = fmt.Sprintf("<= %.1f", targetLatencyP99), atMost(p99, targetLatencyP99)
			}
			out = append(out, cf, pf)
		}
	}
	if fl != nil {
		out = append(out, floorFigures(fl)...)
	}
	if lg := rep.Logins; lg != nil {
		out = append(out, loginFigures("guest", " (no plugin)", lg.Guest)...)
		if a := lg.AuthURL; a != nil {
			out = append(out, loginFigures("authurl", "", *a)...)
			trips := ratio(lg.AddedP99, lg.Page.P99)
			if lg.AddedP99 <= 0 && lg.Page.P99 > 0 {
				trips = 0
			}
			out = append(out, Figure{
				Name:  "Auth URL page round trip alone (Go client in the tool, keep-alive, sequential)",
				Value: fmt.Sprintf("p50 %.3f ms, p99 %.3f ms", lg.Page.P50, lg.Page.P99),
			}, Figure{
				Name:   "latency the authurl plugin adds to a login (p99 authurl - p99 guest)",
				Value:  fmt.Sprintf("p99 +%.3f ms (p50 +%.3f ms), %s page p99 round trips", lg.AddedP99, lg.AddedP50, ratioText(trips)),
				Target: fmt.Sprintf("<= %.0f page p99 round trips", targetLoginAddedP99),
				Met:    atMost(trips, targetLoginAddedP99),
			})
		}
	}
	if b := rep.Baseline; b != nil {
		out = append(out, baselineFigures(rep, b)...)
	}
	if len(rep.Fanout) > 0 || rep.Latency != nil || rep.Idle != nil || rep.Rooms != nil || rep.Floor != nil || (rep.Cluster != nil && rep.Cluster.Skipped == "") {
		out = append(out, Figure{
			Name: "messages lost / connections dropped", Value: fmt.Sprintf("%d / %d", rep.MessagesLost, rep.Disconnects),
			Target: "0 / 0", Met: met(rep.MessagesLost == 0 && rep.Disconnects == 0),
		})
	}
	if rep.LoadBefore != "" {
		out = append(out, Figure{
			Name:  "machine load during the run (1, 5, 15 min averages, start -> end)",
			Value: rep.LoadBefore + " -> " + rep.LoadAfter,
		})
	}
	for _, b := range rep.GoBench {
		v := fmt.Sprintf("%s ns/op, %d B/op, %d allocs/op", thousands(b.NsPerOp), b.BytesPerOp, b.AllocsPerOp)
		if b.Extra != "" {
			v += ", " + b.Extra
		}
		out = append(out, Figure{Name: "go test -bench " + b.Name, Value: v})
	}
	if m := rep.Modules; m != nil {
		out = append(out, moduleFigures(m)...)
	}
	if r := rep.Rooms; r != nil {
		out = append(out, roomsFigures(r)...)
	}
	if c := rep.Cluster; c != nil {
		out = append(out, clusterFigures(c)...)
	}
	return out
}

func idleFigures(i *IdleResult) []Figure {
	f := Figure{Name: fmt.Sprintf("idle memory per connection (%d logged-in clients)", i.Clients)}
	if i.Measured {
		f.Value = fmt.Sprintf("%.1f KiB (RSS %.0f -> %.0f MiB; Go heap %.1f + stacks %.1f KiB, %.2f goroutines per conn)",
			i.KiBPerConn, mib(i.RSSBefore), mib(i.RSSAfter), i.HeapKiBPerConn, i.StackKiBPerConn, i.GoroutinesPerConn)
	} else {
		f.Value = fmt.Sprintf("n/a (no server RSS; %.2f goroutines/conn)", i.GoroutinesPerConn)
	}
	if i.Disconnects > 0 {
		f.Value += fmt.Sprintf("; %d connections dropped", i.Disconnects)
	}
	c := Figure{
		Name:  fmt.Sprintf("idle: connect+login+join while the others stay online, %d clients", i.Clients),
		Value: fmt.Sprintf("%s/s (%.2f s), %s", thousands(i.ConnectsPerSecond), i.ConnectSeconds, cpuText(i.ConnectCPU, "login")),
	}
	if i.Clients == targetIdleClients {
		f.Target = fmt.Sprintf("<= %.0f KiB", targetIdleKiB)
		f.Met = met(i.Measured && i.KiBPerConn <= targetIdleKiB)
	}
	idle := Figure{Name: fmt.Sprintf("idle: server CPU per idle connection, %d clients", i.Clients), Value: "-"}
	if c := i.IdleCPU; c != nil {
		idle.Value = fmt.Sprintf("%s us per connection per second", micros(c.MicrosPerOp))
		if c.Seconds == 0 && c.Ops > 0 && c.Window > 0 {
			// Less than one clock tick in the whole window.
			idle.Value = fmt.Sprintf("< %s us per connection per second (below one clock tick)",
				micros(clockTick.Seconds()*1e6/float64(c.Ops)/c.Window))
		}
	}
	out := []Figure{f, c, idle}
	if ch := i.Churn; ch != nil {
		cf := Figure{
			Name:  fmt.Sprintf("idle: connect+login+join+close while %d stay online, %d concurrent", ch.Online, ch.Concurrency),
			Value: fmt.Sprintf("%s/s (%d in %.2f s), %s", thousands(ch.PerSecond), ch.Logins, ch.Seconds, cpuText(ch.CPU, "login")),
		}
		if ch.Online == targetIdleClients {
			cf.Target = fmt.Sprintf("<= %.0f us server CPU/login", targetLoginCPU)
			cf.Met = met(ch.CPU != nil && ch.CPU.MicrosPerOp <= targetLoginCPU)
		}
		out = append(out, cf)
		if fl := ch.Floor; fl != nil {
			out = append(out, Figure{
				Name:  fmt.Sprintf("floor: connect+login+join+close, %d concurrent (bare Go server, one write per answer, nobody online)", fl.Concurrency),
				Value: fmt.Sprintf("%s/s (%d in %.2f s), %s", thousands(fl.PerSecond), fl.Logins, fl.Seconds, cpuText(fl.CPU, "login")),
			}, Figure{
				Name:  "idle: server CPU per connect+login+join+close / the floor's (same run)",
				Value: ratioText(ratio(perOp(ch.CPU), perOp(fl.CPU))),
			})
		}
	}
	return out
}

func floorFigures(fl *FloorResult) []Figure {
	f := fl.Fanout
	out := []Figure{{
		Name: fmt.Sprintf("floor: raw TCP fan-out into %d (bare Go writer, the fan-out's frames)", fl.Connections),
		Value: fmt.Sprintf("%s/s (lost %d), %s; %d-byte frames of %d messages",
			thousands(f.PerSecond), f.Lost, cpuText(f.CPU, "delivery"), f.BytesPerFrame, f.PerFrame),
	}}
	if m := fl.Matched; m != nil {
		out = append(out, Figure{
			Name: fmt.Sprintf("floor: the same frames at the fan-out's rate into %d", fl.Connections),
			Value: fmt.Sprintf("%s/s at %.0f msg/s (lost %d), %s",
				thousands(m.PerSecond), m.Rate, m.Lost, cpuText(m.CPU, "delivery")),
		})
	}
	if p := fl.Paced; p != nil {
		out = append(out, Figure{
			Name: fmt.Sprintf("floor: paced %.0f msg/s into %d (one frame per message)", p.Rate, fl.Connections),
			Value: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms, max %.2f ms (lost %d), %s; %d-byte frames",
				p.P50, p.P99, p.Max, p.Lost, cpuText(p.CPU, "delivery"), p.BytesPerFrame),
		})
	}
	return out
}

// loginFigures are the two figures of one login server: the sequential
// round trip and the concurrent rate, each with the server CPU per login.
func loginFigures(kind, detail string, s LoginServer) []Figure {
	return []Figure{{
		Name:  kind + " login round trip" + detail + ", sequential",
		Value: fmt.Sprintf("p50 %.3f ms, p99 %.3f ms, %s", s.Sequential.P50, s.Sequential.P99, cpuText(s.Sequential.CPU, "login")),
	}, {
		Name:  fmt.Sprintf("%s logins/s (%d concurrent)", kind, s.Concurrent.Concurrency),
		Value: fmt.Sprintf("%s/s (p99 %.2f ms), %s", thousands(s.Concurrent.PerSecond), s.Concurrent.P99, cpuText(s.Concurrent.CPU, "login")),
	}}
}

// baselineFigures compare this run's binary with the --baseline binary of
// the same run: each row is new / old.
func baselineFigures(rep, old *Report) []Figure {
	var out []Figure
	row := func(name string, nv, ov float64, unit string) Figure {
		return Figure{
			Name:  "new / old binary (same run): " + name,
			Value: fmt.Sprintf("%s (new %s, old %s %s)", ratioText(ratio(nv, ov)), trim(nv), trim(ov), unit),
		}
	}
	if n, o := rep.Idle, old.Idle; n != nil && o != nil {
		out = append(out,
			row("idle memory per connection", n.KiBPerConn, o.KiBPerConn, "KiB"),
			row("server CPU per connect+login+join, idle ramp", perOp(n.ConnectCPU), perOp(o.ConnectCPU), "us"))
		if n.Churn != nil && o.Churn != nil {
			f := row(fmt.Sprintf("server CPU per connect+login+join+close, %d online", n.Churn.Online),
				perOp(n.Churn.CPU), perOp(o.Churn.CPU), "us")
			f.Target = fmt.Sprintf("<= %.2f", targetBaselineLoginCPU)
			f.Met = atMost(ratio(perOp(n.Churn.CPU), perOp(o.Churn.CPU)), targetBaselineLoginCPU)
			out = append(out, f)
		}
	}
	if n, o := rep.RoomJoin, old.RoomJoin; n != nil && o != nil {
		out = append(out, row(fmt.Sprintf("%d clients into one room", n.Clients), n.Seconds, o.Seconds, "s"))
	}
	for i, n := range rep.Fanout {
		if i >= len(old.Fanout) {
			break
		}
		o := old.Fanout[i]
		out = append(out,
			row(fmt.Sprintf("fan-out deliveries/s, %d publisher(s)", n.Publishers), n.PerSecond, o.PerSecond, "/s"),
			row(fmt.Sprintf("fan-out server CPU per delivery, %d publisher(s)", n.Publishers), perOp(n.CPU), perOp(o.CPU), "us"))
	}
	if n, o := rep.Latency, old.Latency; n != nil && o != nil {
		cpu := row(fmt.Sprintf("server CPU per delivery, paced %.0f msg/s", n.Rate), perOp(n.CPU), perOp(o.CPU), "us")
		p99 := row(fmt.Sprintf("latency p99, paced %.0f msg/s", n.Rate), n.P99, o.P99, "ms")
		mx := row(fmt.Sprintf("latency max, paced %.0f msg/s", n.Rate), n.Max, o.Max, "ms")
		cpu.Target, cpu.Met = fmt.Sprintf("<= %.2f", targetBaselineCPU), atMost(ratio(perOp(n.CPU), perOp(o.CPU)), targetBaselineCPU)
		p99.Target, p99.Met = fmt.Sprintf("<= %.1f", targetBaselineP99), atMost(ratio(n.P99, o.P99), targetBaselineP99)
		mx.Target, mx.Met = fmt.Sprintf("<= %.1f", targetBaselineMax), atMost(ratio(n.Max, o.Max), targetBaselineMax)
		out = append(out, cpu, p99, mx)
	}
	if n, o := rep.Logins, old.Logins; n != nil && o != nil {
		out = append(out, row("server CPU per guest login, concurrent", perOp(n.Guest.Concurrent.CPU), perOp(o.Guest.Concurrent.CPU), "us"))
	}
	if n, o := rep.Modules, old.Modules; n != nil && o != nil && len(n.Variants) == len(o.Variants) {
		for i, v := range n.Variants {
			out = append(out, row("modules, "+v.Name+": fan-out server CPU per delivery", perOp(v.Fanout.CPU), perOp(o.Variants[i].Fanout.CPU), "us"))
		}
	}
	if n, o := rep.Rooms, old.Rooms; n != nil && o != nil {
		out = append(out, row("rooms, 10 rooms: deliveries/s", n.Split.PerSecond, o.Split.PerSecond, "/s"))
	}
	return out
}

// trim formats a figure of a comparison row.
func trim(v float64) string {
	switch {
	case v >= 10000:
		return thousands(v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
