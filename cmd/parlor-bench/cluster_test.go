package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parlorchat/parlor/internal/testenv"
)

// TestClusterScenario runs the cluster scenario at a tiny size: three
// spawned nodes on the test NATS server and a single node. Every message
// the publishers on node 1 sent reached every member on nodes 2 and 3 as
// well as those on node 1, in the fan-out and the latency runs, and every
// member of the single node; the report compares the two, and the run
// leaves no bucket on the NATS server. It asserts no speed.
func TestClusterScenario(t *testing.T) {
	url, _ := testenv.NATS(t)
	bin := testenv.GoBuild(t, "./cmd/parlor", "parlor")
	o, err := parseFlags([]string{"--spawn", bin, "--quiet", "--scenarios", "cluster", "--nats", url,
		"--room-size", "31", "--cluster-publishers", "2", "--duration", "1s", "--latency-duration", "1s",
		"--rate", "50", "--rounds", "2", "--timeout", "2m"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	c := rep.Cluster
	if c == nil || c.Skipped != "" || !slices.Equal(c.NodeMembers, []int{11, 10, 10}) || len(c.Cluster.Groups) != 2 || len(c.Single.Groups) != 1 {
		t.Fatalf("cluster scenario: %+v", c)
	}
	fan, lat := c.Cluster.Fanout, c.Cluster.Latency
	local, cross := c.Cluster.Groups[0], c.Cluster.Groups[crossGroup]
	if fan.Sent == 0 || fan.Publishers != 2 || cross.Members != 20 || cross.Delivered == 0 || cross.Delivered != fan.Sent*20 || cross.Lost != 0 {
		t.Errorf("cross-node fan-out: sent %d by %d publishers, nodes 2-3 (%d members) received %d, lost %d",
			fan.Sent, fan.Publishers, cross.Members, cross.Delivered, cross.Lost)
	}
	if local.Members != 11 || local.Delivered != fan.Sent*11 {
		t.Errorf("node 1 fan-out: sent %d, its %d members received %d", fan.Sent, local.Members, local.Delivered)
	}
	if lat.Sent == 0 || cross.Samples != lat.Sent*20 || local.Samples != lat.Sent*11 || lat.Lost != 0 || cross.P99 <= 0 {
		t.Errorf("cluster latency: sent %d, samples on nodes 2-3 %d, on node 1 %d, lost %d, cross-node p99 %g",
			lat.Sent, cross.Samples, local.Samples, lat.Lost, cross.P99)
	}
	sf, one := c.Single.Fanout, c.Single.Groups[0]
	if sf.Sent == 0 || one.Delivered != sf.Sent*31 || sf.Lost != 0 || one.Samples != c.Single.Latency.Sent*31 || c.Single.Latency.Sent == 0 {
		t.Errorf("single node: fan-out sent %d, delivered %d; latency sent %d, samples %d",
			sf.Sent, one.Delivered, c.Single.Latency.Sent, one.Samples)
	}
	if len(cross.Rounds) != 2 || len(one.Rounds) != 2 {
		t.Errorf("round p99s: cross-node %v, single node %v; want 2 each", cross.Rounds, one.Rounds)
	}
	if c.ThroughputRatio <= 0 || c.P99Ratio <= 0 || c.CPURatio <= 0 || len(c.Cluster.NodeCPU) != 3 || slices.Contains(c.Cluster.NodeCPU, nil) {
		t.Errorf("ratios: throughput %g, p99 %g, CPU %g; node CPU %v", c.ThroughputRatio, c.P99Ratio, c.CPURatio, c.Cluster.NodeCPU)
	}
	if rep.MessagesLost != 0 || rep.Disconnects != 0 || rep.OutOfOrder != 0 {
		t.Errorf("lost %d, disconnects %d (%v), out of order %d", rep.MessagesLost, rep.Disconnects, rep.DisconnectReasons, rep.OutOfOrder)
	}
	if f := figure(t, rep, "cluster: cross-node / single node"); strings.HasPrefix(f.Value, "-") {
		t.Errorf("ratio figure: %q", f.Value)
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	names := js.KeyValueStoreNames(ctx)
	for name := range names.Name() {
		if strings.HasPrefix(name, c.Prefix) {
			t.Errorf("the run left bucket %s on the NATS server", name)
		}
	}
	if err := names.Error(); err != nil {
		t.Fatal(err)
	}
}

// TestClusterSkipsWithoutNATS points the cluster scenario at an address
// where nothing listens: it is skipped with a message that names the
// address, and the run is no failure.
func TestClusterSkipsWithoutNATS(t *testing.T) {
	dead := "nats://" + testenv.FreeAddr(t)
	o, err := parseFlags([]string{"--in-process", "--quiet", "--scenarios", "cluster", "--nats", dead, "--room-size", "9"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if rep.Cluster == nil || !strings.Contains(rep.Cluster.Skipped, "no NATS server with JetStream answers at "+dead) {
		t.Fatalf("cluster: %+v", rep.Cluster)
	}
	if f := figure(t, rep, "cluster: skipped"); !strings.Contains(f.Value, dead) {
		t.Errorf("skip figure: %q", f.Value)
	}
	for _, bad := range []string{"nats://10.0.0.1:4222", "http://127.0.0.1:4222", "nats://127.0.0.1"} {
		if _, err := parseFlags([]string{"--in-process", "--nats", bad}); err == nil {
			t.Errorf("--nats %s accepted", bad)
		}
	}
	if got := spread(31, 3); !slices.Equal(got, []int{11, 10, 10}) {
		t.Errorf("spread(31, 3) = %v", got)
	}
}
