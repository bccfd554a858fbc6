package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/sdk"
)

// fakeHost serves the held messages and rooms queueOf reads.
type fakeHost struct {
	sdk.Host
	held []sdk.HeldMessage
}

type fakeHeld struct {
	sdk.Held
	h *fakeHost
}

func (f fakeHeld) List(context.Context, int64) ([]sdk.HeldMessage, error) { return f.h.held, nil }

type fakeRooms struct{ sdk.Rooms }

func (fakeRooms) Get(_ context.Context, id int64) (sdk.Room, error) {
	return sdk.Room{ID: id, Moderated: true}, nil
}

func (f *fakeHost) Held() sdk.Held   { return fakeHeld{h: f} }
func (f *fakeHost) Rooms() sdk.Rooms { return fakeRooms{} }

// TestQueueFitsAnEvent: a long queue is cut, oldest first, to fit the
// host's 64 KiB limit of an event's data, and says how long it is.
func TestQueueFitsAnEvent(t *testing.T) {
	h := &fakeHost{}
	for i := range 300 {
		h.held = append(h.held, sdk.HeldMessage{ID: int64(i + 1), Message: sdk.Message{Room: 2, From: "gus", Text: strings.Repeat("x", 1000)}})
	}
	m := newModeration(nil)
	if err := m.Configure(context.Background(), sdk.Config{Host: h}); err != nil {
		t.Fatal(err)
	}
	q, err := m.queueOf(context.Background(), 2, queueEventBytes)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(q)
	if q.Count != 300 || len(q.Held) == 0 || len(q.Held) >= 300 || q.Held[0].ID != 1 || len(b) > 64<<10 || !q.Moderated {
		t.Fatalf("%d of %d held, %d bytes", len(q.Held), q.Count, len(b))
	}
	if q, _ := m.queueOf(context.Background(), 2, queueAnswerBytes); len(q.Held) != 300 {
		t.Fatalf("the answer gives %d of 300", len(q.Held))
	}
}
