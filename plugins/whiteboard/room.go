package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/parlorchat/parlor/sdk"
)

// storeTimeout bounds one Host API call the module makes on its own
// (saving, relaying), outside any command's deadline.
const storeTimeout = 10 * time.Second

// storedBoard is a board's document in the store ("board/<room>").
type storedBoard struct {
	Epoch    string    `json:"epoch"`
	Seq      int64     `json:"seq"`
	Elements []Element `json:"elements"`
}

// limits are the limits a client adapts to, sent with every sync.
type limits struct {
	FrameBytes       int     `json:"frame_bytes"`
	MaxElementBytes  int     `json:"max_element_bytes"`
	MaxPoints        int     `json:"max_points"`
	MaxTextBytes     int     `json:"max_text_bytes"`
	MaxWidth         float64 `json:"max_width"`
	MaxElements      int     `json:"max_elements"`
	OpsPerSecond     float64 `json:"ops_per_second"`
	CursorsPerSecond float64 `json:"cursors_per_second"`
}

// syncReply answers wb.sync: the batches since the client's seq, or a
// page of a snapshot.
type syncReply struct {
	Epoch    string    `json:"epoch"`
	Seq      int64     `json:"seq"`
	Saved    int64     `json:"saved"` // the last seq in the store
	Can      perms     `json:"can"`
	Limits   limits    `json:"limits"`
	Snapshot bool      `json:"snapshot"`
	Elements []Element `json:"elements,omitempty"`
	Next     int       `json:"next,omitempty"` // the next page's "after"; 0 for the last
	Batches  []Batch   `json:"batches,omitempty"`
	More     bool      `json:"more,omitempty"`
}

// opsReply answers wb.ops.
type opsReply struct {
	Epoch    string      `json:"epoch"`
	Seq      int64       `json:"seq"` // the batch's, or the board's when none was accepted
	Rejected []Rejection `json:"rejected,omitempty"`
}

// cursor is a member's pointer on the board, relayed and never stored.
type cursor struct {
	User string  `json:"user"`
	X    float64 `json:"x"`
	Y    float64 `json:"y"`
}

// cursorReply answers wb.cursor.
type cursorReply struct {
	Dropped bool `json:"dropped"` // past cursors_per_second
}

// cursorsEvent is the data of wb.cursors: the pointers that moved.
type cursorsEvent struct {
	Cursors []cursor `json:"cursors"`
}

// archivesReply answers wb.archives.
type archivesReply struct {
	Archives []archiveInfo `json:"archives"`
}

// batchEvent is the data of wb.batch: consecutive batches of one epoch.
type batchEvent struct {
	Epoch   string  `json:"epoch"`
	Batches []Batch `json:"batches"`
}

// resetEvent is the data of wb.reset: the board starts again empty.
type resetEvent struct {
	Epoch  string `json:"epoch"`
	Seq    int64  `json:"seq"`
	By     string `json:"by"`
	Reason string `json:"reason"` // cleared, archived
}

// outItem is an event waiting to be relayed, in seq order.
type outItem struct {
	epoch string
	batch *Batch
	size  int
	reset *resetEvent
}

// board is one room's board: its state, its copy in the store and the
// relay of its changes to the room.
type board struct {
	room int64
	key  string
	host sdk.Host
	log  hclog.Logger
	cfg  config

	loadMu sync.Mutex
	loaded bool
	saveMu sync.Mutex // one save at a time

	mu         sync.Mutex
	st         *state
	docVersion int64
	savedSeq   int64
	dirty      bool
	saveTimer  *time.Timer
	opsRate    map[string]*rate.Limiter
	cursorRate map[string]*rate.Limiter
	out        []outItem
	cursors    map[string]cursor
	wake       chan struct{}
	// retired: this node lost the board's lease; it takes no change any
	// more (errRetired), relays what it queued and stops.
	retired bool

	// writer reports whether this node still holds the board's lease; a
	// store that holds another version is written over only then.
	writer func(context.Context) bool
}

