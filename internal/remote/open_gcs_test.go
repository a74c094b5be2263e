package remote

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without Google credentials, gcsblob's URL opener printed a warning to
// stdout (the command's output); Open must fail with a clear error instead
// and print nothing.
func TestOpenGCSWithoutCredentialsPrintsNothing(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("CLOUDSDK_CONFIG", filepath.Join(home, "gcloud"))
	// Metadata-server lookups fail fast off GCE with this set.
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	s, err := Open(context.Background(), "gs://bucket/prefix")
	os.Stdout = stdout
	w.Close()
	printed, _ := io.ReadAll(r)
	if err == nil {
		s.Close()
		t.Skip("this machine has Google Application Default Credentials")
	}
	if len(printed) > 0 {
		t.Errorf("Open printed to stdout: %q", printed)
	}
	if !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Errorf("error does not say how to fix it: %v", err)
	}
}
