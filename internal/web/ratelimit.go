package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter allows each key a burst of limit events, refilled evenly over
// window: 10 per 3 minutes lets 10 sign-in attempts through at once, then
// one every 18 seconds.
type rateLimiter struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	limit, window = max(limit, 1), max(window, time.Second)
	return &rateLimiter{limit: limit, window: window, buckets: map[string]*bucket{}}
}

// allow reports whether key may act now, and spends one event if so.
func (l *rateLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Forget idle keys now and then so the map cannot grow without bound.
	if now.Sub(l.swept) > l.window {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > l.window {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.window/time.Duration(l.limit)), l.limit)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}