func newBoard(room int64, host sdk.Host, log hclog.Logger, cfg config) *board {
	return &board{
		room: room, key: "board/" + strconv.FormatInt(room, 10), host: host, log: log, cfg: cfg,
		opsRate: map[string]*rate.Limiter{}, cursorRate: map[string]*rate.Limiter{},
		cursors: map[string]cursor{}, wake: make(chan struct{}, 1),
		writer: func(context.Context) bool { return true },
	}
}

// newEpoch is a fresh random epoch.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ensureLoaded reads the board from the store once. A loaded board gets
// a new epoch: the ops of the process before are gone, so every client
// takes a snapshot.
func (b *board) ensureLoaded(ctx context.Context) error {
	b.loadMu.Lock()
	defer b.loadMu.Unlock()
	if b.loaded {
		return nil
	}
	st := newState(newEpoch())
	var version int64
	doc, err := b.host.Docs().Get(ctx, b.key)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil:
		return fmt.Errorf("load the board of room %d: %w", b.room, err)
	default:
		var sb storedBoard
		if err := json.Unmarshal(doc.Value, &sb); err != nil {
			return fmt.Errorf("load the board of room %d: %w", b.room, err)
		}
		st.load(sb.Elements, sb.Seq)
		version = doc.Version
	}
	b.mu.Lock()
	b.st, b.docVersion, b.savedSeq = st, version, st.seq
	b.mu.Unlock()
	b.loaded = true
	go b.relay()
	return nil
}

func (b *board) limits() limits {
	c := b.cfg
	return limits{FrameBytes: c.FrameBytes, MaxElementBytes: c.MaxElementBytes, MaxPoints: c.MaxPoints,
		MaxTextBytes: c.MaxTextBytes, MaxWidth: c.MaxWidth, MaxElements: c.MaxElements,
		OpsPerSecond: c.OpsPerSecond, CursorsPerSecond: c.CursorsPerSecond}
}

// sync answers wb.sync: with since and the board's epoch, the batches
// after since (when the log still has them); else a snapshot page from
// after.
func (b *board) sync(c *config, req request, p perms) (syncReply, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retired {
		return syncReply{}, errRetired
	}
	r := syncReply{Epoch: b.st.epoch, Seq: b.st.seq, Saved: b.savedSeq, Can: p, Limits: b.limits()}
	if req.Since != nil && req.Epoch == b.st.epoch {
		if batches, more, ok := b.st.since(*req.Since, c.FrameBytes); ok {
			r.Batches, r.More = batches, more
			return r, nil
		}
	}
	from := 0
	if req.Epoch == b.st.epoch {
		from = req.After
	}
	r.Snapshot = true
	r.Elements, r.Next = b.st.page(from, c.FrameBytes)
	return r, nil
}

// ops applies a member's batch, queues it for the room and schedules a
// save.
func (b *board) ops(c *config, by string, moderator bool, ops []Op) (opsReply, error) {
	if len(ops) == 0 {
		return opsReply{}, refuse("bad_op", "A batch has at least one op.")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retired {
		return opsReply{}, errRetired
	}
	lim := b.opsRate[by]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(c.OpsPerSecond), c.OpsBurst)
		b.opsRate[by] = lim
	}
	if len(ops) > c.OpsBurst || !lim.AllowN(time.Now(), len(ops)) {
		return opsReply{}, refuse("rate_limited", "Drawing too fast: at most %g changes a second (%d at once).", c.OpsPerSecond, c.OpsBurst)
	}
	batch, rejected, err := b.st.apply(c, by, moderator, ops)
	if err != nil {
		return opsReply{}, err
	}
	if batch != nil {
		b.enqueue(outItem{epoch: b.st.epoch, batch: batch, size: b.st.log[len(b.st.log)-1].size})
		b.markDirty()
	}
	return opsReply{Epoch: b.st.epoch, Seq: b.st.seq, Rejected: rejected}, nil
}

// cursor relays a member's pointer, at most cursors_per_second.
func (b *board) cursor(c *config, by string, x, y float64) (cursorReply, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retired {
		return cursorReply{}, errRetired
	}
	lim := b.cursorRate[by]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(c.CursorsPerSecond), max(1, int(c.CursorsPerSecond)))
		b.cursorRate[by] = lim
	}
	if !lim.Allow() {
		return cursorReply{Dropped: true}, nil
	}
	b.cursors[by] = cursor{User: by, X: round(x), Y: round(y)}
	b.signal()
	return cursorReply{}, nil
}

