// Package server wires Parlor together from a Config: store, chat group,
// plugins, login pipeline, transports and the HTTP mux; it runs them and
// shuts them down.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/cluster"
	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/core/pluginhost"
	"github.com/parlorchat/parlor/core/session"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/core/transport/websocket"
	"github.com/parlorchat/parlor/core/version"
	"github.com/parlorchat/parlor/core/web"
)

// Version is the server version reported to clients (core/version).
const Version = version.Number

// Server is a running Parlor.
type Server struct {
	cfg *config.Config
	log hclog.Logger

	store   store.Store
	plugins *pluginhost.Host
	group   *chat.Group
	node    *session.Node // the chat protocol, shared by the transports
	ws      *websocket.Handler
	tcp     tcpParts // the TCP transport, when tcp.addr is set (tcp.go)
	http    *http.Server
	ln      *websocket.Listener // http.addr: the chat's handshakes, the rest for http
	served  chan struct{}
	// refusals counts what the abuse limits refused (/metrics:
	// parlor_rate_limited_total); every limit of the server shares it.
	refusals *limit.Refusals
	api      apiParts      // server API and status files (serverapi.go)
	acct     accountParts  // accounts, sessions, Host API (accounts.go)
	adm      adminParts    // admin listener of /metrics and /healthz (admin.go)
	mods     moduleParts   // the module pipeline (modules.go)
	cluster  *cluster.Node // this node of a cluster, or nil (cluster.go)

	stopOnce sync.Once
}

// New prepares a server; nothing is opened until Start.
func New(cfg *config.Config, log hclog.Logger) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("new server: no configuration")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Server{cfg: cfg, log: log, refusals: limit.NewRefusals()}, nil
}

// Start opens the store, loads rooms and history, launches the plugins and
// begins serving HTTP in the background.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.closeAll(context.Background())
		}
	}()
	cfg := s.cfg
	st, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	s.store = st
	if err := s.startCluster(ctx); err != nil {
		return err
	}
	if err := s.startAccounts(ctx); err != nil {
		return err
	}
	link, slot := s.link()
	s.group = chat.NewGroup(chat.Options{
		Link: link, Slot: slot,
		Name: cfg.Chat.Group, History: cfg.Chat.History, MaxMessageChars: cfg.Chat.MaxMessageChars,
		Guests: cfg.Chat.Guests, SaveMessages: s.saveMessages, OnChange: s.notifyStatus,
		SaveTimeout: cfg.Chat.SaveTimeout, MaxUnsaved: cfg.Chat.MaxUnsaved,
		Sanctions: s.acct.host, Observe: s.observe, RoomListDelay: roomListDelay(cfg.Chat.RoomListDelay),
		PresenceBatch: cfg.Chat.PresenceBatch, DeltaWrites: cfg.Chat.RoomListWrites, ModeratorsSeeIP: cfg.Chat.ModeratorsSeeIP, TimeZone: cfg.Chat.TimeZone,
	})
	if err := s.loadRooms(ctx); err != nil {
		return err
	}
	if err := s.startDispatcher(); err != nil {
		return err
	}
	s.acct.host.SetChat(s.group, s.api.dispatcher)
	s.api.dispatcher.SetHost(s.acct.host.Operator())

	chain, err := s.startPlugins(ctx)
	if err != nil {
		return err
	}
	hooks := s.startModules()
	if err := s.joinCluster(ctx); err != nil {
		return err
	}
	pipeline := auth.New(cfg.Chat.Group, s.withLocalAccounts(chain), cfg.Chat.Guests, s.log.Named("auth")).WithLimits(s.authLimits())
	s.node = session.New(s.group, pipeline, session.Options{
		LoginTimeout: cfg.HTTP.LoginTimeout, CallTimeout: cfg.HTTP.WriteTimeout,
		Version: Version, Logger: s.log.Named("session"),
		Sessions: s.acct.sessions, Limits: s.connLimits(),
		Hooks: hooks, Holder: s.acct.host, MessagesInFlight: cfg.Modules.MessagesInFlight,
	})
	s.announce()
	s.ws = websocket.New(s.node, websocket.Options{
		MaxFrameBytes: cfg.HTTP.MaxFrameBytes, SendQueue: cfg.HTTP.SendQueue,
		WriteTimeout: cfg.HTTP.WriteTimeout, PingInterval: cfg.HTTP.PingInterval, Logger: s.log.Named("ws"),
		SendQueueBytes: cfg.HTTP.SendQueueBytes, PublicNames: cfg.HTTP.PublicNames,
		AllowedOrigins: cfg.HTTP.PageOrigins(),
	})
	if err := s.startTCP(ctx); err != nil {
		return err
	}

	if err := s.startServerAPI(ctx); err != nil {
		return err
	}
	routes := web.Routes{WebSocket: s.ws, Extra: s.moduleRoutes(s.apiRoutes()), WebSocketURLs: cfg.HTTP.WSURLs}
	if err := s.startAdmin(s.adminRoutes(&routes)); err != nil {
		return err
	}
	mux := web.Mux(routes)
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (config key http.addr): %w", cfg.HTTP.Addr, err)
	}
	s.ln = s.ws.Listen(ln, websocket.ListenOptions{Path: web.WebSocketPath, HeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		MaxHeaderBytes: cfg.HTTP.MaxHeaderBytes, ResponseTimeout: cfg.HTTP.ResponseTimeout})
	s.http = s.newHTTPServer(mux)
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err)
		}
	}()
	conns, _, rooms := s.group.Counts()
	served := []any{"http", "http://" + ln.Addr().String()}
	if a := s.AdminAddr(); a != "" {
		served = append(served, "admin", "http://"+a)
	}
	if a := s.TCPAddr(); a != "" {
		served = append(served, "tcp", a)
	}
	s.log.Info("parlor is serving", append(served, "rooms", rooms, "connections", conns, "data_dir", cfg.DataDir)...)
	return nil
}

