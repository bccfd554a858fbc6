// Command parlor runs the Parlor chat server.
//
//	parlor [--config FILE] [--http-addr HOST:PORT] [--data-dir DIR] [--log-level LEVEL]
//
// Without --config it runs on the embedded defaults (config/parlor.yaml).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "parlor:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("parlor", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (YAML); the embedded defaults when empty")
	addr := fs.String("http-addr", "", "override http.addr")
	dataDir := fs.String("data-dir", "", "override data_dir")
	level := fs.String("log-level", "", "override log.level")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if *version {
		fmt.Println("parlor", server.Version)
		return nil
	}
	overrides := map[string]any{}
	for key, v := range map[string]string{"http.addr": *addr, "data_dir": *dataDir, "log.level": *level} {
		if v != "" {
			overrides[key] = v
		}
	}
	cfg, err := config.Load(*path, os.Environ(), overrides)
	if err != nil {
		return err
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name: "parlor", Level: hclog.LevelFromString(cfg.Log.Level), JSONFormat: cfg.Log.JSON,
		Output: os.Stderr, TimeFormat: "2006-01-02T15:04:05.000Z07:00",
	})
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx)
}
