package modules

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parlorchat/parlor/sdk"
)

// queue is a bounded queue of what one plugin is told after the fact
// (notifications, cluster events) and the goroutine that drains it, in
// order, into calls of deliver: a push never waits, a full queue drops
// and counts.
type queue[T any] struct {
	p       *Pipeline
	e       *entry // the entry when the queue started; name and plugin do not change
	hook    string // in logs
	ch      chan T
	deliver func(ctx context.Context, batch []T) error
	dropped prometheus.Counter
	failed  prometheus.Counter
}

// stream is the notification queue of one plugin.
type stream = queue[sdk.Notification]

// clusterQueue is the cluster event queue of one plugin.
type clusterQueue = queue[sdk.ClusterEvent]

// startQueue makes a queue of size for e and starts draining it. p.mu
// is held.
func startQueue[T any](p *Pipeline, e *entry, hook string, size int, dropped *prometheus.CounterVec, deliver func(context.Context, []T) error) *queue[T] {
	q := &queue[T]{
		p: p, e: e, hook: hook, ch: make(chan T, size), deliver: deliver,
		dropped: dropped.WithLabelValues(e.name),
		failed:  p.failures.WithLabelValues(e.name, hook),
	}
	p.wg.Add(1)
	go q.run(p.ctx)
	return q
}

// streamLocked returns the notification stream of the plugin at index i,
// starting it if needed; nil after Close. p.mu is held.
func (p *Pipeline) streamLocked(i int, e *entry) *stream {
	if p.closed {
		return nil
	}
	if s := p.streams[i]; s != nil {
		return s
	}
	s := startQueue(p, e, sdk.HookNotify, p.opts.NotifyQueue, p.dropped, e.p.Notify)
	p.streams[i] = s
	return s
}

// clusterLocked returns the cluster event queue of the plugin at index i,
// starting it if needed; nil after Close, or when the plugin cannot take
// cluster events (it is no ClusterListener). p.mu is held.
func (p *Pipeline) clusterLocked(i int, e *entry) *clusterQueue {
	if p.closed {
		return nil
	}
	if q := p.clusterQueues[i]; q != nil {
		return q
	}
	l, ok := e.p.(ClusterListener)
	if !ok {
		p.log.Warn("module declared cluster events but cannot take them; ignoring them", "plugin", e.name)
		return nil
	}
	q := startQueue(p, e, sdk.HookCluster, p.opts.ClusterQueue, p.clusterDropped, l.ClusterEvents)
	p.clusterQueues[i] = q
	return q
}

// push queues v without waiting; a full queue drops it.
func (q *queue[T]) push(v T) {
	select {
	case q.ch <- v:
	default:
		q.dropped.Inc()
	}
}

// run drains the queue until ctx is done: it waits for one value, takes
// what else is queued up to NotifyBatch and hands the batch to deliver
// under NotifyTimeout.
func (q *queue[T]) run(ctx context.Context) {
	defer q.p.wg.Done()
	batch := make([]T, 0, q.p.opts.NotifyBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case v := <-q.ch:
			batch = append(batch[:0], v)
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case v := <-q.ch:
				batch = append(batch, v)
			default:
				break fill
			}
		}
		if err := q.call(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return
			}
			q.failed.Inc()
			q.p.log.Warn("module failed to take what happened; it is lost", "plugin", q.e.name, "hook", q.hook, "count", len(batch), "error", err)
		}
		clear(batch) // let delivered values be collected
	}
}

// call makes one deliver call, turning a panic into an error.
func (q *queue[T]) call(ctx context.Context, batch []T) (err error) {
	ctx, cancel := context.WithTimeout(ctx, q.p.opts.NotifyTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("module %q: %s panicked: %v", q.e.name, q.hook, r)
		}
	}()
	return q.deliver(ctx, batch)
}
