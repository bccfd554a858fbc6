package dbauthtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/parlorchat/parlor/sdk"
)

// Proxy is a TCP proxy in front of a database server. Stop closes its
// port and every connection through it, as a server going down does;
// Start opens the same port again. Stall makes it accept connections and
// forward nothing, as a hung server does.
type Proxy struct {
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	stalled bool
	wg      sync.WaitGroup
}

// NewProxy reserves a local port for a proxy to target, initially stopped.
// The proxy is stopped when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: reserve a port: %v", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	_ = ln.Close()
	t.Cleanup(p.Stop)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Start listens and forwards.
func (p *Proxy) Start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy: listen on %s: %v", p.addr, err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
}

// Stall makes new connections hang (on) or be forwarded again (off).
func (p *Proxy) Stall(on bool) {
	p.mu.Lock()
	p.stalled = on
	p.mu.Unlock()
}

// Stop closes the port and every open connection.
func (p *Proxy) Stop() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.ln != ln {
			p.mu.Unlock()
			_ = c.Close()
			return
		}
		p.conns[c] = struct{}{}
		stalled := p.stalled
		p.mu.Unlock()
		if stalled {
			continue // held open, never answered, until Stop
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if _, ok := p.conns[c]; !ok {
		p.mu.Unlock()
		_ = up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			_ = c.Close()
			_ = up.Close()
		})
	}
	var inner sync.WaitGroup
	inner.Add(2)
	go func() { defer inner.Done(); _, _ = io.Copy(up, c); closeBoth() }()
	go func() { defer inner.Done(); _, _ = io.Copy(c, up); closeBoth() }()
	inner.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// jsonConfig turns cfg into an sdk.Config like sdktest.Config does.
func jsonConfig(cfg any) (sdk.Config, error) {
	switch v := cfg.(type) {
	case nil:
		return sdk.Config{}, nil
	case string:
		return sdk.Config{Raw: []byte(v)}, nil
	case []byte:
		return sdk.Config{Raw: v}, nil
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return sdk.Config{}, fmt.Errorf("marshal config: %w", err)
	}
	return sdk.Config{Raw: raw}, nil
}
