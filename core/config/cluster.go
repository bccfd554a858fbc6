package config

import (
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Cluster makes the server one node of several that share a PostgreSQL
// store and a NATS server (docs/clustering.md). It is off while nats.url
// is empty.
type Cluster struct {
	NATS ClusterNATS `koanf:"nats"`
	// Node names this node; a random name at every start when empty.
	// Two running nodes must not share a name.
	Node string `koanf:"node"`
	// Prefix starts the cluster's NATS subjects and JetStream KV buckets,
	// so several clusters can share one NATS server.
	Prefix string `koanf:"prefix"`
	// Lease is how long the members of a node that died stay listed on
	// the others (and its names stay taken).
	Lease time.Duration `koanf:"lease"`
	// RequestTimeout bounds one request to another node (its member
	// list, a kick or a move of one of its members).
	RequestTimeout time.Duration `koanf:"request_timeout"`
	// PendingBytes bounds what may wait unread from NATS on one
	// subscription; past it the node is a slow consumer, drops, is told
	// and resyncs.
	PendingBytes int `koanf:"pending_bytes"`
}

// ClusterNATS is the NATS server of the cluster.
type ClusterNATS struct {
	// URL is nats://host:port (several separated by commas); empty: the
	// server runs alone.
	URL string `koanf:"url"`
}

// Enabled reports whether the server is a node of a cluster.
func (c Cluster) Enabled() bool { return c.NATS.URL != "" }

var clusterToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// validateCluster checks the cluster section.
func (c *Config) validateCluster(bad func(key, format string, a ...any)) {
	cl := c.Cluster
	if cl.Prefix == "" || !clusterToken.MatchString(cl.Prefix) {
		bad("cluster.prefix", "%q: use 1 to 64 letters, digits, '-' and '_'", cl.Prefix)
	}
	if cl.Node != "" && !clusterToken.MatchString(cl.Node) {
		bad("cluster.node", "%q: use 1 to 64 letters, digits, '-' and '_'", cl.Node)
	}
	if cl.Lease < time.Second || cl.Lease > 10*time.Minute {
		bad("cluster.lease", "%s is outside 1s..10m", cl.Lease)
	}
	if cl.RequestTimeout <= 0 {
		bad("cluster.request_timeout", "must be a positive duration such as 5s")
	}
	if cl.PendingBytes < 1<<20 {
		bad("cluster.pending_bytes", "%d is below the minimum of 1048576 (1 MiB)", cl.PendingBytes)
	}
	for _, u := range strings.Split(cl.NATS.URL, ",") {
		if cl.NATS.URL == "" {
			break
		}
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || (p.Scheme != "nats" && p.Scheme != "tls") || p.Host == "" {
			bad("cluster.nats.url", "%q is not nats://host:port", u)
		}
	}
}
