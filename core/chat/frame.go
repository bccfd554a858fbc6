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
	once  sync.Once
	json  []byte
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

// Event returns the wrapped event.
func (f *Frame) Event() any { return f.event }

// JSON returns the event's JSON encoding; every caller gets the same slice,
// which must not be modified.
func (f *Frame) JSON() []byte {
	f.once.Do(func() {
		b, err := json.Marshal(f.event)
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
