package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/parlorchat/parlor/core/cluster"
)

// The cluster scenario measures what crossing between nodes costs a room:
// clusterNodes servers are nodes of one cluster (the same NATS server and
// cluster.prefix, each its own data directory and port), --room-size
// members of one room are spread evenly over them, and --cluster-publishers
// of node 1's members publish. Node 1 delivers each message to its own
// members and publishes it once to NATS; nodes 2 and 3 deliver it to
// theirs. The same room (as many members, as many publishers) on a single
// server without a cluster is the figure of the same run it is held
// against. Both take turns in --rounds slices of the fan-out and latency
// runs, the order alternating each round, so that load from outside the
// tool falls on both alike.
const clusterNodes = 3

// ClusterResult is the cluster scenario.
type ClusterResult struct {
	Nodes int `json:"nodes"`
	// Members is the room's size, on the cluster and on the single node
	// alike; NodeMembers how many are on each node.
	Members     int    `json:"members"`
	NodeMembers []int  `json:"node_members"`
	Publishers  int    `json:"publishers"`
	NATS        string `json:"nats"`
	Prefix      string `json:"prefix,omitempty"` // cluster.prefix of this run
	Store       string `json:"store"`
	Rounds      int    `json:"rounds"`
	// Skipped says why the scenario did not run (NATS did not answer).
	Skipped string         `json:"skipped,omitempty"`
	Cluster ClusterVariant `json:"cluster"`
	Single  ClusterVariant `json:"single"`
	// ThroughputRatio is the fan-out deliveries per second per member on
	// nodes 2 and 3 over those per member on the single node: the message
	// rate reaching a member across nodes against one node's.
	ThroughputRatio float64 `json:"throughput_ratio"`
	// P99Ratio is the p99 latency of the members on nodes 2 and 3 over the
	// single node's, each over all the rounds' samples; RoundP99Ratio the
	// median over the rounds of the ratio within a round.
	P99Ratio      float64 `json:"p99_ratio"`
	RoundP99Ratio float64 `json:"round_p99_ratio"`
	// CPURatio is the server CPU per fan-out delivery of the three nodes
	// together over the single node's (the NATS server's is not in it).
	CPURatio float64 `json:"cpu_ratio"`
}

// ClusterVariant is one side of the comparison: the cluster's nodes, or
// the single node.
type ClusterVariant struct {
	Name string `json:"name"`
	// Fanout and Latency count every member of the room; their CPU is
	// the server processes' together.
	Fanout  FanoutResult  `json:"fanout"`
	Latency LatencyResult `json:"latency"`
	// Groups split the members: on the cluster those of node 1 (with the
	// publishers) and those of nodes 2 and 3 (cross-node); on the single
	// node one group of all.
	Groups []MemberGroup `json:"groups"`
	// NodeCPU is each node's server CPU per fan-out delivery to its own
	// members (the cluster only).
	NodeCPU []*CPU `json:"node_cpu,omitempty"`
}

// MemberGroup is what some members of the room received.
type MemberGroup struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
	// The fan-out runs: messages sent times these members, what reached
	// them, per second and per second per member.
	Expected  int64   `json:"expected"`
	Delivered int64   `json:"delivered"`
	Lost      int64   `json:"lost"`
	PerSecond float64 `json:"deliveries_per_second"`
	PerMember float64 `json:"deliveries_per_second_per_member"`
	// The latency runs: samples and quantiles over all rounds (ms), and
	// each round's p99.
	Samples int64     `json:"samples"`
	P50     float64   `json:"p50_ms"`
	P99     float64   `json:"p99_ms"`
	Max     float64   `json:"max_ms"`
	Rounds  []float64 `json:"round_p99_ms"`
}

// crossGroup is the index of the cluster's group of members on nodes 2
// and 3 in ClusterVariant.Groups.
const crossGroup = 1

// spread divides n members over k nodes, the first ones taking one more.
func spread(n, k int) []int {
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
	}
	return out
}

