package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/campfire-in-go/campfire/internal/remote"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Defaults of the Replicator.
const (
	// DefaultShipDelay batches the commits of a few milliseconds into one
	// segment: at 1,000 commits/s about 37 segments a second (measured,
	// docs/benchmarks.md), when idle none.
	DefaultShipDelay = 50 * time.Millisecond
	// DefaultReplicaCheckpointPages: the WAL is copied back into the
	// database (after being shipped) once it holds this many frames.
	DefaultReplicaCheckpointPages = 1000
	// maxSegmentBytes cuts a huge transaction's WAL into several reads.
	maxSegmentBytes = 32 << 20
	// tipEvery bounds how often the chain's tip record is rewritten.
	tipEvery = 10 * time.Second
)

// errContinuity: the WAL no longer continues the shipped position
// (another process checkpointed and restarted it, or replaced the file).
var errContinuity = errors.New("continuity lost")

// Replicator is continuous backup inside the server: it ships every
// committed WAL frame of DB into segments in the backup directory, and only
// then checkpoints. The server owns every connection and turns SQLite's
// autocheckpoint off (sqldb.DB.AutoCheckpoint = false), so the WAL is never
// copied back and restarted behind the Replicator's back.
//
// Shipping is driven by commits (sqldb.DB.OnCommit → Notify): ShipDelay
// after the first unshipped commit, everything committed is read from the
// WAL, deduplicated by page and written as one segment. Nothing happens
// while nobody writes, but for a stat of the WAL once a second that
// catches writes of other processes.
type Replicator struct {
	DB *sqldb.DB
	// Engine takes the full backups that chains start from; its Dir is
	// where segments go (under wal/).
	Engine *Engine
	// Recipients encrypt segments and base backups (see
	// Request.Recipients); empty means not encrypted.
	Recipients []string
	Logger     *slog.Logger
	ShipDelay  time.Duration
	// CheckpointPages is the WAL size in frames that triggers a
	// checkpoint; zero means DefaultReplicaCheckpointPages.
	CheckpointPages int64
	Now             func() time.Time
	// Remote, when set, receives a copy of every segment RemoteDelay
	// after it is written locally, and of every full backup a chain
	// starts from (see offsite).
	Remote      *remote.Store
	RemoteDelay time.Duration
	// OnBase, when set, hears of every full backup the replicator takes
	// to start a chain (for the audit log).
	OnBase func(ctx context.Context, res *Result, err error, started, finished time.Time)

	store ObjectStore
	codec *segmentCodec

	// shipMu serializes shipping and guards the position. Lock order:
	// the DB writer (WithWriter) first, then shipMu.
	chainMu  sync.Mutex // one restartChain at a time
	shipMu   sync.Mutex
	chain    string
	seq      uint64
	pos      walPos
	pageSize uint32
	dbPages  uint32
	sums     *pageSums // nil until the chain's first base is read
	since    time.Time // At of the last segment
	// restartPending: every frame of the WAL (salt1 restartFrom) was
	// shipped and copied into the database by our own checkpoint, so the
	// next write may restart the WAL. Notify clears it as soon as a
	// commit appends to that WAL instead: a restart after that would need
	// a checkpoint we did not run.
	restartPending atomic.Bool
	restartFrom    atomic.Uint32
	retryAt        int64     // WAL frames before the next checkpoint after one a reader blocked
	dbStamp        fileStamp // the database file after our last checkpoint
	anyWAL         bool      // no WAL at the chain's start: the first one continues it
	lastTip        time.Time
	checksum       string

	initOnce     sync.Once
	notify       chan struct{}
	pendingSince atomic.Int64 // unix ns of the oldest unshipped commit, 0 if none
	commits      atomic.Int64

	statsMu sync.Mutex
	stats   ReplicationStats

	cancel context.CancelFunc
	done   chan struct{}

	off       *offsite
	offCancel context.CancelFunc
	offDone   chan struct{}

	compactor *Compactor
}

