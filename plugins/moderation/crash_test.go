package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/internal/servertest"
)

// modulePID is the process id of the running module, or 0.
func modulePID(srv *server.Server) int {
	for _, st := range srv.Plugins().Status() {
		if st.Name == "moderation" && st.Running {
			return st.PID
		}
	}
	return 0
}

// TestModuleKilled: the module is killed (SIGKILL) while a guest floods
// the moderated Stage, and cannot start again for a while (its binary is
// moved away; else the host restarts it and retries at once). Every
// message is either held or refused with module_unavailable; none reaches
// the room. Once the host has restarted the module, the queue holds
// exactly the messages the guest was told are held, and the room is
// moderated again.
func TestModuleKilled(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "parlor-plugin-moderation")
	copyFile(t, pluginBin(t), bin)
	cfg := serverConfig(t, map[string]any{"automod": map[string]any{"repeats": map[string]any{"count": 0}}})
	spec := cfg.Plugins.Load["moderation"]
	spec.Path = bin
	cfg.Plugins.Load["moderation"] = spec
	cfg.Plugins.HealthInterval = 100 * time.Millisecond
	cfg.Plugins.MaxBackoff = 300 * time.Millisecond
	cfg.Limits.Say = limit.Rate{}
	cfg.Limits.SayUser = limit.Rate{}
	srv := servertest.Start(t, cfg)
	mia := guest(t, srv, "mia", stage)
	vic := guest(t, srv, "vic", stage)
	sam := guest(t, srv, "sam", stage)
	gus := guest(t, srv, "gus", stage)

	const total = 200
	pid := modulePID(srv)
	if pid == 0 {
		t.Fatalf("the module does not run: %+v", srv.Plugins().Status())
	}
	for i := range total {
		say(gus, fmt.Sprint("message ", i))
		if i == total/4 {
			if err := os.Rename(bin, bin+".away"); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	held, unavailable := 0, 0
	for held+unavailable < total {
		ev := gus.Next()
		switch {
		case ev["type"] == "held":
			held++
		case ev["type"] == "error" && ev["code"] == "module_unavailable":
			unavailable++
			if msg := fmt.Sprint(ev["message"]); !strings.Contains(msg, "moderation") || !strings.Contains(msg, "not sent") {
				t.Fatalf("refusal says %q", msg)
			}
		case ev["type"] == "error" || ev["type"] == "message":
			t.Fatalf("gus got %v", ev)
		}
	}
	if held == 0 || unavailable == 0 {
		t.Fatalf("%d held and %d refused: the kill should fall within the flood", held, unavailable)
	}
	t.Logf("%d held, %d refused while the module was down", held, unavailable)

	if err := os.Rename(bin+".away", bin); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for modulePID(srv) == 0 || modulePID(srv) == pid {
		if time.Now().After(deadline) {
			t.Fatalf("the module was not restarted: %+v", srv.Plugins().Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The queue survived, and it is exactly what gus was told.
	var q []map[string]any
	for {
		ev := mia.answer("mod.queue", nil)
		if ev["type"] == "result" {
			q = heldList(t, ev["data"].(map[string]any))
			break
		}
		if ev["code"] != "module_unavailable" || time.Now().After(deadline) {
			t.Fatalf("mod.queue after the restart: %v", ev)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(q) != held {
		t.Fatalf("the queue has %d messages, gus was told of %d", len(q), held)
	}
	// Moderated again: a speaker speaks, a guest waits.
	for {
		say(sam, "we are back")
		ev := sam.answerSay()
		if ev == nil {
			break
		}
		if ev["code"] != "module_unavailable" || time.Now().After(deadline) {
			t.Fatalf("sam got %v", ev)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if from, text := nextMessage(t, vic); from != "sam" || text != "we are back" {
		t.Fatalf("vic's first message is %s: %q, want sam's: nothing of gus's may arrive", from, text)
	}
	say(gus, "after the restart")
	gus.Want("held")
}

// answerSay waits briefly after a say for an error; nil when none came
// (the message went out).
func (c *client) answerSay() map[string]any {
	timeout := time.After(500 * time.Millisecond)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return map[string]any{"code": "closed"}
			}
			if ev["type"] == "error" {
				return ev
			}
		case <-timeout:
			return nil
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestQueueSurvivesServerRestart: held messages are in the server's store;
// after a restart on the same data the moderator finds them in the queue
// and approves one.
func TestQueueSurvivesServerRestart(t *testing.T) {
	cfg := serverConfig(t, nil)
	srv := servertest.Start(t, cfg)
	gus := guest(t, srv, "gus", stage)
	say(gus, "held across a restart")
	gus.Want("held")
	servertest.Stop(t, srv)

	srv = servertest.Start(t, cfg)
	mia := guest(t, srv, "mia", stage)
	vic := guest(t, srv, "vic", stage)
	q := heldList(t, command(t, mia, "mod.queue", nil))
	if len(q) != 1 || q[0]["text"] != "held across a restart" || q[0]["from"] != "gus" {
		t.Fatalf("queue after the restart %v", q)
	}
	command(t, mia, "mod.approve", map[string]any{"held": q[0]["id"]})
	if from, text := nextMessage(t, vic); from != "gus" || text != "held across a restart" {
		t.Fatalf("vic got %s: %q", from, text)
	}
}
