package modules

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/parlorchat/parlor/sdk"
)

// fake is an in-process Plugin: each hook runs the function the test set,
// and a hook without one fails the test when called (a hook the plugin
// did not declare must never be called).
type fake struct {
	t    testing.TB
	name string

	mu   sync.Mutex
	caps sdk.Capabilities

	login   func(context.Context, sdk.LoginEvent) (sdk.LoginVerdict, error)
	join    func(context.Context, sdk.JoinEvent) (sdk.JoinVerdict, error)
	message func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error)
	command func(context.Context, sdk.Command) (sdk.Reply, error)
	notify  func(context.Context, []sdk.Notification) error
	cluster func(context.Context, []sdk.ClusterEvent) error

	// calls, when set, records "name" at each hook call (order tests).
	calls *callLog
}

type callLog struct {
	mu    sync.Mutex
	names []string
}

func (l *callLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, name)
}

func (l *callLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.names...)
}

func newFake(t testing.TB, name string, hooks ...string) *fake {
	return &fake{t: t, name: name, caps: sdk.Capabilities{Module: true, Hooks: hooks}}
}

func (f *fake) setCaps(c sdk.Capabilities) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.caps = c
}

func (f *fake) Name() string { return f.name }

func (f *fake) Capabilities() sdk.Capabilities {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.caps
}

func (f *fake) record() {
	if f.calls != nil {
		f.calls.add(f.name)
	}
}

func (f *fake) OnLogin(ctx context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
	f.record()
	if f.login == nil {
		f.t.Errorf("%s: OnLogin called but not declared", f.name)
		return sdk.LoginVerdict{}, nil
	}
	return f.login(ctx, ev)
}

func (f *fake) OnJoin(ctx context.Context, ev sdk.JoinEvent) (sdk.JoinVerdict, error) {
	f.record()
	if f.join == nil {
		f.t.Errorf("%s: OnJoin called but not declared", f.name)
		return sdk.JoinVerdict{}, nil
	}
	return f.join(ctx, ev)
}

func (f *fake) OnMessage(ctx context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error) {
	f.record()
	if f.message == nil {
		f.t.Errorf("%s: OnMessage called but not declared", f.name)
		return sdk.MessageVerdict{}, nil
	}
	return f.message(ctx, ev)
}

func (f *fake) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	f.record()
	if f.command == nil {
		f.t.Errorf("%s: Command called but no prefix declared", f.name)
		return sdk.Reply{}, nil
	}
	return f.command(ctx, cmd)
}

func (f *fake) Notify(ctx context.Context, batch []sdk.Notification) error {
	if f.notify == nil {
		f.t.Errorf("%s: Notify called but not declared", f.name)
		return nil
	}
	return f.notify(ctx, batch)
}

func (f *fake) ClusterEvents(ctx context.Context, batch []sdk.ClusterEvent) error {
	if f.cluster == nil {
		f.t.Errorf("%s: ClusterEvents called but not declared", f.name)
		return nil
	}
	return f.cluster(ctx, batch)
}

// waitCtx is a hook that never answers: it returns when its deadline
// passes, as a plugin over gRPC does.
func waitCtx(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// newPipeline makes a pipeline over the fakes and closes it when the test
// ends.
func newPipeline(t testing.TB, opts Options, plugins ...*fake) *Pipeline {
	t.Helper()
	ps := make([]Plugin, len(plugins))
	for i, f := range plugins {
		ps[i] = f
	}
	p := New(ps, opts)
	t.Cleanup(p.Close)
	return p
}

// counterValue reads one counter of the pipeline's metrics.
func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func (p *Pipeline) failuresOf(t testing.TB, plugin, hook string) float64 {
	return counterValue(t, p.failures.WithLabelValues(plugin, hook))
}

func (p *Pipeline) droppedOf(t testing.TB, plugin string) float64 {
	return counterValue(t, p.dropped.WithLabelValues(plugin))
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// asyncFake is a fake that answers OnMessage asynchronously, on a
// goroutine of its own, as a plugin over gRPC does (AsyncMessager).
type asyncFake struct{ *fake }

func (a asyncFake) OnMessageAsync(ctx context.Context, ev sdk.MessageEvent, done func(sdk.MessageVerdict, error)) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done(sdk.MessageVerdict{}, fmt.Errorf("panicked: %v", r))
			}
		}()
		done(a.OnMessage(ctx, ev))
	}()
}

// askAsync is MessageAsync waiting for its outcome, which it fails the
// test when it comes more than once.
func askAsync(t testing.TB, p *Pipeline, ctx context.Context, ev sdk.MessageEvent, failClosed bool) (sdk.MessageVerdict, error) {
	t.Helper()
	type outcome struct {
		v   sdk.MessageVerdict
		err error
	}
	ch := make(chan outcome, 2)
	p.MessageAsync(ctx, ev, failClosed, func(v sdk.MessageVerdict, err error) { ch <- outcome{v, err} })
	o := <-ch
	select {
	case <-ch:
		t.Error("MessageAsync called done twice")
	case <-time.After(10 * time.Millisecond):
	}
	return o.v, o.err
}
