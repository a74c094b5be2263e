package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/campfire-in-go/campfire/internal/remote"
)

// Defaults of the off-site shipping.
const (
	// DefaultRemoteDelay gathers the segments of a moment into one round of
	// uploads: object stores bill requests, and an RPO of about a second
	// is the goal off site.
	DefaultRemoteDelay = 200 * time.Millisecond
	// baseScanEvery is how often new full backups are looked for to copy
	// off site (they are few: at start-up, daily, on request).
	baseScanEvery    = 10 * time.Second
	maxRemoteBackoff = 30 * time.Second
)

// offsite copies what the Replicator writes locally to a remote
// destination: every segment, in order, a moment after it is written, the
// chain's tip, and every full backup a chain starts from, so that a point
// in time can be restored from the remote alone.
type offsite struct {
	st     *remote.Store
	local  DirStore
	dir    string
	delay  time.Duration
	report func(err error)

	mu    sync.Mutex
	queue []upload // segments not yet uploaded, oldest first
	tip   *chainTip
	wake  chan struct{}
	stats OffsiteStats
	bases map[string]bool // full backups known to be off site (run's own)
}

// upload is a segment waiting for its copy.
type upload struct {
	key      string
	seq      uint64
	commitAt time.Time // the oldest commit in it
}

// OffsiteStats describe the remote copy of continuous backup.
type OffsiteStats struct {
	Destination       string    `json:"destination"`
	Seq               uint64    `json:"seq"`
	LastUploadAt      time.Time `json:"last_upload_at"`
	Pending           int       `json:"pending"`
	Uploads           int64     `json:"uploads"`
	Bytes             int64     `json:"bytes"`
	Errors            int64     `json:"errors"`
	ConsecutiveErrors int       `json:"consecutive_errors"`
	LastError         string    `json:"last_error,omitempty"`
}

func newOffsite(st *remote.Store, dir string, delay time.Duration) *offsite {
	if delay <= 0 {
		delay = DefaultRemoteDelay
	}
	return &offsite{st: st, local: DirStore(dir), dir: dir, delay: delay,
		wake: make(chan struct{}, 1), bases: map[string]bool{}, stats: OffsiteStats{Destination: st.String()}}
}

// add queues a segment just written locally, with the chain's new tip
// (nil: unchanged, for a merged segment).
func (o *offsite) add(u upload, tip *chainTip) {
	o.mu.Lock()
	o.queue = append(o.queue, u)
	if tip != nil {
		o.tip = tip
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// setTip records the chain's tip to copy with the next round.
func (o *offsite) setTip(tip chainTip) {
	o.mu.Lock()
	o.tip = &tip
	o.mu.Unlock()
}

// Lag is the age of the oldest commit not yet off site (0 when none).
func (o *offsite) lag(now time.Time) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) == 0 {
		return 0
	}
	return now.Sub(o.queue[0].commitAt)
}

func (o *offsite) snapshot() OffsiteStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.stats
	s.Pending = len(o.queue)
	return s
}

// run uploads until ctx ends.
func (o *offsite) run(ctx context.Context) {
	scan := time.NewTicker(baseScanEvery)
	defer scan.Stop()
	backoff := time.Duration(0)
	o.uploadBases(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-scan.C:
			o.uploadBases(ctx)
		}
		wait := o.delay
		if backoff > 0 {
			wait = backoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := o.flush(ctx); err != nil {
			backoff = min(max(2*backoff, time.Second), maxRemoteBackoff)
			select { // try again after the backoff even without news
			case o.wake <- struct{}{}:
			default:
			}
			continue
		}
		backoff = 0
	}
}

// flush uploads the queued segments in order, then the tip.
func (o *offsite) flush(ctx context.Context) error {
	for {
		o.mu.Lock()
		if len(o.queue) == 0 {
			tip := o.tip
			o.tip = nil
			o.mu.Unlock()
			if tip != nil {
				if err := putJSON(ctx, o.st, tipKey(tip.Chain), tip); err != nil {
					o.fail(err)
					o.mu.Lock()
					if o.tip == nil {
						o.tip = tip
					}
					o.mu.Unlock()
					return err
				}
			}
			return nil
		}
		u := o.queue[0]
		o.mu.Unlock()
		n, err := o.copy(ctx, u.key)
		if err != nil {
			o.fail(err)
			return err
		}
		o.mu.Lock()
		o.queue = o.queue[1:]
		o.stats.Seq, o.stats.LastUploadAt = u.seq, time.Now().UTC()
		o.stats.Uploads++
		o.stats.Bytes += n
		o.stats.ConsecutiveErrors = 0
		o.mu.Unlock()
	}
}

// copy uploads one local object under the same key.
func (o *offsite) copy(ctx context.Context, key string) (int64, error) {
	rc, _, err := o.local.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(data)
	if err := o.st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), hex.EncodeToString(sum[:])); err != nil {
		return 0, fmt.Errorf("copy %s off site: %w", key, err)
	}
	return int64(len(data)), nil
}

// uploadBases copies the full backups that start chain positions and are
// not off site yet.
func (o *offsite) uploadBases(ctx context.Context) {
	entries, err := List(o.dir)
	if err != nil {
		o.fail(err)
		return
	}
	for _, b := range chainBases(entries) {
		if o.bases[b.Name] {
			continue
		}
		if rc, _, err := o.st.Get(ctx, baseName(b.Name)+ManifestSuffix); err == nil {
			rc.Close()
			o.bases[b.Name] = true // already there (backup --remote)
			continue
		}
		if _, err := UploadBackup(ctx, o.st, b.Path, nil); err != nil {
			o.fail(err)
			return
		}
		o.bases[b.Name] = true
	}
}

func (o *offsite) fail(err error) {
	o.mu.Lock()
	o.stats.Errors++
	o.stats.ConsecutiveErrors++
	o.stats.LastError = err.Error()
	first := o.stats.ConsecutiveErrors == 1
	o.mu.Unlock()
	if first && o.report != nil {
		o.report(err)
	}
}
