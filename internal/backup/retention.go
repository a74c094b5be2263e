package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Policy is a grandfather-father-son retention policy. The defaults are
// the spec's: 30 daily, 12 weekly, 12 monthly and 7 yearly backups;
// CAMPFIRE_BACKUP_RETENTION_DAYS sets Daily.
//
// Buckets are calendar periods in UTC, counted back from now and including
// the current one, over each backup's created_at (the snapshot time):
//
//   - Daily: the calendar days now-Daily+1 … now (Daily=30 on 2026-11-27
//     covers 2026-10-29 … 2026-11-27);
//   - Weekly: the ISO 8601 weeks (Monday to Sunday) containing now and the
//     Weekly-1 before it;
//   - Monthly: the calendar months containing now and the Monthly-1 before
//     it;
//   - Yearly: the calendar years containing now and the Yearly-1 before it.
//
// In each bucket the newest backup is kept. A bucket without backups keeps
// nothing (it is not filled from older periods). A zero count disables
// that kind of bucket.
//
// Retention applies to each backup type on its own: full, hot, schema,
// incremental and safety backups each get their own buckets, so schema or
// safety copies never crowd out full backups and the reverse. On top of
// the buckets:
//
//   - the newest verified backup of each type is always kept, so the
//     newest verified full backup survives any policy;
//   - the newest safety copy is always kept (safety copies are not
//     verified);
//   - every backup that a kept incremental backup's parent chain names
//     (manifest "parent") is kept;
//   - backups dated after now are kept (a clock was wrong);
//   - damaged entries (unreadable manifest, size mismatch) are kept for a
//     person to look at, and manifests whose artifact is gone are deleted;
//   - files not named by the contract (campfire_*_backup_*, e.g. --output
//     names) are never touched.
type Policy struct {
	Daily   int `json:"daily"`
	Weekly  int `json:"weekly"`
	Monthly int `json:"monthly"`
	Yearly  int `json:"yearly"`
}

// DefaultPolicy is 30 daily, 12 weekly, 12 monthly and 7 yearly.
func DefaultPolicy() Policy { return Policy{Daily: 30, Weekly: 12, Monthly: 12, Yearly: 7} }

func (p Policy) validate() error {
	if p.Daily < 0 || p.Weekly < 0 || p.Monthly < 0 || p.Yearly < 0 {
		return fail(ErrInvalidRequest, "retention counts cannot be negative: %+v", p)
	}
	return nil
}

func (p Policy) String() string {
	return fmt.Sprintf("%d daily, %d weekly, %d monthly, %d yearly", p.Daily, p.Weekly, p.Monthly, p.Yearly)
}

// Decision is what pruning does with one backup, and why.
type Decision struct {
	Entry   Entry    `json:"entry"`
	Keep    bool     `json:"keep"`
	Reasons []string `json:"reasons"`
}

// PrunePlan is the outcome of applying a policy to a listing.
type PrunePlan struct {
	Dir    string    `json:"dir"`
	Now    time.Time `json:"now"`
	Policy Policy    `json:"policy"`
	// Decisions cover every entry of the listing, newest first.
	Decisions []Decision `json:"decisions"`
	// Stale are leftover temporary files (from an interrupted backup or
	// verification) older than a day, which Apply removes too.
	Stale []string `json:"stale,omitempty"`
	// Segments is what retention did to continuous-backup segments (nil
	// when it did not run).
	Segments *SegmentPrune `json:"segments,omitempty"`
}

// Kept and Deleted split the decisions.
func (p *PrunePlan) Kept() []Decision    { return p.filter(true) }
func (p *PrunePlan) Deleted() []Decision { return p.filter(false) }

func (p *PrunePlan) filter(keep bool) []Decision {
	var out []Decision
	for _, d := range p.Decisions {
		if d.Keep == keep {
			out = append(out, d)
		}
	}
	return out
}

// bucket kinds, in the order reasons are printed.
type bucketKind struct {
	name  string
	count func(Policy) int
	index func(time.Time) int
	label func(time.Time) string
}

var bucketKinds = []bucketKind{
	{"daily", func(p Policy) int { return p.Daily }, dayIndex, func(t time.Time) string { return t.Format("2006-01-02") }},
	{"weekly", func(p Policy) int { return p.Weekly }, weekIndex, func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	}},
	{"monthly", func(p Policy) int { return p.Monthly }, func(t time.Time) int { return t.Year()*12 + int(t.Month()) - 1 }, func(t time.Time) string { return t.Format("2006-01") }},
	{"yearly", func(p Policy) int { return p.Yearly }, func(t time.Time) int { return t.Year() }, func(t time.Time) string { return t.Format("2006") }},
}

