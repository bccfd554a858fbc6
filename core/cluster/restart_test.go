package cluster

import (
	"fmt"
	"net"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/internal/testenv"
)

// privateNATS runs a NATS server with JetStream of the test's own on a
// free port, which the test may stop and start again (keeping its
// JetStream data).
type privateNATS struct {
	t    *testing.T
	bin  string
	port string
	dir  string
	cmd  *exec.Cmd
}

func startPrivateNATS(t *testing.T) *privateNATS {
	t.Helper()
	bin := testenv.Binary(t, "nats-server", "/usr/sbin/nats-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_ = ln.Close()
	p := &privateNATS{t: t, bin: bin, port: port, dir: t.TempDir()}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *privateNATS) url() string { return "nats://127.0.0.1:" + p.port }

func (p *privateNATS) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "-a", "127.0.0.1", "-p", p.port, "-js", "-sd", p.dir)
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start nats-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+p.port)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("nats-server did not listen on %s: %v", p.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *privateNATS) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// NATS restarting is survived: the nodes reconnect and resubscribe, a
// room change made while NATS was away reaches the other node, and
// messages flow again both ways.
func TestNATSRestartIsSurvived(t *testing.T) {
	nats := startPrivateNATS(t)
	n1 := startNode(t, nats.url(), "p", "one", 5*time.Second)
	n2 := startNode(t, nats.url(), "p", "two", 5*time.Second)
	_, alice := n1.login(t, "Alice", 1)
	bobM, bob := n2.login(t, "Bob", 1)
	eventually(t, "node one lists Bob", func() bool { return slices.Contains(users(n1.g, 1), "Bob") })

	nats.stop()
	eventually(t, "node one says NATS is away", func() bool { return !n1.Status().Connected })
	// While NATS is away Bob goes to the Garden.
	if _, err := n2.g.Join(bobM, 2, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	nats.start()

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
