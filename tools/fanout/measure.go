package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// rateRun is the shared state of one rate measurement. Times are offsets
// from base on the monotonic clock: the posters and the clients are in this
// process, so a send time written into a body compares exactly with a
// receipt time.
type rateRun struct {
	tgt    target
	base   time.Time
	nonce  string
	marker []byte // "fanout <nonce> ", to skip other frames cheaply
	pad    string

	counts   []atomic.Int32 // receipts per message
	posted   []bool         // message i was accepted; each index written by one poster
	received atomic.Int64
	dups     atomic.Int64
	lastRecv atomic.Int64 // offset of the latest receipt
	latency  histogram
	postRTT  histogram

	stopping     atomic.Bool // set before the tool closes the clients itself
	disconnected atomic.Int64
	errMu        sync.Mutex
	closeReason  string
	postErr      string
	postErrors   atomic.Int64
}

func measureRate(ctx context.Context, cfg config, tgt target) (*result, error) {
	m := cfg.messages()
	r := &rateRun{
		tgt:    tgt,
		base:   time.Now(),
		nonce:  fmt.Sprintf("%08x", rand.Uint32()),
		counts: make([]atomic.Int32, m),
		posted: make([]bool, m),
	}
	r.marker = []byte("fanout " + r.nonce + " ")
	if cfg.Pad > 0 && cfg.Target == "baseline" {
		r.pad = " " + strings.Repeat("x", cfg.Pad-1)
	}

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var readers sync.WaitGroup
	conns, err := connectAll(ctx, cfg, cfg.Clients, func(ctx context.Context) (*websocket.Conn, error) {
		return tgt.dial(ctx, true)
	}, func(c *websocket.Conn) {
		readers.Go(func() { r.read(readCtx, c) })
	})
	defer func() {
		r.stopping.Store(true)
		closeAll(conns)
		stopReading()
		readers.Wait()
	}()
	if err != nil {
		return nil, err
	}
	sleep(ctx, cfg.Settle)
	connected := cfg.Clients - int(r.disconnected.Load())
	cpu0, own0, sys0, t0 := cpuSeconds(cfg), ownCPUSeconds(), busySeconds(), time.Now()

	progress("posting %d messages at %.0f/s with %d posters to %d clients", m, cfg.Rate, cfg.Posters, connected)
	start := time.Since(r.base)
	interval := float64(time.Second) / cfg.Rate
	var next atomic.Int64
	var posters sync.WaitGroup
	for range cfg.Posters {
		posters.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= m || ctx.Err() != nil {
					return
				}
				due := start + time.Duration(float64(i)*interval)
				sleep(ctx, due-time.Since(r.base))
				r.post(ctx, i)
			}
		})
	}
	posters.Wait()
	postEnd := time.Since(r.base)

	var posted int64
	for _, ok := range r.posted {
		if ok {
			posted++
		}
	}
	expected := posted * int64(connected)
	progress("posted %d; waiting up to %s for deliveries", posted, cfg.Grace)
	deadline := time.Now().Add(cfg.Grace)
	for r.received.Load() < expected && time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, 20*time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cpu1, own1, sys1, window := cpuSeconds(cfg), ownCPUSeconds(), busySeconds(), time.Since(t0).Seconds()

	// Lost counts, per accepted message, the clients connected at the start
	// that never got it: a client dropped midway loses the rest.
	var lost, got int64
	for i := range r.counts {
		if r.posted[i] {
			n := int64(r.counts[i].Load())
			got += n
			lost += max(0, int64(connected)-n)
		}
	}
	res := &result{
		Target:       cfg.Target,
		Mode:         "rate",
		Clients:      cfg.Clients,
		Connected:    connected,
		Posters:      cfg.Posters,
		Rate:         cfg.Rate,
		Seconds:      cfg.Duration.Seconds(),
		Posted:       posted,
		PostErrors:   r.postErrors.Load(),
		PostErr:      r.postErr,
		PostRate:     float64(posted) / (postEnd - start).Seconds(),
		Expected:     expected,
		Received:     got,
		Lost:         lost,
		Duplicates:   r.dups.Load(),
		Disconnected: r.disconnected.Load(),
		CloseReason:  r.closeReason,
		LatP50:       r.latency.quantileMs(0.50),
		LatP90:       r.latency.quantileMs(0.90),
		LatP99:       r.latency.quantileMs(0.99),
		LatMax:       r.latency.quantileMs(1),
		PostP50:      r.postRTT.quantileMs(0.50),
		PostP99:      r.postRTT.quantileMs(0.99),
		OwnCPU:       own1 - own0,
	}
	if expected > 0 {
		res.LostPct = 100 * float64(lost) / float64(expected)
	}
	if last := time.Duration(r.lastRecv.Load()); last > start {
		res.Delivered = float64(r.received.Load()) / (last - start).Seconds()
	}
	if cpu0 >= 0 && cpu1 >= 0 {
		res.CPUSeconds = cpu1 - cpu0
		if got > 0 {
			res.CPUPerDelivery = res.CPUSeconds / float64(got) * 1e6
		}
	}
	if sys0 >= 0 && sys1 >= 0 && (cfg.Self || res.CPUSeconds > 0) {
		res.OtherCores = max(0, (sys1-sys0)-res.CPUSeconds-res.OwnCPU) / window
	}
	if cfg.Self {
		res.Note = "target in this process: it shares the CPU with the clients"
	}
	return res, nil
}

