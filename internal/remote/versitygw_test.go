package remote

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/campfire-in-go/campfire/internal/remote/remotetest"
)

// One versitygw (a real S3-compatible server) serves the whole package;
// each test gets its own bucket.
var (
	vgwOnce sync.Once
	vgw     *remotetest.VersityGW
	vgwErr  error
	vgwMu   sync.Mutex
	vgwN    int
)

func init() {
	backends = append(backends, backend{"versitygw", setupVersityGW})
}

func setupVersityGW(t *testing.T) (string, string) {
	vgwOnce.Do(func() { vgw, vgwErr = remotetest.Start() })
	if errors.Is(vgwErr, remotetest.ErrNotInstalled) && os.Getenv("CAMPFIRE_TEST_REQUIRE_ALL") != "1" {
		t.Skip(vgwErr)
	}
	if vgwErr != nil {
		t.Fatal(vgwErr)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", remotetest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", remotetest.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	vgwMu.Lock()
	vgwN++
	bucket := fmt.Sprintf("bucket%d", vgwN)
	vgwMu.Unlock()
	ok, err := vgw.Bucket(bucket, "prefix")
	if err != nil {
		t.Fatal(err)
	}
	return ok, strings.Replace(ok, bucket, "nosuchbucket", 1)
}

func TestMain(m *testing.M) {
	code := m.Run()
	vgw.Stop()
	os.Exit(code)
}
