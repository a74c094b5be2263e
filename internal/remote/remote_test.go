package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

type backend struct {
	name string
	// setup returns the URL of an existing, empty destination and the URL
	// of one whose bucket (or directory) does not exist.
	setup func(t *testing.T) (ok, missing string)
}

var backends = []backend{
	{"file", func(t *testing.T) (string, string) {
		dir := t.TempDir()
		return "file://" + filepath.ToSlash(dir), "file://" + filepath.ToSlash(filepath.Join(dir, "missing"))
	}},
	{"s3", setupS3},
	{"gs", setupGCS},
}

func setupS3(t *testing.T) (string, string) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testtesttest")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	be := s3mem.New()
	if err := be.CreateBucket("bucket"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(ts.Close)
	q := "?endpoint=" + ts.URL + "&use_path_style=true&region=us-east-1"
	return "s3://bucket/prefix" + q, "s3://nosuchbucket/prefix" + q
}

var (
	gcsOnce sync.Once
	gcsHost string
	gcsSrv  *fakestorage.Server
	gcsErr  error
	gcsN    int
	gcsMu   sync.Mutex
)

// setupGCS starts one in-process fake-gcs-server for the whole package
// (gcsblob caches its opener on first use) and gives each test a bucket.
func setupGCS(t *testing.T) (string, string) {
	gcsOnce.Do(func() {
		ts := httptest.NewUnstartedServer(nil)
		gcsHost = ts.Listener.Addr().String()
		gcsSrv, gcsErr = fakestorage.NewServerWithOptions(fakestorage.Options{
			Scheme:     "http",
			NoListener: true,
			PublicHost: gcsHost,
			Writer:     io.Discard,
		})
		if gcsErr == nil {
			ts.Config.Handler = gcsSrv.HTTPHandler()
			ts.Start()
		}
	})
	if gcsErr != nil {
		t.Fatal(gcsErr)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", gcsHost)
	gcsMu.Lock()
	gcsN++
	name := "bucket" + string(rune('a'+gcsN%26)) + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")
	gcsMu.Unlock()
	gcsSrv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	return "gs://" + name + "/prefix", "gs://nosuchbucket-" + name + "/prefix"
}

func openT(t *testing.T, u string) *Store {
	t.Helper()
	s, err := Open(context.Background(), u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func put(t *testing.T, s *Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), sum(data)); err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
}

func TestBackends(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()

			t.Run("RoundTrip", func(t *testing.T) {
				okURL, _ := be.setup(t)
				s := openT(t, okURL)
				before := time.Now().Add(-time.Minute)
				data := []byte("hello, campfire")
				put(t, s, "full/2026/a.db.zst", data)
				rc, a, err := s.Get(ctx, "full/2026/a.db.zst")
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("Get = %q, %v", got, err)
				}
				if a.Size != int64(len(data)) || a.SHA256 != sum(data) || a.ModTime.Before(before) {
					t.Fatalf("Attrs = %+v", a)
				}
				if _, _, err := s.Get(ctx, "nope"); err == nil {
					t.Fatal("Get of a missing key succeeded")
				}
			})

			t.Run("Large", func(t *testing.T) {
				okURL, _ := be.setup(t)
				s := openT(t, okURL)
				data := make([]byte, 20<<20)
				for i := range data {
					data[i] = byte(i*7 + i>>11)
				}
				start := time.Now()
				put(t, s, "big.bin", data)
				rc, a, err := s.Get(ctx, "big.bin")
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				n, err := io.Copy(h, rc)
				rc.Close()
				if err != nil || n != int64(len(data)) || hex.EncodeToString(h.Sum(nil)) != sum(data) || a.SHA256 != sum(data) {
					t.Fatalf("read back %d bytes, err %v, attrs %+v", n, err, a)
				}
				t.Logf("20 MiB put+get: %v", time.Since(start))
			})

			t.Run("PutRejectsMismatch", func(t *testing.T) {
				okURL, _ := be.setup(t)
				s := openT(t, okURL)
				data := []byte("payload")
				if err := s.Put(ctx, "x", bytes.NewReader(data), int64(len(data)), sum([]byte("other"))); err == nil {
					t.Fatal("Put with a wrong hash succeeded")
				}
				if err := s.Put(ctx, "x", bytes.NewReader(data), 99, sum(data)); err == nil {
					t.Fatal("Put with a wrong size succeeded")
				}
				if err := s.Put(ctx, "x", bytes.NewReader(data), int64(len(data)), "zz"); err == nil {
					t.Fatal("Put with a bad hash succeeded")
				}
				objs, err := s.List(ctx, "")
				if err != nil || len(objs) != 0 {
					t.Fatalf("List after failed puts = %v, %v", objs, err)
				}
			})

			t.Run("List", func(t *testing.T) {
				okURL, _ := be.setup(t)
				s := openT(t, okURL)
				put(t, s, "full/a", []byte("aa"))
				put(t, s, "full/b", []byte("bbb"))
				put(t, s, "incr/c", []byte("c"))
				// A leftover partial upload must stay hidden.
				w, err := s.bucket.NewWriter(ctx, partialPrefix+"full/z.1234", nil)
				if err != nil {
					t.Fatal(err)
				}
				w.Write([]byte("partial"))
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if s.scheme == "file" {
					// As would a crashed fileblob temporary file.
					if err := os.WriteFile(filepath.Join(s.bucketN, "full", "y.18a2b3c4d5e6f7.tmp"), []byte("t"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				objs, err := s.List(ctx, "full/")
				if err != nil {
					t.Fatal(err)
				}
				if len(objs) != 2 || objs[0].Key != "full/a" || objs[0].Size != 2 || objs[1].Key != "full/b" || objs[1].Size != 3 || objs[0].ModTime.IsZero() {
					t.Fatalf("List(full/) = %+v", objs)
				}
				all, err := s.List(ctx, "")
				if err != nil || len(all) != 3 {
					t.Fatalf("List() = %+v, %v", all, err)
				}
				// Objects outside the URL's prefix are not seen.
				if be.name != "file" {
					root := strings.Replace(okURL, "/prefix?", "?", 1)
					if !strings.Contains(okURL, "?") {
						root = strings.TrimSuffix(okURL, "/prefix")
					}
					r := openT(t, root)
					put(t, r, "outside", []byte("o"))
					if all, _ := s.List(ctx, ""); len(all) != 3 {
						t.Fatalf("List() sees keys outside the prefix: %+v", all)
					}
					if in, _ := r.List(ctx, "prefix/"); len(in) != 3 {
						t.Fatalf("prefix not applied: %+v", in)
					}
				}
			})

			t.Run("Delete", func(t *testing.T) {
				okURL, _ := be.setup(t)
				s := openT(t, okURL)
				put(t, s, "d", []byte("d"))
				for i := 0; i < 2; i++ {
					if err := s.Delete(ctx, "d"); err != nil {
						t.Fatalf("Delete #%d: %v", i+1, err)
					}
				}
				if objs, _ := s.List(ctx, ""); len(objs) != 0 {
					t.Fatalf("List after Delete = %+v", objs)
				}
			})

			t.Run("BadKeys", func(t *testing.T) {
				okURL, _ := be.setup(t)
				s := openT(t, okURL)
				for _, k := range []string{"", "/abs", "../x", "a/../../x", "a/..", "a//b", "dir/", ".partial/x", "./a"} {
					if err := s.Put(ctx, k, strings.NewReader("x"), 1, sum([]byte("x"))); err == nil {
						t.Errorf("Put(%q) succeeded", k)
					}
					if _, _, err := s.Get(ctx, k); err == nil {
						t.Errorf("Get(%q) succeeded", k)
					}
					if err := s.Delete(ctx, k); err == nil {
						t.Errorf("Delete(%q) succeeded", k)
					}
				}
				if _, err := s.List(ctx, "../"); err == nil {
					t.Error("List(../) succeeded")
				}
			})

			t.Run("SelfTest", func(t *testing.T) {
				okURL, missing := be.setup(t)
				s := openT(t, okURL)
				if err := s.SelfTest(ctx); err != nil {
					t.Fatalf("SelfTest: %v", err)
				}
				if objs, _ := s.List(ctx, ""); len(objs) != 0 {
					t.Fatalf("SelfTest left %+v", objs)
				}
				m, err := Open(ctx, missing)
				if be.name == "file" {
					if err == nil || !strings.Contains(err.Error(), "no such file") {
						t.Fatalf("Open(missing dir) = %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				err = m.SelfTest(ctx)
				if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "write a probe object") {
					t.Fatalf("SelfTest(missing bucket) = %v", err)
				}
				t.Logf("missing bucket: %v", err)
			})
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"", "empty"},
		{"ftp://host/x", `unsupported scheme "ftp"`},
		{"/var/backups", "missing scheme"},
		{"s3:///prefix", "missing bucket"},
		{"gs://", "missing bucket"},
		{"s3://AKIA:topsecret@bucket/p", "credentials in the URL"},
		{"file://relative/dir", "absolute path"},
		{"file:///tmp?x=1", "no query"},
		{"s3://bucket/a/../b", "bad prefix"},
		{"s3://bucket/p?bogus=hunter2secret", "open"},
		{"http://[::1", "not a valid URL"},
	} {
		s, err := Open(ctx, tc.url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want %q", tc.url, err, tc.want)
		}
		for _, secret := range []string{"topsecret", "hunter2secret"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Open(%q) error echoes a secret: %v", tc.url, err)
			}
		}
	}
}

func TestString(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1") // gs:// needs credentials or an emulator
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	dir := t.TempDir()
	for _, tc := range []struct{ url, want string }{
		{"s3://bucket/prefix?region=eu-west-1&endpoint=http://u:pw@minio:9000/?tok=x&use_path_style=true",
			"s3://bucket/prefix?endpoint=http://minio:9000/&region=eu-west-1&use_path_style=true"},
		{"s3://bucket?region=us-east-1&kmskeyid=secretkms", "s3://bucket?kmskeyid=REDACTED&region=us-east-1"},
		{"gs://bucket/p", "gs://bucket/p"},
		{"file://" + filepath.ToSlash(dir), "file://" + filepath.ToSlash(dir)},
	} {
		s, err := Open(context.Background(), tc.url)
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.url, err)
		}
		if got := s.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		s.Close()
	}
}
