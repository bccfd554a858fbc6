package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The rooms scenario asks whether rooms wait for each other: the same
// --room-size clients on one server, connected once, deliver as much per
// second spread over 10 rooms as they do in one room. Three fan-out runs
// on the same connections:
//
//  1. every client in one room, 10 publishers;
//  2. the clients re-join into 10 rooms of a tenth each (client i into
//     room i mod 10), one publisher per room, so 10 publishers again;
//  3. every client back in the one room, 10 publishers.
//
// The comparison is fair in what limits it: the same clients, server and
// connections, the same 10 publishers each with the same window, and the
// same backlog per connection (the guard holds per room: no publisher is
// more than --guard messages of its room ahead of its room's slowest
// receiver, so each connection has at most --guard messages queued in
// both layouts). Both layouts publish as fast as the receivers take it,
// so deliveries per second is what the server sustains. The ratio divides
// the 10-room figure by the mean of the two one-room runs (before and
// after), so a machine getting busier or calmer during the run does not
// favour either layout.
const (
	roomsSplit       = 10  // rooms of the split layout, one publisher each
	targetRoomsRatio = 1.0 // 10 rooms deliver at least as much as one
)

// RoomsResult is the rooms scenario.
type RoomsResult struct {
	Clients    int `json:"clients"`
	Rooms      int `json:"rooms"`      // rooms of the split layout
	Publishers int `json:"publishers"` // in both layouts
	// OneRoom are the one-room runs, before and after the split.
	OneRoom []FanoutResult `json:"one_room"`
	// Split is the run over Rooms rooms (RoomSize is one room's).
	Split FanoutResult `json:"split"`
	// Ratio is Split's deliveries per second over the mean of OneRoom's.
	Ratio float64 `json:"ratio"`
	// PerWrite are the deliveries per write system call of the spawned
	// server (from /proc/PID/io) in each run, OneRoom's then Split's: the
	// WebSocket writers batch what is queued, and a write costs about the
	// same whatever it holds, so this is what throughput follows. Empty
	// when the server is in-process.
	PerWrite      []float64 `json:"one_room_deliveries_per_write,omitempty"`
	SplitPerWrite float64   `json:"split_deliveries_per_write,omitempty"`
}

func (o *options) runRooms(ctx context.Context, rep *Report, st *stats, prog *progress) error {
	if o.url != "" {
		return errors.New("the rooms scenario needs a server the tool starts (--spawn or --in-process)")
	}
	if o.roomSize < roomsSplit {
		return fmt.Errorf("the rooms scenario needs --room-size of at least %d", roomsSplit)
	}
	res := &RoomsResult{Clients: o.roomSize, Rooms: roomsSplit, Publishers: roomsSplit}
	rep.Rooms = res
	const one = 1 // the one room; the split rooms are 2..roomsSplit+1
	spec := serverSpec{rooms: []roomSpec{{id: one, name: "Bench"}}}
	for k := range roomsSplit {
		spec.rooms = append(spec.rooms, roomSpec{id: int64(k + 2), name: fmt.Sprintf("Split %d", k+1)})
	}
	t, err := o.start(ctx, spec)
	if err != nil {
		return err
	}
	defer func() { _ = t.stop() }()
	clients, err := connectMany(ctx, t, st, prog, "rooms: connect", o.prefix+"s", o.roomSize, o.dialConcurrency, roomsSplit, "", func(int) int64 { return one })
	if err != nil {
		return err
	}
	defer closeAll(clients)
	whole := &room{clients: clients, st: st, pid: t.pid}
	split := make([]*room, roomsSplit)
	for k := range split {
		split[k] = &room{st: st, pid: t.pid}
	}
	for i, c := range clients { // publisher k (client k) comes first in room k
		split[i%roomsSplit].clients = append(split[i%roomsSplit].clients, c)
	}
	// The clients are in the one room already: the first run needs no join.
	runs := []struct {
		label string
		into  func(i int) int64
		rooms []*room
		pubs  int
		out   *FanoutResult
	}{
		{"", nil, []*room{whole}, roomsSplit, nil},
		{"rooms: split into rooms", func(i int) int64 { return int64(i%roomsSplit + 2) }, split, 1, &res.Split},
		{"rooms: join the one room", func(int) int64 { return one }, []*room{whole}, roomsSplit, nil},
	}
	for _, run := range runs {
		if run.into != nil {
			if err := rejoin(ctx, prog, run.label, clients, o.dialConcurrency, run.into); err != nil {
				return err
			}
		}
		if err := settleThen(ctx, t, prog); err != nil {
			return err
		}
		w0, werr := writeCalls(t.pid)
		r := fanoutRooms(ctx, o, prog, run.rooms, run.pubs, o.duration)
		w1, werr1 := writeCalls(t.pid)
		perWrite := 0.0
		if werr == nil && werr1 == nil && w1 > w0 {
			perWrite = float64(r.Delivered) / float64(w1-w0)
		}
		if run.out != nil {
			*run.out = r
			res.SplitPerWrite = perWrite
		} else {
			res.OneRoom = append(res.OneRoom, r)
			if perWrite > 0 {
				res.PerWrite = append(res.PerWrite, perWrite)
			}
		}
		if err := runError(ctx, r); err != nil {
			return err
		}
	}
	var sum float64
	for _, r := range res.OneRoom {
		sum += r.PerSecond
	}
	if mean := sum / float64(len(res.OneRoom)); mean > 0 {
		res.Ratio = res.Split.PerSecond / mean
	}
	return nil
}

