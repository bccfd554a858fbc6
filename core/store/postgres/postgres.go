// Package postgres is the PostgreSQL store of Parlor, for several nodes
// that share one database (store.driver: postgres). It implements
// store.Store, store.Accounts, store.HostData and store.AuditLog with the
// semantics of the embedded SQLite store, which the common suite
// (core/store/storetest) checks against both.
//
// It talks to PostgreSQL through pgx's own pool (pgxpool) rather than
// database/sql: every statement is prepared once per connection and cached
// by pgx (an account lookup at each login costs no parsing), a failure
// comes as a *pgconn.PgError whose SQLSTATE and constraint name say what
// went wrong (a unique violation becomes store.ErrExists by the name of
// the constraint, not by the text of a message), and a batch of messages
// is one statement over arrays, one round trip.
//
// Every node may write at once; what SQLite gets from its one connection
// this store gets from single statements that test and change in one go
// (a document put at a version, a held message taken with DELETE ...
// RETURNING, a sanction lifted once) and from row locks where a counter
// is shared (the highest room and message ids ever used, table id_high).
// The schema is brought up to date at Open, in one transaction under an
// advisory lock, so nodes that start together migrate once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parlorchat/parlor/core/store"
)

// Options configure Open.
type Options struct {
	// DSN is the PostgreSQL connection string, as a URL
	// (postgres://user:password@host:5432/parlor?sslmode=verify-full) or
	// as key=value pairs; what it leaves out comes from the PG*
	// environment variables, as with libpq.
	DSN string
	// MaxConns bounds the pool's connections; 0 means DefaultMaxConns.
	MaxConns int
	// ConnectTimeout bounds one attempt to connect; 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// Defaults of Options.
const (
	DefaultMaxConns       = 10
	DefaultConnectTimeout = 10 * time.Second
)

// Store is Parlor's state in a PostgreSQL database. It is safe for
// concurrent use, and several Stores (of several processes) may use the
// same database at once.
type Store struct {
	pool *pgxpool.Pool
	// where names the server and database, for errors (no password).
	where string
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Accounts = (*Store)(nil)
	_ store.HostData = (*Store)(nil)
	_ store.AuditLog = (*Store)(nil)
)

// Open connects to the database of o.DSN, checks that it answers and
// brings its schema up to date. ctx bounds the connection and the
// migration only; an unreachable server fails Open when ctx ends or
// o.ConnectTimeout passes, whichever comes first.
func Open(ctx context.Context, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("open postgres: the connection string: %w", parseError(err))
	}
	cfg.MaxConns = int32(DefaultMaxConns)
	if o.MaxConns > 0 {
		cfg.MaxConns = int32(o.MaxConns)
	}
	cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	if o.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	}
	where := fmt.Sprintf("postgres %s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	s := &Store{pool: pool, where: where}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	return s, nil
}

// parseError is the error of a connection string that did not parse,
// without the string itself, which may hold a password.
func parseError(err error) error {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return err // a pool setting (pool_max_conns=...), without the string
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("not a valid URL: %w", ue.Err)
	}
	// "cannot parse `<the string, password masked>`: <why>"
	msg := pe.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		return errors.New(msg[i+len("`: "):])
	}
	return errors.New("malformed")
}

// String names the server and database (never the password).
func (s *Store) String() string { return s.where }

// Close closes the pool's connections, waiting for those in use to be
// given back. The store must not be used afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrateLock is the key of the advisory lock the migration holds: one
// 64-bit number, the same for every Parlor node ("parlor" in ASCII and
// "mig"), unique to this purpose within the database.
const migrateLock int64 = 0x7061726c6f726d69

// migrate applies, in one transaction, every migration the database has
// not recorded in schema_version yet. The transaction takes an advisory
// lock first, so that nodes starting at once wait for the first one's
// migration and then find nothing left to do.
func (s *Store) migrate(ctx context.Context) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    INTEGER PRIMARY KEY,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return fmt.Errorf("migrate: create schema_version: %w", err)
		}
		var version int
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&version); err != nil {
			return fmt.Errorf("migrate: read schema version: %w", err)
		}
		if version > len(migrations) {
			return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", version, len(migrations))
		}
		for v := version; v < len(migrations); v++ {
			// Without arguments Exec sends the simple protocol, which
			// runs every statement of the migration.
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
				v+1, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("migrate to version %d: record version: %w", v+1, err)
			}
		}
		return nil
	})
}

// SchemaVersion is the version the database's schema is at.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// Migrations is the number of migrations this program knows: the schema
// version of a database it opened.
func Migrations() int { return len(migrations) }

// inTx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, fn)
}

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Constraint names the schema gives, which errors are told apart by.
const (
	constraintNameKey  = "users_name_key"
	constraintEmailKey = "users_email_key"
)

// SQLSTATE codes this package tells apart.
const (
	codeUniqueViolation = "23505"
)

// uniqueErr turns a unique violation into store.ErrExists naming the
// field at fault; other errors are returned as they are.
func uniqueErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != codeUniqueViolation {
		return err
	}
	switch pe.ConstraintName {
	case constraintEmailKey:
		return fmt.Errorf("the e-mail belongs to another account: %w", store.ErrExists)
	case constraintNameKey:
		return fmt.Errorf("the name belongs to another account: %w", store.ErrExists)
	}
	return fmt.Errorf("%v: %w", err, store.ErrExists)
}

// storable makes a text one that PostgreSQL keeps: it refuses the NUL
// character in text columns, which a chat message may carry (the
// protocol's JSON allows \u0000), so each NUL becomes U+FFFD. Without
// this one such message would fail the save of every message in its batch.
func storable(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
