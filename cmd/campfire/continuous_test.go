package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// marker is a message the test posted, with when the call started and
// when the server acknowledged it.
type marker struct {
	body         string
	sent, acked  time.Time
	acknowledged bool
}

// postMarkers posts a marker every interval until stop closes; writer
// makes the bodies of concurrent writers distinct.
func postMarkers(t *testing.T, base, token string, writer int, interval time.Duration, stop <-chan struct{}) func() []marker {
	var mu sync.Mutex
	var out []marker
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			m := marker{body: fmt.Sprintf("marker %d-%04d", writer, i), sent: time.Now()}
			code, err := tryPost(base, token, m.body)
			m.acked, m.acknowledged = time.Now(), err == nil && code == http.StatusCreated
			mu.Lock()
			out = append(out, m)
			mu.Unlock()
		}
	}()
	return func() []marker {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return out
	}
}

// writeThenKill posts markers from writers goroutines, each every
// interval, for three seconds, then kills the server with SIGKILL; it
// returns the markers, oldest acknowledgement first, and the moment of the
// kill.
func writeThenKill(t *testing.T, cmd *exec.Cmd, base, token string, writers int, interval time.Duration) ([]marker, time.Time) {
	stop := make(chan struct{})
	var waits []func() []marker
	for w := range writers {
		waits = append(waits, postMarkers(t, base, token, w, interval, stop))
	}
	time.Sleep(3 * time.Second)
	cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	cmd.Wait()
	close(stop)
	var ms []marker
	for _, w := range waits {
		ms = append(ms, w()...)
	}
	slices.SortFunc(ms, func(a, b marker) int { return a.acked.Compare(b.acked) })
	return ms, killed
}

