// Package web holds the embedded web client and builds the HTTP mux:
// / (client), /ws (WebSocket), /healthz and /metrics, the last two on an
// admin mux of their own when the operator asks for one.
package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed static
var static embed.FS

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

// Routes are the handlers the mux serves. A nil Health or Metrics is not
// served.
type Routes struct {
	WebSocket http.Handler
	Health    Health
	Metrics   *prometheus.Registry
	// Extra maps further patterns (such as "/sso/") to handlers.
	Extra map[string]http.Handler
}

// Mux builds the HTTP handler.
func Mux(r Routes) http.Handler {
	mux := http.NewServeMux()
	files := http.FileServerFS(Client())
	mux.Handle("GET /", noCache(files))
	mux.Handle("GET /ws", r.WebSocket)
	adminRoutes(mux, r)
	for pattern, h := range r.Extra {
		mux.Handle(pattern, h)
	}
	return securityHeaders(mux)
}

// Admin builds the handler of the admin listener: /healthz and /metrics
// of r only.
func Admin(r Routes) http.Handler {
	mux := http.NewServeMux()
	adminRoutes(mux, r)
	return securityHeaders(mux)
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

// noCache makes browsers revalidate the client so an upgrade takes effect.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'self'")
		h.ServeHTTP(w, r)
	})
}