// settleThen lets the presence and room list pushes of joins pass and
// waits for an idle server.
func settleThen(ctx context.Context, t *target, prog *progress) error {
	settle(ctx, time.Second)
	prog.set("waiting for an idle server", 0, nil, nil)
	quiesce(ctx, t)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rooms: %w", err)
	}
	return nil
}

func runError(ctx context.Context, r FanoutResult) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rooms: %w", err)
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	return nil
}

// rejoin moves every client into the room room(i) gives it, conc at a time.
func rejoin(ctx context.Context, prog *progress, label string, clients []*client, conc int, room func(i int) int64) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, conc)
	prog.set(label, 0, nil, nil)
	for i, c := range clients {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.join(ctx, room(i)); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: client %d into room %d: %w", label, i, room(i), err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// roomsFigures are the summary rows of the rooms scenario.
func roomsFigures(m *RoomsResult) []Figure {
	var out []Figure
	var ones []string
	var lost, dropped int64
	for _, r := range m.OneRoom {
		ones = append(ones, thousands(r.PerSecond)+"/s ("+cpuText(r.CPU, "delivery")+")")
		lost += r.Lost
		dropped += r.Disconnects
	}
	out = append(out, Figure{
		Name:  fmt.Sprintf("rooms: fan-out deliveries/s, 1 room of %d, %d publishers (before, after the split)", m.Clients, m.Publishers),
		Value: fmt.Sprintf("%s (lost %d, dropped %d)", strings.Join(ones, ", "), lost, dropped),
	}, Figure{
		Name: fmt.Sprintf("rooms: fan-out deliveries/s, %d rooms of %d, 1 publisher each", m.Rooms, m.Split.RoomSize),
		Value: fmt.Sprintf("%s/s (%.0f msg/s; lost %d, dropped %d), %s",
			thousands(m.Split.PerSecond), m.Split.MessagesPerSecond, m.Split.Lost, m.Split.Disconnects, cpuText(m.Split.CPU, "delivery")),
	}, Figure{
		Name:   fmt.Sprintf("rooms: %d rooms x %d / 1 room x %d, deliveries/s (same clients, same run)", m.Rooms, m.Split.RoomSize, m.Clients),
		Value:  fmt.Sprintf("%.2f", m.Ratio),
		Target: fmt.Sprintf(">= %.1f", targetRoomsRatio),
		Met:    met(m.Ratio >= targetRoomsRatio && m.Split.Lost == 0 && lost == 0),
	})
	if len(m.PerWrite) > 0 && m.SplitPerWrite > 0 {
		var one []string
		for _, p := range m.PerWrite {
			one = append(one, fmt.Sprintf("%.1f", p))
		}
		out = append(out, Figure{
			Name:  "rooms: deliveries per server write call, 1 room (before, after) / 10 rooms",
			Value: fmt.Sprintf("%s / %.1f", strings.Join(one, ", "), m.SplitPerWrite),
		})
	}
	return out
}
