package modules

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// TestMessageAsyncDecidesAsMessage runs the same chains through Message
// and MessageAsync, with modules that answer asynchronously, modules that
// do not, and a mix, and wants the same outcome and the same failures
// counted.
func TestMessageAsyncDecidesAsMessage(t *testing.T) {
	hang := func(ctx context.Context, _ sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{Action: sdk.Drop}, waitCtx(ctx)
	}
	verdict := func(v sdk.MessageVerdict, err error) func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) { return v, err }
	}
	type hook = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error)
	cases := []struct {
		name       string
		hooks      []hook
		failClosed bool
		cancelled  bool
		wantText   string // the verdict's text, or the error's
		wantAction sdk.Action
		wantErr    bool
		failures   float64 // of the first module
	}{
		{name: "modify feeds the next", hooks: []hook{appendWord("A"), appendWord("B"), pass}, wantAction: sdk.Modify, wantText: "hi A B"},
		{name: "all pass", hooks: []hook{pass, pass}, wantAction: sdk.Pass},
		{name: "hold ends the chain as the modules before left it", hooks: []hook{appendWord("A"), verdict(sdk.MessageVerdict{Action: sdk.Hold, Note: "check"}, nil), appendWord("never")}, wantAction: sdk.Hold, wantText: "hi A"},
		{name: "reject", hooks: []hook{verdict(sdk.MessageVerdict{Action: sdk.Reject}, nil), appendWord("never")}, wantAction: sdk.Reject, wantText: "The m0 module refused your message."},
		{name: "refusal keeps its code", hooks: []hook{verdict(sdk.MessageVerdict{}, &sdk.Refusal{Code: "too_loud", Message: "Shh."})}, wantErr: true, wantText: "Shh."},
		{name: "late module skipped (fail-open)", hooks: []hook{hang, appendWord("N")}, wantAction: sdk.Modify, wantText: "hi N", failures: 1},
		{name: "late module refuses (fail-closed)", hooks: []hook{hang, appendWord("N")}, failClosed: true, wantErr: true, wantText: "The m0 module is not available; your message was not sent.", failures: 1},
		{name: "erroring module skipped", hooks: []hook{verdict(sdk.MessageVerdict{Action: sdk.Drop}, errors.New("database gone")), appendWord("G")}, wantAction: sdk.Modify, wantText: "hi G", failures: 1},
		{name: "unknown action is a failure", hooks: []hook{verdict(sdk.MessageVerdict{Action: 42}, nil)}, failClosed: true, wantErr: true, wantText: "The m0 module is not available; your message was not sent.", failures: 1},
		{name: "cancelled caller", hooks: []hook{func(ctx context.Context, _ sdk.MessageEvent) (sdk.MessageVerdict, error) {
			return sdk.MessageVerdict{}, ctx.Err()
		}}, cancelled: true, wantErr: true, wantText: "on_message: context canceled"},
	}
	modes := map[string]func(i int) bool{
		"sync":           func(int) bool { return false },
		"async":          func(int) bool { return true },
		"async and sync": func(i int) bool { return i%2 == 0 },
	}
	for _, tc := range cases {
		for mode, isAsync := range modes {
			for _, via := range []string{"Message", "MessageAsync"} {
				t.Run(tc.name+"/"+mode+"/"+via, func(t *testing.T) {
					ps := make([]Plugin, len(tc.hooks))
					for i, h := range tc.hooks {
						f := newFake(t, "m"+string(rune('0'+i)), sdk.HookMessage)
						f.message = h
						ps[i] = f
						if isAsync(i) {
							ps[i] = asyncFake{f}
						}
					}
					p := New(ps, Options{HookTimeout: 20 * time.Millisecond})
					t.Cleanup(p.Close)
					ctx, cancel := context.WithCancel(context.Background())
					if tc.cancelled {
						cancel()
					}
					defer cancel()
					var (
						v   sdk.MessageVerdict
						err error
					)
					if via == "Message" {
						v, err = p.Message(ctx, msg("hi"), tc.failClosed)
					} else {
						v, err = askAsync(t, p, ctx, msg("hi"), tc.failClosed)
					}
					if tc.wantErr {
						if err == nil || err.Error() != tc.wantText {
							t.Fatalf("got %+v, %v; want the error %q", v, err, tc.wantText)
						}
					} else {
						text := v.Text
						if v.Action == sdk.Reject {
							text = v.Reason
						}
						if err != nil || v.Action != tc.wantAction || text != tc.wantText {
							t.Fatalf("got %+v, %v; want action %d with %q", v, err, tc.wantAction, tc.wantText)
						}
					}
					if n := p.failuresOf(t, "m0", sdk.HookMessage); n != tc.failures {
						t.Errorf("failures of m0 = %v, want %v", n, tc.failures)
					}
				})
			}
		}
	}
}
