package backup_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// TestCorruption flips single bytes at a few hundred random positions (fixed
// seed) and truncates at many lengths, for each stored form: verify must
// fail every time, and restore must refuse, leaving the live database as it
// was.
func TestCorruption(t *testing.T) {
	f := newFixture(t)
	idKey, idFile := ageKey(t)
	pub, priv, _ := pgpKey(t, "ops@example.com", "")
	ids := identities(t, "", idFile, priv)
	forms := []struct {
		name string
		req  backup.Request
	}{
		{"Plain", backup.Request{Compression: backup.CompressionNone}},
		{"Zstd", backup.Request{Compression: backup.CompressionZstd}},
		{"Gzip", backup.Request{Compression: backup.CompressionGzip}},
		{"ZstdAge", backup.Request{Compression: backup.CompressionZstd, Recipients: []string{idKey.Recipient().String()}}},
		{"PlainAge", backup.Request{Compression: backup.CompressionNone, Recipients: []string{idKey.Recipient().String()}}},
		{"ZstdOpenPGP", backup.Request{Compression: backup.CompressionZstd, Recipients: []string{pub}}},
	}
	flips, truncations := 300, 100
	if testing.Short() {
		flips, truncations = 40, 20
	}
	// The live database the restores target; it must never change.
	live := filepath.Join(t.TempDir(), "live", "campfire.db")
	newFixtureAt(t, live).db.Close()
	liveSum := sha256File(t, live)

	for i, form := range forms {
		t.Run(form.name, func(t *testing.T) {
			e := f.engine(t)
			e.Dir = t.TempDir()
			form.req.Type = backup.TypeFull
			res := mustBackup(t, e, form.req)
			good, err := os.ReadFile(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{Identities: ids}); err != nil {
				t.Fatalf("the intact artifact fails: %v", err)
			}
			rng := rand.New(rand.NewPCG(2026, uint64(i)))
			check := func(what string, data []byte) {
				t.Helper()
				if err := os.WriteFile(res.Path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				rep, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{Identities: ids})
				if err == nil || rep.OK {
					t.Fatalf("%s: Verify passed", what)
				}
				if !errors.Is(err, backup.ErrVerifyFailed) {
					t.Errorf("%s: Verify = %v, want ErrVerifyFailed", what, err)
				}
				if _, err := backup.PrepareRestore(ctx, res.Path, live, backup.RestoreOptions{Identities: ids, BackupDir: e.Dir}); !errors.Is(err, backup.ErrVerifyFailed) {
					t.Fatalf("%s: PrepareRestore = %v, want ErrVerifyFailed", what, err)
				}
			}
			for n := range flips {
				pos := rng.IntN(len(good))
				bad := append([]byte(nil), good...)
				bad[pos] ^= byte(1 + rng.IntN(255)) // never a no-op
				check("flip at "+itoa(pos)+" (#"+itoa(n)+")", bad)
			}
			for n := range truncations {
				cut := rng.IntN(len(good))
				if n == 0 {
					cut = 0
				} else if n == 1 {
					cut = len(good) - 1
				}
				check("truncated to "+itoa(cut), good[:cut])
			}
			// Appended garbage is a change too.
			check("appended byte", append(append([]byte(nil), good...), 0))
			// Nothing left behind by the refused restores.
			des, _ := os.ReadDir(filepath.Dir(live))
			for _, de := range des {
				if de.Name() != "campfire.db" {
					t.Errorf("left in the target directory: %s", de.Name())
				}
			}
		})
	}
	if sha256File(t, live) != liveSum {
		t.Error("refused restores changed the live database")
	}
}

// TestCorruption_Bare looks at what is left without a manifest: the codecs'
// own checks (zstd's frame checksum, gzip's CRC-32, age's MACs). age
// catches every change; zstd and gzip miss the few flips that only touch
// padding bits of their bit streams, which decode to the same data (seen
// in practice). That is why the manifest's SHA-256 of the stored bytes is
// checked first, and why restore refuses a file without a manifest unless
// told otherwise.
func TestCorruption_Bare(t *testing.T) {
	f := newFixture(t)
	idKey, idFile := ageKey(t)
	ids := identities(t, "", idFile)
	for i, tc := range []struct {
		req     backup.Request
		maxMiss int
	}{
		{backup.Request{Compression: backup.CompressionZstd}, 10},
		{backup.Request{Compression: backup.CompressionGzip}, 10},
		{backup.Request{Compression: backup.CompressionNone, Recipients: []string{idKey.Recipient().String()}}, 0},
	} {
		e := f.engine(t)
		e.Dir = t.TempDir()
		tc.req.Type = backup.TypeFull
		res := mustBackup(t, e, tc.req)
		os.Remove(res.ManifestPath)
		good, _ := os.ReadFile(res.Path)
		if rep, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{Identities: ids, AllowMissingManifest: true}); err != nil || len(rep.Warnings) == 0 {
			t.Fatalf("bare intact artifact: %v, warnings %v", err, rep.Warnings)
		}
		if _, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{Identities: ids}); !errors.Is(err, backup.ErrVerifyFailed) {
			t.Errorf("bare artifact without AllowMissingManifest = %v, want a failure", err)
		}
		live := filepath.Join(t.TempDir(), "campfire.db")
		if _, err := backup.PrepareRestore(ctx, res.Path, live, backup.RestoreOptions{Identities: ids, BackupDir: e.Dir}); !errors.Is(err, backup.ErrVerifyFailed) {
			t.Errorf("restore of a bare artifact = %v, want a refusal", err)
		}
		rng := rand.New(rand.NewPCG(7, uint64(i)))
		const flips = 100
		var missed []int
		for range flips {
			pos := rng.IntN(len(good))
			bad := append([]byte(nil), good...)
			bad[pos] ^= byte(1 + rng.IntN(255))
			os.WriteFile(res.Path, bad, 0o600)
			if _, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{Identities: ids, AllowMissingManifest: true}); err == nil {
				missed = append(missed, pos)
			}
		}
		label := string(tc.req.Compression)
		if len(tc.req.Recipients) > 0 {
			label += "+age"
		}
		t.Logf("%s without a manifest: %d of %d flips undetected %v", label, len(missed), flips, missed)
		if len(missed) > tc.maxMiss {
			t.Errorf("%d flips undetected without a manifest, want at most %d", len(missed), tc.maxMiss)
		}
	}
}

// TestCorruption_Manifest: a manifest edited to match a different database
// (here, row counts) is caught by the database checks.
func TestCorruption_Manifest(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t)
	res := mustBackup(t, e, backup.Request{Type: backup.TypeFull})
	m := *res.Manifest
	m.RowCounts = map[string]int64{}
	for k, v := range res.Manifest.RowCounts {
		m.RowCounts[k] = v
	}
	m.RowCounts["messages"]++
	b, _ := json.Marshal(m)
	os.WriteFile(res.ManifestPath, b, 0o600)
	rep, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{})
	if !errors.Is(err, backup.ErrVerifyFailed) {
		t.Fatalf("Verify = %v", err)
	}
	if failed := rep.Failed(); len(failed) != 1 || failed[0].Name != "row counts" {
		t.Errorf("failed checks = %+v, want row counts", failed)
	}
	os.WriteFile(res.ManifestPath, []byte("{not json"), 0o600)
	if _, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{}); !errors.Is(err, backup.ErrVerifyFailed) {
		t.Errorf("Verify with a broken manifest = %v", err)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