// reset empties the board under a new epoch.
func (b *board) reset(by, reason string) (resetEvent, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retired {
		return resetEvent{}, errRetired
	}
	b.st = newState(newEpoch())
	b.savedSeq = -1
	ev := resetEvent{Epoch: b.st.epoch, Seq: 0, By: by, Reason: reason}
	b.enqueue(outItem{epoch: ev.Epoch, reset: &ev})
	b.markDirty()
	return ev, nil
}

// archiveReply answers wb.archive.
type archiveReply struct {
	Key      string `json:"key"`
	Elements int    `json:"elements"`
	resetEvent
}

// archive keeps a copy of the board under "archive/<room>/<time>" (the
// max_archives latest per room), then empties it.
func (b *board) archive(ctx context.Context, c *config, by string) (archiveReply, error) {
	b.mu.Lock()
	sb := storedBoard{Epoch: b.st.epoch, Seq: b.st.seq, Elements: b.st.elements()}
	b.mu.Unlock()
	data, err := json.Marshal(sb)
	if err != nil {
		return archiveReply{}, err
	}
	prefix := "archive/" + strconv.FormatInt(b.room, 10) + "/"
	key := prefix + fmt.Sprintf("%020d", time.Now().UnixNano())
	if _, err := b.host.Docs().Put(ctx, key, data, 0); err != nil {
		return archiveReply{}, fmt.Errorf("archive the board of room %d: %w", b.room, err)
	}
	docs, err := b.host.Docs().List(ctx, prefix)
	if err != nil {
		return archiveReply{}, fmt.Errorf("list the archives of room %d: %w", b.room, err)
	}
	for i := 0; i < len(docs)-c.MaxArchives; i++ {
		if err := b.host.Docs().Delete(ctx, docs[i].Key, sdk.AnyVersion); err != nil && !errors.Is(err, sdk.ErrNotFound) {
			return archiveReply{}, fmt.Errorf("remove an old archive of room %d: %w", b.room, err)
		}
	}
	ev, err := b.reset(by, "archived")
	return archiveReply{Key: key, Elements: len(sb.Elements), resetEvent: ev}, err
}

// archiveInfo is one archived board in the answer to wb.archives.
type archiveInfo struct {
	Key  string    `json:"key"`
	Size int       `json:"size"`
	Time time.Time `json:"time"`
}

func (b *board) archives(ctx context.Context) (archivesReply, error) {
	docs, err := b.host.Docs().List(ctx, "archive/"+strconv.FormatInt(b.room, 10)+"/")
	if err != nil {
		return archivesReply{}, fmt.Errorf("list the archives of room %d: %w", b.room, err)
	}
	out := []archiveInfo{}
	for _, d := range docs {
		out = append(out, archiveInfo{Key: d.Key, Size: d.Size, Time: d.Updated})
	}
	return archivesReply{Archives: out}, nil
}

// enqueue queues an event for the room; b.mu is held.
func (b *board) enqueue(it outItem) {
	b.out = append(b.out, it)
	b.signal()
}

func (b *board) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// relay sends the queued events to the room, one at a time and in
// order: consecutive batches of an epoch travel in one wb.batch event,
// the cursors that moved in the meantime in one wb.cursors. A retired
// board's relay ends once it sent what was queued.
func (b *board) relay() {
	for range b.wake {
		b.mu.Lock()
		items, curs, retired := b.out, b.cursors, b.retired
		b.out, b.cursors = nil, map[string]cursor{}
		b.mu.Unlock()
		for i := 0; i < len(items); {
			if it := items[i]; it.reset != nil {
				b.send(evReset, it.reset)
				i++
				continue
			}
			ev := batchEvent{Epoch: items[i].epoch}
			size := 64
			for ; i < len(items) && items[i].batch != nil && items[i].epoch == ev.Epoch; i++ {
				if size+items[i].size > maxEventBytes-256 && len(ev.Batches) > 0 {
					break
				}
				size += items[i].size + 1
				ev.Batches = append(ev.Batches, *items[i].batch)
			}
			b.send(evBatch, ev)
		}
		if len(curs) > 0 {
			list := make([]cursor, 0, len(curs))
			for _, c := range curs {
				list = append(list, c)
			}
			b.send(evCursors, cursorsEvent{Cursors: list})
		}
		if retired {
			return
		}
	}
}