// post sends message i with its send time in the body.
func (r *rateRun) post(ctx context.Context, i int) {
	sent := time.Since(r.base)
	body := fmt.Sprintf("fanout %s %d %d%s", r.nonce, i, int64(sent), r.pad)
	err := r.tgt.post(ctx, body, fmt.Sprintf("fanout-%s-%d", r.nonce, i))
	r.postRTT.record(int64(time.Since(r.base) - sent))
	if err != nil {
		if r.postErrors.Add(1) == 1 {
			r.errMu.Lock()
			r.postErr = err.Error()
			r.errMu.Unlock()
		}
		return
	}
	r.posted[i] = true
}

// read records every posted message the client receives until the
// connection ends.
func (r *rateRun) read(ctx context.Context, c *websocket.Conn) {
	seen := make([]uint64, (len(r.counts)+63)/64) // this client's receipts, for duplicates
	var buf bytes.Buffer                          // reused: the clients share the CPU with the target
	for {
		_, rd, err := c.Reader(ctx)
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(rd)
		}
		if err != nil {
			if !r.stopping.Load() && ctx.Err() == nil {
				if r.disconnected.Add(1) == 1 {
					r.errMu.Lock()
					r.closeReason = fmt.Sprintf("(first: %v)", err)
					r.errMu.Unlock()
				}
			}
			return
		}
		data := buf.Bytes()
		at := time.Since(r.base)
		if !bytes.Contains(data, r.marker) {
			continue // presence, typing, ...
		}
		body, ok := r.tgt.body(data)
		if !ok {
			continue
		}
		i, sent, ok := r.parse(body)
		if !ok {
			continue
		}
		if seen[i/64]&(1<<(i%64)) != 0 {
			r.dups.Add(1)
			continue
		}
		seen[i/64] |= 1 << (i % 64)
		r.counts[i].Add(1)
		r.received.Add(1)
		r.latency.record(int64(at - sent))
		for {
			last := r.lastRecv.Load()
			if int64(at) <= last || r.lastRecv.CompareAndSwap(last, int64(at)) {
				break
			}
		}
	}
}

// parse reads "fanout <nonce> <i> <sent>[ padding]" written by post.
func (r *rateRun) parse(body []byte) (int, time.Duration, bool) {
	rest, ok := bytes.CutPrefix(body, r.marker)
	if !ok {
		return 0, 0, false
	}
	a, b, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return 0, 0, false
	}
	b, _, _ = bytes.Cut(b, []byte(" "))
	i, ok1 := atoi(a)
	sent, ok2 := atoi(b)
	if !ok1 || !ok2 || i >= len(r.counts) {
		return 0, 0, false
	}
	return i, time.Duration(sent), true
}

