package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/session"
	"github.com/parlorchat/parlor/core/web"
)

// adminParts is the admin listener of /metrics, /healthz and the
// profiles under /debug/pprof/ (admin.addr).
type adminParts struct {
	srv    *http.Server
	ln     net.Listener
	served chan struct{}
}

// connLimits are the abuse limits of chat connections from the config,
// counting refusals in the server's shared counter.
func (s *Server) connLimits() session.Limits {
	l := s.cfg.Limits
	return session.Limits{
		Say: l.Say, SayUser: l.SayUser, Join: l.Join, PM: l.PM, PMRecipient: l.PMRecipient,
		RoomPassword: l.RoomPassword, ConnsPerIP: l.ConnsPerIP, UnauthenticatedPerIP: l.UnauthenticatedPerIP,
		Refusals: s.refusals,
	}
}

// newHTTPServer is an http.Server for h with the timeouts and header
// limit of the http section.
func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	hc := s.cfg.HTTP
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: hc.ReadHeaderTimeout,
		ReadTimeout:       hc.ReadTimeout,
		WriteTimeout:      hc.ResponseTimeout,
		IdleTimeout:       hc.IdleTimeout,
		MaxHeaderBytes:    hc.MaxHeaderBytes,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
}

// adminRoutes splits /metrics and /healthz from the main routes: they
// stay in routes when admin.addr is empty and are returned for the admin
// listener otherwise.
func (s *Server) adminRoutes(routes *web.Routes) *web.Routes {
	admin := &web.Routes{Health: s.health, Metrics: s.metrics()}
	if s.cfg.Admin.Addr == "" {
		routes.Health, routes.Metrics = admin.Health, admin.Metrics
		return nil
	}
	return admin
}

// startAdmin serves routes on admin.addr.
func (s *Server) startAdmin(routes *web.Routes) error {
	if routes == nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Admin.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s (config key admin.addr): %w", s.cfg.Admin.Addr, err)
	}
	a := &s.adm
	a.ln = ln
	a.srv = s.newHTTPServer(adminHandler(web.Admin(*routes)))
	a.served = make(chan struct{})
	go func() {
		defer close(a.served)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin server stopped", "error", err)
		}
	}()
	return nil
}

// adminHandler serves the Go runtime's profiles (net/http/pprof) under
// /debug/pprof/ and everything else through routes. The handlers are
// registered on this mux only, never on http.DefaultServeMux, so they are
// answered on the admin listener and nowhere else. A CPU profile or trace
// may last longer than http.response_timeout: net/http/pprof moves the
// write deadline by the seconds asked for.
func adminHandler(routes http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.Handle("/", routes)
	return mux
}

// stopAdmin closes the admin listener.
func (s *Server) stopAdmin(ctx context.Context) error {
	a := &s.adm
	if a.srv == nil {
		return nil
	}
	err := a.srv.Shutdown(ctx)
	<-a.served
	if err != nil {
		return fmt.Errorf("admin shutdown: %w", err)
	}
	return nil
}

// AdminAddr is the address of the admin listener, or "" when /metrics and
// /healthz are served on HTTPAddr.
func (s *Server) AdminAddr() string {
	if s.adm.ln == nil {
		return ""
	}
	return s.adm.ln.Addr().String()
}