// ReplicationStats is what the Replicator reports (health, metrics).
type ReplicationStats struct {
	Chain       string    `json:"chain"`
	Seq         uint64    `json:"seq"`
	LastShipAt  time.Time `json:"last_ship_at"`
	Segments    int64     `json:"segments"`
	Bytes       int64     `json:"bytes"`
	Checkpoints int64     `json:"checkpoints"`
	Errors      int64     `json:"errors"`
	// ConsecutiveErrors counts the failures since the last success.
	ConsecutiveErrors int       `json:"consecutive_errors"`
	LastError         string    `json:"last_error,omitempty"`
	LastErrorAt       time.Time `json:"last_error_at"`
	MaxLag            time.Duration
	MaxStall          time.Duration
}

func (r *Replicator) now() time.Time { return nowOr(r.Now) }

func (r *Replicator) logger() *slog.Logger { return loggerOr(r.Logger) }

// Notify tells the Replicator that a transaction committed. It never
// blocks: it is sqldb.DB.OnCommit.
func (r *Replicator) Notify() {
	r.init()
	if r.restartPending.Load() {
		// Did this commit restart the WAL (legitimate) or append to the
		// one we checkpointed? Its header says: a restart rewrites salt 1.
		if salt, ok := walSalt1(r.DB.Path); ok && salt == r.restartFrom.Load() {
			r.restartPending.Store(false)
		}
	}
	r.commits.Add(1)
	r.pendingSince.CompareAndSwap(0, time.Now().UnixNano())
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *Replicator) init() {
	r.initOnce.Do(func() { r.notify = make(chan struct{}, 1) })
}

