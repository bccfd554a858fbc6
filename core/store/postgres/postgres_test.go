package postgres_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store/postgres"
	"github.com/parlorchat/parlor/core/store/storetest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// dbSeq numbers the databases of one test process; the process id keeps
// two processes (two packages' tests, two checkouts) apart.
var dbSeq atomic.Int64

// newDB creates a fresh database (testenv.PostgresDB: skipped, or failed
// under PARLOR_REQUIRE_SERVICES=1, without a server) and returns its DSN.
func newDB(t *testing.T) string {
	t.Helper()
	_, dsn := testenv.PostgresDB(t, fmt.Sprintf("parlor_store_%d_%d", os.Getpid(), dbSeq.Add(1)))
	return dsn
}

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, postgres.Options{DSN: dsn, MaxConns: 4})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestSuite runs the stores' common suite against PostgreSQL, each test
// on a new database.
func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dsn := newDB(t)
		return func(t *testing.T) storetest.Store { return open(t, dsn) }
	})
}

// Nodes that start at once on a new database migrate it once: each waits
// for the first one's migration and finds nothing left to do.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	db, dsn := testenv.PostgresDB(t, fmt.Sprintf("parlor_store_%d_%d", os.Getpid(), dbSeq.Add(1)))
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := postgres.Open(ctx, postgres.Options{DSN: dsn, MaxConns: 2})
			if err == nil {
				_, err = s.LastMessageID(ctx)
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	var rows, highest int
	if err := db.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_version").Scan(&rows, &highest); err != nil {
		t.Fatal(err)
	}
	if rows != postgres.Migrations() || highest != postgres.Migrations() {
		t.Fatalf("schema_version has %d rows up to %d, want %d (each migration once)", rows, highest, postgres.Migrations())
	}
	s := open(t, dsn)
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != postgres.Migrations() {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
}

// A database that a newer Parlor migrated is refused, not used with a
// schema this program does not know.
func TestOpenRefusesNewerSchema(t *testing.T) {
	db, dsn := testenv.PostgresDB(t, fmt.Sprintf("parlor_store_%d_%d", os.Getpid(), dbSeq.Add(1)))
	s := open(t, dsn)
	s.Close()
	if _, err := db.Exec("INSERT INTO schema_version (version, applied_at) VALUES ($1, 0)", postgres.Migrations()+1); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn})
	if err == nil || !strings.Contains(err.Error(), "newer than this program's") {
		t.Fatalf("Open of a newer schema = %v", err)
	}
}

// silentServer accepts connections and never answers, as a host that
// swallows packets would, and returns its address.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// An unreachable server fails Open when the caller's context ends, or
// when the connect timeout passes, with an error that names the server.
func TestOpenUnreachable(t *testing.T) {
	addr := silentServer(t)
	dsn := "postgres://parlor@" + addr + "/parlor?sslmode=disable"
	for _, tc := range []struct {
		name    string
		ctx     time.Duration
		connect time.Duration
	}{
		{"context", 300 * time.Millisecond, time.Minute},
		{"connect timeout", time.Minute, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctx)
			defer cancel()
			start := time.Now()
			s, err := postgres.Open(ctx, postgres.Options{DSN: dsn, ConnectTimeout: tc.connect})
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("Open of a server that never answers succeeded")
			}
			if took > 5*time.Second {
				t.Errorf("Open took %v to give up", took)
			}
			if !strings.Contains(err.Error(), addr) {
				t.Errorf("error %q does not name the server %s", err, addr)
			}
		})
	}
	// Nothing listens: refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, postgres.Options{DSN: "postgres://parlor@" + closed + "/parlor?sslmode=disable"}); err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
}

// A connection string that does not parse is refused without being
// repeated: it may hold a password.
func TestOpenBadDSNHidesPassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://parlor:s3cretpw@db.example.com:notaport/parlor",
		"host=db.example.com password=s3cretpw port=notaport",
		"postgres://parlor:s3cretpw@db.example.com/parlor?pool_max_conns=lots",
		"postgres://parlor:s3cretpw@[::1/parlor",
	} {
		_, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn})
		if err == nil {
			t.Errorf("%q: opened", dsn)
			continue
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("the error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "connection string") {
			t.Errorf("the error %q does not say the connection string is at fault", err)
		}
	}
}

// BenchmarkAppendMessages is the group commit of one node: batches of 64
// messages the chat numbered.
func BenchmarkAppendMessages(b *testing.B) {
	_, dsn := testenv.PostgresDB(b, fmt.Sprintf("parlor_store_%d_%d", os.Getpid(), dbSeq.Add(1)))
	s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	batch := make([]chat.Message, 64)
	for i := range batch {
		batch[i] = chat.Message{
			Group: chat.DefaultGroup, RoomID: 1, From: "alice",
			Text:  "a message of ordinary length, said in a chat room",
			Style: chat.Style{Bold: i%2 == 0, Color: "#336699"}, Time: time.Now(),
		}
	}
	var id int64
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range batch {
			id++
			batch[i].ID = id
		}
		if err := s.AppendMessages(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*len(batch))/b.Elapsed().Seconds(), "msgs/s")
}
