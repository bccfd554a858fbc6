package config

import (
	"strings"
	"time"
)

// The store drivers of store.driver.
const (
	// StoreDriverSQLite keeps everything in <data_dir>/parlor.db: one node.
	StoreDriverSQLite = "sqlite"
	// StoreDriverPostgres keeps everything in a PostgreSQL database that
	// several nodes share (store.postgres).
	StoreDriverPostgres = "postgres"
)

// Store chooses where the state that survives a restart is kept (rooms,
// history, accounts, sessions, the plugins' data, the moderation log).
type Store struct {
	// Driver is StoreDriverSQLite (the embedded default) or
	// StoreDriverPostgres.
	Driver string `koanf:"driver"`
	// Postgres configures the PostgreSQL store; read only when Driver is
	// StoreDriverPostgres.
	Postgres StorePostgres `koanf:"postgres"`
}

// StorePostgres configures the PostgreSQL store (docs/operations.md,
// "Several nodes: the PostgreSQL store").
type StorePostgres struct {
	// DSN is the connection string: a URL such as
	// postgres://parlor:secret@db.example.com:5432/parlor?sslmode=verify-full,
	// or libpq's key=value pairs. What it leaves out comes from the PG*
	// environment variables (PGPASSWORD, ...).
	DSN string `koanf:"dsn"`
	// MaxConns bounds the connections the server opens to the database.
	MaxConns int `koanf:"max_conns"`
	// ConnectTimeout bounds one attempt to connect; the server does not
	// start when the first one fails.
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
}

// validateStore checks the store section.
func (c *Config) validateStore(bad func(key, format string, a ...any)) {
	s := c.Store
	switch s.Driver {
	case StoreDriverSQLite, StoreDriverPostgres:
	default:
		bad("store.driver", "%q is not sqlite or postgres", s.Driver)
	}
	p := s.Postgres
	if s.Driver == StoreDriverPostgres && strings.TrimSpace(p.DSN) == "" {
		bad("store.postgres.dsn", "must be set when store.driver is postgres, e.g. postgres://parlor:secret@db.example.com:5432/parlor (PARLOR_STORE__POSTGRES__DSN keeps the password out of the file)")
	}
	if p.MaxConns < 1 || p.MaxConns > 10000 {
		bad("store.postgres.max_conns", "%d is outside 1..10000", p.MaxConns)
	}
	if p.ConnectTimeout <= 0 {
		bad("store.postgres.connect_timeout", "must be a positive duration such as 10s")
	}
}