// Start continues the last chain when the database is exactly its end
// (see resume), or starts a chain with a full backup of the database (the
// base), and ships from then on, until Close. It fails when the base
// cannot be taken.
func (r *Replicator) Start(ctx context.Context) error {
	if r.DB == nil || r.Engine == nil {
		return errors.New("continuous backup: no database or engine")
	}
	if r.ShipDelay <= 0 {
		r.ShipDelay = DefaultShipDelay
	}
	if r.CheckpointPages <= 0 {
		r.CheckpointPages = DefaultReplicaCheckpointPages
	}
	r.store = DirStore(r.Engine.Dir)
	recipients, err := ParseRecipients(r.Recipients...)
	if err != nil {
		return err
	}
	codec, err := newSegmentCodec(recipients, r.Engine.Identities)
	if err != nil {
		return err
	}
	r.codec = codec
	r.init()
	r.compactor = &Compactor{Store: r.store, Recipients: recipients, Identities: r.Engine.Identities, Now: r.Now, Logger: r.Logger}
	resumed, err := r.resume(ctx)
	if err != nil {
		r.logger().Warn("continuous backup: the last chain cannot be continued; starting a new one", "err", err)
	}
	if !resumed {
		if _, err := r.newChain(ctx); err != nil {
			return err
		}
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	go r.loop(loopCtx)
	if r.Remote != nil {
		if r.off == nil {
			r.off = newOffsite(r.Remote, r.Engine.Dir, r.RemoteDelay)
			r.off.report = func(err error) {
				r.logger().Error("continuous backup: copying off site failed; retrying with backoff", "destination", r.Remote.String(), "err", err)
			}
			r.off.codec = codec
		}
		offCtx, offCancel := context.WithCancel(context.WithoutCancel(ctx))
		r.offCancel, r.offDone = offCancel, make(chan struct{})
		go func() {
			defer close(r.offDone)
			r.off.run(offCtx)
		}()
	}
	return nil
}

// Close ships the last commits, checkpoints, records the chain's tip and
// stops. Call it before closing the DB, after the last write.
func (r *Replicator) Close(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	<-r.done
	r.cancel = nil
	err := r.checkpoint(ctx)
	if errors.Is(err, errContinuity) {
		// Nothing is lost (the database has it all), but the chain ends
		// before it: the next start begins a new one with a full backup.
		r.logger().Warn("continuous backup: the last commits were checkpointed by another process; the chain ends before them", "cause", err)
		err = nil
	}
	r.shipMu.Lock()
	if terr := r.writeTip(ctx, true); err == nil {
		err = terr
	}
	r.shipMu.Unlock()
	if r.off != nil {
		// The last segments and the tip go off site before the server
		// stops, as far as ctx allows.
		r.offCancel()
		<-r.offDone
		if ferr := r.off.flush(ctx); ferr != nil && err == nil {
			err = fmt.Errorf("continuous backup: copy the last segments off site: %w", ferr)
		}
	}
	return err
}

// Sync ships everything committed so far and returns the chain and the
// number of the last segment: `backup incremental` with the server running.
func (r *Replicator) Sync(ctx context.Context) (ChainPosition, error) {
	// A chain being started (its base taken) ships nothing until it has
	// one: wait for it.
	r.chainMu.Lock()
	defer r.chainMu.Unlock()
	pos, err := r.sync(ctx)
	if errors.Is(err, errContinuity) {
		r.warnRestart(err)
		if _, err = r.newChain(ctx); err != nil {
			return pos, err
		}
		pos, err = r.sync(ctx)
	}
	return pos, err
}

// restartChain starts a new chain after continuity was lost, once: the
// loop and Sync may both find the loss, and two chains started at once
// would share the state of one.
func (r *Replicator) restartChain(ctx context.Context, cause error) error {
	r.chainMu.Lock()
	defer r.chainMu.Unlock()
	r.shipMu.Lock()
	err := r.ship(ctx)
	r.shipMu.Unlock()
	if !errors.Is(err, errContinuity) {
		return err // the other one started it
	}
	r.warnRestart(cause)
	_, err = r.newChain(ctx)
	return err
}

func (r *Replicator) warnRestart(cause error) {
	r.logger().Warn("continuous backup: the WAL no longer continues the shipped position; starting a new chain with a full backup", "cause", cause)
}

func (r *Replicator) sync(ctx context.Context) (ChainPosition, error) {
	var pos ChainPosition
	err := r.DB.WithWriter(ctx, func(ctx context.Context, _ *sqldb.Writer) error {
		r.shipMu.Lock()
		defer r.shipMu.Unlock()
		if err := r.ship(ctx); err != nil {
			return err
		}
		pos = ChainPosition{Chain: r.chain, Seq: r.seq, Checksum: r.checksum, PageSize: r.pageSize}
		return r.writeTip(ctx, false)
	})
	return pos, err
}

// Incremental ships everything committed so far (Sync) and describes the
// result as an incremental backup: the chain position reached and the
// full backup it extends (Parent).
func (r *Replicator) Incremental(ctx context.Context) (*Result, error) {
	started := r.now()
	pos, err := r.Sync(ctx)
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		FormatVersion: ManifestFormatVersion, Type: TypeIncremental, StartedAt: started, FinishedAt: r.now(),
		AppVersion: r.Engine.AppVersion, Engine: "sqlite", Compression: CompressionZstd,
		Chain: &pos, RowCounts: map[string]int64{}, Recipients: []string{},
	}
	r.shipMu.Lock()
	m.CreatedAt = r.since
	m.File = walPrefix + "/" + pos.Chain
	r.shipMu.Unlock()
	if entries, err := List(r.Engine.Dir); err == nil {
		for _, e := range entries {
			if e.Manifest != nil && e.Manifest.Chain != nil && e.Manifest.Chain.Chain == pos.Chain {
				m.Parent = e.Name
				break
			}
		}
	}
	return &Result{Path: filepath.Join(r.Engine.Dir, walPrefix, pos.Chain), Manifest: m}, nil
}

// fileStamp identifies a version of a file: in WAL mode only checkpoints
// write the database file, so a new stamp that is not ours means another
// process checkpointed.
type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.Size(), fi.ModTime()}
}

