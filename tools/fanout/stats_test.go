package main

import "testing"

func TestMedian(t *testing.T) {
	rs := []*result{
		{Target: "a", Posted: 10, LatP50: 3},
		{Target: "b", Posted: 30, LatP50: 1},
		{Target: "c", Posted: 20, LatP50: 2},
	}
	m := median(rs)
	if m.Target != "a" || m.Posted != 20 || m.LatP50 != 2 {
		t.Errorf("median = %+v, want target a, posted 20, p50 2", m)
	}
	if got := median(rs[:2]); got.Posted != 20 || got.LatP50 != 2 {
		t.Errorf("median of two = posted %d, p50 %v; want the means 20, 2", got.Posted, got.LatP50)
	}
	r := ratios(&result{Delivered: 50, LatP99: 6}, &result{Delivered: 100, LatP99: 3})
	if r["delivered_per_sec"] != 0.5 || r["latency_p99_ms"] != 2 {
		t.Errorf("ratios = %v", r)
	}
}
