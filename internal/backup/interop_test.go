package backup_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// TestInterop decodes our artifacts with the standard tools only (zstd,
// gunzip, age, gpg) and opens the result with the sqlite3 shell: what an
// operator does at 3 a.m. without campfire.
func TestInterop(t *testing.T) {
	sqlite3 := needTool(t, "sqlite3", "sqlite3")
	f := newFixture(t)
	idKey, idFile := ageKey(t)
	pub, priv, _ := pgpKey(t, "ops@example.com", "")

	// decoders: each turns the artifact into a plain database at out.
	type step func(t *testing.T, in, out string)
	run := func(t *testing.T, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
		}
	}
	zstdD := func(t *testing.T, in, out string) {
		run(t, needTool(t, "zstd", "zstd"), "-d", "-q", "-o", out, in)
	}
	gunzip := func(t *testing.T, in, out string) {
		gz := needTool(t, "gunzip", "gzip")
		cmd := exec.Command(gz, "-c", in)
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		os.WriteFile(out, b, 0o600)
	}
	ageD := func(t *testing.T, in, out string) {
		run(t, needTool(t, "age", "age"), "-d", "-i", idFile, "-o", out, in)
	}
	gpgD := func(t *testing.T, in, out string) {
		gpg := needTool(t, "gpg", "gnupg")
		home, err := os.MkdirTemp("", "gpg") // short: gpg-agent's socket path is limited
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(home, 0o700)
		t.Cleanup(func() {
			exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
			os.RemoveAll(home)
		})
		run(t, gpg, "--homedir", home, "--batch", "--import", priv)
		run(t, gpg, "--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", "--output", out, "--decrypt", in)
	}
	chain := func(steps ...step) step {
		return func(t *testing.T, in, out string) {
			cur := in
			for i, s := range steps {
				next := out
				if i < len(steps)-1 {
					next = filepath.Join(t.TempDir(), "stage")
				}
				s(t, cur, next)
				cur = next
			}
		}
	}
	tests := []struct {
		name   string
		req    backup.Request
		decode step
	}{
		{"Plain", backup.Request{Type: backup.TypeFull, Compression: backup.CompressionNone}, nil},
		{"Zstd", backup.Request{Type: backup.TypeFull, Compression: backup.CompressionZstd}, zstdD},
		{"Gzip", backup.Request{Type: backup.TypeHot, Compression: backup.CompressionGzip}, gunzip},
		{"ZstdAge", backup.Request{Type: backup.TypeFull, Recipients: []string{idKey.Recipient().String()}}, chain(ageD, zstdD)},
		{"GzipAge", backup.Request{Type: backup.TypeFull, Compression: backup.CompressionGzip, Recipients: []string{idKey.Recipient().String()}}, chain(ageD, gunzip)},
		{"PlainAge", backup.Request{Type: backup.TypeFull, Compression: backup.CompressionNone, Recipients: []string{idKey.Recipient().String()}}, ageD},
		{"ZstdOpenPGP", backup.Request{Type: backup.TypeFull, Recipients: []string{pub}}, chain(gpgD, zstdD)},
		{"GzipOpenPGP", backup.Request{Type: backup.TypeFull, Compression: backup.CompressionGzip, Recipients: []string{pub}}, chain(gpgD, gunzip)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := f.engine(t)
			e.Dir = t.TempDir()
			res := mustBackup(t, e, tt.req)
			db := res.Path
			if tt.decode != nil {
				db = filepath.Join(t.TempDir(), "restored.db")
				tt.decode(t, res.Path, db)
			}
			if got := sha256File(t, db); got != res.Manifest.DatabaseSHA256 {
				t.Errorf("decoded database sha256 %s, manifest database_sha256 %s", got, res.Manifest.DatabaseSHA256)
			}
			out, err := exec.Command(sqlite3, db, "PRAGMA integrity_check;", "SELECT COUNT(*) FROM messages;", "SELECT COUNT(*) FROM users;").CombinedOutput()
			if err != nil {
				t.Fatalf("sqlite3: %v\n%s", err, out)
			}
			if got, want := strings.Fields(string(out)), []string{"ok", "40", "2"}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("sqlite3 printed %q, want %q", got, want)
			}
		})
	}

	// The spec's GPG procedure, the other way round: a file gpg encrypts to
	// our key opens with our identities (the restore side).
	t.Run("GPGEncryptedByGPG", func(t *testing.T) {
		gpg := needTool(t, "gpg", "gnupg")
		e := f.engine(t)
		e.Dir = t.TempDir()
		res := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Compression: backup.CompressionNone})
		home, _ := os.MkdirTemp("", "gpg")
		os.Chmod(home, 0o700)
		t.Cleanup(func() {
			exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
			os.RemoveAll(home)
		})
		run(t, gpg, "--homedir", home, "--batch", "--import", pub)
		enc := filepath.Join(t.TempDir(), "by-gpg.db.gpg")
		run(t, gpg, "--homedir", home, "--batch", "--trust-model", "always", "--encrypt", "-r", "ops@example.com", "--output", enc, res.Path)
		rep, err := backup.Verify(ctx, enc, backup.VerifyOptions{Identities: identities(t, "", priv), AllowMissingManifest: true})
		if err != nil {
			t.Fatalf("Verify of a gpg-encrypted database: %v\n%+v", err, rep.Checks)
		}
	})

	t.Run("SchemaText", func(t *testing.T) {
		e := f.engine(t)
		e.Dir = t.TempDir()
		res := mustBackup(t, e, backup.Request{Type: backup.TypeSchema})
		sqlText, _ := os.ReadFile(res.SchemaPath)
		newDB := filepath.Join(t.TempDir(), "new.db")
		cmd := exec.Command(sqlite3, newDB)
		cmd.Stdin = strings.NewReader(string(sqlText))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sqlite3 < schema.sql: %v\n%s", err, out)
		}
		out, err := exec.Command(sqlite3, newDB, "PRAGMA integrity_check;", "SELECT MAX(version) FROM schema_migrations;").CombinedOutput()
		if err != nil || strings.Fields(string(out))[0] != "ok" {
			t.Errorf("sqlite3: %v\n%s", err, out)
		}
	})
}
