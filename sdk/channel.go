package sdk

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	gproto "google.golang.org/protobuf/proto"

	"github.com/parlorchat/parlor/sdk/proto"
)

// MessageChannelEnv is the environment variable through which the host
// names the descriptor of a plugin's message channel: a stream socket
// made for the plugin's process, on which the OnMessage calls travel as
// frames instead of on the gRPC Messages stream. Serve takes it up; a
// plugin author has nothing to do.
//
// A message is the one call the host makes on every line a user says, so
// it is the one whose cost a user feels: on the channel a call is one
// write and one read on each side, where gRPC adds its own writer and
// reader goroutines, each a thread wake-up more on an idle machine
// (BenchmarkOnMessageIdle in core/pluginhost).
const MessageChannelEnv = "PARLOR_MESSAGE_FD"

// maxFrame is the largest frame either end of a message channel accepts.
// A message event is far smaller: the host limits what a user may say
// before it asks a module.
const maxFrame = 16 << 20

// keptBuffer is the largest frame buffer a channel keeps for the next
// frame.
const keptBuffer = 64 << 10

// MessageChannel is the host's end of a plugin's message channel, made by
// NewMessageChannel before the plugin starts and handed to the plugin's
// ModuleClient (UseChannel), which takes it up when the plugin says it
// took its end, and closes it otherwise.
type MessageChannel struct {
	host, plugin *os.File
}

// Started closes this process's copy of the plugin's end, once the
// plugin's process has it (or failed to start). Call it after the
// process started.
func (ch *MessageChannel) Started() {
	if ch != nil && ch.plugin != nil {
		_ = ch.plugin.Close()
		ch.plugin = nil
	}
}

// Close closes both ends this process holds.
func (ch *MessageChannel) Close() error {
	if ch == nil {
		return nil
	}
	ch.Started()
	return ch.host.Close()
}

// frames carries protobuf messages on a stream socket, each a frame: its
// length as a uvarint, then its encoding. Writes are serialised; reads
// are not (one goroutine reads).
type frames struct {
	conn net.Conn
	r    *bufio.Reader
	rbuf []byte

	wmu  sync.Mutex
	wbuf []byte
}

func newFrames(conn net.Conn) *frames {
	return &frames{conn: conn, r: bufio.NewReaderSize(conn, 32<<10)}
}

// write sends m as one frame, failing when the peer has not taken it by
// deadline (zero: no deadline). A failed write leaves the channel unusable
// (part of a frame may have gone): the caller closes it.
func (f *frames) write(m gproto.Message, deadline time.Time) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	size := gproto.Size(m)
	b := binary.AppendUvarint(f.wbuf[:0], uint64(size))
	b, err := gproto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, m)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	if cap(b) <= keptBuffer {
		f.wbuf = b[:0]
	}
	if err := f.conn.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	if _, err := f.conn.Write(b); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// read reads the next frame into m.
func (f *frames) read(m gproto.Message) error {
	n, err := binary.ReadUvarint(f.r)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return err
	}
	if n > maxFrame {
		return fmt.Errorf("read frame: %d bytes, over the limit of %d", n, maxFrame)
	}
	if uint64(cap(f.rbuf)) < n {
		f.rbuf = make([]byte, n)
	}
	buf := f.rbuf[:n]
	if _, err := io.ReadFull(f.r, buf); err != nil {
		return fmt.Errorf("read frame: %w", err)
	}
	if cap(f.rbuf) > keptBuffer {
		f.rbuf = nil
	}
	// Unmarshal copies what it keeps, so buf is free again after it.
	if err := gproto.Unmarshal(buf, m); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	return nil
}

// channelStream is the host side of the Messages stream on a message
// channel: what messageStream needs of the gRPC stream.
type channelStream struct{ f *frames }

// Send implements callStream.
func (s channelStream) Send(call *proto.MessageCall) error {
	var deadline time.Time
	if d := call.GetDeadlineUnixNano(); d != 0 {
		deadline = time.Unix(0, d)
	}
	if err := s.f.write(call, deadline); err != nil {
		// The frame may be cut: nothing more can go on the channel, and
		// the reader fails the calls waiting.
		_ = s.f.conn.Close()
		return status.Errorf(codes.Unavailable, "message channel: %v", err)
	}
	return nil
}

// Recv implements callStream. The end of the channel is Unavailable:
// the plugin's process is gone.
func (s channelStream) Recv() (*proto.MessageAnswer, error) {
	a := new(proto.MessageAnswer)
	if err := s.f.read(a); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil, status.Error(codes.Unavailable, "the plugin closed its message channel")
		}
		return nil, status.Errorf(codes.Unavailable, "message channel: %v", err)
	}
	return a, nil
}

// openChannel takes up the plugin's end of the message channel named by
// MessageChannelEnv, or returns nil when there is none (the host offers
// none, or it is not a socket). It unsets the variable, so that a process
// the plugin starts does not take it for its own.
func openChannel() *frames {
	v := os.Getenv(MessageChannelEnv)
	if v == "" {
		return nil
	}
	_ = os.Unsetenv(MessageChannelEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	file := os.NewFile(uintptr(fd), "parlor message channel")
	if file == nil {
		return nil
	}
	conn, err := net.FileConn(file)
	_ = file.Close() // FileConn holds a copy
	if err != nil {
		return nil
	}
	return newFrames(conn)
}

// serveChannel answers the calls that come on the message channel f, each
// on its own goroutine, until the channel ends; a call in progress sees
// its context cancelled then.
func (s *moduleServer) serveChannel(f *frames) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer func() { _ = f.conn.Close() }()
	for {
		call := new(proto.MessageCall)
		if err := f.read(call); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Error("message channel failed", "error", err)
			}
			return
		}
		go func() {
			if err := f.write(s.answer(ctx, call), time.Time{}); err != nil {
				_ = f.conn.Close() // ends the read loop
			}
		}()
	}
}
