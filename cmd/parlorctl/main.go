// Command parlorctl is the operator's command line for a running Parlor.
//
//	parlorctl [--url http://127.0.0.1:8080] health
//
// health prints the server's /healthz report and exits non-zero when the
// server is unhealthy or unreachable.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "parlorctl:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("parlorctl", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of the server's HTTP listener")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for an answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "health":
		return health(*base, *timeout, out)
	case "":
		return fmt.Errorf("usage: parlorctl [--url URL] health")
	default:
		return fmt.Errorf("unknown command %q (known: health)", fs.Arg(0))
	}
}

func health(base string, timeout time.Duration, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		return fmt.Errorf("health: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: server answered %s", resp.Status)
	}
	return nil
}
