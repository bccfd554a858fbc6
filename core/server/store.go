package server

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/core/store/postgres"
)

// openStore opens the store that store.driver names: the SQLite file
// <data_dir>/parlor.db, or the PostgreSQL database of store.postgres.dsn,
// which must answer within ctx and store.postgres.connect_timeout.
func (s *Server) openStore(ctx context.Context) (store.Store, error) {
	c := s.cfg.Store
	if c.Driver == config.StoreDriverPostgres {
		st, err := postgres.Open(ctx, postgres.Options{
			DSN: c.Postgres.DSN, MaxConns: c.Postgres.MaxConns, ConnectTimeout: c.Postgres.ConnectTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("open store (config keys store.driver, store.postgres.dsn): %w", err)
		}
		s.log.Info("store opened", "driver", c.Driver, "database", st.String(), "max_conns", c.Postgres.MaxConns)
		return st, nil
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(s.cfg.DataDir, "parlor.db"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}
