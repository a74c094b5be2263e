package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/remote"
)

func openRemote(t *testing.T) (*remote.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := remote.Open(context.Background(), "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dir
}

func entryByName(es []backup.Entry, name string) (backup.Entry, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return backup.Entry{}, false
}

func TestOffsite_UploadListDownload(t *testing.T) {
	f := newFixture(t)
	eng := f.engine(t)
	full := mustBackup(t, eng, backup.Request{Type: backup.TypeFull, Verify: true})
	schema := mustBackup(t, eng, backup.Request{Type: backup.TypeSchema})
	st, rdir := openRemote(t)

	var last, total int64
	up, err := backup.UploadBackup(ctx, st, full.Path, func(d, tot int64) { last, total = d, tot })
	if err != nil {
		t.Fatal(err)
	}
	if up.Keys[len(up.Keys)-1] != filepath.Base(full.ManifestPath) {
		t.Errorf("uploaded %v: the manifest must come last", up.Keys)
	}
	if last != total || total != up.Bytes {
		t.Errorf("progress ended at %d of %d, uploaded %d", last, total, up.Bytes)
	}
	if _, err := backup.UploadBackup(ctx, st, schema.Path, nil); err != nil {
		t.Fatal(err)
	}

	es, err := backup.ListRemote(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 {
		t.Fatalf("ListRemote = %+v, want 2 entries", es)
	}
	e, _ := entryByName(es, filepath.Base(full.Path))
	if e.Status != backup.StatusVerified || e.Bytes != full.Manifest.StoredBytes {
		t.Errorf("full backup listed as %s (%s), %d bytes", e.Status, e.Problem, e.Bytes)
	}
	if e, _ := entryByName(es, filepath.Base(schema.Path)); e.Status != backup.StatusUnverified {
		t.Errorf("schema backup listed as %s (%s)", e.Status, e.Problem)
	}

	pick, _, err := backup.PickRemote(es, st.String(), "latest")
	if err != nil || pick.Name != filepath.Base(full.Path) {
		t.Fatalf("PickRemote(latest) = %s, %v", pick.Name, err)
	}
	bdir := filepath.Join(t.TempDir(), "new-backups") // does not exist yet
	path, cleanup, err := backup.Download(ctx, st, pick, bdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 || filepath.Dir(filepath.Dir(path)) != bdir {
		t.Errorf("downloaded into %s (%v, %v): want a 0700 directory inside %s", path, fi.Mode(), err, bdir)
	}
	if got := sha256File(t, path); got != full.Manifest.StoredSHA256 {
		t.Errorf("downloaded sha256 %s", got)
	}
	if rep, err := backup.Verify(ctx, path, backup.VerifyOptions{}); err != nil || !rep.OK {
		t.Errorf("Verify of the download: %v", err)
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cleanup left %s", filepath.Dir(path))
	}

	// Damage the stored artifact: listed as incomplete, never picked,
	// refused by name, and a download of it is refused too.
	artifact := filepath.Join(rdir, filepath.Base(full.Path))
	if err := os.Truncate(artifact, full.Manifest.StoredBytes/2); err != nil {
		t.Fatal(err)
	}
	es, err = backup.ListRemote(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	e, _ = entryByName(es, filepath.Base(full.Path))
	if e.Status != backup.StatusIncomplete {
		t.Errorf("truncated artifact listed as %s, want incomplete", e.Status)
	}
	if _, _, err := backup.PickRemote(es, st.String(), "latest"); err == nil {
		t.Error("latest picked a truncated backup")
	}
	_, _, err = backup.PickRemote(es, st.String(), e.Name)
	if !errors.Is(err, backup.ErrIncomplete) || !strings.Contains(err.Error(), e.Name) {
		t.Errorf("PickRemote(%s) = %v, want an incomplete error naming it", e.Name, err)
	}
	if _, _, err := backup.Download(ctx, st, e, bdir, nil); !errors.Is(err, backup.ErrIncomplete) {
		t.Errorf("Download of a truncated artifact: %v", err)
	}
	if des, _ := os.ReadDir(bdir); len(des) != 0 {
		t.Errorf("a refused download left %d files in %s", len(des), bdir)
	}

	// A manifest deleted: the artifact alone is incomplete.
	if err := st.Delete(ctx, filepath.Base(full.ManifestPath)); err != nil {
		t.Fatal(err)
	}
	es, _ = backup.ListRemote(ctx, st)
	if e, ok := entryByName(es, filepath.Base(full.Path)); !ok || e.Status != backup.StatusIncomplete || !strings.Contains(e.Problem, "no manifest") {
		t.Errorf("artifact without manifest listed as %+v", e)
	}
}

// putSynthetic stores a tiny backup with a real manifest in st.
func putSynthetic(t *testing.T, st *remote.Store, typ backup.Type, at time.Time, verified bool) string {
	t.Helper()
	n := backup.Name{Type: typ, Host: "h", Time: at, Compression: backup.CompressionZstd}
	name := n.String()
	data := []byte("artifact " + name)
	sum := sha256.Sum256(data)
	m := backup.Manifest{FormatVersion: 1, Type: typ, File: name, CreatedAt: at, StartedAt: at, FinishedAt: at, Host: "h",
		Engine: "sqlite", Compression: backup.CompressionZstd, StoredBytes: int64(len(data)), StoredSHA256: hex.EncodeToString(sum[:])}
	if verified {
		v := at.Add(time.Minute)
		m.VerifiedAt = &v
	}
	put := func(key string, b []byte) {
		s := sha256.Sum256(b)
		if err := st.Put(ctx, key, bytes.NewReader(b), int64(len(b)), hex.EncodeToString(s[:])); err != nil {
			t.Fatal(err)
		}
	}
	put(name, data)
	mb, _ := json.Marshal(m)
	put(strings.TrimSuffix(name, ".db.zst")+backup.ManifestSuffix, mb)
	return name
}

type recordingDeleter struct {
	st      *remote.Store
	deleted []string
	failOn  string
}

func (r *recordingDeleter) Delete(ctx context.Context, key string) error {
	if key == r.failOn {
		return errors.New("injected delete failure")
	}
	r.deleted = append(r.deleted, key)
	return r.st.Delete(ctx, key)
}

func TestOffsite_Prune(t *testing.T) {
	st, _ := openRemote(t)
	now := day("2026-11-27 12:00")
	var names []string
	for i := range 10 { // daily full backups, newest first; only the oldest verified
		names = append(names, putSynthetic(t, st, backup.TypeFull, now.AddDate(0, 0, -i).Add(-time.Hour), i == 9))
	}
	policy := backup.Policy{Daily: 3}
	plan, err := backup.PlanRemotePrune(ctx, st, policy, now)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, d := range plan.Kept() {
		kept = append(kept, d.Entry.Name)
	}
	want := []string{names[0], names[1], names[2], names[9]} // 3 days + newest verified
	if !slices.Equal(kept, want) {
		t.Fatalf("kept %v, want %v", kept, want)
	}

	// A manifest that cannot be deleted: its artifact stays, whole.
	victim := plan.Deleted()[0].Entry.Name
	rd := &recordingDeleter{st: st, failOn: strings.TrimSuffix(victim, ".db.zst") + backup.ManifestSuffix}
	if err := backup.ApplyRemote(ctx, rd, plan); err == nil {
		t.Fatal("ApplyRemote hid the delete failure")
	}
	for i := 0; i+1 < len(rd.deleted); i += 3 {
		if !strings.HasSuffix(rd.deleted[i], backup.ManifestSuffix) {
			t.Fatalf("deleted %v: each backup's manifest must go first", rd.deleted)
		}
	}
	es, err := backup.ListRemote(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range es {
		left = append(left, e.Name)
		if e.Status != backup.StatusVerified && e.Status != backup.StatusUnverified {
			t.Errorf("after prune %s is %s (%s)", e.Name, e.Status, e.Problem)
		}
	}
	if want := append(slices.Clone(want[:3]), victim, names[9]); !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}