// clusterPrefix is a cluster.prefix of this run alone, so that runs
// sharing a NATS server never meet.
func clusterPrefix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "parlorbench_" + hex.EncodeToString(b)
}

func (o *options) runCluster(ctx context.Context, rep *Report, st *stats, prog *progress) (err error) {
	if o.url != "" {
		return errors.New("the cluster scenario needs servers the tool starts (--spawn or --in-process)")
	}
	res := &ClusterResult{
		Nodes: clusterNodes, Members: o.roomSize, NodeMembers: spread(o.roomSize, clusterNodes),
		Publishers: o.clusterPubs, NATS: o.nats, Rounds: o.rounds, Store: "sqlite, one per node",
	}
	if o.clusterDSN != "" {
		res.Store = "postgres, shared by the nodes (the single node: sqlite)"
	}
	rep.Cluster = res
	if res.NodeMembers[clusterNodes-1] < 1 || o.clusterPubs > res.NodeMembers[0] {
		return fmt.Errorf("the cluster scenario needs --room-size of at least %d and at most a third of it as --cluster-publishers", clusterNodes)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	perr := cluster.Probe(pctx, o.nats)
	cancel()
	if perr != nil {
		res.Skipped = fmt.Sprintf("no NATS server with JetStream answers at %s (--nats): %v", o.nats, perr)
		prog.set("cluster: skipped, no NATS", 0, nil, nil)
		return nil
	}
	res.Prefix = clusterPrefix()
	// The nodes stop (and leave) before the buckets go: deferred first,
	// this runs last.
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if derr := cluster.DeleteState(dctx, o.nats, res.Prefix); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	var servers []*target
	defer func() {
		for _, t := range servers {
			_ = t.stop()
		}
	}()
	rooms := []roomSpec{{id: 1, name: "Bench"}}
	group := "bench_" + res.Prefix[len("parlorbench_"):]
	nodes := make([]*room, clusterNodes)
	var all []*client
	for k := range nodes {
		spec := serverSpec{rooms: rooms, cluster: &clusterSpec{
			natsURL: o.nats, node: fmt.Sprintf("node%d", k+1), prefix: res.Prefix, storeDSN: o.clusterDSN, group: group,
		}}
		t, err := o.start(ctx, spec)
		if err != nil {
			return fmt.Errorf("node %d: %w", k+1, err)
		}
		servers = append(servers, t)
		nodes[k] = &room{st: st}
	}
	single, err := o.start(ctx, serverSpec{rooms: rooms})
	if err != nil {
		return fmt.Errorf("single node: %w", err)
	}
	servers = append(servers, single)
	defer func() { closeAll(all) }()
	for k, n := range nodes {
		pubs := 0
		if k == 0 {
			pubs = o.clusterPubs
		}
		t := servers[k]
		clients, err := connectMany(ctx, t, st, prog, fmt.Sprintf("cluster: connect node %d", k+1), fmt.Sprintf("%sk%d-", o.prefix, k+1),
			res.NodeMembers[k], o.dialConcurrency, pubs, "", func(int) int64 { return t.room })
		if err != nil {
			return fmt.Errorf("node %d: %w", k+1, err)
		}
		n.clients = clients
		all = append(all, clients...)
	}
	singles, err := connectMany(ctx, single, st, prog, "cluster: connect single node", o.prefix+"k0-",
		o.roomSize, o.dialConcurrency, o.clusterPubs, "", func(int) int64 { return single.room })
	if err != nil {
		return fmt.Errorf("single node: %w", err)
	}
	all = append(all, singles...)

	// The cluster's members are one room (node 1's first, so the
	// publishers lead): the guard holds against the slowest of them on
	// any node. CPU is read from every server of a side around each
	// slice (the rooms' own meter is off).
	whole := &room{clients: slices.Concat(nodes[0].clients, nodes[1].clients, nodes[2].clients), st: st}
	alone := &room{clients: singles, st: st}
	cl := newClusterSums(nodes, servers[:clusterNodes], []string{"node 1", "nodes 2-3"}, [][]int{{0}, {1, 2}})
	sg := newClusterSums([]*room{{clients: singles, st: st}}, servers[clusterNodes:], []string{"single node"}, [][]int{{0}})
	settle(ctx, time.Second)
	// As the modules scenario, keep at least moduleWindow messages on
	// their way, so that one publisher measures throughput and not the
	// round trip of a message.
	ow := o.withWindow(moduleWindow)
	fanDur := max(o.duration/time.Duration(o.rounds), 100*time.Millisecond)
	latDur := max(o.latencyDur/time.Duration(o.rounds), 100*time.Millisecond)
	for round := range o.rounds {
		for k := range 2 {
			side, r := cl, whole // the cluster first in even rounds
			if (k+round)%2 == 1 {
				side, r = sg, alone
			}
			quiesceAll(ctx, prog, servers)
			side.fanout(ctx, ow, prog, r, fanDur)
			quiesceAll(ctx, prog, servers)
			side.latency(ctx, prog, o.rate, r, latDur)
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("cluster: %w", err)
			}
		}
	}
	res.Cluster = cl.result("cluster of 3 nodes")
	res.Single = sg.result("single node")
	for _, v := range []ClusterVariant{res.Cluster, res.Single} {
		if msgs := strings.TrimSpace(v.Fanout.Error + " " + v.Latency.Error); msgs != "" {
			return fmt.Errorf("%s: %s", v.Name, msgs)
		}
	}
	x, one := res.Cluster.Groups[crossGroup], res.Single.Groups[0]
	res.ThroughputRatio = finite(ratio(x.PerMember, one.PerMember))
	res.P99Ratio = finite(ratio(x.P99, one.P99))
	res.RoundP99Ratio = finite(medianRatio(x.Rounds, one.Rounds))
	res.CPURatio = finite(ratio(perOp(res.Cluster.Fanout.CPU), perOp(res.Single.Fanout.CPU)))
	return nil
}

