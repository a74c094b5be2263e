package main

import (
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
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
	vgwCmd  *exec.Cmd
	vgwDir  string
	vgwURL  string
	vgwErr  error
)

// setupVersityGW starts one versitygw for the package (installed by
// .ci/run: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)
// and gives each test a bucket; without it the test skips, or fails under
// CAMPFIRE_TEST_REQUIRE_ALL=1.
func setupVersityGW(t *testing.T) []string {
	vgwOnce.Do(startVersityGW)
	if vgwErr != nil {
		if os.Getenv("CAMPFIRE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(vgwErr)
		}
		t.Skip(vgwErr)
	}
	bucket := nextBucket()
	if err := os.Mkdir(filepath.Join(vgwDir, bucket), 0o700); err != nil {
		t.Fatal(err)
	}
	return []string{
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=testtesttest",
		"AWS_CONFIG_FILE=" + filepath.Join(vgwDir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(vgwDir, "none"),
		"CAMPFIRE_BACKUP_REMOTE=s3://" + bucket + "/campfire?endpoint=" + vgwURL + "&use_path_style=true&region=us-east-1",
	}
}

func startVersityGW() {
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		if out, gerr := exec.Command("go", "env", "GOPATH").Output(); gerr == nil {
			p := filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		vgwErr = fmt.Errorf("the S3 tests need versitygw: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
		return
	}
	if vgwDir, vgwErr = os.MkdirTemp("", "campfire-versitygw-"); vgwErr != nil {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		vgwErr = err
		return
	}
	addr := ln.Addr().String()
	ln.Close()
	data := filepath.Join(vgwDir, "data")
	if vgwErr = os.Mkdir(data, 0o700); vgwErr != nil {
		return
	}
	vgwCmd = exec.Command(bin, "--port", addr, "--access", "test", "--secret", "testtesttest", "--quiet", "posix", data)
	if vgwErr = vgwCmd.Start(); vgwErr != nil {
		return
	}
	vgwDir = data
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			vgwErr = fmt.Errorf("versitygw did not listen on %s within 10 s", addr)
			return
		}
	}
	vgwURL = "http://" + addr
}

// stopVersityGW ends the server TestMain started, if any.
func stopVersityGW() {
	if vgwCmd != nil && vgwCmd.Process != nil {
		vgwCmd.Process.Kill()
		vgwCmd.Wait()
	}
	if vgwDir != "" {
		os.RemoveAll(filepath.Dir(vgwDir))
	}
}
