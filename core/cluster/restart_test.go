package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/internal/testenv"
)

// NATS restarting is survived: the nodes reconnect and resubscribe, a
// room change made while NATS was away reaches the other node, and
// messages flow again both ways.
func TestNATSRestartIsSurvived(t *testing.T) {
	nats := testenv.StartNATS(t)
	n1 := startNode(t, nats.URL(), "p", "one", 5*time.Second)
	n2 := startNode(t, nats.URL(), "p", "two", 5*time.Second)
	_, alice := n1.login(t, "Alice", 1)
	bobM, bob := n2.login(t, "Bob", 1)
	eventually(t, "node one lists Bob", func() bool { return slices.Contains(users(n1.g, 1), "Bob") })

	nats.Stop()
	eventually(t, "node one says NATS is away", func() bool { return !n1.Status().Connected })
	// While NATS is away Bob goes to the Garden.
	if _, err := n2.g.Join(bobM, 2, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	nats.Start()

	eventually(t, "node one sees Bob in the Garden after the restart", func() bool { return slices.Contains(users(n1.g, 2), "Bob") })
	eventually(t, "both nodes reconnected", func() bool {
		return n1.Counters.Reconnects.Load() > 0 && n2.Counters.Reconnects.Load() > 0
	})
	if st := n1.Status(); !st.Connected || st.Nodes != 1 {
		t.Errorf("node one's status after the restart: %+v", st)
	}
	aliceM, _ := n1.g.Online("Alice")
	if _, err := n1.g.Join(aliceM, 2, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node two sees Alice in the Garden", func() bool { return slices.Contains(users(n2.g, 2), "Alice") })
	for i := range 3 {
		text := fmt.Sprintf("after the restart %d", i)
		if _, err := n1.g.Say(aliceM, text, chat.Style{}, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "Bob gets "+text, func() bool { return bob.has(text) })
		if _, err := n2.g.Say(bobM, "re: "+text, chat.Style{}, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "Alice gets Bob's answer", func() bool { return alice.has("re: " + text) })
	}
}