// clusterSums adds up the slices of one side of the cluster scenario:
// the whole room's fan-out and latency runs, each node's deliveries and
// CPU, and each group of nodes' latency samples.
type clusterSums struct {
	nodes   []*room   // each node's members
	servers []*target // and its server
	fan     fanoutSum
	lat     latencySum
	perNode []nodeSum
	groups  []*groupSum
}

// nodeSum is one node's part of the fan-out slices.
type nodeSum struct {
	expected, delivered int64
	cpu                 *CPU // per delivery to the node's members
}

// groupSum is the latency samples of the members of some nodes.
type groupSum struct {
	name   string
	nodes  []int     // indexes into clusterSums.nodes
	slice  histogram // the current slice's samples (the clients record them)
	hist   histogram // all slices'
	rounds []float64 // p99 of each slice, ms
}

// newClusterSums prepares the sums of nodes, whose members connected to
// servers, with a group of the nodes of each of of, named by names; the
// members' latency samples go to their group from now on.
func newClusterSums(nodes []*room, servers []*target, names []string, of [][]int) *clusterSums {
	s := &clusterSums{nodes: nodes, servers: servers, perNode: make([]nodeSum, len(nodes))}
	for g, idx := range of {
		gs := &groupSum{name: names[g], nodes: idx}
		for _, i := range idx {
			for _, c := range nodes[i].clients {
				c.also.Store(&gs.slice)
			}
		}
		s.groups = append(s.groups, gs)
	}
	return s
}

// finite is r, or 0 when it is NaN (JSON has no NaN).
func finite(r float64) float64 {
	if math.IsNaN(r) {
		return 0
	}
	return r
}

