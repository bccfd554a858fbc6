package wire

import "sync"

// Pool lends byte buffers for building a write or reading a frame, so
// that a connection holds one only while it writes or reads.
type Pool struct {
	max  int // the largest capacity kept for reuse
	pool sync.Pool
}

// NewPool makes a pool that keeps buffers of at most max bytes.
func NewPool(max int) *Pool {
	return &Pool{max: max, pool: sync.Pool{New: func() any { return new([]byte) }}}
}

// Get returns an empty buffer; give it back with Put.
func (p *Pool) Get() *[]byte {
	b := p.pool.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// Put takes a buffer back; one grown past the pool's bound is dropped,
// and nil is ignored.
func (p *Pool) Put(b *[]byte) {
	if b == nil || cap(*b) > p.max {
		return
	}
	*b = (*b)[:0]
	p.pool.Put(b)
}
