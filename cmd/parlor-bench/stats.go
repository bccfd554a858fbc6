package main

import (
	"math/bits"
	"sort"
	"sync/atomic"
	"time"
)

// histogram counts durations in microsecond buckets with about 0.1%
// precision (1024 sub-buckets per power of two); safe for concurrent use.
type histogram struct {
	counts [histBuckets]atomic.Int64
	total  atomic.Int64
	max    atomic.Int64 // nanoseconds
}

const (
	histSub     = 1024
	histBuckets = 2*histSub + 40*histSub
)

func histIndex(us uint64) int {
	if us < 2*histSub {
		return int(us)
	}
	shift := bits.Len64(us) - 11 // us>>shift is in [1024, 2047]
	i := 2*histSub + (shift-1)*histSub + int(us>>shift) - histSub
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histLow is the smallest value (µs) of bucket i.
func histLow(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	i -= 2 * histSub
	shift := i/histSub + 1
	return uint64(i%histSub+histSub) << shift
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d/time.Microsecond))].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *histogram) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.total.Store(0)
	h.max.Store(0)
}

// merge adds the samples of o to h.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if n := o.counts[i].Load(); n != 0 {
			h.counts[i].Add(n)
		}
	}
	h.total.Add(o.total.Load())
	for m := o.max.Load(); ; {
		cur := h.max.Load()
		if m <= cur || h.max.CompareAndSwap(cur, m) {
			return
		}
	}
}

// quantile returns the value at q (0..1), the bucket's lower bound.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := int64(q*float64(n-1)) + 1
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(histLow(i)) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load())
}

// sample is a small exact sample set (login latencies).
type sample []time.Duration

func (s sample) quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := append(sample(nil), s...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	i := int(q*float64(len(c)-1) + 0.5)
	return c[i]
}
