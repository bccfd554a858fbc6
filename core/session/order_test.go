package session

import (
	"context"
	"testing"

	"github.com/parlorchat/parlor/sdk"
)

// slowFirst is a module whose OnMessage holds the message "one" until it
// has been asked about "two": the second message's hook answers first.
type slowFirst struct {
	fakeModules
	askedTwo chan struct{}
}

func (s *slowFirst) MessageAsync(_ context.Context, ev sdk.MessageEvent, _ bool, done func(sdk.MessageVerdict, error)) {
	go func() {
		switch ev.Text {
		case "one":
			<-s.askedTwo
		case "two":
			close(s.askedTwo)
		}
		done(sdk.MessageVerdict{Action: sdk.Modify, Text: ev.Text + "!"}, nil)
	}()
}

// wantOneTwo has ann leave, which waits for the messages said before it,
// and checks that bob got "one!" then "two!".
func wantOneTwo(t *testing.T, ann *Client, bobT *fakeTransport) {
	t.Helper()
	send(ann, map[string]any{"type": "leave"})
	var got []string
	for _, ev := range bobT.take("message") {
		got = append(got, ev["text"].(string))
	}
	if len(got) != 2 || got[0] != "one!" || got[1] != "two!" {
		t.Fatalf("bob got %q, want [one! two!]", got)
	}
}

func TestMessagesKeepTheirOrderWhileTheirHooksRun(t *testing.T) {
	mods := &slowFirst{askedTwo: make(chan struct{})}
	n := hookNode(t, mods, nil)
	ann, _ := member(t, n, "ann", 1)
	_, bobT := member(t, n, "bob", 1)
	bobT.take("")
	for _, text := range []string{"one", "two"} {
		b := []byte(`{"type":"say","text":"` + text + `"}`)
		// Not send: it waits for the message, and "one" waits for "two".
		ann.Handle(b)
	}
	wantOneTwo(t, ann, bobT)
}

// The transport reads each frame into the same buffer (Handle keeps
// nothing of it): a message still in its hook when the next frame
// overwrites the buffer arrives as it was said.
func TestAFrameReadIntoTheSameBufferLeavesTheMessageBeforeIntact(t *testing.T) {
	mods := &slowFirst{askedTwo: make(chan struct{})}
	n := hookNode(t, mods, nil)
	ann, _ := member(t, n, "ann", 1)
	_, bobT := member(t, n, "bob", 1)
	bobT.take("")
	buf := make([]byte, 0, 64)
	for _, text := range []string{"one", "two"} {
		buf = append(buf[:0], `{"type":"say","text":"`+text+`"}`...)
		ann.Handle(buf) // "one" waits in its hook for "two"
	}
	wantOneTwo(t, ann, bobT)
}
