package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// seen is a public message as one member received it.
type seen struct {
	id   int64
	room int64
	text string
}

// member is a logged-in client of a server process that records every
// message it receives until its connection breaks.
type member struct {
	name string
	c    *servertest.Client
	got  []seen
	done chan struct{}
}

// joinMember logs name in as a guest and enters room; every message it
// receives is recorded and passed to delivered.
func joinMember(t *testing.T, url, name string, room int, delivered func()) *member {
	t.Helper()
	m := &member{name: name, c: servertest.DialURL(t, url, nil), done: make(chan struct{})}
	m.c.Login(name, "")
	m.c.Join(room, "")
	go func() {
		defer close(m.done)
		for ev := range m.c.Events() {
			if ev["type"] != "message" {
				continue
			}
			id, _ := ev["id"].(float64)
			r, _ := ev["room"].(float64)
			text, _ := ev["text"].(string)
			m.got = append(m.got, seen{id: int64(id), room: int64(r), text: text})
			delivered()
		}
	}()
	return m
}

// A kill -9 of the server while members speak loses no message that any
// member received, and after the restart new messages get ids above
// every id a member saw. Four rounds of speak, kill, restart on the same
// data directory.
func TestKill9KeepsEveryDeliveredMessage(t *testing.T) {
	bin := testenv.GoBuild(t, "./cmd/parlor", "parlor")
	dataDir := t.TempDir()
	// The speakers send as fast as they can: the message limits would make
	// every round last seconds.
	conf := filepath.Join(t.TempDir(), "parlor.yaml")
	if err := os.WriteFile(conf, []byte("limits:\n  say: {every: 0s}\n  say_user: {every: 0s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var maxSeen int64
	for round := range 4 {
		proc := servertest.StartProcess(t, bin, dataDir, "--log-level", "error", "--config", conf)
		members := speakUntilKilled(t, proc, round)
		stored := storedMessages(t, dataDir)
		lost := map[int64]seen{}
		total, reused := 0, 0
		for _, m := range members {
			last := map[int64]int64{}
			for _, s := range m.got {
				total++
				if s.id <= maxSeen {
					reused++
				}
				if s.id <= last[s.room] {
					t.Errorf("round %d: %s got message %d after %d in room %d", round, m.name, s.id, last[s.room], s.room)
				}
				last[s.room] = s.id
				if stored[s.id] != s {
					lost[s.id] = s
				}
			}
		}
		for _, m := range members {
			for _, s := range m.got {
				maxSeen = max(maxSeen, s.id)
			}
		}
		if reused > 0 {
			t.Errorf("round %d: %d deliveries carried an id at or below %d, which members had seen before the restart", round, reused, maxSeen)
		}
		t.Logf("round %d: %d deliveries, %d messages stored, highest id seen %d", round, total, len(stored), maxSeen)
		n := 0
		for _, s := range lost {
			if n++; n <= 3 {
				t.Errorf("round %d: message %d (room %d, %q) was received but is not in the store", round, s.id, s.room, s.text)
			}
		}
		if len(lost) > 0 {
			t.Errorf("round %d: %d received messages are not in the store after kill -9", round, len(lost))
		}
	}

	proc := servertest.StartProcess(t, bin, dataDir, "--log-level", "error", "--config", conf)
	c := servertest.DialURL(t, proc.URL(), nil)
	c.Login("dora", "")
	c.Join(1, "")
	c.Send(map[string]any{"type": "say", "text": "after the crash"})
	m := c.WantMatch("message", func(ev map[string]any) bool { return ev["text"] == "after the crash" })
	if id := int64(m["id"].(float64)); id <= maxSeen {
		t.Errorf("new message id %d after the restart, but members had seen id %d", id, maxSeen)
	}
}

// speakUntilKilled has six members speak (about 1000 messages a second
// each) into two rooms with listeners, kills proc with SIGKILL after 2000
// deliveries and returns every member with what it received.
func speakUntilKilled(t *testing.T, proc *servertest.Process, round int) []*member {
	t.Helper()
	// The member that gets delivery number 2000 kills the server at once,
	// so that the kill falls right after a delivery.
	var received atomic.Int64
	killed := make(chan struct{})
	delivered := func() {
		if received.Add(1) == 2000 {
			proc.Kill()
			close(killed)
		}
	}
	var members []*member
	for i, room := range []int{1, 1, 2, 2} {
		members = append(members, joinMember(t, proc.URL(), fmt.Sprintf("listener%d", i), room, delivered))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for name, room := range map[string]int{"ann": 1, "ben": 1, "cat": 1, "dan": 2, "eve": 2, "fay": 2} {
		m := joinMember(t, proc.URL(), name, room, delivered)
		members = append(members, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				frame := fmt.Sprintf(`{"type":"say","text":"%s %d.%d"}`, m.name, round, i)
				ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
				err := m.c.Conn().Write(ctx, websocket.MessageText, []byte(frame))
				cancel()
				if err != nil {
					return // the server is gone
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d deliveries within 30s", received.Load())
	}
	close(stop)
	wg.Wait()
	for _, m := range members {
		select {
		case <-m.done:
		case <-time.After(servertest.Timeout):
			t.Fatalf("%s: connection still open after the kill", m.name)
		}
	}
	return members
}

// storedMessages reads every message of rooms 1 and 2 from the store in
// dataDir, by id.
func storedMessages(t *testing.T, dataDir string) map[int64]seen {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(dataDir, "parlor.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := map[int64]seen{}
	for _, room := range []int64{1, 2} {
		msgs, err := st.RecentMessages(ctx, "default", room, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			stored[m.ID] = seen{id: m.ID, room: m.RoomID, text: m.Text}
		}
	}
	return stored
}
