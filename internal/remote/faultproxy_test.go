package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fault is what the proxy does to one request.
type fault int

const (
	pass   fault = iota
	reset        // read part of the body, then reset the connection
	err500       // answer 500 InternalError
	err503       // answer 503 SlowDown
	slow         // read the body, then answer later than the client waits
)

func (f fault) String() string {
	return [...]string{"pass", "reset", "500", "503", "slow"}[f]
}

// faultProxy is a reverse proxy in front of a real S3 server that fails
// requests on a fixed schedule: the n-th request of a method gets
// schedule[method][n] (pass once the schedule is used up). It forwards the
// Host header unchanged, so the client's SigV4 signature (made for the
// proxy's address) still verifies at the server.
type faultProxy struct {
	t        *testing.T
	rp       *httputil.ReverseProxy
	slowFor  time.Duration
	mu       sync.Mutex
	schedule map[string][]fault
	seen     map[string]int
	injected map[fault]int
	log      []string
}

func newFaultProxy(t *testing.T, target string, slowFor time.Duration, schedule map[string][]fault) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, slowFor: slowFor, schedule: schedule, seen: map[string]int{}, injected: map[fault]int{}}
	p.rp = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host
	}}
	ts := httptest.NewServer(p)
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fault proxy requests:\n%s", strings.Join(p.log, "\n"))
		}
	})
	proxies.Store(ts.URL, p)
	return ts
}

var proxies sync.Map // URL → *faultProxy, for assertions

func (p *faultProxy) next(r *http.Request) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.seen[r.Method]
	p.seen[r.Method]++
	f := pass
	if s := p.schedule[r.Method]; n < len(s) {
		f = s[n]
	}
	if f != pass {
		p.injected[f]++
	}
	p.log = append(p.log, fmt.Sprintf("%s %s → %s", r.Method, r.URL.RequestURI(), f))
	return f
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p.next(r) {
	case reset:
		// Part of an upload arrives, then the connection dies.
		_, _ = io.CopyN(io.Discard, r.Body, 64<<10)
		hj, ok := w.(http.Hijacker)
		if !ok {
			p.t.Error("proxy: cannot hijack")
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			p.t.Errorf("proxy: hijack: %v", err)
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN
		}
		_ = conn.Close()
	case err500:
		_, _ = io.Copy(io.Discard, r.Body)
		s3Error(w, http.StatusInternalServerError, "InternalError")
	case err503:
		_, _ = io.Copy(io.Discard, r.Body)
		s3Error(w, http.StatusServiceUnavailable, "SlowDown")
	case slow:
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(p.slowFor):
		case <-r.Context().Done():
		}
		s3Error(w, http.StatusServiceUnavailable, "SlowDown")
	default:
		p.rp.ServeHTTP(w, r)
	}
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the test proxy</Message></Error>`, code)
}

// TestFaultyNetwork runs Put, Get and List through the fault proxy in
// front of versitygw: every kind of fault hits the multipart upload, the
// upload still completes, and nothing partial is ever visible.
func TestFaultyNetwork(t *testing.T) {
	okURL, _ := setupVersityGW(t)
	u, err := url.Parse(okURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	const respTimeout = 300 * time.Millisecond
	proxy := newFaultProxy(t, q.Get("endpoint"), 3*respTimeout, map[string][]fault{
		// Object and part uploads: each kind of fault, in a row on the
		// first part, then a reset in the middle of the upload.
		http.MethodPut: {reset, err500, err503, slow, pass, reset, pass, err500},
		// CreateMultipartUpload and CompleteMultipartUpload.
		http.MethodPost: {err503, pass, err500, reset},
		http.MethodGet:  {err500, reset, slow},
		http.MethodHead: {err503},
	})
	q.Set("endpoint", proxy.URL)
	u.RawQuery = q.Encode()
	ctx := context.Background()
	s, err := OpenWith(ctx, u.String(), Options{ResponseTimeout: respTimeout, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	data := make([]byte, 20<<20+12345) // three parts
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	const key = "full/campfire_full_h_backup_20260101_000000.db.zst"
	start := time.Now()
	if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), sum(data)); err != nil {
		t.Fatalf("Put through the faulty proxy: %v", err)
	}
	t.Logf("Put of %d bytes through the faults took %s", len(data), time.Since(start).Round(time.Millisecond))

	rc, a, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, data) || a.SHA256 != sum(data) {
		t.Fatalf("Get returned %d bytes (sha256 metadata %s), want the %d bytes put", len(got), a.SHA256, len(data))
	}

	// A Put whose body is cut short: the multipart upload is aborted, and
	// the key never appears.
	const short = "full/campfire_full_h_backup_20260102_000000.db.zst"
	err = s.Put(ctx, short, io.LimitReader(bytes.NewReader(data), 17<<20), int64(len(data)), sum(data))
	if err == nil {
		t.Fatal("Put of a short body succeeded")
	}
	if _, err := s.Stat(ctx, short); !IsNotFound(err) {
		t.Errorf("Stat of the cut-short upload: %v, want not found", err)
	}

	objs, err := s.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(objs) != 1 || objs[0].Key != key || objs[0].Size != int64(len(data)) {
		t.Errorf("List = %+v, want exactly %s with %d bytes", objs, key, len(data))
	}

	v, _ := proxies.Load(proxy.URL)
	p := v.(*faultProxy)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range []fault{reset, err500, err503, slow} {
		if p.injected[f] == 0 {
			t.Errorf("no %s fault was injected: the schedule did not reach it", f)
		}
	}
	if p.seen[http.MethodPut] < 8 {
		t.Errorf("only %d PUT requests: the upload was not split into parts or not retried", p.seen[http.MethodPut])
	}
}
