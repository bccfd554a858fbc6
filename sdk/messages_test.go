package sdk

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/sdk/proto"
)

// unaryOnly is a module server of an earlier protocol: OnMessage, but no
// Messages stream.
type unaryOnly struct {
	proto.UnimplementedModuleServer
}

func (unaryOnly) OnMessage(_ context.Context, ev *proto.MessageEvent) (*proto.MessageVerdict, error) {
	return &proto.MessageVerdict{Action: int32(Modify), Text: ev.GetText() + "!"}, nil
}

// dialModule serves srv on a loopback listener and returns the host side.
func dialModule(t *testing.T, srv proto.ModuleServer) *ModuleClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	proto.RegisterModuleServer(s, srv)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &ModuleClient{rpc: proto.NewModuleClient(conn)}
}

type exclaim struct{}

func (exclaim) OnMessage(_ context.Context, ev MessageEvent) (MessageVerdict, error) {
	return MessageVerdict{Action: Modify, Text: ev.Text + "!"}, nil
}

func TestOnMessageOnTheStreamAndWithoutIt(t *testing.T) {
	for name, srv := range map[string]proto.ModuleServer{
		"stream":           &moduleServer{impl: exclaim{}, log: NewLogger("test")},
		"earlier protocol": unaryOnly{},
	} {
		t.Run(name, func(t *testing.T) {
			c := dialModule(t, srv)
			// Several at once: each answer reaches its own call.
			texts := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
			errs := make(chan error, len(texts))
			for _, text := range texts {
				go func() {
					v, err := c.OnMessage(context.Background(), MessageEvent{Text: text})
					if err == nil && (v.Action != Modify || v.Text != text+"!") {
						err = &Refusal{Message: "got " + v.Text + " for " + text}
					}
					errs <- err
				}()
			}
			for range texts {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// late answers every message after a delay, whatever its deadline says.
type late struct{ delay time.Duration }

func (l late) OnMessage(_ context.Context, ev MessageEvent) (MessageVerdict, error) {
	time.Sleep(l.delay)
	return MessageVerdict{Action: Modify, Text: ev.Text + "!"}, nil
}

func TestOnMessageAsyncEndsWithItsContextOnce(t *testing.T) {
	c := dialModule(t, &moduleServer{impl: late{delay: 200 * time.Millisecond}, log: NewLogger("test")})
	type outcome struct {
		v   MessageVerdict
		err error
	}
	got := make(chan outcome, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	c.OnMessageAsync(ctx, MessageEvent{Text: "a"}, func(v MessageVerdict, err error) { got <- outcome{v, err} })
	o := <-got
	if status.Code(o.err) != codes.DeadlineExceeded {
		t.Fatalf("got %+v, %v; want the deadline", o.v, o.err)
	}
	if waited := time.Since(start); waited > 150*time.Millisecond {
		t.Fatalf("done came after %s, not at the deadline", waited)
	}
	// The late answer arrives and is dropped: done is not called again.
	select {
	case o := <-got:
		t.Fatalf("done called twice: %+v, %v", o.v, o.err)
	case <-time.After(400 * time.Millisecond):
	}
	// The stream still serves the next call.
	v, err := c.OnMessage(context.Background(), MessageEvent{Text: "b"})
	if err != nil || v.Text != "b!" {
		t.Fatalf("next call = %+v, %v", v, err)
	}
}

func TestOnMessageAsyncFailsWhenTheStreamBreaks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	proto.RegisterModuleServer(s, &moduleServer{impl: late{delay: time.Hour}, log: NewLogger("test")})
	go func() { _ = s.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &ModuleClient{rpc: proto.NewModuleClient(conn)}
	got := make(chan error, 2)
	c.OnMessageAsync(context.Background(), MessageEvent{Text: "a"}, func(_ MessageVerdict, err error) { got <- err })
	time.Sleep(50 * time.Millisecond) // the call is on the stream
	s.Stop()
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("a call on a broken stream got no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a call on a broken stream never ended")
	}
}
