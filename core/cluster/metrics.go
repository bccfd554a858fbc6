package cluster

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the node's metrics for /metrics: what went wrong between
// the nodes and what it took to repair it.
func (n *Node) Collectors() []prometheus.Collector {
	counter := func(name, help string, f func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "parlor", Subsystem: "cluster", Name: name, Help: help},
			func() float64 { return float64(f()) })
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "parlor", Subsystem: "cluster", Name: "nodes", Help: "Other nodes this node knows."},
			func() float64 { return float64(len(n.Peers())) }),
		counter("slow_consumer_total", "Times NATS dropped messages for this node (a slow consumer); each is followed by a resync.", n.Counters.SlowConsumer.Load),
		counter("resyncs_total", "Member lists fetched from another node (at its start, after a gap, a reconnect or a slow consumer).", n.Counters.Resyncs.Load),
		counter("nodes_lost_total", "Nodes whose lease lapsed (they died or lost NATS); their members left.", n.Counters.NodesLost.Load),
		counter("reconnects_total", "Reconnects to NATS.", n.Counters.Reconnects.Load),
	}
}

// Status is what /healthz says of the node.
type Status struct {
	Node      string `json:"node"`
	Slot      int    `json:"slot"`
	Connected bool   `json:"nats_connected"`
	Nodes     int    `json:"other_nodes"` // the other nodes this node knows
}

// Status reports the node's state.
func (n *Node) Status() Status {
	return Status{Node: n.name, Slot: n.slot, Connected: n.nc.IsConnected(), Nodes: len(n.Peers())}
}
