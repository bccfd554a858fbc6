package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// fakeHost is a Host API with rooms, documents (with versions),
// messaging that records custom events and a node of a test cluster (a
// single server's unless the test gives another); the rest is nil.
type fakeHost struct {
	sdk.Host
	rooms   *fakeRooms
	docs    *fakeDocs
	msgs    *fakeMessages
	cluster *sdktest.ClusterNode
}

func newFakeHost() *fakeHost {
	return &fakeHost{
		rooms: &fakeRooms{rooms: map[int64]sdk.Room{
			1: {ID: 1, Name: "Board", Whiteboard: true, Guests: true, Open: true},
			2: {ID: 2, Name: "Plain", Guests: true, Open: true},
			3: {ID: 3, Name: "Stage", Whiteboard: true, Moderated: true, Open: true},
			4: {ID: 4, Name: "Members", Whiteboard: true, Open: true},
		}},
		docs:    &fakeDocs{docs: map[string]sdk.Document{}},
		msgs:    &fakeMessages{},
		cluster: sdktest.NewCluster(0).Node("solo"),
	}
}

// onNode is another node of the chat whose host has: the same rooms and
// store as h (they are shared), messaging of its own, and node.
func (h *fakeHost) onNode(node *sdktest.ClusterNode) *fakeHost {
	return &fakeHost{rooms: h.rooms, docs: h.docs, msgs: &fakeMessages{}, cluster: node}
}

func (h *fakeHost) Rooms() sdk.Rooms       { return h.rooms }
func (h *fakeHost) Docs() sdk.Docs         { return h.docs }
func (h *fakeHost) Messages() sdk.Messages { return h.msgs }
func (h *fakeHost) Cluster() sdk.Cluster   { return h.cluster }

type fakeRooms struct {
	sdk.Rooms
	mu    sync.Mutex
	rooms map[int64]sdk.Room
}

func (r *fakeRooms) Get(_ context.Context, id int64) (sdk.Room, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	room, ok := r.rooms[id]
	if !ok {
		return sdk.Room{}, sdk.ErrNotFound
	}
	return room, nil
}

type fakeDocs struct {
	mu   sync.Mutex
	docs map[string]sdk.Document
	puts int
}

func (d *fakeDocs) Get(_ context.Context, key string) (sdk.Document, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	doc, ok := d.docs[key]
	if !ok {
		return sdk.Document{}, sdk.ErrNotFound
	}
	return doc, nil
}

func (d *fakeDocs) Put(_ context.Context, key string, value []byte, expect int64) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	doc, ok := d.docs[key]
	switch {
	case expect == sdk.AnyVersion:
	case expect == 0 && ok, expect > 0 && (!ok || doc.Version != expect):
		return 0, fmt.Errorf("put %s at %d: %w", key, expect, sdk.ErrConflict)
	}
	d.puts++
	doc = sdk.Document{Key: key, Value: slices.Clone(value), Size: len(value), Version: doc.Version + 1, Updated: time.Now()}
	d.docs[key] = doc
	return doc.Version, nil
}

func (d *fakeDocs) Delete(_ context.Context, key string, _ int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.docs[key]; !ok {
		return sdk.ErrNotFound
	}
	delete(d.docs, key)
	return nil
}

func (d *fakeDocs) List(_ context.Context, prefix string) ([]sdk.Document, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []sdk.Document
	for k, doc := range d.docs {
		if strings.HasPrefix(k, prefix) {
			doc.Value = nil
			out = append(out, doc)
		}
	}
	slices.SortFunc(out, func(a, b sdk.Document) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

type sentEvent struct {
	to sdk.Audience
	ev sdk.Event
}

type fakeMessages struct {
	sdk.Messages
	mu     sync.Mutex
	events []sentEvent
}

func (m *fakeMessages) Event(_ context.Context, to sdk.Audience, ev sdk.Event) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, sentEvent{to, ev})
	return 1, nil
}

// batches are the batches relayed so far, in the order sent, and the
// epoch of each.
func (m *fakeMessages) batches(t *testing.T) (epochs []string, out []Batch) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.events {
		if e.ev.Type != evBatch {
			continue
		}
		var be batchEvent
		if err := json.Unmarshal(e.ev.Data, &be); err != nil {
			t.Fatalf("wb.batch data %s: %v", e.ev.Data, err)
		}
		for _, b := range be.Batches {
			epochs = append(epochs, be.Epoch)
			out = append(out, b)
		}
	}
	return epochs, out
}

