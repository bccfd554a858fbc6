package cluster

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "nats://" + ln.Addr().String()
	_ = ln.Close()
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
