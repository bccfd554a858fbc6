// Command parlor runs the Parlor chat server.
//
//	parlor [--config FILE] [--http-addr HOST:PORT] [--data-dir DIR] [--log-level LEVEL]
//	parlor --help | --version
//
// Without --config it runs on the embedded defaults (config/parlor.yaml).
//
// Exit status: 0 after a clean shutdown (or --help, --version), 1 when the
// configuration is refused or the server fails, 2 on a bad flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/core/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const about = `Usage: parlor [flags]

Runs the Parlor chat server. Without --config it runs on the embedded
defaults (config/parlor.yaml); a file needs only the keys it changes. Every
key can also be set in the environment: PARLOR_HTTP__ADDR=0.0.0.0:8080 sets
http.addr. Flags win over both. A key that is not a setting stops start-up.

Flags:
`

// run runs the server with the command line args and the environment
// environ until ctx ends, and returns the exit status.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parlor", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints usage and errors itself
	path := fs.String("config", "", "configuration `file` (YAML); the embedded defaults when empty")
	addr := fs.String("http-addr", "", "override http.addr (`host:port` of the web client and /ws)")
	dataDir := fs.String("data-dir", "", "override data_dir (`directory` of the store and status files)")
	level := fs.String("log-level", "", "override log.level (`level`: trace, debug, info, warn, error)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stdout)
			return 0
		}
		fmt.Fprintf(stderr, "parlor: %v\nRun parlor --help for the flags.\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parlor: unexpected argument %q\nRun parlor --help for the flags.\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "parlor", version.Number)
		return 0
	}
	overrides := map[string]any{}
	for key, v := range map[string]string{"http.addr": *addr, "data_dir": *dataDir, "log.level": *level} {
		if v != "" {
			overrides[key] = v
		}
	}
	cfg, err := config.Load(*path, environ, overrides)
	if err != nil {
		return fail(stderr, err)
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name: "parlor", Level: hclog.LevelFromString(cfg.Log.Level), JSONFormat: cfg.Log.JSON,
		Output: stderr, TimeFormat: "2006-01-02T15:04:05.000Z07:00",
	})
	srv, err := server.New(cfg, log)
	if err != nil {
		return fail(stderr, err)
	}
	if err := srv.Run(ctx); err != nil {
		return fail(stderr, err)
	}
	return 0
}

// printUsage writes the help text and the flags to w.
func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, about)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "  -h, -help\n    \tprint this help and exit\n")
	fs.SetOutput(io.Discard)
}

// fail prints err, one line of it per line, and returns exit status 1.
func fail(stderr io.Writer, err error) int {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintln(stderr, "parlor:", line)
	}
	return 1
}
