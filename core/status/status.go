// Package status writes a group's status files for other programs to read,
// as the seed's server did: <dir>/online.txt holds
// "connections|logged-in users|rooms" and <dir>/room_<id>.txt the login
// names of a room's users, one a line. Files are replaced atomically (a
// temporary file in the same directory, then a rename), only when their
// content changes and at most once per interval.
package status

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/chat"
)

// OnlineFile is the name of the numbers file.
const OnlineFile = "online.txt"

// RoomFile returns the name of a room's user list file.
func RoomFile(id int64) string { return "room_" + strconv.FormatInt(id, 10) + ".txt" }

var roomFileRE = regexp.MustCompile(`^room_([0-9]+)\.txt$`)

// Source is what the writer reports on; *chat.Group is one.
type Source interface {
	Snapshot() chat.Snapshot
}

// Options configures a Writer.
type Options struct {
	// MinInterval is the shortest time between two rewrites (250ms when
	// zero).
	MinInterval time.Duration
	Logger      hclog.Logger
}

// Writer keeps the status files of one group up to date. Notify schedules
// a rewrite; Close writes the last state and stops.
type Writer struct {
	dir  string
	src  Source
	opts Options
	log  hclog.Logger

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// Owned by the writer goroutine (and New before it starts).
	written map[string]string // file name -> content on disk
}

// New creates dir if needed, removes room files of rooms that no longer
// exist, writes the current state and starts the writer.
func New(dir string, src Source, opts Options) (*Writer, error) {
	if opts.MinInterval <= 0 {
		opts.MinInterval = 250 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("status files: create %s: %w", dir, err)
	}
	w := &Writer{dir: dir, src: src, opts: opts, log: opts.Logger,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		written: map[string]string{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("status files: read %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case roomFileRE.MatchString(name):
			// Unknown content: rewritten if the room exists, removed if not.
			w.written[name] = "\x00"
		case strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp"):
			_ = os.Remove(filepath.Join(dir, name)) // left by a crash mid-write
		}
	}
	if err := w.write(); err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

// Dir returns the directory the files are written to.
func (w *Writer) Dir() string { return w.dir }

// Notify schedules a rewrite; it never blocks.
func (w *Writer) Notify() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Close writes the current state one last time and stops the writer.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

func (w *Writer) run() {
	defer close(w.done)
	last := time.Now()
	for {
		select {
		case <-w.kick:
		case <-w.stop:
			w.writeLogged()
			return
		}
		if wait := time.Until(last.Add(w.opts.MinInterval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-w.stop:
				t.Stop()
				w.writeLogged()
				return
			}
		}
		w.writeLogged()
		last = time.Now()
	}
}

func (w *Writer) writeLogged() {
	if err := w.write(); err != nil {
		w.log.Error("status files not updated", "dir", w.dir, "error", err)
	}
}

// write brings every file up to date with the source.
func (w *Writer) write() error {
	snap := w.src.Snapshot()
	want := make(map[string]string, len(snap.Rooms)+1)
	want[OnlineFile] = fmt.Sprintf("%d|%d|%d", snap.Conns, snap.Users, len(snap.Rooms))
	for _, r := range snap.Rooms {
		var b strings.Builder
		for _, u := range r.Users {
			b.WriteString(u)
			b.WriteByte('\n')
		}
		want[RoomFile(r.ID)] = b.String()
	}
	var errs []error
	for name, content := range want {
		if cur, ok := w.written[name]; ok && cur == content {
			continue
		}
		if err := writeAtomic(w.dir, name, content); err != nil {
			errs = append(errs, err)
			delete(w.written, name)
			continue
		}
		w.written[name] = content
	}
	for name := range w.written {
		if _, ok := want[name]; ok {
			continue
		}
		if err := os.Remove(filepath.Join(w.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
			continue
		}
		delete(w.written, name)
	}
	return errors.Join(errs...)
}

// writeAtomic replaces dir/name with content: readers see the old file or
// the new one, never a part.
func writeAtomic(dir, name, content string) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.WriteString(content); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