// ratioOrDash formats a ratio of the report, "-" for none (0).
func ratioOrDash(r float64) string {
	if r <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

// quiesceAll waits until every one of servers is idle. Servers in the
// tool have no process to watch: one wait covers them all.
func quiesceAll(ctx context.Context, prog *progress, servers []*target) {
	prog.set("waiting for idle servers", 0, nil, nil)
	waited := false
	for _, t := range servers {
		if t.pid == 0 {
			if waited {
				continue
			}
			waited = true
		}
		quiesce(ctx, t)
	}
}

// meters starts measuring the CPU of each server of the side.
func (s *clusterSums) meters() []cpuMeter {
	out := make([]cpuMeter, len(s.servers))
	for i, t := range s.servers {
		out[i] = meterCPU(t.pid)
	}
	return out
}

// sumCPU is the CPU of several servers in one phase that did ops
// operations in all, nil when one of them was not measured.
func sumCPU(each []*CPU, ops int64) *CPU {
	sum := &CPU{Ops: ops}
	for _, c := range each {
		if c == nil {
			return nil
		}
		sum.Seconds += c.Seconds
		sum.PluginSeconds += c.PluginSeconds
	}
	if ops > 0 {
		sum.MicrosPerOp = sum.Seconds * 1e6 / float64(ops)
		sum.PluginMicrosPerOp = sum.PluginSeconds * 1e6 / float64(ops)
	}
	return sum
}

// fanout runs one fan-out slice into r, the room of all the side's
// members.
func (s *clusterSums) fanout(ctx context.Context, o *options, prog *progress, r *room, dur time.Duration) {
	bases := make([][]int64, len(s.nodes))
	for i, n := range s.nodes {
		bases[i] = n.snapshot()
	}
	mt := s.meters()
	res := r.fanout(ctx, o, prog, o.clusterPubs, dur)
	each := make([]*CPU, len(mt))
	for i, n := range s.nodes {
		d := n.counts(bases[i]).delivered
		ns := &s.perNode[i]
		ns.delivered += d
		ns.expected += res.Sent * int64(len(n.clients))
		if each[i] = mt[i].done(d); each[i] != nil {
			ns.cpu = addCPU(ns.cpu, each[i])
		}
	}
	res.CPU = sumCPU(each, res.Delivered)
	s.fan.add(res)
}

// latency runs one latency slice into r.
func (s *clusterSums) latency(ctx context.Context, prog *progress, rate float64, r *room, dur time.Duration) {
	for _, g := range s.groups {
		g.slice.reset()
	}
	mt := s.meters()
	res := r.latency(ctx, prog, rate, dur)
	each := make([]*CPU, len(mt))
	for i, m := range mt {
		each[i] = m.done(0)
	}
	res.CPU = sumCPU(each, res.Sent*int64(len(r.clients))-res.Lost)
	s.lat.add(res, &r.st.hist)
	for _, g := range s.groups {
		g.hist.merge(&g.slice)
		g.rounds = append(g.rounds, ms(g.slice.quantile(0.99)))
	}
}

// result is the side's figures, named name.
func (s *clusterSums) result(name string) ClusterVariant {
	v := ClusterVariant{Name: name, Fanout: s.fan.result(), Latency: s.lat.result()}
	if len(s.nodes) > 1 {
		for _, ns := range s.perNode {
			v.NodeCPU = append(v.NodeCPU, ns.cpu)
		}
	}
	for _, g := range s.groups {
		mg := MemberGroup{Name: g.name, Rounds: g.rounds}
		for _, i := range g.nodes {
			ns := &s.perNode[i]
			mg.Members += len(s.nodes[i].clients)
			mg.Expected += ns.expected
			mg.Delivered += ns.delivered
		}
		mg.Lost = mg.Expected - mg.Delivered
		if sec := v.Fanout.Seconds; sec > 0 && mg.Members > 0 {
			mg.PerSecond = float64(mg.Delivered) / sec
			mg.PerMember = mg.PerSecond / float64(mg.Members)
		}
		mg.Samples = g.hist.total.Load()
		mg.P50, mg.P99, mg.Max = ms(g.hist.quantile(0.5)), ms(g.hist.quantile(0.99)), ms(time.Duration(g.hist.max.Load()))
		v.Groups = append(v.Groups, mg)
	}
	return v
}

// medianRatio is the median of a[i]/b[i], NaN without a pair of positive
// figures.
func medianRatio(a, b []float64) float64 {
	var r []float64
	for i := range min(len(a), len(b)) {
		if q := ratio(a[i], b[i]); !math.IsNaN(q) {
			r = append(r, q)
		}
	}
	if len(r) == 0 {
		return math.NaN()
	}
	slices.Sort(r)
	if n := len(r); n%2 == 0 {
		return (r[n/2-1] + r[n/2]) / 2
	}
	return r[len(r)/2]
}

// clusterFigures are the summary rows of the cluster scenario.
func clusterFigures(c *ClusterResult) []Figure {
	if c.Skipped != "" {
		return []Figure{{Name: "cluster: skipped", Value: c.Skipped}}
	}
	if len(c.Cluster.Groups) < 2 || len(c.Single.Groups) < 1 {
		return nil
	}
	cf, sf := c.Cluster.Fanout, c.Single.Fanout
	local, cross, one := c.Cluster.Groups[0], c.Cluster.Groups[crossGroup], c.Single.Groups[0]
	members := make([]string, len(c.NodeMembers))
	for i, n := range c.NodeMembers {
		members[i] = fmt.Sprint(n)
	}
	var nodeCPU []string
	for _, n := range c.Cluster.NodeCPU {
		nodeCPU = append(nodeCPU, strings.TrimPrefix(cpuText(n, "delivery"), "server CPU "))
	}
	cpu := cpuText(cf.CPU, "delivery")
	if len(nodeCPU) > 0 {
		cpu += " (per node, of its own members: " + strings.Join(nodeCPU, ", ") + "; NATS not counted)"
	}
	return []Figure{{
		Name: fmt.Sprintf("cluster: fan-out into %d members on %d nodes (%s), %d publisher(s) on node 1 (window %d); store %s",
			c.Members, c.Nodes, strings.Join(members, "+"), c.Publishers, cf.Window, c.Store),
		Value: fmt.Sprintf("cross-node (%s, %d members) %s/s (%s/s per member; lost %d), %s (%d) %s/s (lost %d); all %s/s (%.0f msg/s), %s",
			cross.Name, cross.Members, thousands(cross.PerSecond), thousands(cross.PerMember), cross.Lost,
			local.Name, local.Members, thousands(local.PerSecond), local.Lost,
			thousands(cf.PerSecond), cf.MessagesPerSecond, cpu),
	}, {
		Name: fmt.Sprintf("cluster: the same room on a single node, %d members, %d publisher(s)", c.Members, c.Publishers),
		Value: fmt.Sprintf("%s/s (%s/s per member, %.0f msg/s; lost %d), %s",
			thousands(sf.PerSecond), thousands(one.PerMember), sf.MessagesPerSecond, sf.Lost, cpuText(sf.CPU, "delivery")),
	}, {
		Name:  "cluster: cross-node / single node, deliveries/s per member (same run)",
		Value: fmt.Sprintf("%s (server CPU per delivery, 3 nodes / 1: %s)", ratioOrDash(c.ThroughputRatio), ratioOrDash(c.CPURatio)),
	}, {
		Name: fmt.Sprintf("cluster: latency at %.0f msg/s, members on nodes 2-3 / node 1 / single node", c.Cluster.Latency.Rate),
		Value: fmt.Sprintf("cross-node p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d samples); node 1 p50 %.2f, p99 %.2f ms; single node p50 %.2f ms, p99 %.2f ms, max %.2f ms (lost %d / %d)",
			cross.P50, cross.P99, cross.Max, cross.Samples, local.P50, local.P99, one.P50, one.P99, one.Max,
			c.Cluster.Latency.Lost, c.Single.Latency.Lost),
	}, {
		Name:  "cluster: cross-node p99 / single-node p99 (same run)",
		Value: fmt.Sprintf("%s (median of %d rounds: %s)", ratioOrDash(c.P99Ratio), len(cross.Rounds), ratioOrDash(c.RoundP99Ratio)),
	}}
}