// noteCheckpoint records the database file after one of our checkpoints.
// shipMu is held.
func (r *Replicator) noteCheckpoint() { r.dbStamp = stampOf(r.DB.Path) }

// checkpointedByOthers reports whether the database file changed since
// our last checkpoint. shipMu is held.
func (r *Replicator) checkpointedByOthers() bool { return stampOf(r.DB.Path) != r.dbStamp }

// allowRestart records that every frame of the WAL with salt 1 salt is
// shipped and in the database file.
func (r *Replicator) allowRestart(salt uint32) {
	r.restartFrom.Store(salt)
	r.restartPending.Store(true)
}

// Offsite returns the state of the copy off site (ok false without one)
// and the age of the oldest commit not there yet.
func (r *Replicator) Offsite() (stats OffsiteStats, lag time.Duration, ok bool) {
	if r.off == nil {
		return stats, 0, false
	}
	return r.off.snapshot(), r.off.lag(time.Now()), true
}

// Stats returns a copy of the counters.
func (r *Replicator) Stats() ReplicationStats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.stats
}

// Lag is the age of the oldest commit not shipped yet: the data a crash of
// the machine would lose now (0 when everything is shipped).
func (r *Replicator) Lag() time.Duration {
	ns := r.pendingSince.Load()
	if ns == 0 {
		return 0
	}
	return time.Since(time.Unix(0, ns))
}

func (r *Replicator) loop(ctx context.Context) {
	defer close(r.done)
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	go r.compactLoop(ctx)
	var walSize int64
	var walMod time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.notify:
			// Let the commits of the next few milliseconds join.
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.ShipDelay):
			}
		case <-poll.C:
			fi, err := os.Stat(r.DB.Path + "-wal")
			if err != nil || (fi.Size() == walSize && fi.ModTime().Equal(walMod)) {
				continue
			}
			walSize, walMod = fi.Size(), fi.ModTime()
		}
		r.step(ctx)
	}
}

// compactEvery is how often closed windows of segments are merged.
const compactEvery = time.Minute

// compactLoop merges the segments of each closed minute and hour of the
// current chain (Compactor), so a restore applies a few dozen segments
// instead of a day's worth, and copies the merged ones off site. It keeps
// every level-0 segment: retention decides when they go.
func (r *Replicator) compactLoop(ctx context.Context) {
	t := time.NewTicker(compactEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.shipMu.Lock()
		chain := r.chain
		r.shipMu.Unlock()
		rep, err := r.compactor.Run(ctx, chain)
		if err != nil && ctx.Err() == nil {
			r.logger().Warn("continuous backup: compaction", "chain", chain, "err", err)
		}
		if rep != nil && r.off != nil {
			for _, key := range rep.Written {
				if ref, ok := parseSegmentKey(key); ok {
					r.off.add(upload{key: key, seq: ref.Last, commitAt: ref.At}, nil)
				}
			}
		}
	}
}

// step ships, checkpoints when the WAL is large, and starts a new chain
// when continuity was lost.
func (r *Replicator) step(ctx context.Context) {
	r.shipMu.Lock()
	err := r.ship(ctx)
	frames := r.pos.Frames
	due := frames >= max(r.CheckpointPages, r.retryAt)
	if err == nil && r.now().Sub(r.lastTip) >= tipEvery {
		err = r.writeTip(ctx, false)
	}
	r.shipMu.Unlock()
	if err == nil && due {
		err = r.checkpoint(ctx)
	}
	if errors.Is(err, errContinuity) {
		if err = r.restartChain(ctx, err); err == nil {
			return
		}
	}
	if err != nil && ctx.Err() == nil {
		r.fail(err)
	}
}

func (r *Replicator) fail(err error) {
	r.logger().Error("continuous backup failed; retrying at the next commit", "err", err)
	r.statsMu.Lock()
	r.stats.Errors++
	r.stats.ConsecutiveErrors++
	r.stats.LastError, r.stats.LastErrorAt = err.Error(), r.now()
	r.statsMu.Unlock()
}

