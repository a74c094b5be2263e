package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The binary is built once per test run and shared by the tests that run
// it as a separate process (signals, exit codes).
var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  string
)

// testBinary builds campfire with a fixed version and returns its path.
func testBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the campfire binary; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not in PATH; install Go to run this test")
	}
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "campfire-bin-")
		if err != nil {
			binaryErr = err.Error()
			return
		}
		binaryPath = filepath.Join(dir, "campfire")
		build := exec.Command(goTool, "build", "-buildvcs=false",
			"-ldflags", "-X main.version=v9.9.9-test -X main.commit=0123abcd",
			"-o", binaryPath, ".")
		if out, err := build.CombinedOutput(); err != nil {
			binaryErr = "go build: " + err.Error() + "\n" + string(out)
		}
	})
	if binaryErr != "" {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// cleanEnv is the caller's environment minus our own variables, so a
// developer's settings cannot change a test's outcome.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CAMPFIRE_") && !strings.HasPrefix(kv, "SLACK_WEBHOOK_URL=") {
			env = append(env, kv)
		}
	}
	return env
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopVersityGW()
	if binaryPath != "" {
		os.RemoveAll(filepath.Dir(binaryPath))
	}
	os.Exit(code)
}
