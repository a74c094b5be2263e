package backup_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

func TestBackup_Forms(t *testing.T) {
	f := newFixture(t)
	idKey, idFile := ageKey(t)
	pub, priv, fpr := pgpKey(t, "ops@example.com", "")
	tests := []struct {
		name       string
		req        backup.Request
		ids        *backup.Identities
		suffix     string
		encryption backup.Encryption
		recipients []string
	}{
		{"Plain", backup.Request{Type: backup.TypeFull, Compression: backup.CompressionNone}, nil, ".db", "", nil},
		{"DefaultIsZstd", backup.Request{Type: backup.TypeFull}, nil, ".db.zst", "", nil},
		{"Gzip", backup.Request{Type: backup.TypeHot, Compression: backup.CompressionGzip}, nil, ".db.gz", "", nil},
		{"ZstdAge", backup.Request{Type: backup.TypeFull, Recipients: []string{idKey.Recipient().String()}, Encrypt: true}, identities(t, "", idFile), ".db.zst.age", backup.EncryptionAge, []string{idKey.Recipient().String()}},
		{"GzipOpenPGP", backup.Request{Type: backup.TypeHot, Compression: backup.CompressionGzip, Recipients: []string{pub}, Encrypt: true}, identities(t, "", priv), ".db.gz.gpg", backup.EncryptionOpenPGP, []string{"openpgp:" + fpr}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := f.engine(t)
			e.Dir = t.TempDir()
			var calls int
			var last [2]int64
			tt.req.Progress = func(done, total int64) { calls++; last = [2]int64{done, total} }
			tt.req.Verify = true
			e.Identities = tt.ids
			start := time.Now().UTC()
			res := mustBackup(t, e, tt.req)
			m := res.Manifest

			name := filepath.Base(res.Path)
			if !contractRE.MatchString(name) || !strings.HasSuffix(name, tt.suffix) {
				t.Errorf("artifact name %q does not match the contract or lacks %q", name, tt.suffix)
			}
			if !strings.HasPrefix(name, "campfire_"+string(tt.req.Type)+"_test-host_backup_") {
				t.Errorf("artifact name %q: wrong type or host", name)
			}
			wantManifest := strings.TrimSuffix(name, tt.suffix) + backup.ManifestSuffix
			if filepath.Base(res.ManifestPath) != wantManifest || strings.Contains(filepath.Base(res.ManifestPath), ".db") {
				t.Errorf("manifest name %q, want %q", filepath.Base(res.ManifestPath), wantManifest)
			}
			for _, p := range []string{res.Path, res.ManifestPath} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
				}
			}
			// Nothing but the artifact, the manifest and the lock.
			des, _ := os.ReadDir(e.Dir)
			var names []string
			for _, de := range des {
				names = append(names, de.Name())
			}
			if len(names) != 3 {
				t.Errorf("backup dir holds %v", names)
			}

			// The manifest on disk is the one returned.
			onDisk, err := backup.ReadManifest(res.ManifestPath)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m, onDisk); diff != "" {
				t.Errorf("manifest on disk differs (-returned +disk):\n%s", diff)
			}
			fi, _ := os.Stat(res.Path)
			if m.File != name || m.StoredBytes != fi.Size() || m.StoredSHA256 != sha256File(t, res.Path) {
				t.Errorf("manifest file/size/sha = %s/%d/%s, artifact %s/%d/%s", m.File, m.StoredBytes, m.StoredSHA256, name, fi.Size(), sha256File(t, res.Path))
			}
			if m.FormatVersion != 1 || m.Type != tt.req.Type || m.Engine != "sqlite" || m.Host != "test-host" || m.AppVersion != "test" ||
				m.SchemaVersion != sqldb.LatestSchemaVersion() || m.SQLiteVersion == "" || m.Encryption != tt.encryption || m.Parent != "" {
				t.Errorf("manifest = %+v", m)
			}
			if diff := cmp.Diff(tt.recipients, m.Recipients, cmp.Comparer(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })); diff != "" {
				t.Errorf("recipients (-want +got):\n%s", diff)
			}
			if m.CreatedAt.Before(start.Add(-time.Second)) || m.FinishedAt.Before(m.StartedAt) || m.CreatedAt.Location() != time.UTC {
				t.Errorf("times: created %v started %v finished %v", m.CreatedAt, m.StartedAt, m.FinishedAt)
			}
			want := map[string]int64{"users": 2, "rooms": 2, "messages": 40, "room_memberships": 4, "sessions": 1, "boosts": 8}
			if diff := cmp.Diff(want, m.RowCounts); diff != "" {
				t.Errorf("row counts (-want +got):\n%s", diff)
			}
			if m.SourcePosition.MaxMessageID != 40 || !m.SourcePosition.SnapshotAt.Equal(m.CreatedAt) {
				t.Errorf("source position = %+v", m.SourcePosition)
			}
			if m.PageSize <= 0 || m.PageCount*m.PageSize != m.DatabaseBytes || m.DatabaseSHA256 == "" {
				t.Errorf("page size %d × count %d vs database bytes %d", m.PageSize, m.PageCount, m.DatabaseBytes)
			}
			if !m.Verified() || m.Verification != backup.VerifiedFull || res.Report == nil || !res.Report.OK {
				t.Errorf("verified_at %v (%s), report %+v", m.VerifiedAt, m.Verification, res.Report)
			}
			if calls < 2 || last[0] != m.DatabaseBytes || last[1] != m.DatabaseBytes {
				t.Errorf("progress called %d times, last %v; want the last call at %d/%d", calls, last, m.DatabaseBytes, m.DatabaseBytes)
			}

			// The raw JSON has the contract's field names.
			raw, _ := os.ReadFile(res.ManifestPath)
			var fields map[string]any
			json.Unmarshal(raw, &fields)
			for _, k := range []string{"format_version", "type", "file", "created_at", "started_at", "finished_at", "host", "app_version", "schema_version",
				"engine", "sqlite_version", "compression", "encryption", "recipients", "stored_bytes", "stored_sha256", "database_bytes", "database_sha256",
				"page_size", "page_count", "row_counts", "source_position", "parent", "verified_at"} {
				if _, ok := fields[k]; !ok {
					t.Errorf("manifest JSON lacks %q", k)
				}
			}

			// Verify on its own agrees.
			rep, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{Identities: tt.ids})
			if err != nil {
				t.Fatalf("Verify: %v\n%+v", err, rep)
			}
		})
	}
}