// checkpoint copies the shipped WAL back into the database file and, when
// every frame is copied and no reader needs the WAL, truncates it. A frame
// must never be copied, and its WAL space reused, before it is shipped, so:
//
//  1. with the writer held, ship the last frames and pin a read snapshot
//     there (a checkpoint cannot copy frames past a reader's snapshot);
//  2. without the writer, copy the pinned frames (the slow part: writing
//     pages and fsyncing the database) while writers go on;
//  3. with the writer held again, ship and copy what was committed
//     meanwhile (a few frames) and truncate the WAL.
//
// Writers wait only for steps 1 and 3.
func (r *Replicator) checkpoint(ctx context.Context) error {
	var release func()
	var pinnedAt int64
	var pinnedSalt uint32
	stall1, err := r.holdWriter(ctx, func(ctx context.Context, _ *sqldb.Writer) error {
		r.shipMu.Lock()
		err := r.ship(ctx)
		fresh := r.sums == nil // nothing may be checkpointed before it is shipped
		pinned, salt := r.pos.Frames, r.pos.Salt1
		r.shipMu.Unlock()
		if err != nil || fresh {
			return err
		}
		release, err = r.DB.PinSnapshot(ctx)
		pinnedAt = pinned
		pinnedSalt = salt
		return err
	})
	if err != nil || release == nil {
		return err
	}
	res, err := r.DB.CheckpointAside(ctx)
	release()
	if err != nil {
		return err
	}
	r.shipMu.Lock()
	r.noteCheckpoint()
	r.shipMu.Unlock()
	if !res.Busy && int64(res.LogPages) == pinnedAt && res.Checkpointed == res.LogPages {
		// Every frame was shipped and copied, and nothing was committed
		// since: the next write may restart the WAL, legitimately.
		r.allowRestart(pinnedSalt)
	}
	stall2, err := r.holdWriter(ctx, func(ctx context.Context, w *sqldb.Writer) error {
		r.shipMu.Lock()
		defer r.shipMu.Unlock()
		if err := r.ship(ctx); err != nil {
			return err
		}
		res, err := w.Checkpoint(ctx, sqldb.CheckpointPassive, false)
		defer r.noteCheckpoint() // after the TRUNCATE below too
		if err != nil {
			return err
		}
		if res.Busy || res.Checkpointed < res.LogPages {
			// A reader still needs older frames: try again once the WAL
			// has grown by another threshold, not at every commit.
			r.retryAt = r.pos.Frames + r.CheckpointPages
			return nil
		}
		// Everything shipped is in the database file: the WAL may now be
		// restarted by the next write, which continuity allows.
		r.allowRestart(r.pos.Salt1)
		r.retryAt = 0
		_, err = w.Checkpoint(ctx, sqldb.CheckpointTruncate, true)
		return err
	})
	r.statsMu.Lock()
	r.stats.Checkpoints++
	r.stats.MaxStall = max(r.stats.MaxStall, stall1, stall2)
	r.statsMu.Unlock()
	return err
}

// holdWriter runs fn with the writer held and returns how long writers
// were held up by it.
func (r *Replicator) holdWriter(ctx context.Context, fn func(ctx context.Context, w *sqldb.Writer) error) (time.Duration, error) {
	var held time.Duration
	err := r.DB.WithWriter(ctx, func(ctx context.Context, w *sqldb.Writer) error {
		start := time.Now()
		defer func() { held = time.Since(start) }()
		return fn(ctx, w)
	})
	return held, err
}

