package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// clusterConfig is the config of one node of a test cluster on NATS at
// url (with its own prefix) and the PostgreSQL database dsn.
func clusterConfig(t *testing.T, url, prefix, dsn, node string) *config.Config {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.Store.Driver, cfg.Store.Postgres.DSN = config.StoreDriverPostgres, dsn
	cfg.Rooms = []config.Room{{ID: 1, Name: "Lobby", Member: true, Open: true}, {ID: 2, Name: "Garden", Member: true, Open: true}}
	cfg.Cluster.NATS.URL = url
	cfg.Cluster.Prefix = prefix
	cfg.Cluster.Node = node
	cfg.Cluster.Lease = 2 * time.Second
	cfg.Status.MinInterval = 10 * time.Millisecond
	servertest.EnableAPI(cfg)
	cfg.ServerAPI.Addr = "" // the JSON twin only: three nodes would share the TCP port
	return cfg
}

// waitFor polls cond for up to servertest's timeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Three nodes on loopback ports share NATS: users on different nodes
// chat, see one user list and one room list, and a server API command
// on node 1 reaches a user on node 3.
func TestThreeNodesChatAsOne(t *testing.T) {
	url, prefix := testenv.NATS(t)
	_, dsn := testenv.PostgresDB(t, "parlor_cluster_three")
	var nodes []*server.Server
	var cfgs []*config.Config
	for _, name := range []string{"n1", "n2", "n3"} {
		cfg := clusterConfig(t, url, prefix, dsn, name)
		cfgs = append(cfgs, cfg)
		nodes = append(nodes, servertest.Start(t, cfg))
	}
	alice := servertest.Dial(t, nodes[0])
	alice.Login("Alice", "")
	alice.Join(1, "")
	bob := servertest.Dial(t, nodes[1])
	bob.Login("Bob", "")
	bob.Join(1, "")
	carol := servertest.Dial(t, nodes[2])
	carol.Login("Carol", "")
	joined := carol.Join(1, "")
	// Carol, entering last on node 3, is shown everyone in the room.
	waitFor(t, "node 3 lists Alice and Bob", func() bool {
		u, _ := nodes[2].Group().Users(1)
		return len(u) == 3
	})
	_ = joined
	alice.WantMatch("presence", func(ev map[string]any) bool { return ev["user"] == "Carol" && ev["event"] == "join" })

	// /healthz of a node names it and the other two.
	resp, err := http.Get(servertest.URL(nodes[1]) + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Status  string `json:"status"`
		Cluster struct {
			Node      string `json:"node"`
			Connected bool   `json:"nats_connected"`
			Nodes     int    `json:"other_nodes"`
		} `json:"cluster"`
	}
	err = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || health.Status != "ok" || health.Cluster.Node != "n2" || !health.Cluster.Connected || health.Cluster.Nodes != 2 {
		t.Errorf("node 2's /healthz: %d %+v %v", resp.StatusCode, health, err)
	}

	// A message said on node 1 arrives on nodes 2 and 3.
	alice.Send(map[string]any{"type": "say", "text": "hello from node 1"})
	for _, c := range []*servertest.Client{bob, carol} {
		c.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == "hello from node 1" && ev["from"] == "Alice" })
	}
	carol.Send(map[string]any{"type": "say", "text": "hi from node 3"})
	alice.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == "hi from node 3" })

	// One user list and one room list everywhere.
	for i, n := range nodes {
		u, _ := n.Group().Users(1)
		s := slices.Clone(u)
		slices.Sort(s)
		if !slices.Equal(s, []string{"Alice", "Bob", "Carol"}) {
			t.Errorf("node %d lists %v in the Lobby", i+1, u)
		}
		if c := n.Group().Rooms()[0].Count; c != 3 {
			t.Errorf("node %d's room list counts %d in the Lobby; want 3", i+1, c)
		}
		out := servertest.APIOK(t, servertest.URL(n), "get_room_users", map[string]any{"room_id": 1})
		list, _ := out["users"].(map[string]any)
		if got := strings.Join(toStrings(list["users"]), ","); got != "Alice,Bob,Carol" {
			t.Errorf("node %d get_room_users: %v", i+1, out)
		}
	}
	// The status files of node 2 name everyone in the room.
	waitFor(t, "node 2's room_1.txt names all three", func() bool {
		b, _ := os.ReadFile(filepath.Join(cfgs[1].DataDir, "default", "room_1.txt"))
		return strings.Contains(string(b), "Alice") && strings.Contains(string(b), "Bob") && strings.Contains(string(b), "Carol")
	})

	// A second login under a name online on another node is refused.
	dup := servertest.Dial(t, nodes[2])
	dup.Send(map[string]string{"type": "login", "user": "alice"})
	dup.WantError("name_taken")

	// A server API private message on node 1 reaches Carol on node 3.
	servertest.APIOK(t, servertest.URL(nodes[0]), "private_message", map[string]any{"dest_uid": "Carol", "msg": "from the API on node 1", "owner_nick": "Admin"})
	carol.WantMatch("private", func(ev map[string]any) bool { return ev["text"] == "from the API on node 1" })
	// A broadcast on node 2 reaches Alice on node 1.
	servertest.APIOK(t, servertest.URL(nodes[1]), "broadcast", map[string]any{"msg": "maintenance at noon"})
	alice.WantMatch("notice", func(ev map[string]any) bool { return ev["text"] == "maintenance at noon" })
	// A kick on node 1 of Bob on node 2.
	servertest.APIOK(t, servertest.URL(nodes[0]), "kick", map[string]any{"user": "Bob", "room_id": 1, "reason": "testing"})
	bob.WantMatch("left", func(ev map[string]any) bool { return ev["room"] == 1.0 })
	carol.WantMatch("presence", func(ev map[string]any) bool { return ev["user"] == "Bob" && ev["event"] == "leave" })

	// A room added through node 3's server API is in node 1's room list.
	out := servertest.APIOK(t, servertest.URL(nodes[2]), "add_room", map[string]any{"name": "Annex", "en": 1, "member": 1})
	_ = out
	waitFor(t, "node 1 lists the Annex", func() bool {
		for _, r := range nodes[0].Group().Rooms() {
			if r.Name == "Annex" {
				return true
			}
		}
		return false
	})
	alice.WantMatch("rooms_delta", func(ev map[string]any) bool { return strings.Contains(toJSON(ev), "Annex") })

	// get_online on node 2 counts the users of every node.
	online := servertest.APIOK(t, servertest.URL(nodes[1]), "get_online", nil)
	if o, _ := online["online"].(map[string]any); o["users"] != 3.0 {
		t.Errorf("node 2's get_online: %v; want 3 users", online)
	}
	// A ban through node 1 of Bob, online on node 2, ends his session
	// there and is in force on node 3 at once.
	servertest.APIOK(t, servertest.URL(nodes[0]), "ban", map[string]any{"user": "Bob", "reason": "spam"})
	bob.WantMatch("sanctioned", func(ev map[string]any) bool { return ev["kind"] == "ban" })
	if err := bob.WaitClosed(); err == nil {
		t.Error("Bob's connection on node 2 was not closed by the ban")
	}
	waitFor(t, "node 3 refuses Bob", func() bool {
		c := servertest.Dial(t, nodes[2])
		defer c.Conn().CloseNow()
		c.Send(map[string]string{"type": "login", "user": "Bob"})
		ev := c.Next()
		return ev["type"] == "error" && ev["code"] == "banned"
	})
	// stop_group on node 2 closes the chat everywhere; start_group on node
	// 3 opens it again everywhere.
	servertest.APIOK(t, servertest.URL(nodes[1]), "stop_group", map[string]any{"msg": "closed for the night"})
	alice.WantMatch("notice", func(ev map[string]any) bool { return ev["text"] == "closed for the night" })
	late := servertest.Dial(t, nodes[0])
	late.Send(map[string]string{"type": "login", "user": "Dave"})
	late.WantError("group_stopped")
	servertest.APIOK(t, servertest.URL(nodes[2]), "start_group", nil)
	waitFor(t, "node 1 opens again", func() bool { return !nodes[0].Group().Stopped() })
	again := servertest.Dial(t, nodes[0])
	again.Login("Alice", "")

	// Node 3 shuts down: its members leave the others' lists at once.
	carol2 := servertest.Dial(t, nodes[2])
	carol2.Login("Carol", "")
	servertest.Stop(t, nodes[2])
	waitFor(t, "node 1 drops Carol", func() bool { _, ok := nodes[0].Group().Online("Carol"); return !ok })
}

