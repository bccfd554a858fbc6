package testenv

import (
	"bytes"
	"errors"
	"os/exec"
	"testing"
)

// Run runs the program bin with args and exactly the environment env (nil
// is an empty one) in the directory dir (empty: the test's), waits for it
// and returns what it wrote and its exit status. Failing to start it fails
// the test.
func Run(t testing.TB, bin, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", bin, err)
	}
	return out.String(), errOut.String(), code
}
