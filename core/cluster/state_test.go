package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/internal/testenv"
)

// TestProbeAndDeleteState checks that Probe accepts the test NATS server
// and refuses an address where nothing listens, and that DeleteState
// removes every bucket a node of the prefix made, twice without error.
func TestProbeAndDeleteState(t *testing.T) {
	url, prefix := testenv.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := Probe(ctx, url); err != nil {
		t.Fatalf("Probe(%s): %v", url, err)
	}
	dead := "nats://" + testenv.FreeAddr(t)
	if err := Probe(ctx, dead); err == nil {
		t.Errorf("Probe(%s) with nothing listening: no error", dead)
	}

	n := startNode(t, url, prefix, "one", 2*time.Second)
	n.Leave()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range bucketKinds {
		if _, err := js.KeyValue(ctx, bucketName(prefix, kind)); err != nil {
			t.Fatalf("bucket %s after the node ran: %v", bucketName(prefix, kind), err)
		}
	}
	for range 2 {
		if err := DeleteState(ctx, url, prefix); err != nil {
			t.Fatalf("DeleteState: %v", err)
		}
	}
	for _, kind := range bucketKinds {
		if _, err := js.KeyValue(ctx, bucketName(prefix, kind)); !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Errorf("bucket %s after DeleteState: %v, want not found", bucketName(prefix, kind), err)
		}
	}
	if err := DeleteState(ctx, url, "bad.prefix"); err == nil {
		t.Error("DeleteState accepted a prefix with a dot")
	}
}

// TestStartWithoutDeadline starts a node with a context that has no
// deadline, as the server's start-up does: it joins and has the members
// of the node already running as soon as Start returns.
func TestStartWithoutDeadline(t *testing.T) {
	url, prefix := testenv.NATS(t)
	n1 := startNode(t, url, prefix, "one", 2*time.Second)
	n1.login(t, "Alice", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := New(ctx, Options{URL: url, Prefix: prefix, Name: "two", Lease: 2 * time.Second, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Leave)
	g := chat.NewGroup(chat.Options{History: 10, MaxMessageChars: 500, Guests: true, RoomListDelay: -1, Link: n, Slot: n.Slot()})
	g.PutRoom(chat.RoomInfo{ID: 1, Name: "Lobby", Open: true, Member: true}, nil)
	if err := n.Start(context.Background(), g); err != nil {
		t.Fatalf("Start without a deadline: %v", err)
	}
	if got := users(g, 1); !slices.Equal(got, []string{"Alice"}) {
		t.Errorf("node two lists %v in the Lobby right after Start; want [Alice]", got)
	}
}