func TestBackup_VerifyEncryptedWithoutIdentity(t *testing.T) {
	f := newFixture(t)
	id, _ := ageKey(t)
	e := f.engine(t)
	res := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Recipients: []string{id.Recipient().String()}, Verify: true})
	if !res.Manifest.Verified() || res.Manifest.Verification != backup.VerifiedBeforeEncryption {
		t.Errorf("verification = %v %q, want before-encryption", res.Manifest.VerifiedAt, res.Manifest.Verification)
	}
	// A later verify without the identity cannot decrypt, and says so.
	_, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{})
	if !errors.Is(err, backup.ErrNoIdentity) {
		t.Errorf("Verify without identity = %v, want ErrNoIdentity", err)
	}
	_, otherFile := ageKey(t)
	_, err = backup.Verify(ctx, res.Path, backup.VerifyOptions{Identities: identities(t, "", otherFile)})
	if !errors.Is(err, backup.ErrNoIdentity) {
		t.Errorf("Verify with the wrong identity = %v, want ErrNoIdentity", err)
	}
}

func TestBackup_Schema(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t)
	res := mustBackup(t, e, backup.Request{Type: backup.TypeSchema, Compression: backup.CompressionNone, Verify: true})
	if !contractRE.MatchString(filepath.Base(res.Path)) || res.Manifest.Type != backup.TypeSchema {
		t.Errorf("schema artifact %s, type %s", res.Path, res.Manifest.Type)
	}
	if res.SchemaPath == "" || filepath.Base(res.SchemaPath) != strings.TrimSuffix(filepath.Base(res.Path), ".db")+".sql" {
		t.Fatalf("schema text path %q", res.SchemaPath)
	}
	text, err := os.ReadFile(res.SchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "CREATE VIRTUAL TABLE message_search_index") || strings.Contains(string(text), "fixture message") {
		t.Error("schema text lacks the FTS table or holds data")
	}
	for table, n := range countRows(t, res.Path) {
		if n != 0 {
			t.Errorf("schema backup has %d rows in %s", n, table)
		}
	}
	if !res.Manifest.Verified() {
		t.Error("schema backup not verified")
	}
	// Tampering with the .sql text is noticed.
	os.WriteFile(res.SchemaPath, append(text, "-- edited\n"...), 0o600)
	if _, err := backup.Verify(ctx, res.Path, backup.VerifyOptions{}); !errors.Is(err, backup.ErrVerifyFailed) {
		t.Errorf("Verify after editing the .sql = %v", err)
	}
	// Restoring a schema backup would empty the database: refused.
	before := sha256File(t, f.path)
	if _, err := backup.PrepareRestore(ctx, res.Path, f.path, backup.RestoreOptions{BackupDir: e.Dir}); !errors.Is(err, backup.ErrNotRestorable) {
		t.Errorf("PrepareRestore(schema) = %v, want ErrNotRestorable", err)
	}
	if sha256File(t, f.path) != before {
		t.Error("the live database changed")
	}
}

