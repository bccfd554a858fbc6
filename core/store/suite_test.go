package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/core/store/storetest"
)

// TestSuite runs the stores' common suite against SQLite, each test on a
// new database file (in a directory the store creates).
func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "sub", "parlor.db")
		return func(t *testing.T) storetest.Store {
			t.Helper()
			s, err := store.OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatalf("OpenSQLite: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
	})
}
