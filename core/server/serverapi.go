package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/parlorchat/parlor/core/serverapi"
	"github.com/parlorchat/parlor/core/status"
)

// apiParts are the server API and the status files of a running server.
type apiParts struct {
	// status is set once the status files start; plugins that change
	// rooms while the server starts may notify before that.
	status     atomic.Pointer[status.Writer]
	dispatcher *serverapi.Dispatcher
	tcp        *serverapi.TCPServer
	ln         net.Listener
	served     chan struct{}
}

// startServerAPI starts the status writer, builds the command dispatcher
// and, when the group has an api_pwd, the TCP listener of XML commands.
// startDispatcher makes the server API's command dispatcher, which the
// Host API's room calls share (before the plugins start, which may call
// them).
func (s *Server) startDispatcher() error {
	cfg := s.cfg
	group := s.group.Name()
	access := cfg.ServerAPI.Groups[group]
	d, err := serverapi.New(serverapi.Options{
		Store: s.store, DefaultGroup: group, MaxFrameBytes: cfg.ServerAPI.MaxFrameBytes,
		Groups:          []serverapi.GroupAccess{{Chat: s.group, Password: access.Password, AllowFrom: access.AllowFrom}},
		FailedPasswords: cfg.ServerAPI.FailedPasswordsPerAddr, Refusals: s.refusals,
		Scheduler: s.scheduleApplied, Logger: s.log.Named("serverapi"),
	})
	if err != nil {
		return fmt.Errorf("config key server_api.groups.%s: %w", group, err)
	}
	s.api.dispatcher = d
	return nil
}

func (s *Server) startServerAPI(ctx context.Context) error {
	cfg := s.cfg
	group := s.group.Name()
	if cfg.Status.Enabled {
		if group == "." || group == ".." || strings.ContainsAny(group, `/\`) {
			return fmt.Errorf("config key chat.group: %q cannot name a directory for the status files", group)
		}
		w, err := status.New(filepath.Join(cfg.DataDir, group), s.group, status.Options{
			MinInterval: cfg.Status.MinInterval, Logger: s.log.Named("status"),
		})
		if err != nil {
			return fmt.Errorf("start status files: %w", err)
		}
		s.api.status.Store(w)
	}

	access := cfg.ServerAPI.Groups[group]
	if cfg.ServerAPI.Addr == "" {
		return nil
	}
	if access.Password == "" {
		s.log.Info("server API is off: group has no api_pwd; set server_api.groups."+group+".api_pwd "+
			"(or PARLOR_SERVER_API__GROUPS__"+strings.ToUpper(group)+"__API_PWD) to enable it", "addr", cfg.ServerAPI.Addr)
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.ServerAPI.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (config key server_api.addr): %w", cfg.ServerAPI.Addr, err)
	}
	s.api.ln = ln
	s.api.tcp = serverapi.NewTCPServer(s.api.dispatcher, serverapi.TCPOptions{
		MaxFrameBytes: cfg.ServerAPI.MaxFrameBytes, ReadTimeout: cfg.ServerAPI.ReadTimeout,
		WriteTimeout: cfg.HTTP.WriteTimeout, MaxConns: cfg.ServerAPI.MaxConns, Logger: s.log.Named("serverapi"),
		MaxConnsPerAddr: cfg.ServerAPI.MaxConnsPerAddr, Refusals: s.refusals,
	})
	s.api.served = make(chan struct{})
	go func() {
		defer close(s.api.served)
		if err := s.api.tcp.Serve(ln); err != nil {
			s.log.Error("server API listener stopped", "error", err)
		}
	}()
	s.log.Info("server API is listening", "addr", ln.Addr().String(), "group", group)
	return nil
}

// apiRoutes mounts the JSON twin of the server API on the HTTP mux.
func (s *Server) apiRoutes() map[string]http.Handler {
	if s.api.dispatcher == nil || !s.cfg.ServerAPI.HTTP {
		return nil
	}
	h := s.api.dispatcher.HTTPHandler()
	return map[string]http.Handler{"GET " + serverapi.HTTPPrefix: h, "POST " + serverapi.HTTPPrefix: h}
}

// notifyStatus is the group's change hook: it schedules a rewrite of the
// status files.
func (s *Server) notifyStatus() {
	if w := s.api.status.Load(); w != nil {
		w.Notify()
	}
}

// stopServerAPI closes the TCP listener and the API connections.
func (s *Server) stopServerAPI(ctx context.Context) error {
	if s.api.tcp == nil {
		return nil
	}
	err := s.api.tcp.Close(ctx)
	select {
	case <-s.api.served:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("stop server API: %w", ctx.Err()))
	}
	return err
}

// closeStatus writes the status files a last time and stops the writer.
func (s *Server) closeStatus() {
	if w := s.api.status.Load(); w != nil {
		w.Close()
	}
}

// APIAddr is the address the server API's TCP listener is bound to, or ""
// when it does not run.
func (s *Server) APIAddr() string {
	if s.api.ln == nil {
		return ""
	}
	return s.api.ln.Addr().String()
}
