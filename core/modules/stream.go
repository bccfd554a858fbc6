package modules

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parlorchat/parlor/sdk"
)

// stream is the bounded notification queue of one plugin and the
// goroutine that drains it into Notify calls.
type stream struct {
	p       *Pipeline
	e       *entry // the entry when the stream started; name and plugin do not change
	ch      chan sdk.Notification
	dropped prometheus.Counter
	failed  prometheus.Counter
}

// streamLocked returns the stream of the plugin at index i, starting it
// if needed; nil after Close. p.mu is held.
func (p *Pipeline) streamLocked(i int, e *entry) *stream {
	if p.closed {
		return nil
	}
	if s := p.streams[i]; s != nil {
		return s
	}
	s := &stream{
		p:       p,
		e:       e,
		ch:      make(chan sdk.Notification, p.opts.NotifyQueue),
		dropped: p.dropped.WithLabelValues(e.name),
		failed:  p.failures.WithLabelValues(e.name, sdk.HookNotify),
	}
	p.streams[i] = s
	p.wg.Add(1)
	go s.run(p.ctx)
	return s
}

// push queues n without waiting; a full queue drops it.
func (s *stream) push(n sdk.Notification) {
	select {
	case s.ch <- n:
	default:
		s.dropped.Inc()
	}
}

// run drains the queue until ctx is done: it waits for one notification,
// takes what else is queued up to NotifyBatch and hands the batch to
// Notify under NotifyTimeout.
func (s *stream) run(ctx context.Context) {
	defer s.p.wg.Done()
	batch := make([]sdk.Notification, 0, s.p.opts.NotifyBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-s.ch:
			batch = append(batch[:0], n)
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case n := <-s.ch:
				batch = append(batch, n)
			default:
				break fill
			}
		}
		if err := s.deliver(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.failed.Inc()
			s.p.log.Warn("module failed to take notifications; they are lost", "plugin", s.e.name, "count", len(batch), "error", err)
		}
		clear(batch) // let delivered messages be collected
	}
}

// deliver makes one Notify call, turning a panic into an error.
func (s *stream) deliver(ctx context.Context, batch []sdk.Notification) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.p.opts.NotifyTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("module %q: notify panicked: %v", s.e.name, r)
		}
	}()
	return s.e.p.Notify(ctx, batch)
}