// ship reads what was committed past the position and writes it as
// segments. shipMu is held.
func (r *Replicator) ship(ctx context.Context) error {
	if r.sums == nil {
		return nil // a fresh chain waits for its base
	}
	startCommits := r.commits.Load()
	startTime := time.Now()
	f, err := openWAL(r.DB.Path)
	if err != nil {
		return err
	}
	if f == nil {
		return r.noWAL()
	}
	defer f.Close()
	h, ok, err := readWALHeader(f)
	if err != nil {
		return err
	}
	if !ok {
		return r.noWAL()
	}
	if h.Salt1 != r.pos.Salt1 || h.Salt2 != r.pos.Salt2 {
		if r.checkpointedByOthers() {
			return fmt.Errorf("%w: the database was checkpointed and its WAL restarted by another process", errContinuity)
		}
		// A new WAL. It continues ours only right after we checkpointed
		// all of the old one. SQLite adds one to salt1 when it restarts
		// the WAL; after our TRUNCATE the new header carries +2 (measured
		// with SQLite 3.51: the truncation and the next writer each
		// restart it). Anything else means someone else checkpointed.
		from := r.restartFrom.Load()
		d := h.Salt1 - from
		if !r.anyWAL && (!r.restartPending.Load() || (d != 1 && d != 2)) || h.PageSize != r.pageSize {
			return fmt.Errorf("%w: the WAL was restarted by another process (salt %08x after %08x)", errContinuity, h.Salt1, from)
		}
		r.pos, r.anyWAL, r.retryAt = h.start(), false, 0
	}
	// One segment, unless a huge transaction had to be cut: the commits
	// that land while it is written wait for the next round, ShipDelay
	// later, so a busy server writes 1/ShipDelay segments a second, not
	// one per fsync.
	for {
		b, err := readWAL(f, h, r.pos, maxSegmentBytes)
		if err != nil {
			return err
		}
		if b.Commits == 0 {
			break
		}
		r.restartPending.Store(false)
		if err := r.writeSegment(ctx, b); err != nil {
			return err
		}
		if b.Bytes < maxSegmentBytes {
			break
		}
	}
	if r.commits.Load() == startCommits {
		r.pendingSince.Store(0)
	} else {
		r.pendingSince.Store(startTime.UnixNano())
	}
	return nil
}

// noWAL handles a missing or empty WAL: fine after our own truncation or
// when nothing was ever written to it.
func (r *Replicator) noWAL() error {
	if r.checkpointedByOthers() {
		// Frames we never saw may have gone into the file with it.
		return fmt.Errorf("%w: the database was checkpointed and its WAL emptied by another process", errContinuity)
	}
	if r.pos.Frames == 0 || r.restartPending.Load() || r.anyWAL {
		r.pendingSince.Store(0)
		return nil
	}
	return fmt.Errorf("%w: the WAL was truncated by another process", errContinuity)
}

// writeSegment stores one batch as the next segment.
func (r *Replicator) writeSegment(ctx context.Context, b *walBatch) error {
	at := r.now()
	if !at.After(r.since) {
		at = r.since.Add(time.Millisecond)
	}
	// Applied in place (a copy would cost 8 bytes per page of the whole
	// database per segment) and undone if the segment cannot be stored.
	sums := r.sums
	undo := sums.apply(b.Pages, b.MinPages, b.DBPages, int(r.pageSize))
	s := &segment{SegmentHeader: SegmentHeader{
		Chain: r.chain, Level: 0, First: r.seq + 1, Last: r.seq + 1,
		PageSize: r.pageSize, MinPages: b.MinPages, DBPages: b.DBPages, Commits: b.Commits,
		Since: r.since, At: at, Checksum: formatSum(sums.total),
	}, pages: b.Pages}
	stored, err := r.codec.seal(encodeSegment(s))
	if err != nil {
		undo()
		return err
	}
	sum := sha256.Sum256(stored)
	if err := r.store.Put(ctx, SegmentKey(s.SegmentHeader, r.codec.encryption()), bytes.NewReader(stored), int64(len(stored)), hex.EncodeToString(sum[:])); err != nil {
		undo()
		return fmt.Errorf("write segment %d: %w", s.First, err)
	}
	r.seq, r.pos, r.sums, r.since, r.dbPages, r.checksum = s.Last, b.End, sums, at, b.DBPages, s.Checksum
	lag, commitAt := time.Duration(0), at
	if ns := r.pendingSince.Load(); ns != 0 {
		lag, commitAt = time.Since(time.Unix(0, ns)), time.Unix(0, ns).UTC()
	}
	if r.off != nil {
		r.off.add(upload{key: SegmentKey(s.SegmentHeader, r.codec.encryption()), seq: s.Last, commitAt: commitAt},
			&chainTip{Chain: r.chain, Last: s.Last, At: at, Checksum: s.Checksum})
	}
	r.statsMu.Lock()
	r.stats.Chain, r.stats.Seq, r.stats.LastShipAt = r.chain, r.seq, at
	r.stats.Segments++
	r.stats.ConsecutiveErrors = 0
	r.stats.Bytes += int64(len(stored))
	r.stats.MaxLag = max(r.stats.MaxLag, lag)
	r.statsMu.Unlock()
	return nil
}

