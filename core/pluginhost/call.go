package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/sdk"
)

// Method labels of parlor_plugin_call_duration_seconds, one per kind of
// call into a plugin.
const (
	MethodAuthenticate = "authenticate"
	MethodServeHTTP    = "serve_http"
	MethodOnLogin      = "on_login"
	MethodOnJoin       = "on_join"
	MethodOnMessage    = "on_message"
	MethodCommand      = "command"
	MethodNotify       = "notify"
	MethodStop         = "stop"
	MethodCluster      = "cluster_events"
)

// callBuckets are the histogram's upper bounds in seconds: a local gRPC
// call takes well under a millisecond, a plugin asking a database tens of
// milliseconds, a hung one the call timeout.
var callBuckets = []float64{.0002, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// newCallDuration makes the histogram of the host's calls.
func newCallDuration() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "parlor", Name: "plugin_call_duration_seconds",
		Help:    "Duration of calls into plugins, with a restart and retry when one happened, by plugin and method.",
		Buckets: callBuckets,
	}, []string{"plugin", "method"})
}

// Collector is the host's metrics for /metrics: the histogram
// parlor_plugin_call_duration_seconds{plugin,method}.
func (h *Host) Collector() prometheus.Collector { return h.calls }

// call runs fn on the plugin's running instance: the one wrapper of every
// call into a plugin. It bounds the call with the call timeout (and ctx),
// restarts a plugin that is down first, and when the connection is lost
// during the call restarts the plugin and retries fn once. Its duration is
// observed in the histogram under method. A *sdk.Refusal is the plugin's
// answer and comes back as it is; any other error names the plugin, and a
// timeout says after how long.
func (m *managed) call(ctx context.Context, method string, fn func(ctx context.Context, inst *instance) error) error {
	c, ctx, cancel := m.begin(ctx, method)
	defer cancel()
	return c.end(ctx, m.attempt(ctx, fn))
}

// callTiming is what call measures and reports a call by.
type callTiming struct {
	m              *managed
	method         string
	start          time.Time
	parentDeadline time.Time
	hasParent      bool
}

// begin starts the bookkeeping of a call of method: ctx bounded by the
// call timeout, which the caller cancels when the call is over.
func (m *managed) begin(ctx context.Context, method string) (callTiming, context.Context, context.CancelFunc) {
	c := callTiming{m: m, method: method, start: time.Now()}
	c.parentDeadline, c.hasParent = ctx.Deadline()
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	return c, ctx, cancel
}

// end observes the call's duration and returns its error as call does:
// a refusal as it is, a timeout saying after how long, anything else
// naming the plugin.
func (c callTiming) end(ctx context.Context, err error) error {
	m := c.m
	m.host.calls.WithLabelValues(m.name, c.method).Observe(time.Since(c.start).Seconds())
	if err == nil {
		return nil
	}
	var refusal *sdk.Refusal
	if errors.As(err, &refusal) {
		return err
	}
	// The server side of the deadline may fire a moment before ours.
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
		limit := m.timeout
		if c.hasParent && c.parentDeadline.Before(c.start.Add(m.timeout)) {
			limit = time.Since(c.start).Round(time.Millisecond)
		}
		return fmt.Errorf("plugin %q: %s timed out after %s: %w", m.name, c.method, limit, context.DeadlineExceeded)
	}
	return fmt.Errorf("plugin %q: %w", m.name, err)
}

// attempt is call without the bookkeeping.
func (m *managed) attempt(ctx context.Context, fn func(ctx context.Context, inst *instance) error) error {
	inst, err := m.current(ctx)
	if err != nil {
		return err
	}
	err = fn(ctx, inst)
	if err == nil {
		return nil
	}
	var refusal *sdk.Refusal
	if errors.As(err, &refusal) || ctx.Err() != nil || !lostConnection(inst, err) {
		return err
	}
	m.log.Warn("lost the plugin during a call; restarting it", "error", err)
	inst, rerr := m.ensure(ctx, inst)
	if rerr != nil {
		return fmt.Errorf("%w (restart: %w)", err, rerr)
	}
	return fn(ctx, inst)
}