// retire ends the board on this node, whose lease of it is lost: it
// takes no more changes, what it queued is still relayed, and what
// changed is stored unless another node wrote the board meanwhile (the
// new writer's board wins).
func (b *board) retire() {
	b.mu.Lock()
	b.retired = true
	b.signal()
	b.mu.Unlock()
	if _, err := b.saveNow(context.Background()); err != nil {
		b.log.Warn("store the board this node no longer writes", "room", b.room, "error", err)
	}
}

func (b *board) send(typ string, v any) {
	data, err := json.Marshal(v)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		_, err = b.host.Messages().Event(ctx, sdk.ToRoom(b.room), sdk.Event{Type: typ, Room: b.room, Data: data})
		cancel()
	}
	if err != nil {
		b.log.Warn("relay to the room failed", "room", b.room, "event", typ, "error", err)
	}
}

// isRetired reports whether the board was retired.
func (b *board) isRetired() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.retired
}

// markDirty schedules a save within save_interval; b.mu is held.
func (b *board) markDirty() {
	b.dirty = true
	if b.saveTimer == nil {
		b.saveTimer = time.AfterFunc(b.cfg.SaveInterval, b.save)
	}
}

// save stores the board if it changed, at the version it read or last
// wrote. A store that holds another version was written by another copy
// of the module: one that was being stopped while this one started, or
// the node that wrote the board before this one took its lease over. The
// live board is this one while this node holds the lease, so it is
// written over that version, with a warning; a board whose lease is lost
// leaves the store to the new writer.
func (b *board) save() {
	if _, err := b.saveNow(context.Background()); err != nil {
		b.log.Error("save the board failed; trying again", "room", b.room, "error", err)
	}
}

// saveNow stores the board if it changed, and says whether it did (1)
// or had nothing to store (0); on an error it stays marked changed, with
// a save scheduled.
func (b *board) saveNow(parent context.Context) (int, error) {
	b.saveMu.Lock()
	defer b.saveMu.Unlock()
	b.mu.Lock()
	if b.saveTimer != nil {
		b.saveTimer.Stop()
		b.saveTimer = nil
	}
	if !b.dirty || b.st == nil {
		b.mu.Unlock()
		return 0, nil
	}
	sb := storedBoard{Epoch: b.st.epoch, Seq: b.st.seq, Elements: b.st.elements()}
	version := b.docVersion
	b.dirty = false
	b.mu.Unlock()
	data, err := json.Marshal(sb)
	var v int64
	if err == nil {
		ctx, cancel := context.WithTimeout(parent, storeTimeout)
		v, err = b.host.Docs().Put(ctx, b.key, data, version)
		if errors.Is(err, sdk.ErrConflict) || (version == 0 && errors.Is(err, sdk.ErrExists)) {
			if b.isRetired() || !b.writer(ctx) {
				cancel()
				return 0, fmt.Errorf("another node writes the board of room %d now; not stored: %w", b.room, err)
			}
			var doc sdk.Document
			if doc, err = b.host.Docs().Get(ctx, b.key); err == nil {
				b.log.Warn("the stored board changed under the module; writing the live one over it", "room", b.room, "expected", version, "found", doc.Version)
				v, err = b.host.Docs().Put(ctx, b.key, data, doc.Version)
			} else if errors.Is(err, sdk.ErrNotFound) {
				v, err = b.host.Docs().Put(ctx, b.key, data, 0)
			}
		}
		cancel()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.markDirty()
		return 0, err
	}
	b.docVersion = v
	if sb.Epoch == b.st.epoch {
		b.savedSeq = sb.Seq
	}
	return 1, nil
}
