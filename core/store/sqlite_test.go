package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
)

func openTest(t testing.TB, path string) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newTestStore(t testing.TB) *SQLite {
	t.Helper()
	return openTest(t, filepath.Join(t.TempDir(), "sub", "dir", "parlor.db"))
}

func TestOpenSettings(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"synchronous":  "1", // NORMAL: durable against a kill -9 in WAL mode
	} {
		var got string
		if err := s.db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	var v int
	if err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Errorf("schema version %d, want %d", v, len(migrations))
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parlor.db")
	s := openTest(t, path)
	if _, err := s.db.Exec("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)", len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s2, err := OpenSQLite(context.Background(), path); err == nil {
		s2.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

func TestOpenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "x.db")); err == nil {
		t.Error("OpenSQLite with canceled context succeeded")
	}
}

func BenchmarkAppendMessages(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	batch := make([]chat.Message, 64)
	for i := range batch {
		batch[i] = chat.Message{
			Group: chat.DefaultGroup, RoomID: 1, From: "alice",
			Text:  "a message of ordinary length, said in a chat room",
			Style: chat.Style{Bold: i%2 == 0, Color: "#336699"}, Time: time.Now(),
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := s.AppendMessages(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*len(batch))/b.Elapsed().Seconds(), "msgs/s")
}
