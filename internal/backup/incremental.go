package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// IncrementalOptions tune IncrementalFromFile.
type IncrementalOptions struct {
	AppVersion string
	// Recipients encrypt the segment (as the chain's others should be).
	Recipients []string
	Identities *Identities
	Now        func() time.Time
}

// IncrementalFromFile extends the newest continuous-backup chain in dir
// with the changes of the database file at dbPath since the chain's last
// segment, for `campfire backup incremental` while no server runs (a
// server ships its commits itself and stops with its chain up to date).
// It rebuilds the chain's last state from the backups, compares it page by
// page with a snapshot of the database, and writes what differs as the
// next segment; when nothing differs it writes nothing. The caller holds
// the database's lock, so nothing writes meanwhile.
func IncrementalFromFile(ctx context.Context, dbPath, dir string, opts IncrementalOptions) (*Result, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	started := now().UTC()
	lock, err := LockDir(ctx, dir, DefaultLockWait)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	entries, err := List(dir)
	if err != nil {
		return nil, err
	}
	st := DirStore(dir)
	if len(chainBases(entries)) == 0 {
		return nil, fail(ErrNotFound, "no continuous backup chain in %s yet: an incremental backup extends the chain that campfire serve starts (with a full backup) when it runs with CAMPFIRE_BACKUP_CONTINUOUS on", dir)
	}
	plan, err := PlanPointInTime(ctx, st, entries, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("incremental backup: %w", err)
	}
	scratch, err := os.MkdirTemp(dir, tempPrefix+"incremental-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)

	// The chain's last state.
	_, tip, err := verify(ctx, plan.Base.Path, VerifyOptions{Identities: opts.Identities}, scratch)
	if err != nil {
		return nil, fmt.Errorf("incremental backup: base %s: %w", plan.Base.Name, err)
	}
	if err := plan.Roll(ctx, st, opts.Identities, tip, nil); err != nil {
		return nil, fmt.Errorf("incremental backup: %w", err)
	}
	// The database now.
	cur := filepath.Join(scratch, "current.db")
	info, err := sqldb.SnapshotFile(ctx, dbPath, cur)
	if err != nil {
		return nil, err
	}
	ps := plan.Base.Manifest.Chain.PageSize
	if uint32(info.PageSize) != ps {
		return nil, fmt.Errorf("incremental backup: the database's page size %d differs from the chain's %d: take a full backup", info.PageSize, ps)
	}
	pages, tipPages, sums, err := diffPages(tip, cur, int(ps))
	if err != nil {
		return nil, err
	}
	newPages := uint32(info.PageCount)
	m := &Manifest{
		FormatVersion: ManifestFormatVersion, Type: TypeIncremental, StartedAt: started,
		AppVersion: opts.AppVersion, Engine: "sqlite", Compression: CompressionZstd,
		RowCounts: info.RowCounts, Parent: plan.Base.Name, Recipients: []string{},
		SchemaVersion: info.SchemaVersion, PageSize: info.PageSize, PageCount: info.PageCount,
	}
	res := &Result{Path: filepath.Join(dir, walPrefix, plan.Chain), Manifest: m}
	if len(pages) == 0 && newPages == tipPages {
		m.CreatedAt, m.FinishedAt = plan.At, now().UTC()
		m.Chain = &ChainPosition{Chain: plan.Chain, Seq: plan.Seq, Checksum: formatSum(sums.total), PageSize: ps}
		m.File = "" // nothing new
		return res, nil
	}
	recipients, err := ParseRecipients(opts.Recipients...)
	if err != nil {
		return nil, err
	}
	codec, err := newSegmentCodec(recipients, opts.Identities)
	if err != nil {
		return nil, err
	}
	at := now().UTC()
	s := &segment{SegmentHeader: SegmentHeader{
		Chain: plan.Chain, First: plan.Seq + 1, Last: plan.Seq + 1, PageSize: ps,
		MinPages: min(tipPages, newPages), DBPages: newPages, Commits: 1,
		Since: plan.At, At: at, Checksum: formatSum(sums.total),
	}, pages: pages}
	stored, err := codec.seal(encodeSegment(s))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(stored)
	key := SegmentKey(s.SegmentHeader, codec.encryption())
	if err := st.Put(ctx, key, bytes.NewReader(stored), int64(len(stored)), hex.EncodeToString(sum[:])); err != nil {
		return nil, err
	}
	if err := putJSON(ctx, st, tipKey(plan.Chain), chainTip{Chain: plan.Chain, Last: s.Last, At: at, Checksum: s.Checksum, Closed: true}); err != nil {
		return nil, err
	}
	m.CreatedAt, m.FinishedAt = at, now().UTC()
	m.File, m.StoredBytes, m.StoredSHA256 = key, int64(len(stored)), hex.EncodeToString(sum[:])
	m.Chain = &ChainPosition{Chain: plan.Chain, Seq: s.Last, Checksum: s.Checksum, PageSize: ps}
	res.Path = filepath.Join(dir, filepath.FromSlash(key))
	return res, nil
}

// diffPages returns the pages of the database file cur that differ from
// those of old (by their checksums), old's size in pages, and cur's
// checksum.
func diffPages(old, cur string, pageSize int) (map[uint32][]byte, uint32, *pageSums, error) {
	of, err := os.Open(old)
	if err != nil {
		return nil, 0, nil, err
	}
	defer of.Close()
	oldSums, err := sumsOf(of, pageSize)
	if err != nil {
		return nil, 0, nil, err
	}
	cf, err := os.Open(cur)
	if err != nil {
		return nil, 0, nil, err
	}
	defer cf.Close()
	sums := &pageSums{}
	pages := map[uint32][]byte{}
	buf := make([]byte, pageSize)
	for pgno := uint32(1); ; pgno++ {
		if _, err := io.ReadFull(cf, buf); err == io.EOF {
			break
		} else if err != nil {
			return nil, 0, nil, err
		}
		sums.set(pgno, buf)
		if int(pgno) > len(oldSums.sums) || oldSums.sums[pgno-1] != sums.sums[pgno-1] {
			pages[pgno] = append([]byte(nil), buf...)
		}
	}
	return pages, uint32(len(oldSums.sums)), sums, nil
}
