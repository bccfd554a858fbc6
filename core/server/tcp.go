package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/parlorchat/parlor/core/transport/tcp"
)

// tcpParts is the chat protocol over TCP (tcp.addr).
type tcpParts struct {
	srv    *tcp.Server
	ln     net.Listener
	served chan struct{}
}

// startTCP serves the chat protocol on tcp.addr, with TLS when
// tcp.tls_cert and tcp.tls_key are set; an empty tcp.addr serves nothing.
func (s *Server) startTCP(ctx context.Context) error {
	tc := s.cfg.TCP
	if tc.Addr == "" {
		return nil
	}
	lc := net.ListenConfig{KeepAlive: tc.KeepAlive}
	ln, err := lc.Listen(ctx, "tcp", tc.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (config key tcp.addr): %w", tc.Addr, err)
	}
	if tc.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(tc.TLSCert, tc.TLSKey)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("config keys tcp.tls_cert, tcp.tls_key: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	hc := s.cfg.HTTP
	t := &s.tcp
	t.ln = ln
	t.srv = tcp.New(s.node, tcp.Options{
		MaxLineBytes: int(hc.MaxFrameBytes), SendQueue: hc.SendQueue, SendQueueBytes: hc.SendQueueBytes,
		WriteTimeout: hc.WriteTimeout, IdleTimeout: tc.IdleTimeout, Logger: s.log.Named("tcp"),
	})
	t.served = make(chan struct{})
	go func() {
		defer close(t.served)
		if err := t.srv.Serve(ln); err != nil {
			s.log.Error("tcp listener stopped", "error", err)
		}
	}()
	return nil
}

// stopTCPListener stops accepting TCP connections; the open ones end with
// the group's.
func (s *Server) stopTCPListener() error {
	t := &s.tcp
	if t.srv == nil {
		return nil
	}
	err := t.srv.Close()
	<-t.served
	if err != nil {
		return fmt.Errorf("tcp shutdown: %w", err)
	}
	return nil
}

// waitTCP waits for the TCP connections to end.
func (s *Server) waitTCP(ctx context.Context) error {
	if s.tcp.srv == nil {
		return nil
	}
	if err := s.tcp.srv.Wait(ctx); err != nil {
		return fmt.Errorf("close tcp connections: %w", err)
	}
	return nil
}

// TCPAddr is the address of the TCP chat listener, or "" when tcp.addr is
// empty.
func (s *Server) TCPAddr() string {
	if s.tcp.ln == nil {
		return ""
	}
	return s.tcp.ln.Addr().String()
}
