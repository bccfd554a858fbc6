package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// nameFilter is a Bloom filter of the name keys and look-alike skeletons
// of every account of a SQLite store, so that a guest login, whose name
// no account has, is answered without the two queries it would cost
// (AccountByName, AccountLookalike). A name the filter may hold is looked
// up as before; false positives (about 1%) and the names of deleted or
// renamed accounts only cost that query.
//
// The store adds a name to the filter before it writes the row. Another
// store on the same file (a second server, or a second store in the
// process) writes without it, so the filter is used only by a store that
// was alone on its file when it opened, and only while no other has come
// since (soleWriter); the first other turns it off for good, every name
// being looked up from then on.
type nameFilter struct {
	sole *soleWriter // nil: another store had the file when this one opened

	mu    sync.RWMutex
	f     *bloom.BloomFilter // nil: off, every name is looked up
	room  uint               // adds left before f is rebuilt larger
	least uint               // the smallest capacity; minFilterNames when 0 (tests make it small)
}

// filterFalsePositives is the rate of names the filter wrongly holds.
const filterFalsePositives = 0.01

// minFilterNames is the smallest capacity of the filter (about 120 KB).
const minFilterNames = 100_000

func nameEntry(kind byte, v string) []byte { return append([]byte{kind, ':'}, v...) }

// mayHave reports whether an account may have the name key (kind 'k') or
// the skeleton (kind 's') v: false only when no account has it.
func (n *nameFilter) mayHave(ctx context.Context, kind byte, v string) bool {
	n.mu.RLock()
	on := n.f != nil
	n.mu.RUnlock()
	if !on {
		return true
	}
	if !n.sole.still() {
		n.mu.Lock()
		n.f = nil // another store opened the file
		n.mu.Unlock()
		return true
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.f == nil || n.f.Test(nameEntry(kind, v))
}

// add notes an account's name key and skeleton before it is written;
// when the filter is full it is rebuilt from the table, larger. A rebuild
// that fails turns the filter off (every name is then looked up): the
// filter never fails a write. It must not be called inside a transaction
// (the rebuild needs the connection).
func (n *nameFilter) add(ctx context.Context, s *SQLite, key, skeleton string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.f == nil {
		return
	}
	if n.room < 2 {
		if err := n.rebuildLocked(ctx, s, 2); err != nil {
			n.f = nil
			return
		}
	}
	n.room -= 2
	n.f.Add(nameEntry('k', key))
	n.f.Add(nameEntry('s', skeleton))
}

// build makes the filter from the table when the store is alone on its
// file (sole, nil otherwise); if the table cannot be read the filter
// stays off.
func (n *nameFilter) build(ctx context.Context, s *SQLite, sole *soleWriter) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if sole == nil {
		return
	}
	n.sole = sole
	if err := n.rebuildLocked(ctx, s, 0); err != nil {
		n.f = nil
	}
}

// rebuildLocked refills the filter from the table, sized for twice what
// it holds plus extra; n.mu is held.
func (n *nameFilter) rebuildLocked(ctx context.Context, s *SQLite, extra uint) error {
	var count uint
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&count); err != nil {
		return fmt.Errorf("name filter: count accounts: %w", err)
	}
	least := n.least
	if least == 0 {
		least = minFilterNames
	}
	capacity := max(2*(2*count+extra), least)
	f := bloom.NewWithEstimates(capacity, filterFalsePositives)
	rows, err := s.db.QueryContext(ctx, "SELECT COALESCE(name_key, ''), name_skeleton FROM users")
	if err != nil {
		return fmt.Errorf("name filter: %w", err)
	}
	defer rows.Close()
	used := uint(0)
	for rows.Next() {
		var key, skel string
		if err := rows.Scan(&key, &skel); err != nil {
			return fmt.Errorf("name filter: scan: %w", err)
		}
		f.Add(nameEntry('k', key))
		f.Add(nameEntry('s', skel))
		used += 2
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("name filter: %w", err)
	}
	n.f, n.room = f, capacity-min(used, capacity)
	return nil
}
