package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
	// codec, when set, lets a round merge the queued segments into one
	// object (nil: each is copied as it is, e.g. encrypted segments the
	// server cannot decrypt).
	codec *segmentCodec

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
					o.fail(ctx, err)
					o.mu.Lock()
					if o.tip == nil {
						o.tip = tip
					}
					o.mu.Unlock()
					return err
				}
				o.mu.Lock()
				o.stats.ConsecutiveErrors = 0
				o.mu.Unlock()
			}
			return nil
		}
		batch := append([]upload(nil), o.queue[:mergeable(o.queue)]...)
		o.mu.Unlock()
		n, err := o.upload(ctx, batch)
		if err != nil {
			o.fail(ctx, err)
			return err
		}
		o.mu.Lock()
		o.queue = o.queue[len(batch):]
		o.stats.Seq, o.stats.LastUploadAt = batch[len(batch)-1].seq, time.Now().UTC()
		o.stats.Uploads++
		o.stats.Bytes += n
		o.stats.ConsecutiveErrors = 0
		o.mu.Unlock()
	}
}

// maxMerge bounds the segments merged into one upload.
const maxMerge = 256

// mergeable is how many segments at the head of queue one upload takes:
// the run of level-0 segments of one chain that follow each other (at
// least one).
func mergeable(queue []upload) int {
	first, ok := parseSegmentKey(queue[0].key)
	if !ok || first.Level != 0 {
		return 1
	}
	n, next := 1, first.Last+1
	for n < len(queue) && n < maxMerge {
		r, ok := parseSegmentKey(queue[n].key)
		if !ok || r.Level != 0 || r.Chain != first.Chain || r.First != next {
			break
		}
		n, next = n+1, r.Last+1
	}
	return n
}

// upload copies batch off site: one segment as it is, several merged into
// one (newest page versions, the last one's checksum), since object
// stores bill every request. Without a codec that can open them, each is
// copied.
func (o *offsite) upload(ctx context.Context, batch []upload) (int64, error) {
	if len(batch) > 1 && o.codec != nil {
		n, err := o.merge(ctx, batch)
		if !errors.Is(err, ErrNoIdentity) {
			return n, err
		}
		o.codec = nil // encrypted, and no identity here to merge them
	}
	var total int64
	for _, u := range batch {
		n, err := o.copy(ctx, u.key)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// merge uploads the segments of batch as one.
func (o *offsite) merge(ctx context.Context, batch []upload) (int64, error) {
	segs := make([]*segment, 0, len(batch))
	for _, u := range batch {
		ref, _ := parseSegmentKey(u.key)
		s, err := fetchSegment(ctx, o.local, o.codec, ref)
		if err != nil {
			return 0, err
		}
		segs = append(segs, s)
	}
	merged, err := mergeSegments(segs)
	if err != nil {
		return 0, err
	}
	stored, err := o.codec.seal(encodeSegment(merged))
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(stored)
	key := SegmentKey(merged.SegmentHeader, o.codec.encryption())
	if err := o.st.Put(ctx, key, bytes.NewReader(stored), int64(len(stored)), hex.EncodeToString(sum[:])); err != nil {
		return 0, fmt.Errorf("copy %s off site: %w", key, err)
	}
	return int64(len(stored)), nil
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
		o.fail(ctx, err)
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
			o.fail(ctx, err)
			return
		}
		o.bases[b.Name] = true
	}
}

// fail counts a failure, unless ctx ended (the server stopping is not a
// failure of the destination).
func (o *offsite) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
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