// atoi parses a non-negative decimal without allocating.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// measureIdle opens cfg.Idle connections that only answer pings and reports
// how much the target's resident memory grew per connection.
func measureIdle(ctx context.Context, cfg config, tgt target) (*result, error) {
	settleMemory(cfg)
	before, err := rssKiB(cfg.PID)
	if err != nil {
		return nil, err
	}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var open, opened atomic.Int64 // open now; opened ever (not decremented when a reader ends)
	var readers sync.WaitGroup
	subscribe := cfg.Sub && cfg.Target == "campfire"
	conns, err := connectAll(ctx, cfg, cfg.Idle, func(ctx context.Context) (*websocket.Conn, error) {
		return tgt.dial(ctx, subscribe)
	}, func(c *websocket.Conn) {
		open.Add(1)
		opened.Add(1)
		readers.Go(func() {
			defer open.Add(-1)
			for {
				if _, _, err := c.Read(readCtx); err != nil {
					return
				}
			}
		})
	})
	defer func() {
		closeAll(conns)
		stopReading()
		readers.Wait()
	}()
	if err != nil {
		// Say what was reached before the failure: a partial figure is
		// better than none when the target cannot take them all. The
		// connections opened are all still open (closeAll is deferred),
		// though their readers may have stopped with ctx.
		if n := opened.Load(); n > 0 {
			if rss, rerr := rssKiB(cfg.PID); rerr == nil {
				progress("stopped after %d of %d connections: target RSS %d → %d KiB, %.1f KiB per connection opened",
					n, cfg.Idle, before, rss, float64(rss-before)/float64(n))
			}
		}
		return nil, err
	}
	sleep(ctx, max(cfg.Settle, 2*time.Second))
	settleMemory(cfg)
	after, err := rssKiB(cfg.PID)
	if err != nil {
		return nil, err
	}
	res := &result{
		Target:       cfg.Target,
		Mode:         "idle",
		Clients:      cfg.Idle,
		Connected:    int(open.Load()),
		RSSBeforeKiB: before,
		RSSAfterKiB:  after,
		PerConnKiB:   float64(after-before) / float64(cfg.Idle),
	}
	if cfg.Self {
		res.Note = "target in this process: the figure includes the client end of each connection; use -url and -pid for the target alone"
	}
	if cfg.Hold > 0 {
		progress("holding %d connections for %s", cfg.Idle, cfg.Hold)
		sleep(ctx, cfg.Hold)
	}
	return res, ctx.Err()
}

// settleMemory returns freed memory to the OS before a reading, when the
// target is this process; a separate target's runtime does that alone.
func settleMemory(cfg config) {
	if cfg.Self {
		runtime.GC()
		debug.FreeOSMemory()
	}
}

// connectAll opens n connections, dialMax at a time, and hands each to
// started as soon as it is open (so clients read while others connect). The
// first failure stops it; the connections opened so far are returned for
// closing.
func connectAll(ctx context.Context, cfg config, n int, dial func(context.Context) (*websocket.Conn, error), started func(*websocket.Conn)) ([]*websocket.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conns := make([]*websocket.Conn, n)
	sem := make(chan struct{}, cfg.DialConc)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		done    atomic.Int64
	)
	t0 := time.Now()
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dial(ctx)
			if err != nil {
				errOnce.Do(func() { first = fmt.Errorf("client %d: %w", i, err); cancel() })
				return
			}
			conns[i] = c
			started(c)
			if d := done.Add(1); d%1000 == 0 && d < int64(n) {
				progress("%d connections open", d)
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		return conns, first
	}
	progress("%d connections open in %s", n, time.Since(t0).Round(time.Millisecond))
	return conns, nil
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		if c != nil {
			c.CloseNow()
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ownCPUSeconds is this process's user+system CPU time: the clients and
// posters, plus the target with -self. On a small machine they compete with
// the target, which is worth knowing when reading its latency.
func ownCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// busySeconds is the CPU time the whole machine has spent not idle, from
// /proc/stat, or -1. Less the target's and ours it shows how much other
// work shared the machine during a run: the usual reason two runs differ.
func busySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue // idle, iowait
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return -1
		}
		busy += n
	}
	return float64(busy) / 100 // USER_HZ
}

// rssKiB reads a process's resident set size from /proc/<pid>/status.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("target memory: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("target memory: no VmRSS in /proc status")
}

// cpuSeconds is a separate target's user+system CPU time, or -1 when there
// is none (with -self it would count the clients too).
func cpuSeconds(cfg config) float64 {
	if cfg.Self || cfg.PID <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cfg.PID))
	if err != nil {
		return -1
	}
	// Fields after the parenthesised command: state is field 3, utime 14,
	// stime 15, in clock ticks (USER_HZ, 100 on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return float64(ut+st) / 100
}
