package remote

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// versitygw is a real S3-compatible server (Apache-2.0) that .ci/run
// installs with `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`.
// One process serves the whole package; each test gets its own prefix.
var (
	vgwOnce sync.Once
	vgwCmd  *exec.Cmd
	vgwDir  string
	vgwURL  string
	vgwErr  error
	vgwSkip string
	vgwMu   sync.Mutex
	vgwN    int
)

func init() {
	backends = append(backends, backend{"versitygw", setupVersityGW})
}

func findVersityGW() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func startVersityGW() {
	bin := findVersityGW()
	if bin == "" {
		vgwSkip = "the S3 tests against a real server need versitygw: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
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
	vgwCmd = exec.Command(bin, "--port", addr, "--access", "test", "--secret", "testtesttest", "--quiet", "posix", vgwDir)
	if vgwErr = vgwCmd.Start(); vgwErr != nil {
		return
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
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

func setupVersityGW(t *testing.T) (string, string) {
	vgwOnce.Do(startVersityGW)
	if vgwSkip != "" {
		if os.Getenv("CAMPFIRE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(vgwSkip)
		}
		t.Skip(vgwSkip)
	}
	if vgwErr != nil {
		t.Fatal(vgwErr)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testtesttest")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	// The posix backend serves each top-level folder as a bucket, so each
	// test gets a bucket of its own.
	vgwMu.Lock()
	vgwN++
	bucket := fmt.Sprintf("bucket%d", vgwN)
	vgwMu.Unlock()
	if err := os.Mkdir(filepath.Join(vgwDir, bucket), 0o700); err != nil {
		t.Fatal(err)
	}
	q := "?endpoint=" + vgwURL + "&use_path_style=true&region=us-east-1"
	return "s3://" + bucket + "/prefix" + q, "s3://nosuchbucket/prefix" + q
}

func TestMain(m *testing.M) {
	code := m.Run()
	if vgwCmd != nil && vgwCmd.Process != nil {
		vgwCmd.Process.Kill()
		vgwCmd.Wait()
	}
	if vgwDir != "" {
		os.RemoveAll(vgwDir)
	}
	os.Exit(code)
}