// writeTip records the chain's last segment. shipMu is held.
func (r *Replicator) writeTip(ctx context.Context, closed bool) error {
	if r.chain == "" {
		return nil
	}
	r.lastTip = r.now()
	tip := chainTip{Chain: r.chain, Last: r.seq, At: r.since, Checksum: r.checksum, Closed: closed}
	if r.off != nil {
		r.off.setTip(tip)
	}
	return putJSON(ctx, r.store, tipKey(r.chain), tip)
}

// Source is the database as a backup Source whose full and hot backups
// become starting points of the current chain.
func (r *Replicator) Source() Source { return &chainSource{r: r} }

// newChain starts a chain: it reads the WAL's current end as the start
// position and takes the base backup from exactly there.
func (r *Replicator) newChain(ctx context.Context) (*Result, error) {
	r.shipMu.Lock()
	if r.chain != "" {
		_ = r.writeTip(ctx, true)
	}
	r.sums = nil // ship nothing until the base is read
	r.shipMu.Unlock()
	eng := *r.Engine
	cs := &chainSource{r: r, fresh: true}
	eng.Source = cs
	started := time.Now()
	res, err := eng.Backup(ctx, Request{Type: TypeFull, Recipients: r.Recipients})
	if r.OnBase != nil {
		r.OnBase(ctx, res, err, started, time.Now())
	}
	if err != nil {
		return nil, fmt.Errorf("continuous backup: base backup: %w", err)
	}
	r.logger().Info("continuous backup: new chain", "chain", cs.pos.Chain, "base", res.Manifest.File)
	return res, nil
}

// chainSource is the Source of a full backup that is a starting point of
// a chain: the snapshot's read transaction starts with the writer held, the
// WAL is shipped (or, for a fresh chain, read) up to that moment, and the
// position is recorded in the manifest.
type chainSource struct {
	r     *Replicator
	fresh bool
	pos   ChainPosition
}

func (c *chainSource) position() *ChainPosition {
	if c.pos.Chain == "" {
		return nil
	}
	p := c.pos
	return &p
}

func (c *chainSource) SchemaSnapshotTo(ctx context.Context, path string) (sqldb.SchemaSnapshot, error) {
	return c.r.DB.SchemaSnapshotTo(ctx, path)
}

