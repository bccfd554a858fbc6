package sdk

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

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