// HTTPAddr is the address the HTTP listener is bound to.
func (s *Server) HTTPAddr() string { return s.ln.Addr().String() }

// Group returns the chat group the server hosts.
func (s *Server) Group() *chat.Group { return s.group }

// Plugins returns the plugin host.
func (s *Server) Plugins() *pluginhost.Host { return s.plugins }

// Run starts the server and blocks until ctx is done, then shuts down.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

// Shutdown stops accepting connections, closes the open ones, stops the
// plugins (a module's Stop hook runs while the Host API and the store
// still work), waits for the messages being saved and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.log.Info("shutting down")
		err = s.closeAll(ctx)
	})
	return err
}

func (s *Server) closeAll(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		// Shutdown closes it unless it came before Serve started.
		if err := s.ln.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the http listener: %w", err))
		}
		<-s.served
	}
	errs = append(errs, s.stopAdmin(ctx), s.stopServerAPI(ctx), s.stopTCPListener())
	if s.group != nil {
		s.group.CloseAll("server shutting down")
	}
	if s.ws != nil {
		if err := s.ws.Wait(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close connections: %w", err))
		}
	}
	errs = append(errs, s.waitTCP(ctx))
	s.closeStatus()
	if p := s.mods.pipe.Load(); p != nil {
		p.Close()
	}
	if s.plugins != nil {
		s.plugins.Stop()
	}
	if s.group != nil {
		// Messages said before the connections closed are saved first.
		if err := s.group.WaitSaved(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// The modules' Stop (boards saved, leases given up) and the last
	// messages' fan-out still use the cluster.
	s.leaveCluster()
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (s *Server) startPlugins(ctx context.Context) ([]auth.Authenticator, error) {
	pc := s.cfg.Plugins
	s.plugins = pluginhost.New(pluginhost.Options{
		Dir: pc.Dir, CallTimeout: pc.CallTimeout, HealthInterval: pc.HealthInterval,
		MaxBackoff: pc.MaxBackoff, StopTimeout: s.cfg.Modules.StopTimeout, Logger: s.log.Named("plugin"), HostAPI: s.hostAPIFor,
		OnReady: s.moduleReady,
	}, s.pluginSpecs())
	if err := s.plugins.Start(ctx); err != nil {
		return nil, fmt.Errorf("start plugins: %w", err)
	}
	chain := make([]auth.Authenticator, 0, len(s.cfg.Auth.Chain))
	for _, name := range s.cfg.Auth.Chain {
		a, ok := s.plugins.Authenticator(name)
		if !ok {
			return nil, fmt.Errorf("config key auth.chain: plugin %q is not an authenticator", name)
		}
		chain = append(chain, a)
	}
	return chain, nil
}

// health answers /healthz: ok while every plugin runs and, on a node of a
// cluster, NATS is connected.
func (s *Server) health() (bool, any) {
	conns, users, rooms := s.group.Counts()
	plugins := s.plugins.Status()
	ok := true
	for _, p := range plugins {
		ok = ok && p.Running
	}
	body := map[string]any{
		"version": Version, "connections": conns, "users": users, "rooms": rooms,
		"plugins": plugins,
	}
	if s.cluster != nil {
		// A node cut off from NATS serves its members but refuses logins
		// (names cannot be checked): the balancer should send new
		// visitors elsewhere.
		st := s.cluster.Status()
		ok = ok && st.Connected
		body["cluster"] = st
	}
	body["status"] = "ok"
	if !ok {
		body["status"] = "degraded"
	}
	return ok, body
}

// metrics builds the Prometheus registry for /metrics; the gauges read the
// live counts, so nothing on the message path updates them.
func (s *Server) metrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	g := s.group
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "parlor", Name: name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("connections", "Open client connections of this node.", func() float64 { return float64(g.LocalConns()) }),
		gauge("users_logged_in", "Logged-in users (of the whole cluster on a node of one).", func() float64 { _, u, _ := g.Counts(); return float64(u) }),
		gauge("rooms", "Rooms.", func() float64 { _, _, r := g.Counts(); return float64(r) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "parlor", Name: "messages_total", Help: "Public messages said since start."},
			func() float64 { return float64(g.MessagesSaid()) }),
		s.refusals.Collector(),
		s.plugins.Collector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if p := s.mods.pipe.Load(); p != nil {
		reg.MustRegister(p.Collectors()...)
	}
	if s.cluster != nil {
		reg.MustRegister(s.cluster.Collectors()...)
	}
	return reg
}

// roomListDelay is chat.room_list_delay as chat.Options wants it: the
// configuration's 0 (each change at once) is a negative delay there.
func roomListDelay(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
