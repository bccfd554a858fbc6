package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// The module declares its prefix, its reads as quiet (a muted member
// still sees the board) and its web client.
func TestManifest(t *testing.T) {
	w := start(t, nil, nil)
	c := w.h.Capabilities()
	if !slices.Equal(c.Commands, []string{"wb."}) || !slices.Contains(c.Quiet, "wb.sync") || slices.Contains(c.Quiet, "wb.ops") || c.Client != "main.js" {
		t.Fatalf("capabilities %+v", c)
	}
	for _, f := range []string{"main.js", "board.js", "draw.js", "style.css"} {
		if _, err := web.Open("web/" + f); err != nil {
			t.Errorf("asset %s: %v", f, err)
		}
	}
}

// Batches are numbered in the order the module accepts them and relayed
// to the room in that order; every member's replica ends up as the
// board's snapshot.
func TestOrdering(t *testing.T) {
	w := start(t, nil, nil)
	var wg sync.WaitGroup
	for _, u := range []who{alice, bob, mod} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := fmt.Sprintf("%s-%d", u.name, i)
				w.ops(u, stroke(id, 1, 10, 10))
				w.ops(u, Op{Op: opAppend, ID: id, Points: []float64{float64(i), 20}, Version: 2})
			}
		}()
	}
	wg.Wait()
	first, els := w.snapshot(alice)
	if first.Seq != 120 || len(els) != 60 {
		t.Fatalf("seq %d, %d elements; want 120 and 60", first.Seq, len(els))
	}
	var epochs []string
	var batches []Batch
	eventually(t, "120 relayed batches", func() bool {
		epochs, batches = w.host.msgs.batches(t)
		return len(batches) == 120
	})
	rep := replica{}
	for i, b := range batches {
		if b.Seq != int64(i+1) || epochs[i] != first.Epoch {
			t.Fatalf("relayed batch %d has seq %d epoch %s; want %d %s", i, b.Seq, epochs[i], i+1, first.Epoch)
		}
		rep.apply(b)
	}
	if !reflect.DeepEqual(map[string]Element(rep), byID(els)) {
		t.Fatalf("the replica differs from the snapshot:\n%v\n%v", rep, byID(els))
	}
	for _, e := range w.host.msgs.ofType(evBatch) {
		if e.to != sdk.ToRoom(1) || e.ev.Room != 1 {
			t.Fatalf("batch sent to %+v room %d", e.to, e.ev.Room)
		}
	}
	// Z is the order of creation at the module.
	for i := 1; i < len(els); i++ {
		if els[i].Z <= els[i-1].Z {
			t.Fatalf("snapshot out of drawing order at %d: %v", i, els)
		}
	}
}

// Two changes of the same element at the same version converge on the
// lower nonce whatever order they arrive in; the loser is told, with the
// element as it is.
func TestConcurrentEditsConverge(t *testing.T) {
	results := map[string]Element{}
	for _, order := range []string{"alice first", "moderator first"} {
		w := start(t, nil, nil)
		w.ops(alice, rect("r", 1, 5, 0, 0, 10, 10))
		a := rect("r", 2, 900, 0, 0, 50, 50)
		m := rect("r", 2, 100, 0, 0, 80, 80)
		var lost opsReply
		if order == "alice first" {
			w.ops(alice, a)
			if r := w.ops(mod, m); len(r.Rejected) != 0 {
				t.Fatalf("%s: the lower nonce lost: %+v", order, r)
			}
		} else {
			w.ops(mod, m)
			lost = w.ops(alice, a)
			if len(lost.Rejected) != 1 || lost.Rejected[0].Reason != "stale" || lost.Rejected[0].Current.Nonce != 100 {
				t.Fatalf("%s: alice got %+v, want a stale rejection with the moderator's element", order, lost)
			}
		}
		first, els := w.snapshot(bob)
		if len(els) != 1 {
			t.Fatalf("%s: %v", order, els)
		}
		results[order] = els[0]
		// Every batch up to the board's seq, as the room gets them.
		var batches []Batch
		eventually(t, "the batches", func() bool { _, batches = w.host.msgs.batches(t); return int64(len(batches)) >= first.Seq })
		rep := replica{}
		for _, b := range batches {
			rep.apply(b)
		}
		if !reflect.DeepEqual(rep["r"], els[0]) {
			t.Fatalf("%s: replica %+v, board %+v", order, rep["r"], els[0])
		}
	}
	a, b := results["alice first"], results["moderator first"]
	if !reflect.DeepEqual(a, b) || a.Nonce != 100 || a.Points[2] != 80 || a.By != "alice" {
		t.Fatalf("diverged: %+v vs %+v", a, b)
	}
}

