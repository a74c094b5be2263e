// Package remotetest runs versitygw, a real S3-compatible server
// (Apache-2.0), for tests: .ci/run installs it with
// `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`.
package remotetest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Credentials of the server Start runs (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY).
const (
	AccessKey = "test"
	SecretKey = "testtesttest"
)

// ErrNotInstalled: versitygw is neither in PATH nor in $GOPATH/bin.
var ErrNotInstalled = errors.New("the S3 tests against a real server need versitygw: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")

// VersityGW is a running versitygw with the posix backend: each folder of
// Dir is a bucket.
type VersityGW struct {
	URL  string // http://127.0.0.1:port
	Dir  string
	root string
	cmd  *exec.Cmd
}

func find() string {
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

// Start starts versitygw on a free loopback port and waits until it
// listens.
func Start() (*VersityGW, error) {
	bin := find()
	if bin == "" {
		return nil, ErrNotInstalled
	}
	root, err := os.MkdirTemp("", "campfire-versitygw-")
	if err != nil {
		return nil, err
	}
	v := &VersityGW{root: root, Dir: filepath.Join(root, "data")}
	if err := os.Mkdir(v.Dir, 0o700); err != nil {
		v.Stop()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		v.Stop()
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	v.cmd = exec.Command(bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey, "--quiet", "posix", v.Dir)
	if err := v.cmd.Start(); err != nil {
		v.Stop()
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			v.Stop()
			return nil, fmt.Errorf("versitygw did not listen on %s within 10 s", addr)
		}
	}
	v.URL = "http://" + addr
	return v, nil
}

// Bucket creates a bucket and returns its s3:// URL with prefix, the
// endpoint and path-style addressing.
func (v *VersityGW) Bucket(name, prefix string) (string, error) {
	if err := os.Mkdir(filepath.Join(v.Dir, name), 0o700); err != nil {
		return "", err
	}
	return "s3://" + name + "/" + prefix + "?endpoint=" + v.URL + "&use_path_style=true&region=us-east-1", nil
}

// Stop ends the server and removes its files.
func (v *VersityGW) Stop() {
	if v == nil {
		return
	}
	if v.cmd != nil && v.cmd.Process != nil {
		v.cmd.Process.Kill()
		v.cmd.Wait()
	}
	os.RemoveAll(v.root)
}
