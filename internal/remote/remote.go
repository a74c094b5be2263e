// Package remote stores backups off site: in a directory, an S3 bucket or a
// GCS bucket, through gocloud.dev/blob.
//
// A destination is a URL:
//
//	file:///var/backups/campfire
//	s3://bucket/prefix?region=eu-west-1
//	s3://bucket/prefix?endpoint=http://127.0.0.1:7070&use_path_style=true&region=us-east-1
//	gs://bucket/prefix
//
// Credentials come from the environment, never from the URL: for S3 the AWS
// SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
// instance roles...), for GCS the Application Default Credentials
// (GOOGLE_APPLICATION_CREDENTIALS, workload identity...). STORAGE_EMULATOR_HOST
// points gs:// at an emulator. Query parameters are handed to the gocloud
// driver (see gocloud.dev/aws.V2ConfigFromURLParams and s3blob.URLOpener for
// S3, gcsblob.URLOpener for GCS); file:// takes none.
//
// Uploads: S3 and GCS make an object visible only once its upload completed,
// so Put writes the final key directly; S3 uploads larger than one part go
// as a multipart upload (see partSize), which is aborted, never completed,
// when the data is short or its SHA-256 is wrong. A directory destination
// writes a temporary file and renames it.
//
// Retries: S3 requests use the aws-sdk-go-v2 standard retryer with
// Options.MaxAttempts attempts (default 10) and exponential backoff with
// jitter (at most 20 s between attempts) on throttling, 5xx, connection
// resets and timeouts; each part of a multipart upload is retried on its
// own, and a response that does not start within Options.ResponseTimeout
// (default 2 min) counts as a timeout. GCS uses the
// cloud.google.com/go/storage retry policy for idempotent operations
// (uploads with a resumable session retry each chunk).
package remote

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
)

// partialPrefix held uploads in progress in earlier versions; List still
// hides leftovers and keys under it are refused.
const partialPrefix = ".partial/"

// metaSHA256 is the object metadata key holding the hex SHA-256 of the data.
const metaSHA256 = "sha256"

const redacted = "REDACTED"

// Attrs describes a stored object.
type Attrs struct {
	Size    int64
	SHA256  string // hex; empty if the object was not written by Put
	ModTime time.Time
}

// Object is one entry of List.
type Object struct {
	Key     string // relative to the store's prefix
	Size    int64
	ModTime time.Time
}

// Store is a backup destination: a directory, S3 or GCS.
type Store struct {
	bucket  *blob.Bucket
	scheme  string // "file", "s3" or "gs"
	bucketN string // bucket name, or directory for file
	prefix  string // "" or ends with "/"
	display string // the URL with secrets redacted
	secrets []string
}

// Open opens the destination rawURL. It does not contact the remote; use
// SelfTest for that.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return OpenWith(ctx, rawURL, Options{})
}

// Options tune how a store talks to S3; zero values take the defaults.
type Options struct {
	// MaxAttempts is how often an S3 request is tried (default 10).
	MaxAttempts int
	// ResponseTimeout bounds the wait for the start of an S3 response once
	// the request was sent (default 2 min).
	ResponseTimeout time.Duration
	// MaxBackoff caps the wait between two attempts (default 20 s).
	MaxBackoff time.Duration
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	if strings.TrimSpace(rawURL) == "" {
		return nil, errors.New("remote: empty destination URL")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse errors quote the whole input, which may hold secrets.
		return nil, errors.New("remote: destination is not a valid URL (expected file:///dir, s3://bucket/prefix or gs://bucket/prefix)")
	}
	s := &Store{scheme: strings.ToLower(u.Scheme), secrets: secretsOf(u)}
	s.display = redactURL(u)
	if u.User != nil {
		return nil, fmt.Errorf("remote: %s: credentials in the URL are not supported; use the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS)", s.display)
	}
	switch s.scheme {
	case "file":
		if err := s.openFile(u); err != nil {
			return nil, err
		}
	case s3blob.Scheme, gcsblob.Scheme:
		if u.Host == "" {
			return nil, fmt.Errorf("remote: %s: missing bucket name (expected %s://bucket/prefix)", s.display, s.scheme)
		}
		if u.Opaque != "" {
			return nil, fmt.Errorf("remote: %s: expected %s://bucket/prefix", s.display, s.scheme)
		}
		s.bucketN = u.Host
		p := strings.Trim(u.Path, "/")
		if p != "" {
			if err := checkKey(p); err != nil {
				return nil, fmt.Errorf("remote: %s: bad prefix: %w", s.display, err)
			}
			s.prefix = p + "/"
		}
		// The driver gets the bucket and the query; the prefix is ours.
		var b *blob.Bucket
		var err error
		if s.scheme == s3blob.Scheme {
			b, err = openS3(ctx, u.Host, u.Query(), opts)
		} else {
			b, err = openGCS(ctx, u.Host, u.Query())
		}
		if err != nil {
			return nil, s.wrap("remote: open "+s.display, err)
		}
		if s.prefix != "" {
			b = blob.PrefixedBucket(b, s.prefix)
		}
		s.bucket = b
	case "":
		return nil, fmt.Errorf("remote: %s: missing scheme (expected file://, s3:// or gs://)", s.display)
	default:
		return nil, fmt.Errorf("remote: %s: unsupported scheme %q (expected file://, s3:// or gs://)", s.display, s.scheme)
	}
	return s, nil
}

