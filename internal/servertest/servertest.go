// Package servertest runs real Parlor servers in tests and speaks the
// WebSocket chat protocol to them (see Client). Servers listen on free
// local ports, keep their data in the test's temporary directory and are
// shut down when the test ends.
package servertest

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
)

const (
	// StartTimeout bounds Server.Start (plugins included).
	StartTimeout = 30 * time.Second
	// ShutdownTimeout bounds Server.Shutdown.
	ShutdownTimeout = 10 * time.Second
)

// Config is the embedded defaults (config.Default) with the HTTP listener
// on a free local port and a fresh data directory. Callers adjust it
// before Start.
func Config(t testing.TB) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	return cfg
}

// Option changes how Start and TryStart build a server.
type Option func(*options)

type options struct {
	log hclog.Logger
}

// WithLogger makes the server log to log instead of nowhere.
func WithLogger(log hclog.Logger) Option {
	return func(o *options) { o.log = log }
}

// Start runs a server with cfg and fails the test if it does not start
// within StartTimeout. The server is shut down when the test ends, and a
// shutdown error fails the test. Shutdown is idempotent, so a test may
// stop the server earlier itself (see Stop), for instance to restart on
// the same data directory.
func Start(t testing.TB, cfg *config.Config, opts ...Option) *server.Server {
	t.Helper()
	srv, err := TryStart(t, cfg, opts...)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	return srv
}

// TryStart is Start for tests that expect the start to fail: it returns
// Start's error instead of failing the test. A configuration that
// server.New refuses still fails the test. When the server does start it
// is shut down when the test ends, as with Start.
func TryStart(t testing.TB, cfg *config.Config, opts ...Option) (*server.Server, error) {
	t.Helper()
	o := options{log: hclog.NewNullLogger()}
	for _, opt := range opts {
		opt(&o)
	}
	srv, err := server.New(cfg, o.log)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	t.Cleanup(func() { Stop(t, srv) })
	return srv, nil
}

// Stop shuts srv down within ShutdownTimeout and fails the test (without
// stopping it) on an error. Stopping a stopped server does nothing.
func Stop(t testing.TB, srv *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// URL is the base URL of srv's HTTP listener ("http://127.0.0.1:port").
func URL(srv *server.Server) string {
	return "http://" + srv.HTTPAddr()
}
