package websocket

import (
	"net"
	"net/http"
	"strings"
)

// publicNames is the set of host names a WebSocket may be opened under,
// a defence against DNS rebinding: a page of another site whose name is
// made to resolve to this server sends its own name in the Host header
// (and the matching Origin, so the origin check alone lets it pass).
type publicNames struct {
	any   map[string]bool // names matching with any port, or none
	exact map[string]bool // "name:port" entries, matching that port only
}

func newPublicNames(names []string) publicNames {
	p := publicNames{any: map[string]bool{}, exact: map[string]bool{}}
	for _, n := range names {
		n = normalHost(n)
		if _, _, err := net.SplitHostPort(n); err == nil {
			p.exact[n] = true
		} else {
			p.any[strings.Trim(n, "[]")] = true
		}
	}
	return p
}

// allows reports whether r's Host header is one of the names; with no
// names configured every host is allowed.
func (p publicNames) allows(r *http.Request) bool {
	if len(p.any) == 0 && len(p.exact) == 0 {
		return true
	}
	host := normalHost(r.Host)
	if p.exact[host] {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return p.any[strings.Trim(host, "[]")]
}

// normalHost lower-cases a host[:port] and drops the dot of a fully
// qualified name ("chat.example.com." is chat.example.com).
func normalHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if host, port, err := net.SplitHostPort(h); err == nil {
		return net.JoinHostPort(strings.TrimSuffix(host, "."), port)
	}
	return strings.TrimSuffix(h, ".")
}

// originPatterns turns allowed page origins into coder/websocket's origin
// patterns: with "://" they are matched against the Origin's
// "scheme://host[:port]" by path.Match, so every character that pattern
// syntax knows is escaped except the "*" of a leading "*." in the host.
func originPatterns(origins []string) []string {
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		o = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
		scheme, host, ok := strings.Cut(o, "://")
		if !ok || host == "" {
			continue
		}
		wild := strings.HasPrefix(host, "*.")
		host = strings.TrimPrefix(host, "*.")
		host = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(host)
		if wild {
			host = "*." + host
		}
		out = append(out, scheme+"://"+host)
	}
	return out
}