func TestBackup_Refusals(t *testing.T) {
	f := newFixture(t)
	idKey, _ := ageKey(t)
	pub, _, _ := pgpKey(t, "ops@example.com", "")
	tests := []struct {
		name string
		req  backup.Request
		want *chat.Error
		msg  string
	}{
		{"Incremental", backup.Request{Type: backup.TypeIncremental}, backup.ErrIncrementalUnavailable, "incremental backups come from continuous backup"},
		{"UnknownType", backup.Request{Type: "daily"}, backup.ErrInvalidRequest, "unknown backup type"},
		{"Safety", backup.Request{Type: backup.TypeSafety}, backup.ErrInvalidRequest, "made by restore"},
		{"EncryptWithoutRecipients", backup.Request{Type: backup.TypeFull, Encrypt: true}, backup.ErrNoRecipients, "CAMPFIRE_BACKUP_AGE_RECIPIENTS"},
		{"MixedRecipients", backup.Request{Type: backup.TypeFull, Encrypt: true, Recipients: []string{idKey.Recipient().String(), pub}}, backup.ErrMixedRecipients, "cannot be mixed"},
		{"BadRecipient", backup.Request{Type: backup.TypeFull, Encrypt: true, Recipients: []string{"age1notakey"}}, backup.ErrInvalidRequest, "age recipients"},
		{"MissingKeyFile", backup.Request{Type: backup.TypeFull, Encrypt: true, Recipients: []string{"/nonexistent/key.asc"}}, backup.ErrInvalidRequest, "neither an age recipient"},
		{"UnknownCompression", backup.Request{Type: backup.TypeFull, Compression: "lz4"}, backup.ErrInvalidRequest, "unknown compression"},
		{"OutputContradictsCompression", backup.Request{Type: backup.TypeFull, Compression: backup.CompressionZstd, Output: "x.db.gz"}, backup.ErrInvalidRequest, "ends in .gz"},
		{"OutputContradictsEncryption", backup.Request{Type: backup.TypeFull, Output: "x.db.zst.age"}, backup.ErrInvalidRequest, "ends in .age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := f.engine(t)
			e.Dir = t.TempDir()
			_, err := e.Backup(ctx, tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Backup = %v, want %v", err, tt.want)
			}
			if chat.ErrorCode(err) != tt.want.Code || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q (code %s), want code %s and %q", err, chat.ErrorCode(err), tt.want.Code, tt.msg)
			}
			if des, _ := os.ReadDir(e.Dir); len(des) > 0 {
				t.Errorf("a refused backup left %d files", len(des))
			}
		})
	}
	if typ, err := backup.ParseType("incremental"); err != nil || typ != backup.TypeIncremental {
		t.Errorf("ParseType(incremental) = %v, %v", typ, err)
	}
}