// dayIndex counts UTC days since 1970-01-01.
func dayIndex(t time.Time) int {
	u := t.UTC()
	return int(time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// weekIndex counts ISO weeks (Monday first); 1970-01-01 was a Thursday.
func weekIndex(t time.Time) int {
	d := dayIndex(t) + 3
	if d < 0 {
		return (d - 6) / 7
	}
	return d / 7
}

// PlanPrune applies policy to entries (from List) at time now. It decides
// only; Apply deletes.
func PlanPrune(entries []Entry, policy Policy, now time.Time) (*PrunePlan, error) {
	if err := policy.validate(); err != nil {
		return nil, err
	}
	now = now.UTC()
	plan := &PrunePlan{Now: now, Policy: policy}
	es := append([]Entry(nil), entries...)
	sortNewestFirst(es)
	reasons := make([][]string, len(es))
	keep := make([]bool, len(es))
	decided := make([]bool, len(es)) // keep/delete fixed regardless of buckets
	superseded := make([]string, len(es))
	byName := map[string]int{}
	for i, e := range es {
		byName[e.Name] = i
		switch {
		case !e.Ours:
			keep[i], decided[i] = true, true
			reasons[i] = append(reasons[i], "not named by campfire's backup convention: never pruned")
		case e.Status == StatusMissing:
			decided[i] = true
			reasons[i] = append(reasons[i], "manifest without its artifact")
		case e.Status == StatusDamaged:
			keep[i], decided[i] = true, true
			reasons[i] = append(reasons[i], "damaged ("+e.Problem+"): left for a person to inspect")
		case e.CreatedAt.After(now):
			keep[i] = true
			reasons[i] = append(reasons[i], "dated after now")
		}
	}

	// Buckets, per type: es is newest first, so the first entry seen in a
	// bucket is its newest.
	for _, k := range bucketKinds {
		n := k.count(policy)
		if n == 0 {
			continue
		}
		nowIdx := k.index(now)
		taken := map[string]int{} // type + bucket → index of the kept entry
		for i, e := range es {
			if decided[i] || e.CreatedAt.After(now) {
				continue
			}
			idx := k.index(e.CreatedAt.UTC())
			if nowIdx-idx >= n {
				continue
			}
			key := string(e.Type) + "|" + fmt.Sprint(idx)
			label := k.name + " " + k.label(e.CreatedAt.UTC())
			if j, ok := taken[key]; ok {
				if superseded[i] == "" {
					superseded[i] = fmt.Sprintf("%s keeps the newer %s", label, es[j].Name)
				}
				continue
			}
			taken[key] = i
			keep[i] = true
			reasons[i] = append(reasons[i], label)
		}
	}

	// The newest verified backup of each type, and the newest safety copy.
	newest := map[Type]bool{}
	for i, e := range es {
		if decided[i] || newest[e.Type] {
			continue
		}
		if e.Verified() || (e.Type == TypeSafety && e.Status != StatusMissing) {
			newest[e.Type] = true
			keep[i] = true
			if e.Type == TypeSafety {
				reasons[i] = append(reasons[i], "newest safety copy")
			} else {
				reasons[i] = append(reasons[i], "newest verified "+string(e.Type)+" backup")
			}
		}
	}

	// Parent chains of kept incrementals (and of anything kept that names
	// a parent).
	for i := range es {
		if !keep[i] || es[i].Parent == "" {
			continue
		}
		child := es[i].Name
		for p, seen := es[i].Parent, map[string]bool{}; p != "" && !seen[p]; {
			seen[p] = true
			j, ok := byName[p]
			if !ok {
				reasons[i] = append(reasons[i], "warning: parent "+p+" is missing")
				break
			}
			if es[j].Status != StatusMissing {
				keep[j] = true
				reasons[j] = appendOnce(reasons[j], "parent of kept "+child)
			}
			child, p = es[j].Name, es[j].Parent
		}
	}

	for i, e := range es {
		r := reasons[i]
		if !keep[i] && len(r) == 0 {
			if superseded[i] != "" {
				r = []string{superseded[i]}
			} else {
				r = []string{"older than every retention window (" + policy.String() + ")"}
			}
		}
		plan.Decisions = append(plan.Decisions, Decision{Entry: e, Keep: keep[i], Reasons: r})
	}
	return plan, nil
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// staleAge is how old a temporary file must be before Prune removes it:
// a verification running at the same time (it does not take the lock)
// keeps its files fresh.
const staleAge = 24 * time.Hour

// Prune lists dir, plans with policy at now and, unless dryRun, deletes
// what the plan deletes. It holds the directory lock (waiting up to wait),
// so it never races a backup.
func Prune(ctx context.Context, dir string, policy Policy, now time.Time, dryRun bool, wait time.Duration) (*PrunePlan, error) {
	if wait == 0 {
		wait = DefaultLockWait
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return &PrunePlan{Dir: dir, Now: now.UTC(), Policy: policy}, nil
	}
	lock, err := LockDir(ctx, dir, wait)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	entries, err := List(dir)
	if err != nil {
		return nil, err
	}
	plan, err := PlanPrune(entries, policy, now)
	if err != nil {
		return nil, err
	}
	plan.Dir = dir
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), tempPrefix) {
			continue
		}
		if fi, err := de.Info(); err == nil && now.Sub(fi.ModTime()) > staleAge {
			plan.Stale = append(plan.Stale, filepath.Join(dir, de.Name()))
		}
	}
	sort.Strings(plan.Stale)
	if dryRun {
		return plan, nil
	}
	return plan, plan.Apply()
}

// Apply deletes what the plan deletes: each artifact with its manifest
// (and .sql text), then the stale temporary files. It goes on after an
// error and returns all of them.
func (p *PrunePlan) Apply() error {
	var errs []error
	dirs := map[string]bool{}
	for _, d := range p.Deleted() {
		if !d.Entry.Ours {
			continue // never, whatever the plan says
		}
		for _, path := range []string{d.Entry.Path, SchemaPath(d.Entry.Path), ManifestPath(d.Entry.Path)} {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		dirs[filepath.Dir(d.Entry.Path)] = true
	}
	for _, s := range p.Stale {
		if err := os.Remove(s); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		dirs[filepath.Dir(s)] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