func (s *Store) openFile(u *url.URL) error {
	if u.Host != "" && u.Host != "localhost" {
		return fmt.Errorf("remote: %s: file URLs need an absolute path, as in file:///var/backups", s.display)
	}
	if u.RawQuery != "" {
		return fmt.Errorf("remote: %s: file URLs take no query parameters", s.display)
	}
	dir := filepath.FromSlash(u.Path)
	if dir == "" || !filepath.IsAbs(dir) {
		return fmt.Errorf("remote: %s: file URLs need an absolute path, as in file:///var/backups", s.display)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("remote: %s: backup directory: %w", s.display, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("remote: %s: %s is not a directory", s.display, dir)
	}
	s.bucketN = dir
	// fileblob writes to a temporary file and renames it on Close, so a
	// reader never sees a partial file. NoTempDir keeps the temporary file
	// next to the target: a rename from os.TempDir fails across file
	// systems. List hides those temporary names.
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true})
	if err != nil {
		return fmt.Errorf("remote: %s: %w", s.display, err)
	}
	s.bucket = b
	return nil
}

// Close releases the store.
func (s *Store) Close() error { return s.bucket.Close() }

// String returns the destination URL with secrets redacted.
func (s *Store) String() string { return s.display }

// Put stores size bytes from r under key, with their hex SHA-256 sha256hex
// in the object metadata. The data is checked against both while streaming;
// on a mismatch the upload is aborted and nothing is stored. Readers see the
// old object or the whole new one, never a partial one (see the package
// comment). The stored size and hash are checked afterwards. A negative
// size skips the size check of the stream.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, sha256hex string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	sha256hex = strings.ToLower(sha256hex)
	if b, err := hex.DecodeString(sha256hex); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("remote: put %s: sha256 must be 64 hex digits", key)
	}
	n, err := s.write(ctx, key, r, size, sha256hex)
	if err != nil {
		return s.wrap("remote: put "+key, err)
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return s.wrap("remote: put "+key+": verify", err)
	}
	if a.Size != n {
		return fmt.Errorf("remote: put %s: stored object has %d bytes, wrote %d", key, a.Size, n)
	}
	if got := a.Metadata[metaSHA256]; got != sha256hex {
		return fmt.Errorf("remote: put %s: stored sha256 metadata %q, want %s", key, got, sha256hex)
	}
	return nil
}

// write streams r to key and returns the byte count. The write is cancelled,
// so nothing is committed, unless size and hash match.
func (s *Store) write(ctx context.Context, key string, r io.Reader, size int64, sha256hex string) (int64, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{
		ContentType: "application/octet-stream",
		Metadata:    map[string]string{metaSHA256: sha256hex},
		BufferSize:  s.partSize(size),
	})
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, hashWriter{h}), r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("read %d bytes, want %d", n, size)
	}
	if err == nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != sha256hex {
			err = fmt.Errorf("data has sha256 %s, want %s", got, sha256hex)
		}
	}
	if err != nil {
		cancel() // abort the upload
		_ = w.Close()
		return n, err
	}
	return n, w.Close()
}

type hashWriter struct{ h hash.Hash }

func (w hashWriter) Write(p []byte) (int, error) { return w.h.Write(p) }

