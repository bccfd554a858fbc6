package status

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
)

// fakeSource returns a snapshot the test sets and counts reads.
type fakeSource struct {
	mu    sync.Mutex
	snap  chat.Snapshot
	reads atomic.Int64
}

func (f *fakeSource) Snapshot() chat.Snapshot {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fakeSource) set(s chat.Snapshot) {
	f.mu.Lock()
	f.snap = s
	f.mu.Unlock()
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eventually waits for a file to hold want.
func eventually(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q (%v), want %q", filepath.Base(path), b, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func gone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFilesFollowTheGroup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "default")
	// Left from an earlier run: a room that no longer exists and a temp file.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"room_9.txt", ".room_9.txt.tmp123", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := &fakeSource{snap: chat.Snapshot{Conns: 3, Users: 2, Rooms: []chat.RoomUsers{
		{ID: 1, Users: []string{"alice", "bob"}}, {ID: 2},
	}}}
	w, err := New(dir, src, Options{MinInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := read(t, filepath.Join(dir, "online.txt")); got != "3|2|2" {
		t.Fatalf("online.txt = %q", got)
	}
	if got := read(t, filepath.Join(dir, "room_1.txt")); got != "alice\nbob\n" {
		t.Fatalf("room_1.txt = %q", got)
	}
	if got := read(t, filepath.Join(dir, "room_2.txt")); got != "" {
		t.Fatalf("room_2.txt = %q", got)
	}
	gone(t, filepath.Join(dir, "room_9.txt"))
	gone(t, filepath.Join(dir, ".room_9.txt.tmp123"))
	if read(t, filepath.Join(dir, "notes.txt")) != "old" {
		t.Fatal("a file that is not a status file was touched")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "online.txt")); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}

	src.set(chat.Snapshot{Conns: 1, Users: 1, Rooms: []chat.RoomUsers{{ID: 2, Users: []string{"carol"}}, {ID: 3}}})
	w.Notify()
	eventually(t, filepath.Join(dir, "online.txt"), "1|1|2")
	eventually(t, filepath.Join(dir, "room_2.txt"), "carol\n")
	eventually(t, filepath.Join(dir, "room_3.txt"), "")
	gone(t, filepath.Join(dir, "room_1.txt"))

	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".txt" {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestRewritesAreDebounced(t *testing.T) {
	dir := t.TempDir()
	src := &fakeSource{}
	w, err := New(dir, src, Options{MinInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := src.reads.Load()
	for i := range 100 {
		src.set(chat.Snapshot{Conns: i + 1})
		w.Notify()
		time.Sleep(2 * time.Millisecond)
	}
	eventually(t, filepath.Join(dir, "online.txt"), "100|0|0")
	if n := src.reads.Load() - start; n > 4 {
		t.Fatalf("%d rewrites for 100 changes within ~200ms", n)
	}
	src.set(chat.Snapshot{Conns: 7})
	w.Close() // writes the last state
	if got := read(t, filepath.Join(dir, "online.txt")); got != "7|0|0" {
		t.Fatalf("after close: %q", got)
	}
	w.Close() // twice is fine
}

func TestNewFailsOnAnUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(filepath.Join(file, "default"), &fakeSource{}, Options{}); err == nil {
		t.Fatal("New under a file succeeded")
	}
}

func TestWriteAtomicLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	if err := writeAtomic(dir, "online.txt", "1|2|3"); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(dir, "online.txt", "4|5|6"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || read(t, filepath.Join(dir, "online.txt")) != "4|5|6" {
		t.Fatalf("entries %v", entries)
	}
	if err := writeAtomic(filepath.Join(dir, "missing"), "online.txt", "x"); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
