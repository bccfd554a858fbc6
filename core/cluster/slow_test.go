package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/internal/testenv"
)

// memStore is the shared store of a test cluster: the messages saved.
type memStore struct {
	mu   sync.Mutex
	msgs []chat.Message
}

func (s *memStore) save(_ context.Context, msgs []chat.Message) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, msgs...)
	s.mu.Unlock()
	return nil
}

func (s *memStore) recent(_ context.Context, room int64) ([]chat.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []chat.Message
	for _, m := range s.msgs {
		if m.RoomID == room {
			out = append(out, m)
		}
	}
	if len(out) > 10 {
		out = out[len(out)-10:]
	}
	return out, nil
}

// slowConn takes its time with every frame.
type slowConn struct{ conn }

func (c *slowConn) Send(f *chat.Frame) bool {
	time.Sleep(200 * time.Microsecond)
	return c.conn.Send(f)
}

// A node whose NATS subscription overflows is told (a slow consumer),
// counts it and resyncs: the history it shows on entering ends with the
// last message said, as on the node that said it.
func TestSlowConsumerIsToldAndResyncs(t *testing.T) {
	url, prefix := testenv.NATS(t)
	st := &memStore{}
	n1 := startNodeWith(t, Options{URL: url, Prefix: prefix, Name: "fast", Lease: 5 * time.Second, History: st.recent}, st.save)
	n2 := startNodeWith(t, Options{URL: url, Prefix: prefix, Name: "slow", Lease: 5 * time.Second, History: st.recent, PendingBytes: 32 << 10}, st.save)
	slow := &slowConn{}
	m := &chat.Member{Name: "Snail", Guest: true, Conn: slow}
	if err := n2.g.Login(m); err != nil {
		t.Fatal(err)
	}
	if _, err := n2.g.Join(m, 1, ""); err != nil {
		t.Fatal(err)
	}
	speaker, _ := n1.login(t, "Speaker", 1)
	eventually(t, "node fast lists the Snail", func() bool { _, ok := n1.g.Online("Snail"); return ok })
	resyncs := n2.Counters.Resyncs.Load()
	const total = 3000
	for i := range total {
		if _, err := n1.g.Say(speaker, fmt.Sprintf("message %d %s", i, padding), chat.Style{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	last := fmt.Sprintf("message %d %s", total-1, padding)
	eventually(t, "node slow is told it is a slow consumer", func() bool { return n2.Counters.SlowConsumer.Load() > 0 })
	eventually(t, "node slow shows the last message to someone entering", func() bool {
		late := &chat.Member{Name: fmt.Sprintf("Late %d", time.Now().UnixNano()), Guest: true, Conn: &conn{}}
		if err := n2.g.Login(late); err != nil {
			t.Fatal(err)
		}
		defer n2.g.Logout(late)
		ev, err := n2.g.Join(late, 1, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(ev.History) > 0 && ev.History[len(ev.History)-1].Text == last
	})
	if n2.Counters.Resyncs.Load() == resyncs {
		t.Error("the slow node fetched no member list after the slow consumer")
	}
	slow.mu.Lock()
	got := len(slow.frames)
	slow.mu.Unlock()
	if got >= total {
		t.Errorf("the slow member got %d frames of %d messages: NATS dropped nothing, so this test tests nothing", got, total)
	}
}

// padding makes each message big enough to overflow the pending limit.
var padding = fmt.Sprintf("%0200d", 0)
