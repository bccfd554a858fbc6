package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Kinds of the JetStream KV buckets a cluster keeps, each named
// <prefix>_<kind> (bucketName).
const (
	bucketNodes  = "nodes"  // node leases
	bucketSlots  = "slots"  // message id slots
	bucketNames  = "names"  // who holds each name
	bucketLeases = "leases" // the modules' and the core's leases
)

// bucketKinds lists every bucket kind.
var bucketKinds = []string{bucketNodes, bucketSlots, bucketNames, bucketLeases}

// bucketName is the name of a cluster's bucket of one kind.
func bucketName(prefix, kind string) string { return prefix + "_" + kind }

// connect opens a short-lived NATS connection for Probe and DeleteState:
// it fails at once instead of waiting for a server to come.
func connect(ctx context.Context, url string) (*nats.Conn, jetstream.JetStream, error) {
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	nc, err := nats.Connect(url, nats.Name("parlor probe"), nats.Timeout(timeout), nats.NoReconnect())
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: connect to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("cluster: JetStream at %s: %w", url, err)
	}
	return nc, js, nil
}

// Probe checks that a NATS server answers at url and has JetStream on,
// as a node needs; ctx bounds the check.
func Probe(ctx context.Context, url string) error {
	nc, js, err := connect(ctx, url)
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("cluster: NATS at %s has no JetStream (start nats-server with -js): %w", url, err)
	}
	return nil
}

// DeleteState deletes the JetStream KV buckets of the cluster named by
// prefix (its node leases, slots and names) from the NATS server at url.
// It is for a cluster that is gone for good, such as a benchmark's at its
// end; a bucket that is not there is no error. A node of that prefix
// still running loses its lease, slot and names.
func DeleteState(ctx context.Context, url, prefix string) error {
	if !validToken(prefix) {
		return fmt.Errorf("cluster: prefix %q: use letters, digits, '-' and '_'", prefix)
	}
	nc, js, err := connect(ctx, url)
	if err != nil {
		return err
	}
	defer nc.Close()
	var errs []error
	for _, kind := range bucketKinds {
		name := bucketName(prefix, kind)
		if err := js.DeleteKeyValue(ctx, name); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			errs = append(errs, fmt.Errorf("cluster: delete KV bucket %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
