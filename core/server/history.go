package server

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
)

// historyWriter stores public messages in batches, off the message path.
// Add blocks only when the store has fallen historyQueue messages behind,
// which slows the speakers instead of losing history.
type historyWriter struct {
	st   store.Store
	log  hclog.Logger
	in   chan chat.Message
	done chan struct{}
	once sync.Once
}

const (
	historyQueue = 4096
	historyBatch = 256
)

func newHistoryWriter(st store.Store, log hclog.Logger) *historyWriter {
	w := &historyWriter{st: st, log: log, in: make(chan chat.Message, historyQueue), done: make(chan struct{})}
	go w.run()
	return w
}

// Add queues a message for the store.
func (w *historyWriter) Add(m chat.Message) { w.in <- m }

// Close writes what is queued and stops the writer.
func (w *historyWriter) Close() {
	w.once.Do(func() { close(w.in) })
	<-w.done
}

func (w *historyWriter) run() {
	defer close(w.done)
	batch := make([]chat.Message, 0, historyBatch)
	for m := range w.in {
		batch = append(batch[:0], m)
	fill:
		for len(batch) < historyBatch {
			select {
			case m, ok := <-w.in:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		w.write(batch)
	}
}

func (w *historyWriter) write(batch []chat.Message) {
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.st.AppendMessages(ctx, batch)
		cancel()
		if err == nil {
			return
		}
		if attempt == 3 {
			w.log.Error("history lost: store refused messages", "messages", len(batch), "error", err)
			return
		}
		w.log.Warn("store history failed, retrying", "messages", len(batch), "attempt", attempt, "error", err)
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
}
