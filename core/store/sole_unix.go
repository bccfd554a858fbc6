//go:build unix

package store

import (
	"fmt"
	"os"
	"syscall"
)

// soleWriter tells whether a store is still the only one on its database
// file. Every store opens <file>-stores and holds a shared flock(2) on it
// while it lives; one that could take it exclusively at open was alone
// (the one) and watches the file's size, to which every store that opens
// later, finding it locked, adds a byte before it writes anything. flock
// locks belong to an open file, so a second store in the same process is
// seen like another process's. The lock goes with the process, however
// it ends.
type soleWriter struct {
	fd   int // of the stores file, open while the store lives
	size int64
}

// openStores opens path's lock file and says whether this store is alone
// on the database (a soleWriter) or not (nil); the file stays open, and
// locked shared, until close.
func openStores(path string) (*soleWriter, *os.File, error) {
	f, err := os.OpenFile(path+"-stores", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open the stores file: %w", err)
	}
	fd := int(f.Fd())
	alone := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) == nil
	if !alone {
		// Tell a store that thought itself alone, before any write.
		if _, err := f.Write([]byte{'+'}); err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("mark the stores file: %w", err)
		}
	}
	// Shared from now on (from exclusive, a downgrade), so that a store
	// opening later finds the file locked.
	if err := syscall.Flock(fd, syscall.LOCK_SH); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("lock the stores file: %w", err)
	}
	if !alone {
		return nil, f, nil
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("stat the stores file: %w", err)
	}
	return &soleWriter{fd: fd, size: st.Size()}, f, nil
}

// still reports whether no other store has opened the database since.
// It costs one fstat(2) and allocates nothing: a guest login asks twice.
func (w *soleWriter) still() bool {
	var st syscall.Stat_t
	return syscall.Fstat(w.fd, &st) == nil && st.Size == w.size
}
