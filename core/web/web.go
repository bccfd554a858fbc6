// Package web holds the embedded web client and builds the HTTP mux:
// / (client), /ws (WebSocket), /healthz and /metrics, the last two on an
// admin mux of their own when the operator asks for one.
//
// The client is plain ES modules (static/app.js and static/js/), loaded
// same-origin under a strict Content-Security-Policy: scripts, styles and
// connections only from the chat's own origin (and the other servers the
// page is given, servers.go), images also from http(s) URLs (members'
// avatars). Module extensions of plugins are served under /plugins/ of the
// same origin, so the policy admits them too.
package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The whole directory, subdirectories included (js/, js/views/).
//
//go:embed static
var static embed.FS

// contentTypes fixes the type of the client's files, whatever the host's
// MIME tables say: browsers run a module script only with a JavaScript
// type, and nosniff makes them trust the header.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
}

// ContentSecurityPolicy is the policy of every response. img-src admits
// http(s) images for avatars (a page served over https upgrades or blocks
// http images itself); everything else stays on the chat's origin.
const ContentSecurityPolicy = "default-src 'self'; connect-src 'self'; img-src 'self' data: https: http:; style-src 'self'; script-src 'self'; frame-ancestors 'self'"

// Client returns the web client's files.
func Client() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Health reports the server's state for /healthz. OK false answers 503.
type Health func() (ok bool, detail any)

// WebSocketPath is the path of the chat's WebSocket.
const WebSocketPath = "/ws"

// Routes are the handlers the mux serves. A nil Health or Metrics is not
// served.
type Routes struct {
	WebSocket http.Handler
	Health    Health
	Metrics   *prometheus.Registry
	// Extra maps further patterns (such as "/sso/") to handlers.
	Extra map[string]http.Handler
	// WebSocketURLs are the chat's WebSocket URLs the client tries in
	// order (http.ws_urls, servers.go); empty: the page's own /ws.
	WebSocketURLs []string
}

// Mux builds the HTTP handler.
func Mux(r Routes) http.Handler {
	mux := http.NewServeMux()
	files := http.FileServerFS(Client())
	mux.Handle("GET /", noCache(typed(files)))
	if len(r.WebSocketURLs) > 0 {
		mux.Handle("GET /{$}", noCache(clientPage(r.WebSocketURLs)))
	}
	mux.Handle("GET "+WebSocketPath, r.WebSocket)
	adminRoutes(mux, r)
	for pattern, h := range r.Extra {
		mux.Handle(pattern, h)
	}
	return withHeaders(mux, contentSecurityPolicy(r.WebSocketURLs))
}

// Admin builds the handler of the admin listener: /healthz and /metrics
// of r only.
func Admin(r Routes) http.Handler {
	mux := http.NewServeMux()
	adminRoutes(mux, r)
	return withHeaders(mux, ContentSecurityPolicy)
}

// adminRoutes adds /healthz and /metrics of r to mux.
func adminRoutes(mux *http.ServeMux, r Routes) {
	if r.Health != nil {
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			ok, detail := r.Health()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			if !ok {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			_ = json.NewEncoder(w).Encode(detail)
		})
	}
	if r.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(r.Metrics, promhttp.HandlerOpts{}))
	}
}

// typed sets the Content-Type of the client's files by their extension
// (the file server keeps a type that is set already).
func typed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct, ok := contentTypes[path.Ext(r.URL.Path)]; ok {
			w.Header().Set("Content-Type", ct)
		}
		h.ServeHTTP(w, r)
	})
}

// noCache makes browsers revalidate the client so an upgrade takes effect.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// withHeaders sets the security headers of every response, with the
// Content-Security-Policy csp.
func withHeaders(h http.Handler, csp string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Content-Security-Policy", csp)
		h.ServeHTTP(w, r)
	})
}
