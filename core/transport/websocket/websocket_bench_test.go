package websocket

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
)

// benchConn returns a server-side conn whose client discards what it
// reads.
func benchConn(b *testing.B) *conn {
	b.Helper()
	c, client := pair(b, Options{WriteTimeout: 10 * time.Second, SendQueue: 256})
	go func() {
		for {
			_, r, err := client.Reader(context.Background())
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
		}
	}()
	return c
}

func benchFrames(n int) []*chat.Frame {
	frames := make([]*chat.Frame, n)
	for i := range frames {
		frames[i] = chat.NewFrame(chat.MessageEvent{Type: "message", Message: chat.Message{
			ID: int64(i), RoomID: 1, From: "alice", Text: "hello everyone, this is a chat message",
			Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		}})
		frames[i].JSON()
	}
	return frames
}

// BenchmarkWriteSingle writes 16 frames as 16 messages.
func BenchmarkWriteSingle(b *testing.B) {
	c := benchConn(b)
	frames := benchFrames(16)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frames {
			if err := c.write([]*chat.Frame{f}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/16, "ns/frame")
}

// BenchmarkWriteBatch writes the same 16 frames as one JSON array message,
// as the writer does when frames pile up.
func BenchmarkWriteBatch(b *testing.B) {
	c := benchConn(b)
	frames := benchFrames(16)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.write(frames); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/16, "ns/frame")
}

// BenchmarkSend is the hub's side of a delivery: queue a frame (and start
// the writer when it is not running) while the writer drains the queue.
func BenchmarkSend(b *testing.B) {
	c := benchConn(b)
	f := benchFrames(1)[0]
	b.ReportAllocs()
	for b.Loop() {
		for !c.Send(f) {
			time.Sleep(time.Microsecond)
		}
	}
}

// BenchmarkSendPaced is one frame to a connection that has nothing else
// to write, waiting until it has been handed to the socket.
func BenchmarkSendPaced(b *testing.B) {
	c := benchConn(b)
	f := benchFrames(1)[0]
	b.ReportAllocs()
	for b.Loop() {
		if !c.Send(f) {
			b.Fatal("frame refused")
		}
		for !idle(c) {
			runtime.Gosched()
		}
	}
}

// BenchmarkFanout100 is a delivery as the paced latency run makes them:
// one frame to each of 100 connections of one handler that have nothing
// else to write, waiting until all have handed it to their sockets.
// cpu-ns/delivery is the CPU time of the process (clients included) per
// delivery, which a busy machine disturbs less than the wall time.
func BenchmarkFanout100(b *testing.B) {
	const n = 100
	conns := make([]*conn, n)
	for i := range conns {
		conns[i] = benchConn(b)
		conns[i].h = conns[0].h
	}
	f := benchFrames(1)[0]
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		for _, c := range conns {
			if !c.Send(f) {
				b.Fatal("frame refused")
			}
		}
		for _, c := range conns {
			for !idle(c) {
				runtime.Gosched()
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/delivery")
	// The CPU of the whole process, the clients' reads included.
	b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N)/n, "cpu-ns/delivery")
}

// idle reports whether c has nothing queued and no writer running.
func idle(c *conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.writing && len(c.queue) == 0
}
