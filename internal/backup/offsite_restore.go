package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/campfire-in-go/campfire/internal/remote"
)

// remoteTempPrefix names the private directories downloads go to inside the
// backup directory; List ignores them (they are directories).
const remoteTempPrefix = ".campfire-remote-"

// PickRemote returns the remote backup arg names: "latest" (the newest
// verified, complete full or hot backup) or a name. A note for people says
// what latest passed over. An incomplete or damaged backup is refused by
// name.
func PickRemote(entries []Entry, where, arg string) (Entry, string, error) {
	if arg != "latest" {
		for _, e := range entries {
			if e.Name != arg {
				continue
			}
			switch e.Status {
			case StatusVerified, StatusUnverified:
				return e, "", nil
			case StatusIncomplete:
				return Entry{}, "", fail(ErrIncomplete, "remote backup %s in %s is incomplete (%s): refusing to use it; pick another one (campfire backup list --remote)", arg, where, e.Problem)
			default:
				return Entry{}, "", fail(ErrIncomplete, "remote backup %s in %s is %s (%s): refusing to use it", arg, where, e.Status, e.Problem)
			}
		}
		return Entry{}, "", fail(ErrNotFound, "no backup named %s in %s (campfire backup list --remote shows them)", arg, where)
	}
	var passed, unverified []string
	for _, e := range entries { // newest first
		if e.Type != TypeFull && e.Type != TypeHot {
			continue
		}
		switch {
		case e.Verified():
			var notes []string
			if len(unverified) > 0 {
				notes = append(notes, fmt.Sprintf("the newer %s not verified (name it to restore it)", strings.Join(unverified, ", ")))
			}
			if len(passed) > 0 {
				notes = append(notes, fmt.Sprintf("skipped incomplete or damaged %s", strings.Join(passed, ", ")))
			}
			note := ""
			if len(notes) > 0 {
				note = fmt.Sprintf("latest is %s, the newest verified complete remote backup; %s", e.Name, strings.Join(notes, "; "))
			}
			return e, note, nil
		case e.Status == StatusUnverified:
			unverified = append(unverified, e.Name)
		default:
			passed = append(passed, e.Name+" ("+e.Status+")")
		}
	}
	if len(unverified) > 0 {
		return Entry{}, "", fail(ErrNotFound, "no verified full or hot backup in %s; the newest complete one, %s, was never verified: restore it by name", where, unverified[0])
	}
	return Entry{}, "", fail(ErrNotFound, "no complete full or hot backup in %s to restore (campfire backup list --remote shows what there is)", where)
}

// Download copies the remote backup e into a new private directory (0700)
// inside dir, creating dir (0700) if needed, and returns the artifact's
// path there, with its manifest (and .sql text) beside it. The artifact's
// size and SHA-256 are checked against the manifest before anything reads
// it. cleanup removes the directory.
func Download(ctx context.Context, st *remote.Store, e Entry, dir string, progress func(done, total int64)) (path string, cleanup func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("backup directory: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, remoteTempPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("backup directory: %w", err)
	}
	remove := func() { os.RemoveAll(tmp) }
	defer func() {
		if err != nil {
			remove()
		}
	}()
	mkey := baseName(e.Name) + ManifestSuffix
	mdata, err := getSmall(ctx, st, mkey)
	if err != nil {
		return "", nil, fail(ErrIncomplete, "remote backup %s: manifest: %w", e.Name, err)
	}
	m, err := ParseManifest(mdata, mkey)
	if err != nil {
		return "", nil, err
	}
	if m.File != e.Name {
		return "", nil, fail(ErrIncomplete, "remote backup %s: its manifest names %s", e.Name, m.File)
	}
	path = filepath.Join(tmp, m.File)
	if err := download(ctx, st, m.File, path, m.StoredBytes, m.StoredSHA256, progress); err != nil {
		return "", nil, err
	}
	if m.SchemaFile != "" {
		if err := download(ctx, st, m.SchemaFile, filepath.Join(tmp, m.SchemaFile), -1, m.SchemaSHA256, nil); err != nil {
			return "", nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, mkey), mdata, 0o600); err != nil {
		return "", nil, err
	}
	return path, remove, nil
}

// download copies key to path, refusing it unless it has size bytes
// (size < 0: any) and SHA-256 sha.
func download(ctx context.Context, st *remote.Store, key, path string, size int64, sha string, progress func(done, total int64)) error {
	rc, a, err := st.Get(ctx, key)
	if remote.IsNotFound(err) {
		return fail(ErrIncomplete, "remote backup %s is missing from %s", key, st)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	if size >= 0 && a.Size != size {
		return fail(ErrIncomplete, "remote backup %s has %d bytes, its manifest says %d: refusing to use it", key, a.Size, size)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	var r io.Reader = rc
	if size >= 0 {
		r = io.LimitReader(rc, size+1)
	}
	if progress != nil {
		r = &progressReader{r: r, total: a.Size, fn: progress}
	}
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return fail(ErrIncomplete, "remote backup %s: downloaded %d bytes, its manifest says %d: refusing to use it", key, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, sha) {
		return fail(ErrIncomplete, "remote backup %s: downloaded bytes have sha256 %s, its manifest says %s: refusing to use it", key, short(got), short(sha))
	}
	return f.Close()
}
