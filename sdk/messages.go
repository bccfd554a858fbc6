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
			a := s.answer(stream.Context(), call)
			sendMu.Lock()
			defer sendMu.Unlock()
			_ = stream.Send(a) // a broken stream ends the Recv loop
		}()
	}
}

// answer answers one call of the Messages stream or the message channel:
// the verdict of OnMessage, or its error as a gRPC code and message.
func (s *moduleServer) answer(ctx context.Context, call *proto.MessageCall) *proto.MessageAnswer {
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
	return a
}

// callStream is what the host side needs of a Messages stream: the gRPC
// stream, or the message channel (channelStream).
type callStream interface {
	Send(*proto.MessageCall) error
	Recv() (*proto.MessageAnswer, error)
}

// messageStream is the host side of the Messages stream of one plugin
// process: the message channel when the plugin took it, otherwise a gRPC
// stream opened at the first message; a gRPC stream again after either
// broke.
type messageStream struct {
	mu      sync.Mutex // guards the fields and serialises Send
	stream  callStream
	cancel  func()
	pending map[uint64]*pendingCall
	next    uint64
	unary   bool // the plugin serves no Messages stream: use OnMessage
}

// pendingCall is a call on the stream waiting for its answer: done gets
// it once, from whichever comes first of the answer, the stream breaking
// and the call's context ending (stop unregisters the latter).
type pendingCall struct {
	done func(answer)
	stop func() bool
}

// answer is what a call on the stream got: the plugin's answer, or the
// error that broke the stream or ended the call.
type answer struct {
	a   *proto.MessageAnswer
	err error
}

// send sends ev on the stream and returns at once; done gets the answer
// (or the error: the stream broke, ctx ended) exactly once, on the
// stream's reader, on a goroutine of ctx, or before send returns when the
// stream cannot be opened, so it must not block. unary is true, and done
// is not called, when the plugin does not serve the stream.
func (m *messageStream) send(ctx context.Context, rpc proto.ModuleClient, ev *proto.MessageEvent, done func(answer)) (unary bool) {
	m.mu.Lock()
	if m.unary {
		m.mu.Unlock()
		return true
	}
	if m.stream == nil {
		sctx, cancel := context.WithCancel(context.Background())
		st, err := rpc.Messages(sctx)
		if err != nil {
			cancel()
			m.mu.Unlock()
			done(answer{err: err})
			return false
		}
		m.stream, m.cancel, m.pending = st, cancel, map[uint64]*pendingCall{}
		go m.read(st)
	}
	id := m.next
	m.next++
	p := &pendingCall{done: done}
	m.pending[id] = p
	call := &proto.MessageCall{Id: id, Event: ev}
	if d, ok := ctx.Deadline(); ok {
		call.DeadlineUnixNano = d.UnixNano()
	}
	// When Send fails the stream has ended: its reader gets the reason
	// from Recv (Unimplemented for a plugin of an earlier sdk) and fails
	// this call with it, so the call waits for that as for an answer.
	_ = m.stream.Send(call)
	if ctx.Done() != nil {
		// Set under mu, so the reader that takes p sees it.
		p.stop = context.AfterFunc(ctx, func() {
			m.mu.Lock()
			_, ok := m.pending[id]
			delete(m.pending, id)
			m.mu.Unlock()
			if ok {
				done(answer{err: status.FromContextError(ctx.Err()).Err()})
			}
		})
	}
	m.mu.Unlock()
	return false
}

// result reads what a call got: the verdict, or unary true when the
// plugin turned out not to serve the stream (from now on every call is
// unary), or the error.
func (m *messageStream) result(r answer) (_ *proto.MessageVerdict, unary bool, _ error) {
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
}

// useChannel makes the message channel f the stream, and starts reading
// it.
func (m *messageStream) useChannel(f *frames) {
	st := channelStream{f}
	m.mu.Lock()
	m.stream, m.cancel, m.pending = st, func() { _ = f.conn.Close() }, map[uint64]*pendingCall{}
	m.mu.Unlock()
	go m.read(st)
}

// onChannel reports whether calls go on the message channel.
func (m *messageStream) onChannel() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.stream.(channelStream)
	return ok
}

// read hands the answers of st to their calls until st breaks, then fails
// the calls still waiting and forgets st.
func (m *messageStream) read(st callStream) {
	for {
		a, err := st.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = status.Error(codes.Unavailable, "the plugin ended the messages stream")
			}
			var failed []*pendingCall
			m.mu.Lock()
			if m.stream == st {
				for id, p := range m.pending {
					failed = append(failed, p)
					delete(m.pending, id)
				}
				m.cancel()
				m.stream, m.cancel = nil, nil
			}
			m.mu.Unlock()
			for _, p := range failed {
				p.finish(answer{err: err})
			}
			return
		}
		m.mu.Lock()
		p, ok := m.pending[a.GetId()]
		delete(m.pending, a.GetId())
		m.mu.Unlock()
		if ok {
			p.finish(answer{a: a})
		}
	}
}

// finish hands r to the call, taken out of pending by the caller.
func (p *pendingCall) finish(r answer) {
	if p.stop != nil {
		p.stop()
	}
	p.done(r)
}