// Get opens key for reading. The caller closes the reader.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, Attrs, error) {
	if err := checkKey(key); err != nil {
		return nil, Attrs{}, err
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return nil, Attrs{}, s.wrap("remote: get "+key, err)
	}
	rd, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, Attrs{}, s.wrap("remote: get "+key, err)
	}
	return rd, Attrs{Size: rd.Size(), SHA256: a.Metadata[metaSHA256], ModTime: rd.ModTime()}, nil
}

// Stat returns the size and recorded SHA-256 of key.
func (s *Store) Stat(ctx context.Context, key string) (Attrs, error) {
	if err := checkKey(key); err != nil {
		return Attrs{}, err
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return Attrs{}, s.wrap("remote: stat "+key, err)
	}
	return Attrs{Size: a.Size, SHA256: a.Metadata[metaSHA256], ModTime: a.ModTime}, nil
}

// IsNotFound reports whether err says an object does not exist.
func IsNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }

// fileTemp matches fileblob's temporary files (NoTempDir): "<name>.<hex ns>.tmp".
var fileTemp = regexp.MustCompile(`\.[0-9a-f]+\.tmp$`)

// List returns the objects whose key starts with prefix, sorted by key.
// Uploads in progress (any ".partial/" folder, fileblob temporary files) are
// never listed.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	if strings.HasPrefix(prefix, "/") || strings.Contains("/"+prefix+"/", "/../") {
		return nil, fmt.Errorf("remote: list: bad prefix %q", prefix)
	}
	var out []Object
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, s.wrap("remote: list "+s.display, err)
		}
		if o.IsDir || strings.HasPrefix(o.Key, partialPrefix) || strings.Contains(o.Key, "/"+partialPrefix) {
			continue
		}
		if s.scheme == "file" && fileTemp.MatchString(o.Key) {
			continue
		}
		out = append(out, Object{Key: o.Key, Size: o.Size, ModTime: o.ModTime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return s.wrap("remote: delete "+key, err)
	}
	return nil
}

// SelfTest writes, reads back, lists and deletes a small probe object, and
// says which step failed and the likely cause.
func (s *Store) SelfTest(ctx context.Context) error {
	key := ".selftest-" + randomHex(8)
	data := []byte("campfire backup destination self-test " + time.Now().UTC().Format(time.RFC3339Nano) + "\n")
	sum := sha256.Sum256(data)
	sumHex := hex.EncodeToString(sum[:])
	if err := s.Put(ctx, key, strings.NewReader(string(data)), int64(len(data)), sumHex); err != nil {
		return s.stepError("write a probe object", err)
	}
	defer func() { _ = s.bucket.Delete(context.WithoutCancel(ctx), key) }()
	rc, a, err := s.Get(ctx, key)
	if err != nil {
		return s.stepError("read the probe object back", err)
	}
	got, err := io.ReadAll(rc)
	_ = rc.Close()
	if err != nil {
		return s.stepError("read the probe object back", err)
	}
	if string(got) != string(data) || a.SHA256 != sumHex {
		return fmt.Errorf("remote: self-test of %s: the probe object read back differs from what was written", s.display)
	}
	objs, err := s.List(ctx, ".selftest-")
	if err != nil {
		return s.stepError("list objects", err)
	}
	found := false
	for _, o := range objs {
		found = found || o.Key == key
	}
	if !found {
		return fmt.Errorf("remote: self-test of %s: the probe object %s is missing from the listing", s.display, key)
	}
	if err := s.Delete(ctx, key); err != nil {
		return s.stepError("delete the probe object", err)
	}
	return nil
}

func (s *Store) stepError(step string, err error) error {
	var hint string
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		if s.scheme == "file" {
			hint = "the directory does not exist"
		} else {
			hint = fmt.Sprintf("bucket %q does not exist", s.bucketN)
		}
	case gcerrors.PermissionDenied:
		hint = "permission denied: check the credentials and the bucket's access policy"
	case gcerrors.DeadlineExceeded, gcerrors.Canceled:
		hint = "timed out: check the endpoint and the network"
	case gcerrors.Unknown, gcerrors.Internal:
		msg := strings.ToLower(err.Error())
		switch {
		case strings.Contains(msg, "nosuchbucket") || strings.Contains(msg, "bucket does not exist") || strings.Contains(msg, "bucket not found"):
			hint = fmt.Sprintf("bucket %q does not exist", s.bucketN)
		case strings.Contains(msg, "credential") || strings.Contains(msg, "invalidaccesskeyid") || strings.Contains(msg, "signaturedoesnotmatch") || strings.Contains(msg, "unauthorized") || strings.Contains(msg, "401"):
			hint = "the credentials are missing or rejected"
		case strings.Contains(msg, "accessdenied") || strings.Contains(msg, "403") || strings.Contains(msg, "permission"):
			hint = "permission denied: check the credentials and the bucket's access policy"
		}
	}
	if hint != "" {
		return &cleanError{msg: fmt.Sprintf("remote: self-test of %s failed to %s: %s (%s)", s.display, step, hint, s.clean(err)), err: err}
	}
	return &cleanError{msg: fmt.Sprintf("remote: self-test of %s failed to %s: %s", s.display, step, s.clean(err)), err: err}
}