func (m *fakeMessages) ofType(typ string) []sentEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sentEvent
	for _, e := range m.events {
		if e.ev.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// wb is a module served in-process over the plugin protocol.
type wb struct {
	t    *testing.T
	h    *sdktest.ModuleHandle
	host *fakeHost
}

func start(t *testing.T, cfg map[string]any, host *fakeHost) *wb {
	t.Helper()
	if host == nil {
		host = newFakeHost()
	}
	return &wb{t: t, h: sdktest.Module(t, newModule(hclog.NewNullLogger()), cfg, host), host: host}
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// who is a member in a room.
type who struct {
	name string
	role sdk.Role
	room int64
}

var (
	alice = who{"alice", sdk.RoleUser, 1}
	bob   = who{"bob", sdk.RoleUser, 1}
	mod   = who{"mia", sdk.RoleModerator, 1}
	guest = who{"gus", sdk.RoleGuest, 1}
)

// call sends a command with fields; the answer is decoded into out (when
// not nil).
func (w *wb) call(u who, typ string, fields map[string]any, out any) error {
	w.t.Helper()
	frame := map[string]any{"type": typ, "id": "1", "room": u.room}
	for k, v := range fields {
		frame[k] = v
	}
	data, _ := json.Marshal(frame)
	reply, err := w.h.Command(testCtx(w.t), sdk.Command{Type: typ, Caller: sdk.Caller{Name: u.name, Role: u.role, Room: u.room}, Room: u.room, Data: data})
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(reply.Data, out); err != nil {
			w.t.Fatalf("%s answer %s: %v", typ, reply.Data, err)
		}
	}
	return nil
}

// ops sends a batch and fails the test on an error.
func (w *wb) ops(u who, ops ...Op) opsReply {
	w.t.Helper()
	var r opsReply
	if err := w.call(u, cmdOps, map[string]any{"ops": ops}, &r); err != nil {
		w.t.Fatalf("%s: wb.ops: %v", u.name, err)
	}
	return r
}

// refused sends a batch that must be refused with code.
func (w *wb) refused(u who, code string, typ string, fields map[string]any) string {
	w.t.Helper()
	err := w.call(u, typ, fields, nil)
	var r *sdk.Refusal
	if !errors.As(err, &r) || r.Code != code {
		w.t.Fatalf("%s: %s: got %v, want a refusal %s", u.name, typ, err, code)
	}
	return r.Message
}

func (w *wb) sync(u who, fields map[string]any) syncReply {
	w.t.Helper()
	var r syncReply
	if err := w.call(u, cmdSync, fields, &r); err != nil {
		w.t.Fatalf("%s: wb.sync: %v", u.name, err)
	}
	return r
}

// snapshot reads every page of a board's snapshot.
func (w *wb) snapshot(u who) (syncReply, []Element) {
	w.t.Helper()
	first := w.sync(u, nil)
	if !first.Snapshot {
		w.t.Fatalf("wb.sync without since is not a snapshot: %+v", first)
	}
	els := slices.Clone(first.Elements)
	for r := first; r.Next != 0; {
		r = w.sync(u, map[string]any{"epoch": first.Epoch, "after": r.Next})
		if r.Epoch != first.Epoch || !r.Snapshot {
			w.t.Fatalf("page after %d: %+v", r.Next, r)
		}
		els = append(els, r.Elements...)
	}
	return first, els
}

func stroke(id string, version int64, pts ...float64) Op {
	return Op{Op: opPut, El: &Element{ID: id, Kind: kindFreehand, Points: pts, Color: "#112233", Width: 3, Version: version, Nonce: 7}}
}

func rect(id string, version, nonce int64, x0, y0, x1, y1 float64) Op {
	return Op{Op: opPut, El: &Element{ID: id, Kind: kindRect, Points: []float64{x0, y0, x1, y1}, Color: "#aa0000", Width: 2, Version: version, Nonce: nonce}}
}

// eventually waits for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// replica is a client's copy of a board, fed with relayed batches in seq
// order as the web client applies them.
type replica map[string]Element

func (r replica) apply(b Batch) {
	for _, op := range b.Ops {
		switch op.Op {
		case opPut:
			r[op.El.ID] = *op.El
		case opAppend:
			e := r[op.ID]
			e.Points = append(slices.Clone(e.Points), op.Points...)
			e.Version = op.Version
			r[op.ID] = e
		case opDelete:
			delete(r, op.ID)
		}
	}
}

func byID(els []Element) map[string]Element {
	m := map[string]Element{}
	for _, e := range els {
		m[e.ID] = e
	}
	return m
}
