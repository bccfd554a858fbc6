package server_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/servertest"
)

// tcpServer runs a server with the TCP transport on a free port.
func tcpServer(t *testing.T) string {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.TCP.Addr = "127.0.0.1:0"
	srv := servertest.Start(t, cfg)
	if srv.TCPAddr() == "" {
		t.Fatal("tcp.addr is set but the server has no TCP listener")
	}
	return srv.TCPAddr()
}

func TestTCPUserAndWebSocketUserChat(t *testing.T) {
	cfg := servertest.Config(t)
	cfg.TCP.Addr = "127.0.0.1:0"
	srv := servertest.Start(t, cfg)

	web := servertest.Dial(t, srv)
	web.Login("webby", "")
	web.Join(1, "")

	term := servertest.DialTCP(t, srv.TCPAddr())
	term.Login("terminal", "")
	joined := term.Join(1, "")
	if users, _ := joined["users"].([]any); len(users) != 2 {
		t.Fatalf("joined users = %v, want webby and terminal", joined["users"])
	}
	web.WantMatch("presence", func(ev map[string]any) bool { return ev["user"] == "terminal" && ev["event"] == "join" })

	term.Send(map[string]any{"type": "say", "text": "hello from a terminal"})
	got := web.WantMatch("message", func(ev map[string]any) bool { return ev["from"] == "terminal" })
	if got["text"] != "hello from a terminal" {
		t.Fatalf("web got %v", got)
	}
	web.Send(map[string]any{"type": "say", "text": "hello from a browser"})
	got = term.WantMatch("message", func(ev map[string]any) bool { return ev["from"] == "webby" })
	if got["text"] != "hello from a browser" {
		t.Fatalf("terminal got %v", got)
	}

	term.Send(map[string]any{"type": "pm", "to": "webby", "text": "psst"})
	if pm := web.Want("private"); pm["from"] != "terminal" || pm["text"] != "psst" {
		t.Fatalf("web got %v", pm)
	}
}

func TestTCPRefusesALongLine(t *testing.T) {
	addr := tcpServer(t)
	c := servertest.DialTCP(t, addr)
	long := `{"type":"ping","id":"` + strings.Repeat("x", 70000) + `"}` + "\n"
	if _, err := c.Line().Write([]byte(long)); err != nil {
		t.Fatal(err)
	}
	if msg := c.WantError("bad_request"); !strings.Contains(msg, "longer than") {
		t.Fatalf("error %q, want one about the line length", msg)
	}
	if err := c.WaitClosed(); err == nil {
		t.Fatal("the connection read on after a line too long")
	}
}

func TestTCPAnswersBadJSONAndStaysOpen(t *testing.T) {
	c := servertest.DialTCP(t, tcpServer(t))
	if _, err := c.Line().Write([]byte("not json\r\n\n")); err != nil {
		t.Fatal(err)
	}
	c.WantError("bad_request")
	c.Send(map[string]any{"type": "ping", "id": "1"})
	if pong := c.Want("pong"); pong["id"] != "1" {
		t.Fatalf("pong = %v", pong)
	}
}

func TestTCPIsOffByDefault(t *testing.T) {
	srv := servertest.Start(t, servertest.Config(t))
	if a := srv.TCPAddr(); a != "" {
		t.Fatalf("a default server listens for TCP chat on %s", a)
	}
}

func TestTCPOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	cfg := servertest.Config(t)
	cfg.TCP.Addr = "127.0.0.1:0"
	cfg.TCP.TLSCert, cfg.TCP.TLSKey = certFile, keyFile
	srv := servertest.Start(t, cfg)

	d := &tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}}
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", srv.TCPAddr())
	if err != nil {
		t.Fatalf("dial tls: %v", err)
	}
	c := servertest.OverTCP(t, nc)
	c.Login("secure", "")
	c.Join(1, "")

	// A client that does not speak TLS gets no hello.
	plain, err := net.DialTimeout("tcp", srv.TCPAddr(), servertest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_, _ = plain.Write([]byte(`{"type":"ping"}` + "\n"))
	_ = plain.SetReadDeadline(time.Now().Add(servertest.Timeout))
	line, _ := bufio.NewReader(plain).ReadString('\n')
	if strings.Contains(line, `"hello"`) {
		t.Fatalf("a plain client got %q from the TLS listener", line)
	}
}

// selfSigned writes a certificate for localhost and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTCPAndWebSocketShareTheCapsPerAddress(t *testing.T) {
	cfg := servertest.Config(t)
	cfg.TCP.Addr = "127.0.0.1:0"
	cfg.Limits.ConnsPerIP = 2
	srv := servertest.Start(t, cfg)
	servertest.Dial(t, srv).Login("one", "")
	servertest.DialTCP(t, srv.TCPAddr()).Login("two", "")

	nc, err := net.DialTimeout("tcp", srv.TCPAddr(), servertest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(servertest.Timeout))
	br := bufio.NewReader(nc)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read the refusal: %v", err)
	}
	if !strings.Contains(line, `"code":"rate_limited"`) || !strings.Contains(line, `"retry_after_ms":10000`) {
		t.Fatalf("third connection got %q, want the rate_limited refusal", line)
	}
	if rest, err := br.ReadString('\n'); err == nil {
		t.Fatalf("the refused connection stayed open and sent %q", rest)
	}
}
