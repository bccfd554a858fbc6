package testenv

import (
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// FreeAddr returns a local TCP address ("127.0.0.1:port") nobody listens
// on right now, for a server that must be told its address before it
// starts, or for an address that must refuse connections.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// PHPServer runs php-cli's built-in web server (php -S) on a free local
// port with docroot as its document root and env added to the
// environment, waits until it listens and returns its base URL
// ("http://127.0.0.1:port"). The server runs in its own process group,
// all of which is killed when the test ends; its output is logged if the
// test failed. The test is skipped, or fails when
// PARLOR_REQUIRE_SERVICES=1, if php is not on PATH.
func PHPServer(t testing.TB, docroot string, env []string) string {
	t.Helper()
	php := Binary(t, "php")
	addr := FreeAddr(t)
	cmd := exec.Command(php, "-S", addr, "-t", docroot)
	cmd.Env = append(os.Environ(), env...)
	// Own process group, so that stopping it also stops any workers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start php -S: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("php -S output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("php -S did not listen on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