// toStrings turns a decoded JSON array into strings.
func toStrings(v any) []string {
	var out []string
	if a, ok := v.([]any); ok {
		for _, x := range a {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

// toJSON encodes a decoded event again, to search it.
func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A node killed with kill -9 while members of the other nodes speak: no
// message said on a live node is lost for a member of a live node, the
// dead node's members leave everyone's lists once its lease lapses, and
// its users log in again on a live node.
func TestKilledNodeLosesNoMessageAndItsMembersLeave(t *testing.T) {
	url, prefix := testenv.NATS(t)
	_, dsn := testenv.PostgresDB(t, "parlor_cluster_kill")
	bin := testenv.GoBuild(t, "./cmd/parlor", "parlor")
	fast := func(cfg *config.Config) *config.Config {
		cfg.Limits.Say.Every, cfg.Limits.SayUser.Every = 0, 0
		return cfg
	}
	n1 := servertest.Start(t, fast(clusterConfig(t, url, prefix, dsn, "n1")))
	n3 := servertest.Start(t, fast(clusterConfig(t, url, prefix, dsn, "n3")))
	conf := filepath.Join(t.TempDir(), "parlor.yaml")
	yaml := fmt.Sprintf(`store:
  driver: postgres
  postgres: {dsn: %q}
cluster:
  nats: {url: %q}
  prefix: %s
  node: n2
  lease: 2s
limits:
  say: {every: 0s}
  say_user: {every: 0s}
rooms:
  - {id: 1, name: Lobby, member: true, en: true}
  - {id: 2, name: Garden, member: true, en: true}
`, dsn, url, prefix)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p2 := servertest.StartProcess(t, bin, t.TempDir(), "--config", conf, "--log-level", "error")

	alice := servertest.Dial(t, n1)
	alice.Login("Alice", "")
	alice.Join(1, "")
	carol := servertest.Dial(t, n3)
	carol.Login("Carol", "")
	carol.Join(1, "")
	bob := servertest.DialURL(t, p2.URL(), nil)
	bob.Login("Bob", "")
	bob.Join(1, "")
	waitFor(t, "node 1 lists Bob of node 2", func() bool { _, ok := n1.Group().Online("Bob"); return ok })

	// Alice and Carol speak; node 2 is killed in the middle.
	const n = 60
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			alice.Send(map[string]any{"type": "say", "text": fmt.Sprintf("a-%d", i)})
			carol.Send(map[string]any{"type": "say", "text": fmt.Sprintf("c-%d", i)})
			if i == n/3 {
				p2.Kill()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	<-done
	// Bob, on node 2, had what was said before the kill.
	bob.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == "a-0" })
	for i := range n {
		carol.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == fmt.Sprintf("a-%d", i) })
	}
	for i := range n {
		alice.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == fmt.Sprintf("c-%d", i) })
	}

	// Bob leaves the lists of nodes 1 and 3 once node 2's lease lapses.
	alice.WantMatch("presence", func(ev map[string]any) bool { return ev["user"] == "Bob" && ev["event"] == "leave" })
	waitFor(t, "node 3 drops Bob", func() bool { _, ok := n3.Group().Online("Bob"); return !ok })
	// Bob's client reconnects to node 3 and gets his name back.
	bob2 := servertest.Dial(t, n3)
	bob2.Login("Bob", "")
	bob2.Join(1, "")
	alice.WantMatch("presence", func(ev map[string]any) bool { return ev["user"] == "Bob" && ev["event"] == "join" })
	bob2.Send(map[string]any{"type": "say", "text": "back on node 3"})
	alice.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == "back on node 3" })
}

// A node that has lost NATS says so on /healthz with 503 (it refuses
// logins, so a balancer should send new visitors elsewhere) and is healthy
// again once NATS is back.
func TestHealthOfANodeWithoutNATS(t *testing.T) {
	nats := testenv.StartNATS(t)
	cfg := clusterConfig(t, nats.URL(), "h", "", "solo")
	cfg.Store.Driver, cfg.Store.Postgres.DSN = config.StoreDriverSQLite, ""
	srv := servertest.Start(t, cfg)
	status := func() int {
		resp, err := http.Get(servertest.URL(srv) + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusOK {
		t.Fatalf("/healthz with NATS: %d", got)
	}
	nats.Stop()
	waitFor(t, "/healthz says 503 without NATS", func() bool { return status() == http.StatusServiceUnavailable })
	c := servertest.Dial(t, srv)
	c.Send(map[string]string{"type": "login", "user": "Ann"})
	if msg := c.WantError("login_error"); !strings.Contains(msg, "cannot check names") {
		t.Errorf("a login without NATS is refused with %q", msg)
	}
	nats.Start()
	waitFor(t, "/healthz says 200 again", func() bool { return status() == http.StatusOK })
	again := servertest.Dial(t, srv)
	again.Login("Ann", "")
}
