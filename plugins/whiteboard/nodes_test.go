package main

import (
	"encoding/json"
	"testing"
	"time"

	parlor "github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// Two nodes, each with its own whiteboard process, share one board:
// drawing on the node that does not write the board is numbered by the
// writer and reaches the members of both nodes in order; a late joiner on
// either node gets the same snapshot.
func TestTwoServersOneBoard(t *testing.T) {
	url, prefix := testenv.NATS(t)
	_, dsn := testenv.PostgresDB(t, "parlor_wb_nodes")
	bin := buildPlugin(t)
	node := func(name string) string {
		cfg := serverConfig(t, bin)
		cfg.Store.Driver, cfg.Store.Postgres.DSN = parlor.StoreDriverPostgres, dsn
		cfg.Cluster.NATS.URL, cfg.Cluster.Prefix, cfg.Cluster.Node = url, prefix, name
		cfg.Cluster.Lease = 3 * time.Second
		return servertest.URL(servertest.Start(t, cfg))
	}
	one, two := node("one"), node("two")
	alice := servertest.DialURL(t, one, nil)
	alice.Login("alice", "")
	alice.Join(1, "")
	bob := servertest.DialURL(t, two, nil)
	bob.Login("bob", "")
	bob.Join(1, "")
	alice.WantMatch("presence", func(ev map[string]any) bool { return ev["user"] == "bob" })

	// Alice draws first on node one: its module writes the board.
	alice.Send(map[string]any{"type": "wb.ops", "id": "1", "ops": []Op{rect("a1", 1, 3, 10, 10, 50, 50)}})
	res := alice.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "1" })
	if d, _ := res["data"].(map[string]any); d["seq"] != 1.0 {
		t.Fatalf("alice's result %v", res)
	}
	batch := func(c *servertest.Client, seq int64, by, id string) {
		t.Helper()
		c.WantMatch("wb.batch", func(ev map[string]any) bool {
			b, _ := json.Marshal(ev["data"])
			var be batchEvent
			return json.Unmarshal(b, &be) == nil && len(be.Batches) == 1 && be.Batches[0].Seq == seq &&
				be.Batches[0].By == by && be.Batches[0].Ops[0].El.ID == id
		})
	}
	// Bob, on node two, gets Alice's batch.
	batch(bob, 1, "alice", "a1")
	// Bob draws on node two: his module forwards it to the writer, which
	// numbers it 2 and relays it to both nodes.
	bob.Send(map[string]any{"type": "wb.ops", "id": "2", "ops": []Op{rect("b1", 1, 3, 60, 60, 90, 90)}})
	res = bob.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "2" })
	if d, _ := res["data"].(map[string]any); d["seq"] != 2.0 {
		t.Fatalf("bob's result %v", res)
	}
	batch(alice, 2, "bob", "b1")
	// A late joiner on each node gets both elements at seq 2.
	for _, base := range []string{one, two} {
		c := servertest.DialURL(t, base, nil)
		c.Login("late"+base[len(base)-2:], "")
		c.Join(1, "")
		c.Send(map[string]any{"type": "wb.sync", "id": "s"})
		res := c.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "s" })
		b, _ := json.Marshal(res["data"])
		var sr syncReply
		if err := json.Unmarshal(b, &sr); err != nil || sr.Seq != 2 || len(sr.Elements) != 2 {
			t.Errorf("late joiner on %s: sync %s", base, b)
		}
	}
}
