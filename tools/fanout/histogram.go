package main

import (
	"math/bits"
	"sync/atomic"
)

// histogram counts durations in nanoseconds in log-linear buckets (64 per
// power of two, so within 1.6%), in fixed memory however many samples a
// run takes. Safe for concurrent record.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

// histBuckets covers every int64: bucketOf(math.MaxInt64) is 57*64+63.
const histBuckets = 58 * 64

// bucketOf maps v to its bucket: values below 128 exactly, then 64 buckets
// for each power of two.
func bucketOf(v int64) int {
	if v < 128 {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 7
	return e*64 + int(uint64(v)>>e)
}

// lowest returns the smallest value in bucket i.
func lowest(i int) int64 {
	if i < 128 {
		return int64(i)
	}
	e := i/64 - 1
	return int64(i%64+64) << e
}

func (h *histogram) record(v int64) {
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// quantileMs returns the q-quantile in milliseconds (the bucket's middle),
// the exact maximum for q = 1, and 0 without samples.
func (h *histogram) quantileMs(q float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	if q >= 1 {
		return float64(h.max.Load()) / 1e6
	}
	rank := uint64(q*float64(n)) + 1
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank && i+1 < histBuckets {
			mid := (lowest(i) + lowest(i+1) - 1) / 2
			return float64(mid) / 1e6
		}
	}
	return float64(h.max.Load()) / 1e6
}
