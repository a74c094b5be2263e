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
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/remote"
)

// Off-site copies. A backup goes to a remote.Store under the same names as
// in the backup directory (artifact, .sql text of a schema backup, then the
// manifest), flat at the store's prefix, so `aws s3 sync` or a copy of the
// directory read the same way. The manifest is uploaded last and deleted
// first: its presence says the artifact is whole. A listing trusts
// manifests, never the bucket listing: an artifact without a manifest, or
// whose size or recorded SHA-256 differs from its manifest, is incomplete
// and never used.

// StatusIncomplete: a remote artifact without its manifest, or one whose
// stored size or SHA-256 differs from it (an upload or a delete that did
// not finish).
const StatusIncomplete = "incomplete"

// ErrIncomplete: a remote backup that is not whole was named.
var ErrIncomplete = &chat.Error{Code: chat.EINVALID, Message: "remote backup is incomplete"}

// maxManifestBytes bounds a downloaded manifest (they are a few KiB).
const maxManifestBytes = 1 << 20

// Upload describes an off-site copy of one backup.
type Upload struct {
	Destination string   `json:"destination"`
	Keys        []string `json:"keys"`
	Bytes       int64    `json:"bytes"`
	DurationMS  int64    `json:"duration_ms"`
}

// UploadBackup copies the backup at artifact (with its manifest beside it)
// to st: the artifact and its .sql text first, the manifest last. Each
// object is checked against the manifest's size and SHA-256 on the way.
func UploadBackup(ctx context.Context, st *remote.Store, artifact string, progress func(done, total int64)) (*Upload, error) {
	started := time.Now()
	name := filepath.Base(artifact)
	mpath := ManifestPath(artifact)
	mdata, err := os.ReadFile(mpath)
	if err != nil {
		return nil, fail(ErrNoManifest, "upload %s: %w", name, err)
	}
	m, err := ParseManifest(mdata, mpath)
	if err != nil {
		return nil, err
	}
	if m.File != name {
		return nil, fail(ErrInvalidRequest, "upload %s: its manifest names %s", name, m.File)
	}
	type object struct {
		key, path, sha string
		size           int64
		data           []byte
	}
	objs := []object{{key: name, path: artifact, sha: m.StoredSHA256, size: m.StoredBytes}}
	if m.SchemaFile != "" {
		sp := filepath.Join(filepath.Dir(artifact), m.SchemaFile)
		fi, err := os.Stat(sp)
		if err != nil {
			return nil, fmt.Errorf("upload %s: schema text: %w", name, err)
		}
		objs = append(objs, object{key: m.SchemaFile, path: sp, sha: m.SchemaSHA256, size: fi.Size()})
	}
	msum := sha256.Sum256(mdata)
	objs = append(objs, object{key: filepath.Base(mpath), sha: hex.EncodeToString(msum[:]), size: int64(len(mdata)), data: mdata})

	var total, done int64
	for _, o := range objs {
		total += o.size
	}
	up := &Upload{Destination: st.String()}
	for _, o := range objs {
		var r io.Reader
		if o.data != nil {
			r = bytes.NewReader(o.data)
		} else {
			f, err := os.Open(o.path)
			if err != nil {
				return nil, fmt.Errorf("upload %s: %w", name, err)
			}
			defer f.Close()
			r = f
		}
		if progress != nil {
			r = &progressReader{r: r, done: done, last: done, total: total, fn: progress}
		}
		if err := st.Put(ctx, o.key, r, o.size, o.sha); err != nil {
			return nil, fmt.Errorf("upload %s to %s: %w", name, st, err)
		}
		done += o.size
		up.Keys = append(up.Keys, o.key)
	}
	up.Bytes = total
	up.DurationMS = time.Since(started).Milliseconds()
	return up, nil
}

// remoteObject is what a listing knows of an object besides its entry.
type remoteObject struct {
	modTime time.Time
}

// ListRemote lists the backups in st, newest first, from their manifests.
// Entry.Path is the object key. Artifacts named by the convention without
// a manifest, and artifacts whose size or recorded SHA-256 differ from
// their manifest, are StatusIncomplete.
func ListRemote(ctx context.Context, st *remote.Store) ([]Entry, error) {
	es, _, err := listRemote(ctx, st)
	return es, err
}

