package chat

import (
	"encoding/json"
	"sync"
)

// Frame is one event on its way to many connections. It is encoded at most
// once (lazily, by the first connection writer that needs the bytes) and
// the same bytes are handed to every member, so fan-out costs one encoding
// per event, not one per member.
type Frame struct {
	event any
	msg   *MessageEvent // a public message's event (newMessageFrame); event is nil then
	once  sync.Once
	json  []byte
}

// messageFrame is a public message's frame and its event in one
// allocation: a fan-out allocates once per message, not twice.
type messageFrame struct {
	Frame
	ev MessageEvent
}

// newMessageFrame wraps the MessageEvent of m (copied).
func newMessageFrame(m *Message) *Frame {
	mf := &messageFrame{ev: MessageEvent{Type: "message", Message: *m}}
	mf.msg = &mf.ev
	return &mf.Frame
}

// NewFrame wraps an event (a value that marshals to a JSON object with a
// "type" field).
func NewFrame(event any) *Frame { return &Frame{event: event} }

// RawFrame wraps an event that is already encoded as JSON.
func RawFrame(b []byte) *Frame {
	f := &Frame{json: b}
	f.once.Do(func() {})
	return f
}

// encodedFrame wraps an event together with its JSON encoding, made by
// the caller (the same bytes json.Marshal would give).
func encodedFrame(event any, b []byte) *Frame {
	f := &Frame{event: event, json: b}
	f.once.Do(func() {})
	return f
}

// Event returns the wrapped event (a MessageEvent for a public message).
func (f *Frame) Event() any {
	if f.msg != nil {
		return *f.msg
	}
	return f.event
}

// Message returns the message of a public message frame without copying
// it, and false for any other frame. The message must not be modified.
func (f *Frame) Message() (*Message, bool) {
	if f.msg != nil {
		return &f.msg.Message, true
	}
	if ev, ok := f.event.(MessageEvent); ok {
		return &ev.Message, true
	}
	return nil, false
}

// JSON returns the event's JSON encoding; every caller gets the same slice,
// which must not be modified.
func (f *Frame) JSON() []byte {
	f.once.Do(func() {
		var b []byte
		var err error
		switch ev := f.event.(type) {
		case nil:
			b, err = json.Marshal(f.msg)
		case jsonAppender:
			b, err = ev.appendJSON(nil)
		default:
			b, err = json.Marshal(f.event)
		}
		if err != nil {
			b, _ = json.Marshal(map[string]string{"type": "error", "code": "internal", "message": "event could not be encoded"})
		}
		f.json = b
	})
	return f.json
}

// ReasonSlowConsumer is the close reason given to a connection whose queue
// overflowed; transports close it without flushing what is queued.
const ReasonSlowConsumer = "slow consumer"

// Conn is a client connection as the hub sees it. Transports implement it.
type Conn interface {
	// Send queues a frame without blocking. It returns false when the
	// connection's queue is full or the connection is closed; the hub then
	// closes the connection.
	Send(f *Frame) bool
	// Close ends the connection with a reason; it must not block.
	Close(reason string)
}
