package servertest

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/testenv"
)

// Process is a server binary (a build of cmd/parlor) running as a child
// process, for tests that must kill it the hard way.
type Process struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
	// Output collects the process's stdout and stderr.
	Output *testenv.LogBuffer
}

// StartProcess runs bin with --http-addr on a free local port, --data-dir
// dataDir and the given extra arguments, and waits up to StartTimeout for
// its /healthz to answer. The process is killed when the test ends.
func StartProcess(t testing.TB, bin, dataDir string, args ...string) *Process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	out := &testenv.LogBuffer{}
	cmd := exec.Command(bin, append([]string{"--http-addr", addr, "--data-dir", dataDir}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &Process{t: t, cmd: cmd, url: "http://" + addr, exited: make(chan struct{}), Output: out}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.Kill)
	deadline := time.Now().Add(StartTimeout)
	for {
		select {
		case <-p.exited:
			t.Fatalf("%s exited during start-up:\n%s", bin, out)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/healthz", nil)
		res, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			_ = res.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not serve /healthz within %v: %v\n%s", bin, StartTimeout, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is the process's base URL ("http://127.0.0.1:port").
func (p *Process) URL() string { return p.url }

// Kill sends SIGKILL and waits for the process to be gone. Killing a dead
// process does nothing.
func (p *Process) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(ShutdownTimeout):
		p.t.Errorf("process %d still running %v after SIGKILL", p.cmd.Process.Pid, ShutdownTimeout)
	}
}
