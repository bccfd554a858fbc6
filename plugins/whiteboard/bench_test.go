package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/internal/servertest"
)

// benchEnv reads a positive number from the environment, or def.
func benchEnv(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkDrawing: members drawing at once in one room of a real server
// with the built module (WB_BENCH_MEMBERS, 20 by default), each as the
// web client does: a stroke of points at WB_BENCH_FPS frames a second
// (60), one wb.ops batch a frame and one batch in flight, a new stroke
// every 100 points, for WB_BENCH_SECONDS (10). It reports the ops
// delivered to the other members per second and the latency of an op
// from its send to its arrival at another member (p50, p99). Run it once:
//
//	go test -run '^$' -bench BenchmarkDrawing -benchtime 1x ./plugins/whiteboard
func BenchmarkDrawing(b *testing.B) {
	members := int(benchEnv("WB_BENCH_MEMBERS", 20))
	fps := benchEnv("WB_BENCH_FPS", 60)
	dur := time.Duration(benchEnv("WB_BENCH_SECONDS", 10) * float64(time.Second))
	base := servertest.URL(servertest.Start(b, serverConfig(b, buildPlugin(b))))

	type member struct {
		name   string
		c      *servertest.Client
		result chan struct{}
	}
	ms := make([]*member, members)
	for i := range ms {
		c := servertest.DialURL(b, base, nil)
		name := fmt.Sprintf("m%02d", i)
		c.Login(name, "")
		c.Join(1, "")
		ms[i] = &member{name: name, c: c, result: make(chan struct{}, 1)}
	}

	var sent sync.Map // "id/version" -> send time
	var delivered, accepted, refused atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	var readers, senders sync.WaitGroup
	for _, m := range ms {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var mine []time.Duration
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			for ev := range m.c.Events() {
				switch ev["type"] {
				case "result":
					accepted.Add(1)
					select {
					case m.result <- struct{}{}:
					default:
					}
				case "error":
					refused.Add(1)
					select {
					case m.result <- struct{}{}:
					default:
					}
				case "wb.batch":
					now := time.Now()
					raw, _ := json.Marshal(ev["data"])
					var be batchEvent
					if json.Unmarshal(raw, &be) != nil {
						continue
					}
					for _, bt := range be.Batches {
						if bt.By == m.name {
							continue
						}
						for _, op := range bt.Ops {
							id, v := op.ID, op.Version
							if op.El != nil {
								id, v = op.El.ID, op.El.Version
							}
							if t0, ok := sent.Load(id + "/" + strconv.FormatInt(v, 10)); ok && ctx.Err() == nil {
								delivered.Add(1)
								mine = append(mine, now.Sub(t0.(time.Time)))
							}
						}
					}
				}
			}
		}()
	}

	b.ResetTimer()
	start := time.Now()
	for mi, m := range ms {
		senders.Add(1)
		go func() {
			defer senders.Done()
			tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
			defer tick.Stop()
			stroke, version, points, inflight := "", int64(0), 0, false
			var pending []float64
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-m.result:
					inflight = false
					continue
				case <-tick.C:
				}
				x, y := float64(100+(n*7)%1400), float64(100+mi*35+(n%10))
				pending = append(pending, x, y)
				if inflight {
					continue
				}
				var op Op
				if stroke == "" || points >= 100 {
					stroke, version, points = fmt.Sprintf("%s-%d", m.name, n), 1, len(pending)/2
					op = Op{Op: opPut, El: &Element{ID: stroke, Kind: kindFreehand, Points: pending, Color: "#223344", Width: 3, Version: 1, Nonce: int64(n)}}
				} else {
					version++
					points += len(pending) / 2
					op = Op{Op: opAppend, ID: stroke, Points: pending, Version: version}
				}
				pending = nil
				frame, _ := json.Marshal(map[string]any{"type": cmdOps, "id": strconv.Itoa(n), "room": 1, "ops": []Op{op}})
				sent.Store(stroke+"/"+strconv.FormatInt(version, 10), time.Now())
				inflight = true
				if err := m.c.Conn().Write(ctx, websocket.MessageText, frame); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(dur)
	cancel()
	elapsed := time.Since(start)
	senders.Wait()
	b.StopTimer()
	time.Sleep(200 * time.Millisecond)
	for _, m := range ms {
		_ = m.c.Conn().Close(websocket.StatusNormalClosure, "")
	}
	readers.Wait()

	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "ops-delivered/s")
	b.ReportMetric(float64(accepted.Load())/elapsed.Seconds(), "batches-accepted/s")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(members), "members")
	if r := refused.Load(); r > 0 {
		b.Errorf("%d batches refused", r)
	}
}