func (c *chainSource) SnapshotTo(ctx context.Context, path string) (sqldb.SnapshotInfo, error) {
	r := c.r
	info, err := r.DB.SnapshotPinned(ctx, path, func(ctx context.Context, _ *sqldb.Writer) error {
		r.shipMu.Lock()
		defer r.shipMu.Unlock()
		if !c.fresh {
			if r.sums == nil || r.chain == "" {
				return nil // no chain yet: a plain backup
			}
			if err := r.ship(ctx); err != nil {
				return err
			}
			c.pos = ChainPosition{Chain: r.chain, Seq: r.seq, Checksum: r.checksum, PageSize: r.pageSize}
			return nil
		}
		return r.startFresh(ctx)
	})
	if err != nil {
		return info, err
	}
	f, err := os.Open(path)
	if err != nil {
		return info, err
	}
	defer f.Close()
	sums, err := sumsOf(f, int(info.PageSize))
	if err != nil {
		return info, err
	}
	if !c.fresh {
		if c.pos.Chain == "" {
			return info, nil
		}
		if got := formatSum(sums.total); got != c.pos.Checksum {
			return info, fmt.Errorf("continuous backup: the snapshot's checksum %s differs from the shipped state's %s", got, c.pos.Checksum)
		}
		return info, nil
	}
	r.shipMu.Lock()
	defer r.shipMu.Unlock()
	r.sums, r.checksum = sums, formatSum(sums.total)
	r.pageSize = uint32(info.PageSize)
	c.pos = ChainPosition{Chain: r.chain, Seq: 0, Checksum: r.checksum, PageSize: r.pageSize}
	return info, nil
}

// startFresh makes the WAL's current end the start of a new chain.
// shipMu and the writer are held; the snapshot sees exactly this WAL.
func (r *Replicator) startFresh(ctx context.Context) error {
	id := chainID(r.now())
	if id <= r.chain {
		id = chainID(r.now().Add(time.Millisecond))
	}
	r.chain, r.seq, r.since = id, 0, r.now()
	r.pos, r.anyWAL = walPos{}, true
	r.restartPending.Store(false)
	r.noteCheckpoint()
	f, err := openWAL(r.DB.Path)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	h, ok, err := readWALHeader(f)
	if err != nil || !ok {
		return err
	}
	r.pageSize = h.PageSize
	b, err := readWAL(f, h, h.start(), 1<<62)
	if err != nil {
		return err
	}
	r.pos, r.anyWAL = b.End, false
	r.pendingSince.Store(0)
	return nil
}

// ReplicationHealth is continuous backup's state for /health/detailed and
// /metrics.
type ReplicationHealth struct {
	Chain         string    `json:"chain"`
	Seq           uint64    `json:"seq"`
	LastShippedAt time.Time `json:"last_shipped_at"`
	// LagSeconds is the age of the oldest commit not yet in a segment:
	// what a crash of the machine would lose now.
	LagSeconds           float64 `json:"replication_lag_seconds"`
	Segments             int64   `json:"segments"`
	Bytes                int64   `json:"bytes"`
	Checkpoints          int64   `json:"checkpoints"`
	MaxCheckpointStallMS float64 `json:"max_checkpoint_stall_ms"`
	MaxLagMS             float64 `json:"max_lag_ms"`
	Errors               int64   `json:"errors"`
	LastError            string  `json:"last_error,omitempty"`
	// Offsite is the copy to the remote destination (nil without one).
	Offsite *OffsiteHealth `json:"offsite"`
}

// OffsiteHealth is the remote copy's part of ReplicationHealth.
type OffsiteHealth struct {
	OffsiteStats
	LagSeconds float64 `json:"replication_lag_seconds"`
}

// Health reports the replicator's state.
func (r *Replicator) Health() ReplicationHealth {
	st := r.Stats()
	h := ReplicationHealth{
		Chain: st.Chain, Seq: st.Seq, LastShippedAt: st.LastShipAt, LagSeconds: r.Lag().Seconds(),
		Segments: st.Segments, Bytes: st.Bytes, Checkpoints: st.Checkpoints,
		MaxCheckpointStallMS: float64(st.MaxStall.Microseconds()) / 1000, MaxLagMS: float64(st.MaxLag.Microseconds()) / 1000,
		Errors: st.Errors, LastError: st.LastError,
	}
	if off, lag, ok := r.Offsite(); ok {
		h.Offsite = &OffsiteHealth{OffsiteStats: off, LagSeconds: lag.Seconds()}
	}
	return h
}
