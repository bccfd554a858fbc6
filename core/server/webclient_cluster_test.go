package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// TestWebClientOnTwoNodes: two visitors on two nodes of one cluster see
// each other in the user list and the room list and chat; node A is then
// killed (kill -9), and its visitor's page moves to node B by itself,
// waits for its name to be free again and comes back into the room, where
// the other visitor sees it return and read what it says.
func TestWebClientOnTwoNodes(t *testing.T) {
	url, prefix := testenv.NATS(t)
	_, dsn := testenv.PostgresDB(t, "parlor_web_cluster")
	bin := testenv.GoBuild(t, "./cmd/parlor", "parlor")
	addrB := testenv.FreeAddr(t)
	conf := filepath.Join(t.TempDir(), "parlor.yaml")
	yaml := fmt.Sprintf(`http:
  ws_urls: ["/ws", "ws://%s/ws"]
store:
  driver: postgres
  postgres: {dsn: %q}
cluster:
  nats: {url: %q}
  prefix: %s
  node: a
  lease: 2s
rooms:
  - {id: %d, name: Lobby, member: true, en: true, max: 50, wm: %q}
`, addrB, dsn, url, prefix, webLobbyID, webLobbyWelcome)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	a := servertest.StartProcess(t, bin, t.TempDir(), "--log-level", "error", "--config", conf)
	cfgB := webConfig(t)
	cfgB.HTTP.Addr = addrB
	cfgB.HTTP.AllowedOrigins = []string{a.URL()}
	cfgB.Store.Driver, cfgB.Store.Postgres.DSN = config.StoreDriverPostgres, dsn
	cfgB.Cluster.NATS.URL, cfgB.Cluster.Prefix, cfgB.Cluster.Node, cfgB.Cluster.Lease = url, prefix, "b", 2*time.Second
	b := servertest.Start(t, cfgB)

	browser := testenv.Browser(t)
	gus := openBrowserTab(t, browser, a.URL(), "gus")
	hal := openBrowserTab(t, browser, servertest.URL(b), "hal")
	gus.login()
	gus.joinLobby()
	hal.login()
	hal.joinLobby()
	// One user list and one room list on both nodes.
	hal.waitUser("gus")
	gus.waitUser("hal")
	for _, p := range []*browserTab{gus, hal} {
		p.do("see two in the Lobby's count", pollJS(`() => (document.querySelector('#rooms [data-room-id] .room-count-badge') || {}).textContent === "2/50"`))
	}
	gus.say("hello from node A")
	hal.do("see gus's message from the other node", pollJS(jsHasLine, "message", "gus", "hello from node A"))
	hal.say("hello from node B")
	gus.do("see hal's message from the other node", pollJS(jsHasLine, "message", "hal", "hello from node B"))
	hal.screenshot("two-nodes")

	a.Kill()
	gus.do("see the connection lost", chromedp.WaitVisible(chromedp.ID("conn-lost")))
	gus.waitBackInLobby()
	if _, on := b.Group().Online("gus"); !on {
		t.Fatal("gus is back in the Lobby but not on node B")
	}
	hal.waitUser("gus")
	gus.say("back on node B")
	hal.do("see gus's message after the move", pollJS(jsHasLine, "message", "gus", "back on node B"))
	gus.do("see the history of the room after the move", pollJS(jsHasLine, "message", "hal", "hello from node B"))
	gus.screenshot("moved")
}