// Members change only their own elements (moderators any); an erased
// element comes back with a higher version (undo as ops).
func TestOwnershipAndUndo(t *testing.T) {
	w := start(t, nil, nil)
	w.ops(alice, stroke("a", 1, 1, 1, 2, 2))
	if r := w.ops(bob, Op{Op: opDelete, ID: "a", Version: 2, Nonce: 1}); len(r.Rejected) != 1 || r.Rejected[0].Reason != "not_yours" {
		t.Fatalf("bob erased alice's stroke: %+v", r)
	}
	if r := w.ops(bob, Op{Op: opAppend, ID: "a", Points: []float64{3, 3}, Version: 2}); len(r.Rejected) != 1 || r.Rejected[0].Reason != "not_yours" {
		t.Fatalf("bob drew on alice's stroke: %+v", r)
	}
	w.ops(alice, Op{Op: opDelete, ID: "a", Version: 2, Nonce: 1})
	if _, els := w.snapshot(bob); len(els) != 0 {
		t.Fatalf("erased stroke still there: %v", els)
	}
	// Undo: the element as it was, one version up.
	w.ops(alice, stroke("a", 3, 1, 1, 2, 2))
	if _, els := w.snapshot(bob); len(els) != 1 || els[0].Version != 3 || len(els[0].Points) != 4 {
		t.Fatalf("undone erase: %v", els)
	}
	// A stale undo loses.
	if r := w.ops(alice, stroke("a", 2, 9, 9)); len(r.Rejected) != 1 || r.Rejected[0].Reason != "stale" {
		t.Fatalf("stale put: %+v", r)
	}
	w.ops(mod, Op{Op: opDelete, ID: "a", Version: 4, Nonce: 1})
	if _, els := w.snapshot(bob); len(els) != 0 {
		t.Fatalf("the moderator did not erase: %v", els)
	}
}

// A late joiner gets the snapshot in pages of frame_bytes and its seq,
// and then the batches after it.
func TestLateJoin(t *testing.T) {
	w := start(t, map[string]any{"frame_bytes": 4096, "max_element_bytes": 2048}, nil)
	var pts []float64
	for i := range 100 {
		pts = append(pts, float64(i), float64(i*2))
	}
	for i := range 30 {
		w.ops(alice, stroke(fmt.Sprintf("s%d", i), 1, pts...))
	}
	first := w.sync(bob, nil)
	if !first.Snapshot || first.Next == 0 || first.Seq != 30 || !first.Can.Draw || first.Can.Moderate || first.Limits.FrameBytes != 4096 {
		t.Fatalf("first page %+v", first)
	}
	page, _ := json.Marshal(first)
	if len(page) > 4096+512 {
		t.Fatalf("a page of %d bytes with frame_bytes 4096", len(page))
	}
	_, els := w.snapshot(bob)
	if len(els) != 30 {
		t.Fatalf("%d elements in the snapshot", len(els))
	}
	w.ops(alice, stroke("late", 1, 5, 5))
	r := w.sync(bob, map[string]any{"epoch": first.Epoch, "since": first.Seq})
	if r.Snapshot || len(r.Batches) != 1 || r.Batches[0].Seq != 31 || r.Batches[0].Ops[0].El.ID != "late" {
		t.Fatalf("since %d: %+v", first.Seq, r)
	}
}

