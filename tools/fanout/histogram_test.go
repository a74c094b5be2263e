package main

import (
	"math"
	"testing"
)

func TestBucketOf(t *testing.T) {
	// Buckets are contiguous and each value falls in the bucket whose
	// lowest value is at most it, within 1/64.
	for _, v := range []int64{0, 1, 127, 128, 129, 191, 192, 255, 256, 1000, 123456789, 1 << 40, math.MaxInt64} {
		i := bucketOf(v)
		if lo, next := lowest(i), lowest(i+1); v < lo || (i+1 < histBuckets && v >= next) {
			t.Errorf("bucketOf(%d) = %d covering [%d, %d)", v, i, lo, next)
		}
		if lo := lowest(i); v > 128 && float64(v-lo)/float64(v) > 1.0/64 {
			t.Errorf("bucketOf(%d): lowest %d is more than 1/64 below", v, lo)
		}
	}
	for i := range histBuckets - 1 {
		if bucketOf(lowest(i)) != i || bucketOf(lowest(i+1)-1) != i {
			t.Fatalf("bucket %d is not [lowest(%d), lowest(%d))", i, i, i+1)
		}
	}
}

func TestQuantile(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 1000; v++ {
		h.record(v * 1e6) // 1..1000 ms
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.99, 990}, {1, 1000}} {
		if got := h.quantileMs(c.q); math.Abs(got-c.want)/c.want > 0.02 {
			t.Errorf("quantileMs(%v) = %v, want %v within 2%%", c.q, got, c.want)
		}
	}
}