func TestBackup_Output(t *testing.T) {
	f := newFixture(t)
	idKey, _ := ageKey(t)
	tests := []struct {
		name   string
		req    backup.Request
		want   string
		comp   backup.Compression
		encr   backup.Encryption
		mfName string
	}{
		{"ExactGzipName", backup.Request{Output: "pre_deployment_20240101_120000.db.gz"}, "pre_deployment_20240101_120000.db.gz", backup.CompressionGzip, "", "pre_deployment_20240101_120000.manifest.json"},
		{"SuffixAppended", backup.Request{Output: "custom_backup_20240101.db", Compression: backup.CompressionZstd}, "custom_backup_20240101.db.zst", backup.CompressionZstd, "", "custom_backup_20240101.manifest.json"},
		{"PlainKeepsName", backup.Request{Output: "custom.db", Compression: backup.CompressionNone}, "custom.db", backup.CompressionNone, "", "custom.manifest.json"},
		{"EncryptionAppended", backup.Request{Output: "x.db.zst", Recipients: []string{idKey.Recipient().String()}}, "x.db.zst.age", backup.CompressionZstd, backup.EncryptionAge, "x.manifest.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := f.engine(t)
			e.Dir = t.TempDir()
			tt.req.Type = backup.TypeFull
			res := mustBackup(t, e, tt.req)
			if filepath.Base(res.Path) != tt.want || filepath.Dir(res.Path) != e.Dir {
				t.Errorf("path %s, want %s in %s", res.Path, tt.want, e.Dir)
			}
			if filepath.Base(res.ManifestPath) != tt.mfName {
				t.Errorf("manifest %s, want %s", filepath.Base(res.ManifestPath), tt.mfName)
			}
			if res.Manifest.Compression != tt.comp || res.Manifest.Encryption != tt.encr {
				t.Errorf("compression %s encryption %q", res.Manifest.Compression, res.Manifest.Encryption)
			}
			// Listed (found through its manifest), never pruned.
			list, err := backup.List(e.Dir)
			if err != nil || len(list) != 1 || list[0].Name != tt.want || list[0].Ours {
				t.Fatalf("List = %+v, %v", list, err)
			}
			plan, err := backup.PlanPrune(list, backup.Policy{}, time.Now().AddDate(5, 0, 0))
			if err != nil || len(plan.Deleted()) != 0 {
				t.Errorf("prune would delete an --output file: %+v", plan)
			}
			// Never overwritten.
			if _, err := e.Backup(ctx, tt.req); !errors.Is(err, backup.ErrInvalidRequest) || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("second backup to the same output = %v", err)
			}
		})
	}
	t.Run("Path", func(t *testing.T) {
		e := f.engine(t)
		e.Dir = t.TempDir()
		out := filepath.Join(t.TempDir(), "elsewhere", "snap.db")
		res := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Compression: backup.CompressionNone, Output: out})
		if res.Path != out {
			t.Errorf("path %s, want %s", res.Path, out)
		}
	})
}

func TestBackup_SameSecondGetsSequence(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t)
	fixed := time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC)
	e.Now = func() time.Time { return fixed }
	var names []string
	for range 3 {
		res := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Compression: backup.CompressionNone})
		names = append(names, filepath.Base(res.Path))
	}
	for _, n := range names {
		if !contractRE.MatchString(n) {
			t.Errorf("%s does not match the contract", n)
		}
	}
	want := []string{
		"campfire_full_test-host_backup_20261127_101500.db",
		"campfire_full_test-host_backup_20261127_101500_2.db",
		"campfire_full_test-host_backup_20261127_101500_3.db",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestBackup_ConcurrentBackupsExclude(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "backups")
	// Hold the lock as another backup would.
	lock, err := backup.LockDir(ctx, dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	e := f.engine(t)
	e.Dir = dir
	e.LockWait = 200 * time.Millisecond
	start := time.Now()
	_, err = e.Backup(ctx, backup.Request{Type: backup.TypeFull})
	if !errors.Is(err, backup.ErrBusy) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("backup while locked = %v, want ErrBusy naming pid %d", err, os.Getpid())
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("gave up after %v, before LockWait", time.Since(start))
	}
	// A waiting backup proceeds once the lock is released.
	e.LockWait = 10 * time.Second
	go func() {
		time.Sleep(300 * time.Millisecond)
		lock.Unlock()
	}()
	if _, err := e.Backup(ctx, backup.Request{Type: backup.TypeFull}); err != nil {
		t.Fatalf("backup after the lock was released: %v", err)
	}

	// Several at once: each either succeeds in turn or fails clearly; the
	// directory ends up with one complete artifact per success.
	var wg sync.WaitGroup
	results := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := f.engine(t)
			e.Dir = dir
			e.LockWait = 30 * time.Second
			_, results[i] = e.Backup(ctx, backup.Request{Type: backup.TypeHot, Verify: true})
		}()
	}
	wg.Wait()
	for i, err := range results {
		if err != nil {
			t.Errorf("concurrent backup %d: %v", i, err)
		}
	}
	list, err := backup.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Errorf("%d backups listed, want 5", len(list))
	}
	for _, e := range list {
		if e.Status != backup.StatusVerified && e.Type == backup.TypeHot {
			t.Errorf("%s: %s %s", e.Name, e.Status, e.Problem)
		}
	}
}

