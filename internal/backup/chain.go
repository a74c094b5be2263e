package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/internal/remote"
)

// ObjectStore is where segments go: the local backup directory (DirStore)
// or a remote destination (*remote.Store). Keys use "/" separators.
type ObjectStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, sha256hex string) error
	Get(ctx context.Context, key string) (io.ReadCloser, remote.Attrs, error)
	List(ctx context.Context, prefix string) ([]remote.Object, error)
	Delete(ctx context.Context, key string) error
	String() string
}

// DirStore is an ObjectStore in a local directory. Unlike a file://
// remote, every object is fsynced before it counts: a segment in the
// local directory survives a power loss once Put returns.
type DirStore string

func (d DirStore) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains("/"+key+"/", "/../") {
		return "", fmt.Errorf("bad key %q", key)
	}
	return filepath.Join(string(d), filepath.FromSlash(key)), nil
}

// Put writes r to key through a temporary file; size and SHA-256 must
// match.
func (d DirStore) Put(ctx context.Context, key string, r io.Reader, size int64, sha256hex string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := createTemp(filepath.Dir(p), filepath.Base(p))
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("put %s: read %d bytes, want %d", key, n, size)
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != strings.ToLower(sha256hex) {
		err = fmt.Errorf("put %s: sha256 mismatch", key)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return commitTemp(f, p, false)
}

// Get opens key.
func (d DirStore) Get(ctx context.Context, key string) (io.ReadCloser, remote.Attrs, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, remote.Attrs{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, remote.Attrs{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, remote.Attrs{}, err
	}
	return f, remote.Attrs{Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List returns the objects under prefix (a directory path ending in "/"
// or a key prefix), sorted by key; temporary files are skipped.
func (d DirStore) List(ctx context.Context, prefix string) ([]remote.Object, error) {
	root := string(d)
	var out []remote.Object
	start := filepath.Join(root, filepath.FromSlash(prefix))
	if !strings.HasSuffix(prefix, "/") {
		start = filepath.Dir(start)
	}
	err := filepath.WalkDir(start, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		out = append(out, remote.Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}

// Delete removes key; a missing key is not an error.
func (d DirStore) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (d DirStore) String() string { return string(d) }

// ChainPosition places a full backup in a chain of segments: the backup
// holds exactly the database after segment Seq of Chain (0: before the
// first), whose checksum is Checksum. Restoring to a later moment applies
// the chain's segments from Seq+1 on.
type ChainPosition struct {
	Chain    string `json:"chain"`
	Seq      uint64 `json:"seq"`
	Checksum string `json:"checksum"`
	PageSize uint32 `json:"page_size"`
}

// chainTip is the last segment of a chain, rewritten now and then and when
// the server stops, so that a restore notices a deleted tail, which no
// listing can show.
type chainTip struct {
	Chain    string    `json:"chain"`
	Last     uint64    `json:"last"`
	At       time.Time `json:"at"`
	Checksum string    `json:"checksum"`
	Closed   bool      `json:"closed"`
}

func tipKey(chain string) string { return walPrefix + "/" + chain + "/tip.json" }

func putJSON(ctx context.Context, st ObjectStore, key string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	return st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), hex.EncodeToString(sum[:]))
}

func getJSON(ctx context.Context, st ObjectStore, key string, v any) error {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// listSegments returns the segments of chain (every chain when chain is
// ""), by chain, then first position, then highest level first.
func listSegments(ctx context.Context, st ObjectStore, chain string) ([]segmentRef, error) {
	prefix := walPrefix + "/"
	if chain != "" {
		prefix += chain + "/"
	}
	objs, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []segmentRef
	for _, o := range objs {
		if r, ok := parseSegmentKey(o.Key); ok {
			r.Size = o.Size
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Chain != b.Chain {
			return a.Chain < b.Chain
		}
		if a.First != b.First {
			return a.First < b.First
		}
		return a.Last > b.Last
	})
	return out, nil
}

// chainID names a new chain after the moment it starts.
func chainID(t time.Time) string { return t.UTC().Format("20060102T150405.000Z") }