// A reconnect gets the batches it missed, in pages when they are many,
// or a snapshot when the log no longer reaches back or the epoch changed.
func TestReconnect(t *testing.T) {
	w := start(t, map[string]any{"log_batches": 10, "frame_bytes": 4096}, nil)
	for i := range 8 {
		w.ops(alice, rect(fmt.Sprintf("r%d", i), 1, 1, 0, 0, float64(i), 5))
	}
	epoch := w.sync(bob, nil).Epoch
	r := w.sync(bob, map[string]any{"epoch": epoch, "since": 3})
	if r.Snapshot || len(r.Batches) != 5 || r.Batches[0].Seq != 4 || r.More {
		t.Fatalf("since 3: %+v", r)
	}
	if r := w.sync(bob, map[string]any{"epoch": epoch, "since": 8}); r.Snapshot || len(r.Batches) != 0 {
		t.Fatalf("since the board's seq: %+v", r)
	}
	// Too far behind: the log keeps 10 batches.
	for i := range 8 {
		w.ops(alice, rect(fmt.Sprintf("q%d", i), 1, 1, 0, 0, float64(i), 5))
	}
	if r := w.sync(bob, map[string]any{"epoch": epoch, "since": 3}); !r.Snapshot || len(r.Elements) != 16 || r.Seq != 16 {
		t.Fatalf("since 3 with the log at 7..16: %+v", r)
	}
	// Ahead of the board (a client of a board that was restarted).
	if r := w.sync(bob, map[string]any{"epoch": epoch, "since": 99}); !r.Snapshot {
		t.Fatalf("since 99: %+v", r)
	}
	// Many batches: pages with more.
	var pts []float64
	for i := range 200 {
		pts = append(pts, float64(i)+0.5, 1234.5)
	}
	w.ops(alice, stroke("big1", 1, pts...))
	w.ops(alice, stroke("big2", 1, pts...))
	w.ops(alice, stroke("big3", 1, pts...))
	r = w.sync(bob, map[string]any{"epoch": epoch, "since": 16})
	if r.Snapshot || !r.More || len(r.Batches) == 0 || len(r.Batches) == 3 {
		t.Fatalf("since 16 with 3 big batches: snapshot %v more %v %d batches", r.Snapshot, r.More, len(r.Batches))
	}
	// Another epoch: a snapshot of the new one.
	w.call(mod, cmdClear, nil, nil)
	r = w.sync(bob, map[string]any{"epoch": epoch, "since": 19})
	if !r.Snapshot || r.Epoch == epoch || len(r.Elements) != 0 || r.Seq != 0 {
		t.Fatalf("after a clear: %+v", r)
	}
	eventually(t, "the reset event", func() bool { return len(w.host.msgs.ofType(evReset)) == 1 })
}

