package config

import (
	"strings"
	"testing"
	"time"
)

func TestStoreIsSQLiteByDefault(t *testing.T) {
	c := Default()
	if c.Store.Driver != StoreDriverSQLite {
		t.Fatalf("store.driver defaults to %q, want sqlite: a single node needs nothing but its binary", c.Store.Driver)
	}
	if p := c.Store.Postgres; p.DSN != "" || p.MaxConns != 10 || p.ConnectTimeout != 10*time.Second {
		t.Fatalf("store.postgres defaults = %+v", p)
	}
}

func TestStoreKeys(t *testing.T) {
	dsn := "postgres://parlor:secret@db.example.com:5432/parlor?sslmode=verify-full&application_name=a,b"
	c, err := Load("", []string{
		"PARLOR_STORE__DRIVER=postgres", "PARLOR_STORE__POSTGRES__DSN=" + dsn,
		"PARLOR_STORE__POSTGRES__MAX_CONNS=25", "PARLOR_STORE__POSTGRES__CONNECT_TIMEOUT=3s",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Store; s.Driver != StoreDriverPostgres || s.Postgres.DSN != dsn || s.Postgres.MaxConns != 25 || s.Postgres.ConnectTimeout != 3*time.Second {
		t.Fatalf("store = %+v", s)
	}
	p := writeFile(t, "store:\n  driver: postgres\n  postgres:\n    dsn: \"host=db dbname=parlor\"\n")
	if c, err := Load(p, nil, nil); err != nil || c.Store.Postgres.DSN != "host=db dbname=parlor" {
		t.Fatalf("from a file: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		set  map[string]any
		want string
	}{
		{map[string]any{"store.driver": "mysql"}, "config key store.driver: \"mysql\" is not sqlite or postgres"},
		{map[string]any{"store.driver": "postgres"}, "config key store.postgres.dsn: must be set when store.driver is postgres"},
		{map[string]any{"store.driver": "postgres", "store.postgres.dsn": "  "}, "config key store.postgres.dsn: must be set"},
		{map[string]any{"store.postgres.max_conns": 0}, "config key store.postgres.max_conns: 0 is outside 1..10000"},
		{map[string]any{"store.postgres.connect_timeout": "0s"}, "config key store.postgres.connect_timeout: must be a positive duration"},
		{map[string]any{"store.postgres.dns": "x"}, "config key store.postgres.dns from the command line is not a setting; did you mean store.postgres.dsn?"},
	} {
		if _, err := Load("", nil, tc.set); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.set, err, tc.want)
		}
	}
	// A DSN without the postgres driver is not used, and not refused.
	if _, err := Load("", nil, map[string]any{"store.postgres.dsn": "postgres://db/parlor"}); err != nil {
		t.Errorf("a DSN with driver sqlite: %v", err)
	}
}