func TestBackup_WhileWriting(t *testing.T) {
	// A backup taken while another goroutine writes continuously restores
	// to a consistent database whose rows match the snapshot moment.
	f := newFixture(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	var posted int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := f.db.CreateMessage(ctx, f.bob.ID, chat.Message{RoomID: f.room.ID, Body: fmt.Sprintf("live %d", i), HTML: "<p>live</p>", Plain: fmt.Sprintf("live %d", i)}); err != nil {
				writeErr = err
				return
			}
			if i%10 == 0 {
				f.db.CreateSession(ctx, f.bob.ID, fmt.Sprintf("tok-%d", i), "", "")
			}
			posted++
		}
	}()
	time.Sleep(50 * time.Millisecond)
	e := f.engine(t)
	res, err := e.Backup(ctx, backup.Request{Type: backup.TypeHot, Verify: true})
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("writer: %v", writeErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	liveDB := openPlain(t, f.path)
	var liveMessages int64
	if err := liveDB.QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&liveMessages); err != nil {
		t.Fatal(err)
	}
	if liveMessages <= m.RowCounts["messages"] {
		t.Fatalf("the writer wrote nothing after the snapshot (live %d, snapshot %d): the test proves nothing", liveMessages, m.RowCounts["messages"])
	}

	target := filepath.Join(t.TempDir(), "restored.db")
	plan, err := backup.PrepareRestore(ctx, res.Path, target, backup.RestoreOptions{BackupDir: e.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	got := countRows(t, target)
	if diff := cmp.Diff(m.RowCounts, got); diff != "" {
		t.Errorf("restored rows differ from the manifest (-manifest +restored):\n%s", diff)
	}
	// Prefix-consistent: every message id up to max_message_id, none above.
	db := openPlain(t, target)
	var n, maxID int64
	if err := db.QueryRow(`SELECT COUNT(*), MAX(id) FROM messages`).Scan(&n, &maxID); err != nil {
		t.Fatal(err)
	}
	if maxID != m.SourcePosition.MaxMessageID || n != maxID {
		t.Errorf("restored %d messages up to id %d; manifest max id %d", n, maxID, m.SourcePosition.MaxMessageID)
	}
	// The same rows as the live database up to that id.
	var liveSum, restoredSum string
	q := `SELECT group_concat(id || ':' || body, ',') FROM (SELECT id, body FROM messages WHERE id <= ? ORDER BY id)`
	liveDB.QueryRow(q, maxID).Scan(&liveSum)
	db.QueryRow(q, maxID).Scan(&restoredSum)
	if liveSum != restoredSum {
		t.Error("restored messages differ from the live ones up to the snapshot's max id")
	}
}

func TestBackup_FileSourceDoesNotMigrateOrChange(t *testing.T) {
	f := newFixture(t)
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	before := sha256File(t, f.path)
	e := &backup.Engine{Source: backup.FileSource(f.path), Dir: t.TempDir(), Host: "h"}
	res := mustBackup(t, e, backup.Request{Type: backup.TypeFull, Verify: true})
	if sha256File(t, f.path) != before {
		t.Error("a backup from the file changed it")
	}
	if res.Manifest.RowCounts["messages"] != 40 {
		t.Errorf("row counts %v", res.Manifest.RowCounts)
	}
	res = mustBackup(t, e, backup.Request{Type: backup.TypeSchema})
	if res.Manifest.SchemaVersion != sqldb.LatestSchemaVersion() {
		t.Errorf("schema version %d", res.Manifest.SchemaVersion)
	}
}

func TestNames(t *testing.T) {
	tm := time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC)
	n := backup.Name{Type: backup.TypeFull, Host: "h", Time: tm, Compression: backup.CompressionZstd, Encryption: backup.EncryptionAge}
	if got := n.String(); got != "campfire_full_h_backup_20261127_101500.db.zst.age" {
		t.Errorf("Name = %s", got)
	}
	n.Seq = 2
	if got := n.String(); got != "campfire_full_h_backup_20261127_101500_2.db.zst.age" {
		t.Errorf("Name with seq = %s", got)
	}
	back, ok := backup.ParseName(n.String())
	if !ok || back != n {
		t.Errorf("ParseName = %+v, %v; want %+v", back, ok, n)
	}
	for _, bad := range []string{"campfire_full_h_backup_20261127_101500.manifest.json", "campfire_full_h_backup_20261127_101500.sql", "campfire_backup_20240101_120000.db.gz", ".campfire-tmp-x", "campfire_full_h_backup_20261127_101500.db.lz4"} {
		if _, ok := backup.ParseName(bad); ok {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
	if got := backup.ManifestPath("/b/campfire_full_h_backup_20261127_101500.db.zst.age"); got != "/b/campfire_full_h_backup_20261127_101500.manifest.json" {
		t.Errorf("ManifestPath = %s", got)
	}
	for in, want := range map[string]string{"web-1.example.com": "web-1.example.com", "my_host": "my-host", "": "localhost", "ünïcode box": "n-code-box", "__": "localhost"} {
		if got := backup.SanitizeHost(in); got != want {
			t.Errorf("SanitizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}