// Every limit refuses with its own code and a sentence that says it.
func TestLimits(t *testing.T) {
	w := start(t, map[string]any{
		"max_points": 10, "max_text_bytes": 5, "max_elements": 3, "max_element_bytes": 600,
		"max_board_bytes": 4096, "frame_bytes": 4096,
	}, nil)
	var pts []float64
	for i := range 11 {
		pts = append(pts, float64(i), 0)
	}
	if msg := w.refused(alice, "too_many_points", cmdOps, map[string]any{"ops": []Op{stroke("s", 1, pts...)}}); !strings.Contains(msg, "10 points") {
		t.Errorf("too_many_points says %q", msg)
	}
	w.ops(alice, stroke("s", 1, pts[:18]...))
	if msg := w.refused(alice, "too_many_points", cmdOps, map[string]any{"ops": []Op{{Op: opAppend, ID: "s", Points: []float64{1, 1, 2, 2}, Version: 2}}}); !strings.Contains(msg, "10 points") {
		t.Errorf("append past max_points says %q", msg)
	}
	text := Op{Op: opPut, El: &Element{ID: "t", Kind: kindText, Points: []float64{1, 1}, Text: "too long", Color: "#000000", Width: 3, Version: 1}}
	if msg := w.refused(alice, "text_too_long", cmdOps, map[string]any{"ops": []Op{text}}); !strings.Contains(msg, "5 bytes") {
		t.Errorf("text_too_long says %q", msg)
	}
	w.refused(alice, "bad_element", cmdOps, map[string]any{"ops": []Op{{Op: opPut, El: &Element{ID: "x", Kind: "blob", Color: "#000000", Width: 1, Version: 1}}}})
	w.refused(alice, "bad_element", cmdOps, map[string]any{"ops": []Op{rect("bad colour", 1, 1, 0, 0, 1, 1)}})
	w.refused(alice, "bad_element", cmdOps, map[string]any{"ops": []Op{rect("far", 1, 1, 0, 0, 1e9, 1)}})
	w.refused(alice, "bad_op", cmdOps, map[string]any{"ops": []Op{{Op: "move", ID: "s"}}})
	w.refused(alice, "bad_op", cmdOps, map[string]any{"ops": []Op{}})
	// Element size: width and colour make a rectangle small; a text
	// near max_text_bytes fits; so check with a larger stroke.
	w2 := start(t, map[string]any{"max_element_bytes": 300, "frame_bytes": 4096}, nil)
	var long []float64
	for i := range 40 {
		long = append(long, float64(i)+0.5, 1234.5)
	}
	if msg := w2.refused(alice, "element_too_large", cmdOps, map[string]any{"ops": []Op{stroke("big", 1, long...)}}); !strings.Contains(msg, "300 bytes") {
		t.Errorf("element_too_large says %q", msg)
	}
	// Elements per board: three, and nothing of a refused batch is kept.
	w.ops(alice, rect("r1", 1, 1, 0, 0, 1, 1), rect("r2", 1, 1, 0, 0, 1, 1))
	if msg := w.refused(alice, "board_full", cmdOps, map[string]any{"ops": []Op{rect("r3", 1, 1, 0, 0, 1, 1)}}); !strings.Contains(msg, "3 elements") {
		t.Errorf("board_full says %q", msg)
	}
	if _, els := w.snapshot(bob); len(els) != 3 {
		t.Fatalf("after board_full: %v", els)
	}
	// Bytes per board.
	w3 := start(t, map[string]any{"max_board_bytes": 4096, "max_element_bytes": 2048, "frame_bytes": 4096}, nil)
	var mid []float64
	for i := range 120 {
		mid = append(mid, float64(i), 1)
	}
	n := 0
	var err error
	for ; n < 10; n++ {
		if err = w3.call(alice, cmdOps, map[string]any{"ops": []Op{stroke(fmt.Sprint("m", n), 1, mid...)}}, nil); err != nil {
			break
		}
	}
	if r, ok := err.(*sdk.Refusal); !ok || r.Code != "board_too_large" || n < 2 || !strings.Contains(r.Message, "4096 bytes") {
		t.Fatalf("after %d strokes: %v", n, err)
	}
	// Frame size: a batch larger than frame_bytes.
	var many []Op
	for i := range 60 {
		many = append(many, rect(fmt.Sprint("f", i), 1, 1, 0, 0, 1, 1))
	}
	if msg := w3.refused(bob, "frame_too_large", cmdOps, map[string]any{"ops": many}); !strings.Contains(msg, "4096 bytes") {
		t.Errorf("frame_too_large says %q", msg)
	}
}

// Ops per second per member: a member past the limit is refused, the
// others draw on.
func TestRateLimit(t *testing.T) {
	w := start(t, map[string]any{"ops_per_second": 1, "ops_burst": 3}, nil)
	w.ops(alice, stroke("a", 1, 1, 1), stroke("b", 1, 1, 1), stroke("c", 1, 1, 1))
	if msg := w.refused(alice, "rate_limited", cmdOps, map[string]any{"ops": []Op{stroke("d", 1, 1, 1)}}); !strings.Contains(msg, "at most 1 changes a second") {
		t.Errorf("rate_limited says %q", msg)
	}
	w.ops(bob, stroke("e", 1, 1, 1))
	// Cursors past their rate are dropped, not refused.
	w2 := start(t, map[string]any{"cursors_per_second": 1}, nil)
	var r1, r2 cursorReply
	w2.call(alice, cmdCursor, map[string]any{"x": 10, "y": 20}, &r1)
	w2.call(alice, cmdCursor, map[string]any{"x": 11, "y": 20}, &r2)
	if r1.Dropped || !r2.Dropped {
		t.Fatalf("cursor answers %v %v", r1, r2)
	}
	eventually(t, "a cursor event", func() bool { return len(w2.host.msgs.ofType(evCursors)) == 1 })
	if d := string(w2.host.msgs.ofType(evCursors)[0].ev.Data); d != `{"cursors":[{"user":"alice","x":10,"y":20}]}` {
		t.Fatalf("cursor event %s", d)
	}
}

