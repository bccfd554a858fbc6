package modules

import (
	"context"
	"testing"

	"github.com/parlorchat/parlor/sdk"
)

// BenchmarkMessage is the cost of the message hook on the say path: with
// no module, with a module that declares no hook, and with a module whose
// OnMessage passes every message (an in-process call: the deadline and
// the fail policy, without gRPC).
func BenchmarkMessage(b *testing.B) {
	passing := newFake(b, "pass", sdk.HookMessage)
	passing.message = pass
	cases := []struct {
		name string
		p    *Pipeline
	}{
		{"no_plugins", newPipeline(b, Options{})},
		{"no_hooks", newPipeline(b, Options{}, newFake(b, "idle"))},
		{"pass_through", newPipeline(b, Options{}, passing)},
	}
	ctx := context.Background()
	ev := msg("hello, room")
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v, err := c.p.Message(ctx, ev, false); err != nil || v.Action != sdk.Pass {
					b.Fatal(v, err)
				}
			}
		})
	}
}

// BenchmarkNotify is the cost of one notification for the caller (the
// chat's Observe): with no module, with one module's stream to queue it
// on, and with a module that wants other kinds only.
func BenchmarkNotify(b *testing.B) {
	sink := newFake(b, "sink", sdk.HookNotify)
	sink.notify = func(context.Context, []sdk.Notification) error { return nil }
	rooms := newFake(b, "rooms")
	rooms.setCaps(sdk.Capabilities{Module: true, Hooks: []string{sdk.HookNotify}, Notify: []sdk.NotificationKind{sdk.RoomChanged}})
	cases := []struct {
		name string
		p    *Pipeline
	}{
		{"no_plugins", newPipeline(b, Options{})},
		{"one_stream", newPipeline(b, Options{}, sink)},
		{"other_kinds", newPipeline(b, Options{}, rooms)},
	}
	n := sdk.Notification{Kind: sdk.Delivered, Room: 1, User: "ann"}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.p.Notify(n)
			}
		})
	}
}