// checkKey rejects keys that are empty, absolute, climb with "..", or fall
// under the reserved ".partial/" prefix.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("remote: empty key")
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("remote: key %q must be relative", key)
	case strings.HasSuffix(key, "/"):
		return fmt.Errorf("remote: key %q must not end with /", key)
	case !utf8.ValidString(key) || strings.ContainsAny(key, "\x00\\"):
		return fmt.Errorf("remote: key %q has invalid characters", key)
	case strings.HasPrefix(key, partialPrefix) || strings.Contains(key, "/"+partialPrefix):
		return fmt.Errorf("remote: key %q is under a reserved %s folder", key, partialPrefix)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return fmt.Errorf("remote: key %q has an empty, . or .. segment", key)
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// safeQuery lists the query parameters shown as written; others are redacted.
var safeQuery = map[string]bool{
	"region": true, "endpoint": true, "use_path_style": true, "s3ForcePathStyle": true,
	"disable_https": true, "profile": true, "awssdk": true, "dualstack": true, "fips": true,
	"anonymous": true, "hostname_immutable": true, "accelerate": true, "ssetype": true,
	"rate_limiter_capacity": true, "universe_domain": true,
}

// redactURL shows u without userinfo, without an endpoint's userinfo and
// query, and with every unlisted query value replaced.
func redactURL(u *url.URL) string {
	r := *u
	if r.User != nil {
		r.User = url.User(redacted)
	}
	if r.RawQuery != "" {
		q := u.Query()
		out := url.Values{}
		for k, vs := range q {
			for _, v := range vs {
				switch {
				case k == "endpoint":
					if e, err := url.Parse(v); err == nil && e.Host != "" {
						if e.User != nil || e.RawQuery != "" {
							e.User, e.RawQuery = nil, ""
						}
						v = e.String()
					} else {
						v = redacted
					}
				case !safeQuery[k]:
					v = redacted
				}
				out.Add(k, v)
			}
		}
		r.RawQuery = out.Encode()
		r.RawQuery = strings.ReplaceAll(r.RawQuery, "%3A", ":")
		r.RawQuery = strings.ReplaceAll(r.RawQuery, "%2F", "/")
	}
	r.Fragment, r.RawFragment = "", ""
	return r.String()
}

// Redact returns rawURL as String would show it: for logs and health
// output when the destination cannot even be opened.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable destination URL)"
	}
	return redactURL(u)
}

// secretsOf lists the strings that must never appear in an error: the raw
// URL, its userinfo and every query value that redactURL hides.
func secretsOf(u *url.URL) []string {
	var out []string
	if u.User != nil {
		out = append(out, u.User.String(), u.User.Username())
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	for k, vs := range u.Query() {
		for _, v := range vs {
			if !safeQuery[k] || k == "endpoint" {
				if e, err := url.Parse(v); k == "endpoint" && err == nil {
					if e.User != nil {
						out = append(out, e.User.String())
					}
					if e.RawQuery != "" {
						out = append(out, e.RawQuery)
					}
					continue
				}
				out = append(out, v, url.QueryEscape(v))
			}
		}
	}
	return out
}

// wrap returns an error reading prefix + ": " + err with every secret of
// the URL replaced, still unwrapping to err (for gcerrors.Code).
func (s *Store) wrap(prefix string, err error) error {
	return &cleanError{msg: prefix + ": " + s.clean(err), err: err}
}

type cleanError struct {
	msg string
	err error
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }

// clean returns err's text with every secret of the URL replaced.
func (s *Store) clean(err error) string {
	msg := err.Error()
	for _, sec := range s.secrets {
		if len(sec) >= 3 {
			msg = strings.ReplaceAll(msg, sec, redacted)
		}
	}
	return msg
}
