package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// twoNodes runs the module on nodes a and b of one cluster whose leases
// last ttl: they share the rooms and the store, each relays through its
// own host.
func twoNodes(t *testing.T, ttl time.Duration, cfg map[string]any) (c *sdktest.Cluster, a, b *wb) {
	t.Helper()
	c = sdktest.NewCluster(ttl)
	shared := newFakeHost()
	a = start(t, cfg, shared.onNode(c.Node("a")))
	b = start(t, cfg, shared.onNode(c.Node("b")))
	c.Node("a").Attach(t, a.h)
	c.Node("b").Attach(t, b.h)
	return c, a, b
}

// refusalCode is the code of a refusal, "" for none.
func refusalCode(err error) string {
	var r *sdk.Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

// storedSeq is the seq of room 1's board in the store; -1 for none.
func (h *fakeHost) storedSeq(t *testing.T) int64 {
	t.Helper()
	doc, err := h.docs.Get(context.Background(), "board/1")
	if err != nil {
		return -1
	}
	var sb storedBoard
	if err := json.Unmarshal(doc.Value, &sb); err != nil {
		t.Fatal(err)
	}
	return sb.Seq
}

// With a module on each of two nodes the board has one writer, the node
// that first needed it: ops sent at the other node get their seq from
// the writer, which relays them to the room; snapshots and the batches
// since a seq come from the writer too, and so do its refusals. When the
// writer's node dies, its lease lapses, the other node takes the board
// over from the store and seq goes on; the dead node no longer writes.
func TestTwoNodesOneWriter(t *testing.T) {
	const ttl = 300 * time.Millisecond
	c, a, b := twoNodes(t, ttl, map[string]any{"save_interval": "10ms", "forward_timeout": "400ms"})

	first := a.ops(alice, stroke("a1", 1, 1, 1))
	if first.Seq != 1 || c.Holder("board.1") != "a" {
		t.Fatalf("first batch at a: %+v, writer %q", first, c.Holder("board.1"))
	}
	second := b.ops(bob, stroke("b1", 1, 2, 2))
	if second.Seq != 2 || second.Epoch != first.Epoch || c.Holder("board.1") != "a" {
		t.Fatalf("batch at b: %+v (a's epoch %s), writer %q", second, first.Epoch, c.Holder("board.1"))
	}
	eventually(t, "a relays both batches to the room", func() bool {
		_, bs := a.host.msgs.batches(t)
		return len(bs) == 2 && bs[1].Seq == 2 && bs[1].By == "bob"
	})
	if _, bs := b.host.msgs.batches(t); len(bs) != 0 {
		t.Fatalf("b relayed %v; only the writer relays", bs)
	}
	snap, els := b.snapshot(bob)
	if snap.Seq != 2 || snap.Epoch != first.Epoch || len(els) != 2 || !snap.Can.Draw {
		t.Fatalf("snapshot through b: %+v, %v", snap, els)
	}
	since := b.sync(bob, map[string]any{"epoch": first.Epoch, "since": 1})
	if since.Snapshot || len(since.Batches) != 1 || since.Batches[0].Seq != 2 {
		t.Fatalf("batches since 1 through b: %+v", since)
	}
	if code := refusalCode(b.call(bob, cmdOps, map[string]any{"ops": []Op{{Op: opPut}}}, nil)); code != "bad_op" {
		t.Fatalf("the writer's refusal through b: %q", code)
	}

	eventually(t, "the writer stores seq 2", func() bool { return a.host.storedSeq(t) == 2 })
	c.Kill("a")
	var took opsReply
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := b.call(bob, cmdOps, map[string]any{"ops": []Op{stroke("b2", 1, 3, 3)}}, &took)
		if err == nil {
			break
		}
		if code := refusalCode(err); code != codeUnavailable || time.Now().After(deadline) {
			t.Fatalf("ops at b while a is dead: %v (code %q)", err, code)
		}
	}
	if took.Seq != 3 || took.Epoch == first.Epoch || c.Holder("board.1") != "b" {
		t.Fatalf("after the takeover: %+v (old epoch %s), writer %q", took, first.Epoch, c.Holder("board.1"))
	}
	snap, els = b.snapshot(bob)
	if snap.Seq != 3 || snap.Epoch != took.Epoch || len(els) != 3 {
		t.Fatalf("snapshot after the takeover: %+v, %v", snap, els)
	}
	eventually(t, "b relays the new batch", func() bool {
		epochs, bs := b.host.msgs.batches(t)
		return len(bs) == 1 && bs[0].Seq == 3 && epochs[0] == took.Epoch
	})
	// a lost the lease: it neither takes ops nor answers from its old
	// board any more.
	if code := refusalCode(a.call(alice, cmdOps, map[string]any{"ops": []Op{stroke("a2", 1, 4, 4)}}, nil)); code != codeUnavailable {
		t.Fatalf("ops at the dead writer: code %q", code)
	}
	eventually(t, "b stores seq 3", func() bool { return b.host.storedSeq(t) == 3 })
}

// A writer that is stopped stores its boards and gives their leases up,
// so the other node takes over at once, long before the lease would
// lapse, and seq goes on.
func TestStoppedWriterHandsOver(t *testing.T) {
	c, a, b := twoNodes(t, time.Hour, map[string]any{"save_interval": "1m"})
	a.ops(alice, stroke("a1", 1, 1, 1))
	if r := b.ops(bob, stroke("b1", 1, 2, 2)); r.Seq != 2 {
		t.Fatalf("through a: %+v", r)
	}
	if err := a.h.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if c.Holder("board.1") != "" || a.host.storedSeq(t) != 2 {
		t.Fatalf("after a's Stop: writer %q, stored seq %d", c.Holder("board.1"), a.host.storedSeq(t))
	}
	start := time.Now()
	r := b.ops(bob, stroke("b2", 1, 3, 3))
	if r.Seq != 3 || c.Holder("board.1") != "b" || time.Since(start) > 5*time.Second {
		t.Fatalf("b after a stopped: %+v, writer %q, after %s", r, c.Holder("board.1"), time.Since(start))
	}
}

// A node that is asked as the writer but is not (any more) says so, and
// the node asking finds the writer again.
func TestForwardToAFormerWriter(t *testing.T) {
	c, a, b := twoNodes(t, time.Hour, nil)
	a.ops(alice, stroke("a1", 1, 1, 1))
	b.ops(bob, stroke("b1", 1, 2, 2)) // b learns that a writes
	// a gives the board up behind b's back; c then writes it.
	if err := a.h.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	third := start(t, nil, a.host.onNode(c.Node("c")))
	c.Node("c").Attach(t, third.h)
	if r := third.ops(mod, stroke("c1", 1, 3, 3)); r.Seq != 3 || c.Holder("board.1") != "c" {
		t.Fatalf("c took the board: %+v, writer %q", r, c.Holder("board.1"))
	}
	// b still thinks a writes: a answers that it does not, b asks the
	// lease again and forwards to c.
	if r := b.ops(bob, stroke("b2", 1, 4, 4)); r.Seq != 4 {
		t.Fatalf("b after the move: %+v", r)
	}
	eventually(t, "c relays both of its batches", func() bool {
		_, bs := third.host.msgs.batches(t)
		return len(bs) == 2 && bs[0].Seq == 3 && bs[1].Seq == 4 && bs[1].By == "bob"
	})
}
