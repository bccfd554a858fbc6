package sdk

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/sdk/proto"
)

// Messages serves the plugin side of the Messages stream: every call is
// answered on its own goroutine, as a unary OnMessage would be.
func (s *moduleServer) Messages(stream grpc.BidiStreamingServer[proto.MessageCall, proto.MessageAnswer]) error {
	var sendMu sync.Mutex
	for {
		call, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		go func() {
			ctx := stream.Context()
			if d := call.GetDeadlineUnixNano(); d != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, time.Unix(0, d))
				defer cancel()
			}
			v, err := s.OnMessage(ctx, call.GetEvent())
			a := &proto.MessageAnswer{Id: call.GetId(), Verdict: v}
			if err != nil {
				st := status.Convert(err)
				a.Verdict, a.Code, a.Error = nil, int32(st.Code()), st.Message()
			}
			sendMu.Lock()
			defer sendMu.Unlock()
			_ = stream.Send(a) // a broken stream ends the Recv loop
		}()
	}
}

// messageStream is the host side of the Messages stream of one plugin
// process, opened at the first message and again after it broke.
type messageStream struct {
	mu      sync.Mutex // guards the fields and serialises Send
	stream  grpc.BidiStreamingClient[proto.MessageCall, proto.MessageAnswer]
	cancel  context.CancelFunc
	pending map[uint64]chan answer
	next    uint64
	unary   bool // the plugin serves no Messages stream: use OnMessage
}

// answer is what a call on the stream got: the plugin's answer, or the
// error that broke the stream.
type answer struct {
	a   *proto.MessageAnswer
	err error
}

// call sends ev on the stream and waits for its answer or ctx. unary is
// true when the plugin does not serve the stream.
func (m *messageStream) call(ctx context.Context, rpc proto.ModuleClient, ev *proto.MessageEvent) (_ *proto.MessageVerdict, unary bool, _ error) {
	ch := make(chan answer, 1)
	m.mu.Lock()
	if m.unary {
		m.mu.Unlock()
		return nil, true, nil
	}
	if m.stream == nil {
		sctx, cancel := context.WithCancel(context.Background())
		st, err := rpc.Messages(sctx)
		if err != nil {
			cancel()
			m.mu.Unlock()
			return nil, false, err
		}
		m.stream, m.cancel, m.pending = st, cancel, map[uint64]chan answer{}
		go m.read(st)
	}
	id := m.next
	m.next++
	m.pending[id] = ch
	call := &proto.MessageCall{Id: id, Event: ev}
	if d, ok := ctx.Deadline(); ok {
		call.DeadlineUnixNano = d.UnixNano()
	}
	// When Send fails the stream has ended: its reader gets the reason
	// from Recv (Unimplemented for a plugin of an earlier sdk) and fails
	// this call with it, so the call waits for that as for an answer.
	_ = m.stream.Send(call)
	m.mu.Unlock()
	select {
	case r := <-ch:
		if r.err != nil {
			if status.Code(r.err) == codes.Unimplemented {
				m.mu.Lock()
				m.unary = true
				m.mu.Unlock()
				return nil, true, nil
			}
			return nil, false, r.err
		}
		if c := codes.Code(r.a.GetCode()); c != codes.OK {
			return nil, false, status.Error(c, r.a.GetError())
		}
		return r.a.GetVerdict(), false, nil
	case <-ctx.Done():
		m.mu.Lock()
		delete(m.pending, id)
		m.mu.Unlock()
		return nil, false, status.FromContextError(ctx.Err()).Err()
	}
}

// read hands the answers of st to their calls until st breaks, then fails
// the calls still waiting and forgets st.
func (m *messageStream) read(st grpc.BidiStreamingClient[proto.MessageCall, proto.MessageAnswer]) {
	for {
		a, err := st.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = status.Error(codes.Unavailable, "the plugin ended the messages stream")
			}
			m.mu.Lock()
			if m.stream == st {
				for id, ch := range m.pending {
					ch <- answer{err: err}
					delete(m.pending, id)
				}
				m.cancel()
				m.stream, m.cancel = nil, nil
			}
			m.mu.Unlock()
			return
		}
		m.mu.Lock()
		ch, ok := m.pending[a.GetId()]
		delete(m.pending, a.GetId())
		m.mu.Unlock()
		if ok {
			ch <- answer{a: a}
		}
	}
}
