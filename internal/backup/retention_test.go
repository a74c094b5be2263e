package backup_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// calendar writes synthetic backups (tiny artifacts with real manifests)
// into a directory.
type calendar struct {
	tb  testing.TB
	dir string
}

func (c *calendar) add(typ backup.Type, at time.Time, verified bool, parent string) string {
	c.tb.Helper()
	n := backup.Name{Type: typ, Host: "h", Time: at, Compression: backup.CompressionZstd}
	name := n.String()
	m := backup.Manifest{FormatVersion: 1, Type: typ, File: name, CreatedAt: at, StartedAt: at, FinishedAt: at, Host: "h",
		Engine: "sqlite", Compression: backup.CompressionZstd, StoredBytes: 1, StoredSHA256: "x", Parent: parent}
	if verified {
		v := at.Add(time.Minute)
		m.VerifiedAt = &v
	}
	c.write(name, &m)
	return name
}

func (c *calendar) write(name string, m *backup.Manifest) {
	c.tb.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte("x"), 0o600); err != nil {
		c.tb.Fatal(err)
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(backup.ManifestPath(filepath.Join(c.dir, name)), b, 0o600); err != nil {
		c.tb.Fatal(err)
	}
}

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestRetention_ThreeYears: daily full backups at 02:00 UTC for three
// years plus the awkward cases, pruned with the default policy. The
// expected set is worked out from the calendar by hand (the rules as a
// person reads them), not with the package's code.
func TestRetention_ThreeYears(t *testing.T) {
	dir := t.TempDir()
	c := &calendar{tb: t, dir: dir}
	now := day("2026-11-27 12:00") // a Friday, ISO week 2026-W48
	first := day("2023-11-28 02:00")

	verifiedFulls := map[string]bool{"2024-06-15": true, "2025-02-03": true}
	full := map[string]string{} // "YYYY-MM-DD" → the 02:00 full of that day
	for d := first; !d.After(now); d = d.AddDate(0, 0, 1) {
		key := d.Format("2006-01-02")
		full[key] = c.add(backup.TypeFull, d, verifiedFulls[key], "")
	}
	// A second full on 2026-11-20, later that day.
	lateFull := c.add(backup.TypeFull, day("2026-11-20 14:00"), false, "")
	// Hot backups.
	hot0800 := c.add(backup.TypeHot, day("2026-11-26 08:00"), true, "")
	hot0900 := c.add(backup.TypeHot, day("2026-11-26 09:00"), false, "")
	hotMay := c.add(backup.TypeHot, day("2026-05-05 10:00"), false, "")
	// Schema backups on the last 20 Sundays at 01:00.
	var schema []string
	for d := day("2026-11-22 01:00"); len(schema) < 20; d = d.AddDate(0, 0, -7) {
		schema = append(schema, c.add(backup.TypeSchema, d, true, ""))
	}
	// An incremental chain: i1 (today) → i0 (2026-09-01) → the full of
	// 2024-03-05; and j (2026-09-02) → the full of 2026-09-02.
	i0 := c.add(backup.TypeIncremental, day("2026-09-01 03:00"), false, full["2024-03-05"])
	i1 := c.add(backup.TypeIncremental, day("2026-11-27 03:00"), false, i0)
	j := c.add(backup.TypeIncremental, day("2026-09-02 03:00"), false, full["2026-09-02"])
	// Safety copies.
	safetyOld := c.add(backup.TypeSafety, day("2025-06-01 10:00"), false, "")
	safetyNew := c.add(backup.TypeSafety, day("2026-11-01 10:00"), false, "")
	safetyOlder := c.add(backup.TypeSafety, day("2025-03-01 10:00"), false, "")
	// A damaged one (size differs from its manifest), an orphan manifest,
	// a --output backup, and a file that is not a backup.
	damaged := full["2024-01-10"]
	os.WriteFile(filepath.Join(dir, damaged), []byte("xx"), 0o600)
	orphan := c.add(backup.TypeFull, day("2024-02-10 05:00"), false, "")
	os.Remove(filepath.Join(dir, orphan))
	custom := backup.Manifest{FormatVersion: 1, Type: backup.TypeFull, File: "pre_deployment_20240101.db.gz", CreatedAt: day("2024-01-01 00:00"), StoredBytes: 1, StoredSHA256: "x"}
	c.write(custom.File, &custom)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600)
	// A backup stamped in the future (a wrong clock).
	future := c.add(backup.TypeFull, day("2026-12-25 02:00"), false, "")

	// The expectation, from the calendar.
	want := map[string]string{} // name → first reason expected
	keep := func(name, why string) {
		if _, ok := want[name]; !ok {
			want[name] = why
		}
	}
	fullOf := func(d time.Time) string {
		k := d.Format("2006-01-02")
		if k == "2026-11-20" {
			return lateFull
		}
		return full[k]
	}
	today := day("2026-11-27 00:00")
	// 30 daily: 2026-10-29 … 2026-11-27.
	for i := range 30 {
		keep(fullOf(today.AddDate(0, 0, -i)), "daily")
	}
	// 12 weekly: the Sunday ending each ISO week (today for this week).
	monday := day("2026-11-23 00:00")
	for i := range 12 {
		sunday := monday.AddDate(0, 0, -7*i+6)
		if sunday.After(today) {
			sunday = today
		}
		keep(fullOf(sunday), "weekly")
	}
	// 12 monthly: the last day of 2025-12 … 2026-10, today for 2026-11.
	for m := day("2025-12-01 00:00"); m.Before(day("2026-11-01 00:00")); m = m.AddDate(0, 1, 0) {
		keep(fullOf(m.AddDate(0, 1, -1)), "monthly")
	}
	keep(fullOf(today), "monthly")
	// 7 yearly (2020 … 2026): the backups start in 2023.
	keep(full["2023-12-31"], "yearly")
	keep(full["2024-12-31"], "yearly")
	keep(full["2025-12-31"], "yearly")
	keep(fullOf(today), "yearly")
	// The newest verified full is 2025-02-03, outside every window.
	keep(full["2025-02-03"], "newest verified full")
	// Hot: 09:00 is the newest of its day, week, month and year; 08:00 is
	// the newest verified hot backup; May has its own month.
	keep(hot0900, "daily")
	keep(hot0800, "newest verified hot")
	keep(hotMay, "monthly")
	// Schema (Sundays 2026-07-12 … 2026-11-22): 30 days → 11-01 … 11-22;
	// 12 weeks (2026-09-07 … 11-29) → 09-13 … 11-22; months → the last
	// Sunday of each month; year → 11-22.
	for _, s := range schema {
		n, _ := backup.ParseName(s)
		d := n.Time
		switch {
		case !d.Before(day("2026-09-07 00:00")):
			keep(s, "weekly")
		case d.AddDate(0, 0, 7).Month() != d.Month():
			keep(s, "monthly")
		}
	}
	// Incrementals: i1 (daily), j (monthly 2026-09), and their chains.
	keep(i1, "daily")
	keep(j, "monthly")
	keep(i0, "parent")
	keep(full["2024-03-05"], "parent")
	keep(full["2026-09-02"], "parent")
	// Safety copies: the new one (daily), 2025's newest (yearly).
	keep(safetyNew, "daily")
	keep(safetyOld, "yearly")
	_ = safetyOlder // deleted: 2025's yearly bucket keeps the June one
	keep(damaged, "damaged")
	keep(custom.File, "not named")
	keep(future, "future")

	plan, err := backup.Prune(ctx, dir, backup.DefaultPolicy(), now, true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, d := range plan.Kept() {
		got[d.Entry.Name] = true
	}
	var missing, extra []string
	for name := range want {
		if !got[name] {
			missing = append(missing, name+" ("+want[name]+")")
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("kept set differs:\nwanted but deleted: %v\nkept but not wanted: %v", missing, extra)
	}
	if len(plan.Decisions) != len(full)+1+3+20+3+3+1+1+1 {
		t.Errorf("%d decisions", len(plan.Decisions))
	}

	t.Logf("%d backups: %d kept, %d deleted", len(plan.Decisions), len(plan.Kept()), len(plan.Deleted()))

	// Reasons read as the spec promises.
	reasons := map[string][]string{}
	for _, d := range plan.Decisions {
		reasons[d.Entry.Name] = d.Reasons
		if len(d.Reasons) == 0 {
			t.Errorf("%s: no reason", d.Entry.Name)
		}
	}
	wantReasons := map[string][]string{
		fullOf(today):          {"daily 2026-11-27", "weekly 2026-W48", "monthly 2026-11", "yearly 2026"},
		full["2025-02-03"]:     {"newest verified full backup"},
		full["2024-03-05"]:     {"parent of kept " + i0},
		i0:                     {"parent of kept " + i1},
		full["2026-11-19"]:     {"daily 2026-11-19"},
		full["2026-11-20"]:     {"daily 2026-11-20 keeps the newer " + lateFull},
		full["2025-06-10"]:     {"yearly 2025 keeps the newer " + full["2025-12-31"]},
		hot0800:                {"newest verified hot backup"},
		custom.File:            {"not named by campfire's backup convention: never pruned"},
		orphan:                 {"manifest without its artifact"},
		full["2025-12-31"]:     {"monthly 2025-12", "yearly 2025"},
		safetyOlder:            {"yearly 2025 keeps the newer " + safetyOld},
		full["2023-11-28"]:     {"yearly 2023 keeps the newer " + full["2023-12-31"]},
		future:                 {"dated after now"},
		filepath.Base(damaged): {"damaged (size 2 differs from the manifest's 1): left for a person to inspect"},
	}
	for name, w := range wantReasons {
		if diff := cmp.Diff(w, reasons[name]); diff != "" {
			t.Errorf("reasons for %s (-want +got):\n%s", name, diff)
		}
	}

	// Apply: exactly the kept files (and their manifests) remain, plus
	// what is not ours.
	before := len(plan.Deleted())
	plan, err = backup.Prune(ctx, dir, backup.DefaultPolicy(), now, false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Deleted()) != before {
		t.Errorf("apply deleted %d, the dry run said %d", len(plan.Deleted()), before)
	}
	des, _ := os.ReadDir(dir)
	var left []string
	for _, de := range des {
		left = append(left, de.Name())
	}
	var wantLeft []string
	for name := range want {
		wantLeft = append(wantLeft, name, filepath.Base(backup.ManifestPath(name)))
	}
	wantLeft = append(wantLeft, "notes.txt", backup.LockName)
	sort.Strings(left)
	sort.Strings(wantLeft)
	if diff := cmp.Diff(wantLeft, left); diff != "" {
		t.Errorf("files left (-want +got):\n%s", diff)
	}
	// Pruning again deletes nothing.
	plan, err = backup.Prune(ctx, dir, backup.DefaultPolicy(), now, false, time.Second)
	if err != nil || len(plan.Deleted()) != 0 {
		t.Errorf("second prune: %v, deletes %d", err, len(plan.Deleted()))
	}
}

func TestRetention_Policy(t *testing.T) {
	dir := t.TempDir()
	c := &calendar{tb: t, dir: dir}
	now := day("2026-11-27 12:00")
	var names []string
	for i := range 10 {
		names = append(names, c.add(backup.TypeFull, now.AddDate(0, 0, -i), false, ""))
	}
	list, err := backup.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	// CAMPFIRE_BACKUP_RETENTION_DAYS=3 and nothing else: three days.
	plan, err := backup.PlanPrune(list, backup.Policy{Daily: 3}, now)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, d := range plan.Kept() {
		kept = append(kept, d.Entry.Name)
	}
	if diff := cmp.Diff(names[:3], kept); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	if d := plan.Deleted()[0]; d.Entry.Name != names[3] || !slices.Equal(d.Reasons, []string{"older than every retention window (3 daily, 0 weekly, 0 monthly, 0 yearly)"}) {
		t.Errorf("first deleted: %s %q", d.Entry.Name, d.Reasons)
	}
	if _, err := backup.PlanPrune(list, backup.Policy{Daily: -1}, now); err == nil {
		t.Error("a negative policy was accepted")
	}
	// A zero policy still keeps the newest verified full backup.
	os.Remove(backup.ManifestPath(filepath.Join(dir, names[6])))
	c.add(backup.TypeFull, now.AddDate(0, 0, -6), true, "")
	list, _ = backup.List(dir)
	plan, _ = backup.PlanPrune(list, backup.Policy{}, now)
	if k := plan.Kept(); len(k) != 1 || k[0].Entry.Name != names[6] {
		t.Errorf("zero policy keeps %+v", k)
	}

	// Prune waits for, then refuses, a busy directory.
	lock, err := backup.LockDir(ctx, dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if _, err := backup.Prune(ctx, dir, backup.DefaultPolicy(), now, true, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "another backup is running") {
		t.Errorf("Prune while locked = %v", err)
	}
}

func TestList(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t)
	a := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Verify: true})
	time.Sleep(1100 * time.Millisecond)
	b := mustBackup(t, e, backup.Request{Type: backup.TypeHot, Compression: backup.CompressionGzip})
	// A bare file in the spec's naming without a manifest.
	bare := filepath.Join(e.Dir, "campfire_full_other_backup_20200101_000000.db.gz")
	os.WriteFile(bare, []byte("?"), 0o600)
	list, err := backup.List(e.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range list {
		got = append(got, x.Name+" "+x.Status)
	}
	want := []string{
		filepath.Base(b.Path) + " unverified",
		filepath.Base(a.Path) + " verified",
		filepath.Base(bare) + " unknown",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if list[0].Bytes != b.Manifest.StoredBytes || list[0].Compression != backup.CompressionGzip || list[0].Type != backup.TypeHot {
		t.Errorf("entry = %+v", list[0])
	}
	if l, err := backup.List(filepath.Join(t.TempDir(), "missing")); err != nil || len(l) != 0 {
		t.Errorf("List(missing dir) = %v, %v", l, err)
	}
	latest, ok := backup.Latest(list)
	if !ok || latest.Path != b.Path {
		t.Errorf("Latest = %v", latest.Path)
	}
	if p, err := backup.Find(e.Dir, filepath.Base(a.Path)); err != nil || p != a.Path {
		t.Errorf("Find = %q, %v", p, err)
	}
}
