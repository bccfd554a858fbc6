package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// NATS returns the URL of the NATS server (with JetStream) tests use,
// nats://127.0.0.1:4222 unless PARLOR_TEST_NATS_URL says otherwise, and a
// subject and bucket prefix of the test's own, so tests running at once
// (and earlier runs' leftovers) do not meet. The test is skipped, or
// fails when PARLOR_REQUIRE_SERVICES=1, if the default server is absent.
func NATS(t testing.TB) (url, prefix string) {
	t.Helper()
	url = os.Getenv("PARLOR_TEST_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
		TCP(t, "NATS at 127.0.0.1:4222", "127.0.0.1:4222")
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return url, "t" + hex.EncodeToString(b)
}

// NATSServer is a nats-server (with JetStream) of the test's own on a
// free port, which the test may stop and start again on the same port,
// keeping its JetStream data: for tests of NATS going away.
type NATSServer struct {
	t    testing.TB
	bin  string
	port string
	dir  string
	cmd  *exec.Cmd
}

// StartNATS runs a NATSServer, stopped when the test ends. The test is
// skipped, or fails when PARLOR_REQUIRE_SERVICES=1, without nats-server.
func StartNATS(t testing.TB) *NATSServer {
	t.Helper()
	bin := Binary(t, "nats-server", "/usr/sbin/nats-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_ = ln.Close()
	s := &NATSServer{t: t, bin: bin, port: port, dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's nats:// URL.
func (s *NATSServer) URL() string { return "nats://127.0.0.1:" + s.port }

// Start starts the server (again) and waits until it listens.
func (s *NATSServer) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "-a", "127.0.0.1", "-p", s.port, "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start nats-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+s.port)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server did not listen on %s: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server; stopping a stopped one does nothing.
func (s *NATSServer) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}
