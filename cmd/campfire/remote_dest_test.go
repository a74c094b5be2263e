package main

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/campfire-in-go/campfire/internal/remote/remotetest"
)

// Off-site destinations for the command tests, each a real part: a
// directory, fake-gcs-server in process, and versitygw (a real S3 server)
// as a child process. A destination returns the environment that points
// the binary at a fresh, empty place in it.
type destination struct {
	name  string
	setup func(t *testing.T) []string
}

var destinations = []destination{
	{"file", func(t *testing.T) []string {
		return []string{"CAMPFIRE_BACKUP_REMOTE=file://" + filepath.ToSlash(t.TempDir())}
	}},
	{"gs", setupFakeGCS},
	{"s3", setupVersityGW},
}

var (
	gcsOnce sync.Once
	gcsHost string
	gcsSrv  *fakestorage.Server
	gcsErr  error
	destMu  sync.Mutex
	destN   int
)

func nextBucket() string {
	destMu.Lock()
	defer destMu.Unlock()
	destN++
	return fmt.Sprintf("campfire-test-%d", destN)
}

func setupFakeGCS(t *testing.T) []string {
	gcsOnce.Do(func() {
		ts := httptest.NewUnstartedServer(nil)
		gcsHost = ts.Listener.Addr().String()
		gcsSrv, gcsErr = fakestorage.NewServerWithOptions(fakestorage.Options{
			Scheme: "http", NoListener: true, PublicHost: gcsHost, Writer: io.Discard,
		})
		if gcsErr == nil {
			ts.Config.Handler = gcsSrv.HTTPHandler()
			ts.Start()
		}
	})
	if gcsErr != nil {
		t.Fatal(gcsErr)
	}
	bucket := nextBucket()
	gcsSrv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	return []string{"STORAGE_EMULATOR_HOST=" + gcsHost, "CAMPFIRE_BACKUP_REMOTE=gs://" + bucket + "/campfire"}
}

var (
	vgwOnce sync.Once
	vgw     *remotetest.VersityGW
	vgwErr  error
)

// setupVersityGW starts one versitygw for the package (installed by
// .ci/run) and gives each test a bucket; without it the test skips, or
// fails under CAMPFIRE_TEST_REQUIRE_ALL=1.
func setupVersityGW(t *testing.T) []string {
	vgwOnce.Do(func() { vgw, vgwErr = remotetest.Start() })
	if errors.Is(vgwErr, remotetest.ErrNotInstalled) && os.Getenv("CAMPFIRE_TEST_REQUIRE_ALL") != "1" {
		t.Skip(vgwErr)
	}
	if vgwErr != nil {
		t.Fatal(vgwErr)
	}
	url, err := vgw.Bucket(nextBucket(), "campfire")
	if err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(vgw.Dir, "none")
	return []string{
		"AWS_ACCESS_KEY_ID=" + remotetest.AccessKey, "AWS_SECRET_ACCESS_KEY=" + remotetest.SecretKey,
		"AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none,
		"CAMPFIRE_BACKUP_REMOTE=" + url,
	}
}

// stopVersityGW ends the server TestMain started, if any.
func stopVersityGW() { vgw.Stop() }
