package chat

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// countConn counts the public messages it gets and keeps no frame: a
// cheap, non-blocking connection for fan-out benchmarks. The padding keeps each
// counter on its own cache line.
type countConn struct {
	n atomic.Int64
	_ [56]byte
}

func (c *countConn) Send(f *Frame) bool {
	if _, ok := f.Message(); ok {
		c.n.Add(1)
	}
	return true
}
func (c *countConn) Close(string) {}

// BenchmarkRoomsFanout compares 10 rooms of 100 members with 1 room of
// 1000, ten publishers saying concurrently in both (one per room, or all
// ten in the one room), with and without a store (a SaveMessages that
// saves nothing, so the group commit runs). deliveries/s is the frames
// members got per second; the two layouts deliver the same number of
// frames per message said in total (100 x 10 rooms, 1000 x 1 room per ten
// messages), so a lock shared by the rooms shows as 10x100 falling behind.
func BenchmarkRoomsFanout(b *testing.B) {
	for _, store := range []bool{false, true} {
		for _, shape := range []struct{ rooms, members int }{{1, 1000}, {10, 100}} {
			name := fmt.Sprintf("store=%v/%dx%d", store, shape.rooms, shape.members)
			b.Run(name, func(b *testing.B) { benchRooms(b, store, shape.rooms, shape.members) })
		}
	}
}

func benchRooms(b *testing.B, store bool, rooms, members int) {
	const publishers = 10
	opts := Options{History: 50, MaxMessageChars: 2000, Guests: true}
	if store {
		opts.SaveMessages = func(context.Context, []Message) error { return nil }
	}
	g := NewGroup(opts)
	var conns []*countConn
	var speakers []*Member
	for r := range rooms {
		id := int64(r + 1)
		g.PutRoom(RoomInfo{ID: id, Name: fmt.Sprintf("Room %d", id), Member: true, Open: true}, nil)
		for i := range members {
			c := &countConn{}
			m := &Member{Name: fmt.Sprintf("u%d-%d", id, i), Guest: true, Conn: c}
			if err := g.Login(m); err != nil {
				b.Fatal(err)
			}
			if _, err := g.Join(m, id, ""); err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			if i < publishers/rooms {
				speakers = append(speakers, m)
			}
		}
	}
	var before int64
	for _, c := range conns {
		before += c.n.Load()
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	var failed atomic.Value
	for p, m := range speakers {
		n := b.N / publishers
		if p < b.N%publishers {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				if _, err := g.Say(m, "hello everyone", Style{}, ""); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := g.WaitSaved(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, c := range conns {
		total += c.n.Load()
	}
	total -= before
	if want := int64(b.N) * int64(members); total != want {
		b.Fatalf("%d deliveries, want %d", total, want)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "deliveries/s")
}