func listRemote(ctx context.Context, st *remote.Store) ([]Entry, map[string]remoteObject, error) {
	objs, err := st.List(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	byKey := map[string]remote.Object{}
	for _, o := range objs {
		if !strings.Contains(o.Key, "/") {
			byKey[o.Key] = o
		}
	}
	seen := map[string]bool{}
	meta := map[string]remoteObject{}
	var out []Entry
	for key := range byKey {
		if !strings.HasSuffix(key, ManifestSuffix) {
			continue
		}
		e := remoteEntry(ctx, st, key, byKey)
		seen[e.Name] = true
		out = append(out, e)
	}
	for key, o := range byKey {
		n, ok := ParseName(key)
		if !ok || seen[key] {
			continue
		}
		meta[key] = remoteObject{modTime: o.ModTime}
		out = append(out, Entry{Path: key, Name: key, Type: n.Type, Host: n.Host, CreatedAt: n.Time, Bytes: o.Size,
			Compression: n.Compression, Encryption: n.Encryption, Status: StatusIncomplete,
			Problem: "no manifest: its upload did not finish (or a delete did not)", Ours: true})
	}
	sortNewestFirst(out)
	return out, meta, nil
}

// remoteEntry describes the backup whose manifest is at mkey.
func remoteEntry(ctx context.Context, st *remote.Store, mkey string, byKey map[string]remote.Object) Entry {
	m, err := readRemoteManifest(ctx, st, mkey)
	if err != nil {
		return Entry{Path: mkey, Name: mkey, Status: StatusDamaged, Problem: err.Error()}
	}
	_, ours := ParseName(m.File)
	e := Entry{Path: m.File, Name: m.File, Type: m.Type, Host: m.Host, CreatedAt: m.CreatedAt,
		Compression: m.Compression, Encryption: m.Encryption, Parent: m.Parent, Manifest: m, Ours: ours}
	if filepath.Base(m.File) != m.File || baseName(m.File)+ManifestSuffix != mkey {
		e.Status, e.Problem = StatusDamaged, fmt.Sprintf("the manifest %s names %s", mkey, m.File)
		return e
	}
	o, ok := byKey[m.File]
	if !ok {
		e.Status, e.Problem = StatusMissing, "the artifact is gone; only its manifest is left"
		return e
	}
	e.Bytes = o.Size
	if problem := checkRemoteObject(ctx, st, m.File, m.StoredBytes, m.StoredSHA256); problem != "" {
		e.Status, e.Problem = StatusIncomplete, problem
		return e
	}
	if m.SchemaFile != "" {
		if problem := checkRemoteObject(ctx, st, m.SchemaFile, -1, m.SchemaSHA256); problem != "" {
			e.Status, e.Problem = StatusIncomplete, "schema text: "+problem
			return e
		}
	}
	if m.Verified() {
		e.Status = StatusVerified
	} else {
		e.Status = StatusUnverified
	}
	return e
}

// checkRemoteObject compares key's size (unless size < 0) and recorded
// SHA-256 with the manifest's; "" when they match. An object without a
// recorded SHA-256 (copied there by another tool) is checked when it is
// downloaded.
func checkRemoteObject(ctx context.Context, st *remote.Store, key string, size int64, sha string) string {
	a, err := st.Stat(ctx, key)
	switch {
	case remote.IsNotFound(err):
		return key + " is missing"
	case err != nil:
		return err.Error()
	case size >= 0 && a.Size != size:
		return fmt.Sprintf("%d bytes stored, the manifest says %d", a.Size, size)
	case a.SHA256 != "" && !strings.EqualFold(a.SHA256, sha):
		return fmt.Sprintf("stored sha256 %s differs from the manifest's %s", short(a.SHA256), short(sha))
	}
	return ""
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return sha
}

func readRemoteManifest(ctx context.Context, st *remote.Store, key string) (*Manifest, error) {
	data, err := getSmall(ctx, st, key)
	if err != nil {
		return nil, err
	}
	return ParseManifest(data, key)
}

func getSmall(ctx context.Context, st *remote.Store, key string) ([]byte, error) {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%s is larger than a manifest can be", key)
	}
	return data, nil
}
