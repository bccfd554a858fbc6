package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// The web client's servers (http.ws_urls) and the pages that may open the
// WebSocket (http.allowed_origins), for a chat of several nodes
// (docs/clustering.md). The web client tries the URLs in order and moves
// to the next one when a connection is lost or cannot be opened. A URL is
// an absolute ws:// or wss:// URL, or a path such as /ws on the origin of
// the page (the server that served it). Without URLs the client uses the
// page's own /ws, as a single server or a load balancer wants.
//
// A browser opens a WebSocket to another origin than the page's with the
// page's Origin header. The server accepts the page's own origin, the
// origins of the absolute http.ws_urls (ws://h is the page origin
// http://h, wss://h is https://h: the pages the nodes serve themselves)
// and http.allowed_origins.

// validateWebClient checks http.ws_urls and http.allowed_origins.
func (c *Config) validateWebClient(bad func(key, format string, a ...any)) {
	seen := map[string]bool{}
	for i, u := range c.HTTP.WSURLs {
		key := fmt.Sprintf("http.ws_urls[%d]", i)
		if err := checkWSURL(u); err != nil {
			bad(key, "%v", err)
			continue
		}
		if seen[u] {
			bad(key, "%q is listed twice", u)
		}
		seen[u] = true
	}
	for i, o := range c.HTTP.AllowedOrigins {
		if _, err := normalOrigin(o); err != nil {
			bad(fmt.Sprintf("http.allowed_origins[%d]", i), "%v", err)
		}
	}
}

// checkWSURL reports whether u is a WebSocket URL the web client can use:
// ws:// or wss:// with a host, or a path on the page's origin.
func checkWSURL(u string) error {
	const want = "a WebSocket URL such as wss://chat-b.example.com/ws, or a path such as /ws on the page's own server"
	if strings.TrimSpace(u) == "" {
		return fmt.Errorf("must not be empty")
	}
	if strings.ContainsAny(u, " \t\r\n#") {
		return fmt.Errorf("%q is not %s (no spaces, no #fragment)", u, want)
	}
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		return nil
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%q is not %s (%v)", u, want, err)
	}
	switch strings.ToLower(p.Scheme) {
	case "ws", "wss":
	case "http", "https":
		return fmt.Errorf("%q is a page URL: write it as ws:// (for http) or wss:// (for https), e.g. wss://chat-b.example.com/ws", u)
	default:
		return fmt.Errorf("%q is not %s", u, want)
	}
	if p.Host == "" || p.Hostname() == "" {
		return fmt.Errorf("%q has no host name; %s", u, want)
	}
	if p.User != nil {
		return fmt.Errorf("%q carries a user name or password; %s", u, want)
	}
	return nil
}

// normalOrigin checks a page origin of http.allowed_origins and returns it
// as browsers send it: lower case, no default port, no trailing slash. The
// host may begin with "*." for every subdomain of a name.
func normalOrigin(o string) (string, error) {
	const want = "an origin such as https://www.example.com or https://*.example.com (scheme and host, a port if not the default, no path)"
	p, err := url.Parse(strings.TrimSpace(o))
	if err != nil {
		return "", fmt.Errorf("%q is not %s (%v)", o, want, err)
	}
	scheme := strings.ToLower(p.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("%q is not %s", o, want)
	}
	if p.User != nil || (p.Path != "" && p.Path != "/") || p.RawQuery != "" || p.Fragment != "" || p.Opaque != "" {
		return "", fmt.Errorf("%q is not %s", o, want)
	}
	host := strings.ToLower(p.Hostname())
	if host == "" || host == "*" || strings.Contains(strings.TrimPrefix(host, "*."), "*") {
		return "", fmt.Errorf("%q is not %s", o, want)
	}
	return scheme + "://" + hostPort(host, p.Port(), scheme), nil
}

// hostPort joins host and port, leaving out the scheme's default port.
func hostPort(host, port, scheme string) string {
	if port == "" || (port == "80" && scheme == "http") || (port == "443" && scheme == "https") {
		if strings.Contains(host, ":") {
			return "[" + host + "]" // IPv6
		}
		return host
	}
	return net.JoinHostPort(host, port)
}

// PageOrigins are the origins of pages, besides the chat's own, that may
// open the WebSocket: http.allowed_origins and the page origins of the
// absolute http.ws_urls, normalised as browsers send them. Call it on a
// validated configuration (an entry that does not parse is left out).
func (h HTTP) PageOrigins() []string {
	var out []string
	seen := map[string]bool{}
	add := func(o string) {
		if o != "" && !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	for _, o := range h.AllowedOrigins {
		n, _ := normalOrigin(o)
		add(n)
	}
	for _, u := range h.WSURLs {
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			continue
		}
		scheme := map[string]string{"ws": "http", "wss": "https"}[strings.ToLower(p.Scheme)]
		if scheme != "" {
			add(scheme + "://" + hostPort(strings.ToLower(p.Hostname()), p.Port(), scheme))
		}
	}
	return out
}