// copyBackups copies the backup directory src to dst while a server may
// still write into it: temporary files (which come and go) are skipped.
func copyBackups(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil || strings.HasPrefix(de.Name(), ".") {
			if de != nil && de.IsDir() && p != src {
				return filepath.SkipDir
			}
			return nil // gone meanwhile, or temporary
		}
		rel, _ := filepath.Rel(src, p)
		if de.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil // pruned or replaced meanwhile
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// restoreCopy restores the backups of dir (copied first, as a machine that
// only has them would) into a new database and returns its message bodies.
func restoreCopy(t *testing.T, c *cli, args ...string) ([]string, result) {
	t.Helper()
	fresh := newCLI(t)
	copyBackups(t, c.backupDir, fresh.backupDir)
	r := fresh.run(append([]string{"restore"}, append(args, "--auto-confirm")...)...)
	if r.code != 0 {
		return nil, r
	}
	return bodies(t, fresh.dbPath), r
}

// TestContinuousBackup_PointInTime: markers every 100 ms through the
// running server; a restore to T holds every marker acknowledged more than
// a second before T and none sent after T; the latest restore holds every
// marker acknowledged before the server stopped.
func TestContinuousBackup_PointInTime(t *testing.T) {
	c := newCLI(t)
	_, base, logs := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir)
	token := firstRun(t, base)
	stop := make(chan struct{})
	wait := postMarkers(t, base, token, 0, 100*time.Millisecond, stop)
	time.Sleep(4 * time.Second)
	close(stop)
	ms := wait()
	var h struct {
		Backups struct {
			LastIncremental *time.Time `json:"last_incremental"`
			Lag             *float64   `json:"replication_lag_seconds"`
			Continuous      *struct {
				Chain    string `json:"chain"`
				Segments int64  `json:"segments"`
			} `json:"continuous"`
			Restorable *struct{ From, To time.Time } `json:"restorable"`
		} `json:"backups"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, base+"/health/detailed")), &h); err != nil {
		t.Fatal(err)
	}
	if b := h.Backups; b.LastIncremental == nil || b.Lag == nil || *b.Lag > 1 || b.Continuous == nil || b.Continuous.Segments < 10 ||
		b.Restorable == nil || !b.Restorable.To.After(b.Restorable.From) {
		t.Errorf("/health/detailed backups: %+v", b)
	}
	m := httpGet(t, base+"/metrics")
	for _, name := range []string{`campfire_backup_replication_lag_seconds{destination="local"}`, "campfire_backup_replication_segments_total", "campfire_backup_checkpoint_stall_max_seconds"} {
		if !strings.Contains(m, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	r := c.run("backup", "drill").want(t, 0)
	if !strings.Contains(r.stdout, "Restore drill PASSED") || !strings.Contains(r.stdout, "checksum") || !strings.Contains(r.stdout, "by the running server") {
		t.Errorf("backup drill through the server:\n%s", r.stdout)
	}
	r = c.run("backup", "incremental").want(t, 0)
	if !strings.Contains(r.stdout, "taken by the running server") || !strings.Contains(r.stdout, "incrementally: chain") {
		t.Errorf("backup incremental:\n%s", r.stdout)
	}
	r = c.run("restore", "--list").want(t, 0)
	if !strings.Contains(r.stdout, "Point-in-time restore") || strings.Contains(r.stdout, "NOT RESTORABLE") {
		t.Errorf("restore --list:\n%s", r.stdout)
	}

	for _, frac := range []float64{0.25, 0.5, 0.8} {
		target := ms[0].sent.Add(time.Duration(frac * float64(ms[len(ms)-1].acked.Sub(ms[0].sent))))
		// RFC 3339 with milliseconds: the test's markers are 100 ms apart.
		got, r := restoreCopy(t, c, "--to-time", target.Format(time.RFC3339Nano))
		if r.code != 0 {
			t.Fatalf("restore --to-time %s: %s\n%s", target.Format(time.RFC3339Nano), r, logs)
		}
		for _, m := range ms {
			has := slices.Contains(got, m.body)
			if m.acknowledged && m.acked.Before(target.Add(-time.Second)) && !has {
				t.Errorf("restore to %s lacks %s, acknowledged at %s", target.Format("15:04:05.000"), m.body, m.acked.Format("15:04:05.000"))
			}
			if m.sent.After(target) && has {
				t.Errorf("restore to %s holds %s, sent at %s", target.Format("15:04:05.000"), m.body, m.sent.Format("15:04:05.000"))
			}
		}
	}
	got, r := restoreCopy(t, c, "latest")
	if r.code != 0 || !strings.Contains(r.stdout, "the last shipped commit") {
		t.Fatalf("restore latest: %s", r)
	}
	for _, m := range ms {
		if m.acknowledged && !slices.Contains(got, m.body) {
			t.Errorf("restore latest lacks %s", m.body)
		}
	}

	// The running server restores a moment itself, then starts a new
	// chain from the restored database: what is written after it is
	// backed up too.
	half := ms[len(ms)/2].acked
	r = c.run("restore", "--to-time", half.Format(time.RFC3339Nano), "--auto-confirm").want(t, 0)
	if !strings.Contains(r.stdout, "paused for") || !strings.Contains(r.stdout, "segments of chain") {
		t.Errorf("restore --to-time through the server:\n%s", r.stdout)
	}
	live := roomBodies(t, base, token)
	for _, m := range ms {
		if m.sent.After(half) && slices.Contains(live, m.body) {
			t.Errorf("after the restore to %s the room holds %s", half.Format("15:04:05.000"), m.body)
		}
	}
	mustPost(t, base, token, "after the restore")
	c.run("backup", "incremental").want(t, 0) // shipped now, not within 50 ms
	got, r = restoreCopy(t, c, "latest")
	if r.code != 0 || !slices.Contains(got, "after the restore") || len(got) != len(live)+1 {
		t.Errorf("restore latest after a restore: %d messages (want %d), %s", len(got), len(live)+1, r)
	}
}

// TestContinuousBackup_SIGKILL: the server is killed mid-write; the backups
// alone restore every write acknowledged more than a second before.
func TestContinuousBackup_SIGKILL(t *testing.T) {
	c := newCLI(t)
	cmd, base, logs := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir)
	token := firstRun(t, base)
	ms, killed := writeThenKill(t, cmd, base, token, 4, 10*time.Millisecond)
	got, r := restoreCopy(t, c, "latest")
	if r.code != 0 {
		t.Fatalf("restore latest after SIGKILL: %s\n%s", r, logs)
	}
	var acked, lost, lostOld int
	for _, m := range ms {
		if !m.acknowledged {
			continue
		}
		acked++
		if !slices.Contains(got, m.body) {
			lost++
			if m.acked.Before(killed.Add(-time.Second)) {
				lostOld++
				t.Errorf("%s, acknowledged %s before the kill, is not in the restore", m.body, killed.Sub(m.acked))
			}
		}
	}
	t.Logf("%d writes acknowledged, %d of them not restored (all within the last second)", acked, lost)
	if acked < 100 {
		t.Errorf("only %d writes acknowledged: the load did not run", acked)
	}
}

// TestContinuousBackup_MissingSegment: a deleted or damaged segment makes
// the restore fail loudly, naming it, and changes nothing.
func TestContinuousBackup_MissingSegment(t *testing.T) {
	c := newCLI(t)
	cmd, base, _ := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir)
	token := firstRun(t, base)
	for i := range 30 {
		mustPost(t, base, token, fmt.Sprintf("message %d", i))
		time.Sleep(70 * time.Millisecond) // one segment each
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	// With no server: the backups restore exactly the database file.
	r := c.run("backup", "drill").want(t, 0)
	if !strings.Contains(r.stdout, "Restore drill PASSED") {
		t.Errorf("backup drill with no server:\n%s", r.stdout)
	}
	// A write while no server runs: the drill sees the difference, and an
	// incremental backup ships it.
	post(t, c.dbPath, "written while the server was stopped")
	c.run("backup", "drill").want(t, 1, "row counts", "backup incremental")
	r = c.run("backup", "incremental").want(t, 0)
	if !strings.Contains(r.stdout, "incrementally: chain") {
		t.Errorf("backup incremental with no server:\n%s", r.stdout)
	}
	c.run("backup", "drill").want(t, 0)
	c.run("backup", "incremental").want(t, 0, "") // nothing new
	segs, _ := filepath.Glob(filepath.Join(c.backupDir, "wal", "*", "0", "*.seg.zst"))
	if len(segs) < 10 {
		t.Fatalf("%d segments, want one per message", len(segs))
	}
	slices.Sort(segs)
	mid := segs[len(segs)/2]

	// Damaged: one byte flipped.
	orig, _ := os.ReadFile(mid)
	data := slices.Clone(orig)
	data[len(data)/2] ^= 0x40
	os.WriteFile(mid, data, 0o600)
	_, r = restoreCopy(t, c, "latest")
	r.want(t, 1, "segment", filepath.Base(mid))

	// Missing.
	os.Remove(mid)
	_, r = restoreCopy(t, c, "latest")
	r.want(t, 1, "is missing", "cannot restore past")
	r = c.run("restore", "--list").want(t, 0)
	if !strings.Contains(r.stdout, "NOT RESTORABLE") {
		t.Errorf("restore --list does not flag the gap:\n%s", r.stdout)
	}
	// The tail, which no listing shows missing: the tip record does.
	os.WriteFile(mid, orig, 0o600)
	os.Remove(segs[len(segs)-1])
	_, r = restoreCopy(t, c, "latest")
	r.want(t, 1, "missing", "tip record")
	// Restores before the gap still work.

	if _, err := backup.List(c.backupDir); err != nil {
		t.Fatal(err)
	}
}

// TestContinuousBackup_Offsite: with an off-site destination, every
// segment and chain base is copied there; a machine with only the binary
// and the destination restores any moment (disaster recovery), and after
// SIGKILL the destination holds every write acknowledged more than a
// second before.
func TestContinuousBackup_Offsite(t *testing.T) {
	for _, d := range destinations {
		t.Run(d.name, func(t *testing.T) {
			remoteEnv := d.setup(t)
			c := newCLI(t, remoteEnv...)
			cmd, base, logs := startServe(t, c.dbPath, append([]string{"CAMPFIRE_BACKUP_DIR=" + c.backupDir}, remoteEnv...)...)
			token := firstRun(t, base)
			ms, killed := writeThenKill(t, cmd, base, token, 3, 20*time.Millisecond)

			// Disaster recovery: a new machine, nothing but the remote.
			dr := newCLI(t, remoteEnv...)
			r := dr.run("restore", "--from-remote", "latest", "--auto-confirm")
			if r.code != 0 {
				t.Fatalf("restore --from-remote latest: %s\n%s", r, logs)
			}
			got := bodies(t, dr.dbPath)
			var acked, lost int
			for _, m := range ms {
				if !m.acknowledged {
					continue
				}
				acked++
				if !slices.Contains(got, m.body) {
					lost++
					if m.acked.Before(killed.Add(-time.Second)) {
						t.Errorf("%s, acknowledged %s before the kill, is not off site", m.body, killed.Sub(m.acked).Round(time.Millisecond))
					}
				}
			}
			t.Logf("%s: %d writes acknowledged, %d not off site at the kill", d.name, acked, lost)
			if d.name == "file" {
				// Off site, the segments of a round go as one object.
				dir := strings.TrimPrefix(strings.TrimPrefix(remoteEnv[0], "CAMPFIRE_BACKUP_REMOTE="), "file://")
				local, _ := filepath.Glob(filepath.Join(c.backupDir, "wal", "*", "0", "*.seg.zst"))
				remote, _ := filepath.Glob(filepath.Join(dir, "wal", "*", "0", "*.seg.zst"))
				t.Logf("level-0 segments: %d local, %d off site", len(local), len(remote))
				if len(remote) == 0 || len(remote) >= len(local) {
					t.Errorf("%d level-0 segments off site for %d local: not merged", len(remote), len(local))
				}
			}

			r = dr.run("restore", "--list", "--from-remote").want(t, 0)
			if !strings.Contains(r.stdout, "Point-in-time restore") || strings.Contains(r.stdout, "NOT RESTORABLE") {
				t.Errorf("restore --list --from-remote:\n%s", r.stdout)
			}
			// Retention of the destination covers its segments too.
			r = dr.run("backup", "prune", "--remote", "--dry-run").want(t, 0)
			if !strings.Contains(r.stdout, "Continuous backup: would delete 0 segments") {
				t.Errorf("backup prune --remote --dry-run:\n%s", r.stdout)
			}
			// A moment in the middle, from the remote alone.
			mid := ms[len(ms)/2].acked
			dr2 := newCLI(t, remoteEnv...)
			r = dr2.run("restore", "--from-remote", "--to-time", mid.Format(time.RFC3339Nano), "--auto-confirm")
			if r.code != 0 {
				t.Fatalf("restore --from-remote --to-time: %s", r)
			}
			got = bodies(t, dr2.dbPath)
			for _, m := range ms {
				has := slices.Contains(got, m.body)
				if m.acknowledged && m.acked.Before(mid.Add(-time.Second)) && !has {
					t.Errorf("restore to %s lacks %s", mid.Format("15:04:05.000"), m.body)
				}
				if m.sent.After(mid) && has {
					t.Errorf("restore to %s holds %s, sent after", mid.Format("15:04:05.000"), m.body)
				}
			}
		})
	}
}

// TestContinuousBackup_RestartContinuesTheChain: a server stopped cleanly
// and started again on the same database continues its chain without a
// new full backup; a change made while it was stopped starts a new chain.
func TestContinuousBackup_RestartContinuesTheChain(t *testing.T) {
	c := newCLI(t)
	cmd, base, _ := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir)
	token := firstRun(t, base)
	mustPost(t, base, token, "before the restart")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	before := time.Now()
	time.Sleep(20 * time.Millisecond)

	cmd, base, logs := startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir)
	if !strings.Contains(logs.String(), "continuing it (no full backup needed)") {
		t.Errorf("the restart did not continue the chain:\n%s", logs)
	}
	mustPost(t, base, token, "after the restart")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	entries, _ := backup.List(c.backupDir)
	if len(entries) != 1 {
		t.Errorf("%d backups after a restart, want the one full backup of the chain", len(entries))
	}
	got, r := restoreCopy(t, c, "latest")
	if r.code != 0 || !slices.Equal(got, []string{"before the restart", "after the restart"}) {
		t.Fatalf("restore latest across the restart: %q, %s", got, r)
	}
	got, r = restoreCopy(t, c, "--to-time", before.Format(time.RFC3339Nano))
	if r.code != 0 || !slices.Equal(got, []string{"before the restart"}) {
		t.Fatalf("restore to the downtime: %q, %s", got, r)
	}

	// Written while no server ran: the chain cannot go on.
	post(t, c.dbPath, "while stopped")
	cmd, _, logs = startServe(t, c.dbPath, "CAMPFIRE_BACKUP_DIR="+c.backupDir)
	if !strings.Contains(logs.String(), "continuous backup: new chain") {
		t.Errorf("a changed database continued the old chain:\n%s", logs)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	got, r = restoreCopy(t, c, "latest")
	if r.code != 0 || len(got) != 3 {
		t.Fatalf("restore latest after a new chain: %q, %s", got, r)
	}
}