// Who may draw follows the room: guests where the room admits guests (and
// the operator lets them), speakers and moderators in a moderated room;
// clear and archive are the moderators'; only members of a room with a
// whiteboard reach it.
func TestPermissions(t *testing.T) {
	w := start(t, nil, nil)
	w.ops(guest, stroke("g", 1, 1, 1))
	if r := w.sync(guest, nil); !r.Can.Draw || r.Can.Moderate {
		t.Fatalf("guest in a room for guests: %+v", r.Can)
	}
	w.refused(who{"gus", sdk.RoleGuest, 4}, "not_allowed", cmdOps, map[string]any{"ops": []Op{stroke("g", 1, 1, 1)}})
	if r := w.sync(who{"gus", sdk.RoleGuest, 4}, nil); r.Can.Draw {
		t.Fatalf("guest in a members' room may draw: %+v", r.Can)
	}
	msg := w.refused(who{"ann", sdk.RoleUser, 3}, "not_allowed", cmdOps, map[string]any{"ops": []Op{stroke("u", 1, 1, 1)}})
	if !strings.Contains(msg, "moderated") {
		t.Errorf("moderated room says %q", msg)
	}
	w.ops(who{"sam", sdk.RoleSpeaker, 3}, stroke("s", 1, 1, 1))
	w.ops(who{"mia", sdk.RoleModerator, 3}, stroke("m", 1, 1, 1))
	w.refused(alice, "not_allowed", cmdClear, nil)
	w.refused(alice, "not_allowed", cmdArchive, nil)
	w.refused(who{"ann", sdk.RoleUser, 2}, "no_whiteboard", cmdSync, nil)
	err := w.call(alice, cmdSync, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A request for another room than the caller's.
	data, _ := json.Marshal(map[string]any{"type": cmdSync, "room": 4})
	_, err = w.h.Command(testCtx(t), sdk.Command{Type: cmdSync, Caller: sdk.Caller{Name: "alice", Role: sdk.RoleUser, Room: 1}, Room: 4, Data: data})
	if r, ok := err.(*sdk.Refusal); !ok || r.Code != "not_in_room" {
		t.Fatalf("sync of a room the caller is not in: %v", err)
	}
	// The operator keeps guests from drawing anywhere.
	w2 := start(t, map[string]any{"guests": false}, nil)
	w2.refused(guest, "not_allowed", cmdOps, map[string]any{"ops": []Op{stroke("g", 1, 1, 1)}})
}

// A board is stored (snapshot and seq) and a new module process finds it,
// under a new epoch; clear and archive are stored too.
func TestPersistence(t *testing.T) {
	host := newFakeHost()
	w := start(t, map[string]any{"save_interval": "20ms"}, host)
	w.ops(alice, stroke("a", 1, 1, 2, 3, 4), rect("r", 1, 1, 10, 10, 100, 50))
	w.ops(alice, Op{Op: opAppend, ID: "a", Points: []float64{5, 6}, Version: 2})
	before, els := w.snapshot(alice)
	eventually(t, "the board saved", func() bool { return w.sync(alice, nil).Saved == 2 })
	w2 := start(t, nil, host)
	after, els2 := w2.snapshot(bob)
	if after.Epoch == before.Epoch || after.Seq != 2 || !reflect.DeepEqual(els, els2) {
		t.Fatalf("after a restart: %+v %v; before %+v %v", after, els2, before, els)
	}
	// Drawing goes on from the stored seq.
	if r := w2.ops(bob, stroke("b", 1, 1, 1)); r.Seq != 3 {
		t.Fatalf("first batch after the restart: %+v", r)
	}
	// Archive: a copy, then an empty board, both stored.
	var ar archiveReply
	if err := w2.call(mod, cmdArchive, nil, &ar); err != nil || ar.Elements != 3 || ar.Reason != "archived" {
		t.Fatalf("archive: %+v %v", ar, err)
	}
	doc, err := host.docs.Get(testCtx(t), ar.Key)
	var sb storedBoard
	if err != nil || json.Unmarshal(doc.Value, &sb) != nil || len(sb.Elements) != 3 {
		t.Fatalf("archived %s: %v %s", ar.Key, err, doc.Value)
	}
	var list archivesReply
	if err := w2.call(mod, cmdArchives, nil, &list); err != nil || len(list.Archives) != 1 || list.Archives[0].Key != ar.Key {
		t.Fatalf("archives: %v %v", list, err)
	}
	if _, els := w2.snapshot(bob); len(els) != 0 {
		t.Fatalf("after the archive: %v", els)
	}
	eventually(t, "the empty board saved", func() bool {
		d, err := host.docs.Get(testCtx(t), "board/1")
		return err == nil && json.Unmarshal(d.Value, &sb) == nil && len(sb.Elements) == 0
	})
	// The store moved on under the module (another copy wrote): the live
	// board is written over it.
	host.docs.Put(testCtx(t), "board/1", []byte(`{"epoch":"x","seq":1,"elements":[]}`), sdk.AnyVersion)
	w2.ops(bob, stroke("c", 1, 1, 1))
	eventually(t, "the live board saved over", func() bool {
		d, err := host.docs.Get(testCtx(t), "board/1")
		return err == nil && json.Unmarshal(d.Value, &sb) == nil && len(sb.Elements) == 1 && sb.Elements[0].ID == "c"
	})
}

// Stop stores every changed board at once, however long save_interval
// is: a module that starts after it finds the last changes.
func TestStopStoresTheChangedBoards(t *testing.T) {
	host := newFakeHost()
	w := start(t, map[string]any{"save_interval": "1m"}, host)
	w.ops(alice, stroke("a", 1, 1, 2, 3, 4))
	w.ops(who{"alice", sdk.RoleUser, 4}, rect("r", 1, 1, 10, 10, 100, 50))
	if _, err := host.docs.Get(testCtx(t), "board/1"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("the board was stored before Stop (%v): the test needs a save_interval that has not passed", err)
	}
	if caps := w.h.Capabilities(); !slices.Contains(caps.Hooks, sdk.HookStop) {
		t.Fatalf("the module does not declare Stop: %v", caps.Hooks)
	}
	if err := w.h.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	w2 := start(t, nil, host)
	if r, els := w2.snapshot(bob); r.Seq != 1 || len(els) != 1 || els[0].ID != "a" {
		t.Fatalf("room 1 after Stop and a new start: %+v %v", r, els)
	}
	if r, els := w2.snapshot(who{"bob", sdk.RoleUser, 4}); r.Seq != 1 || len(els) != 1 || els[0].ID != "r" {
		t.Fatalf("room 4 after Stop and a new start: %+v %v", r, els)
	}
	// Nothing changed since: a Stop of the new module stores nothing.
	host.docs.mu.Lock()
	puts := host.docs.puts
	host.docs.mu.Unlock()
	if err := w2.h.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	host.docs.mu.Lock()
	defer host.docs.mu.Unlock()
	if host.docs.puts != puts {
		t.Errorf("Stop of unchanged boards stored %d documents", host.docs.puts-puts)
	}
}

// A configuration key that is unknown or out of range stops the start,
// naming the key.
func TestConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"max_point": 5}`:     `unknown key "max_point"`,
		`{"frame_bytes": 100}`: "frame_bytes: 100 is outside",
		`{"frame_bytes": 8192, "max_element_bytes": 9000}`: "max_element_bytes: 9000 does not fit",
		`{"save_interval": "soon"}`:                        `save_interval: "soon" is not a duration`,
		`{"forward_timeout": "1m"}`:                        `forward_timeout: "1m" is not a duration from 10ms to 30s`,
		`{"ops_per_second": -1}`:                           "ops_per_second: -1 is outside",
	} {
		m := newModule(nil)
		err := m.Configure(testCtx(t), sdktest.Config(t, json.RawMessage(cfg)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", cfg, err, want)
		}
	}
}
