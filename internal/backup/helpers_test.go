package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
	"github.com/campfire-in-go/campfire/internal/sqldb/sqldbtest"
)

var ctx = context.Background()

// contractRE is the file name contract of DESIGN.md.
var contractRE = regexp.MustCompile(`^campfire_(full|hot|schema|incremental|safety)_[A-Za-z0-9.-]+_backup_\d{8}_\d{6}(_\d+)?\.db(\.zst|\.gz)?(\.age|\.gpg)?$`)

// needTool returns the path of a command-line tool, or skips the test
// naming the Debian package that has it (fails under
// CAMPFIRE_TEST_REQUIRE_ALL=1).
func needTool(tb testing.TB, name, pkg string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CAMPFIRE_TEST_REQUIRE_ALL") == "1" {
			tb.Fatalf("%s not found: install the Debian package %s", name, pkg)
		}
		tb.Skipf("%s not found; install the Debian package %s", name, pkg)
	}
	return p
}

// fixture is a small live database with rows in every core table.
type fixture struct {
	db    *sqldb.DB
	path  string
	admin *chat.User
	bob   *chat.User
	room  *chat.Room
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "data", "campfire.db")
	return newFixtureAt(tb, path)
}

func newFixtureAt(tb testing.TB, path string) *fixture {
	tb.Helper()
	db := sqldbtest.MustOpenFile(tb, path, nil)
	f := &fixture{db: db, path: path}
	f.admin, f.room = sqldbtest.MustFirstRun(tb, db)
	f.bob = sqldbtest.MustSignUp(tb, db, "Bob")
	closed := sqldbtest.MustCreateRoom(tb, db, f.admin.ID, "Ops", chat.RoomClosed, f.bob.ID)
	sqldbtest.MustCreateSession(tb, db, f.bob.ID, "bob-token")
	for i := range 40 {
		author, room := f.admin.ID, f.room.ID
		if i%3 == 0 {
			author, room = f.bob.ID, closed.ID
		}
		m := sqldbtest.MustPost(tb, db, author, room, fmt.Sprintf("fixture message %d about backups", i))
		if i%5 == 0 {
			if _, _, err := db.CreateBoost(ctx, f.admin.ID, m.ID, "👍"); err != nil {
				tb.Fatalf("boost: %v", err)
			}
		}
	}
	return f
}

// post adds n messages as the admin.
func (f *fixture) post(tb testing.TB, n int, prefix string) {
	tb.Helper()
	for i := range n {
		sqldbtest.MustPost(tb, f.db, f.admin.ID, f.room.ID, fmt.Sprintf("%s %d", prefix, i))
	}
}

func (f *fixture) engine(tb testing.TB) *backup.Engine {
	tb.Helper()
	return &backup.Engine{Source: f.db, Dir: filepath.Join(filepath.Dir(filepath.Dir(f.path)), "backups"), Host: "test-host", AppVersion: "test"}
}

func mustBackup(tb testing.TB, e *backup.Engine, req backup.Request) *backup.Result {
	tb.Helper()
	res, err := e.Backup(ctx, req)
	if err != nil {
		tb.Fatalf("Backup(%+v): %v", req, err)
	}
	return res
}

func sha256File(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// openPlain opens a plain SQLite file read-only.
func openPlain(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func countRows(tb testing.TB, path string) map[string]int64 {
	tb.Helper()
	db := openPlain(tb, path)
	defer db.Close()
	c, err := sqldb.CountRows(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// ageKey makes an age identity and writes it to a file as age-keygen does.
func ageKey(tb testing.TB) (*age.X25519Identity, string) {
	tb.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "age-key.txt")
	text := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().Format(time.RFC3339), id.Recipient(), id)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	return id, path
}

// pgpKey makes an OpenPGP key (EdDSA + cv25519, which gpg 2.2 reads) and
// writes the armored public and private keys to files. A non-empty
// passphrase protects the private key.
func pgpKey(tb testing.TB, email, passphrase string) (pub, priv string, fpr string) {
	tb.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}
	e, err := openpgp.NewEntity("Campfire Test", "", email, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	var pubBuf bytes.Buffer
	w, _ := armor.Encode(&pubBuf, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		tb.Fatal(err)
	}
	w.Close()
	var privBuf bytes.Buffer
	w, _ = armor.Encode(&privBuf, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		tb.Fatal(err)
	}
	w.Close()
	if passphrase != "" {
		if err := e.EncryptPrivateKeys([]byte(passphrase), nil); err != nil {
			tb.Fatal(err)
		}
		privBuf.Reset()
		w, _ = armor.Encode(&privBuf, openpgp.PrivateKeyType, nil)
		if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
			tb.Fatal(err)
		}
		w.Close()
	}
	pub = filepath.Join(dir, "pub.asc")
	priv = filepath.Join(dir, "priv.asc")
	if err := os.WriteFile(pub, pubBuf.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(priv, privBuf.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	return pub, priv, fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
}

func identities(tb testing.TB, passphrase string, files ...string) *backup.Identities {
	tb.Helper()
	ids, err := backup.LoadIdentities([]byte(passphrase), files...)
	if err != nil {
		tb.Fatalf("LoadIdentities: %v", err)
	}
	return ids
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

// fill grows the database at path (which may be open in sqldb) to at least
// mb MiB of chat-like messages from userID in roomID, through a connection
// of its own in large transactions.
func fill(tb testing.TB, path string, userID, roomID int64, mb int) {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TEMP TABLE vocab (id INTEGER PRIMARY KEY, w TEXT)`); err != nil {
		tb.Fatal(err)
	}
	// A Zipf-ish vocabulary: short common words, longer rare ones.
	if _, err := db.Exec(`INSERT INTO vocab (id, w)
		WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 4999)
		SELECT i, lower(hex(randomblob(1 + i / 1000))) FROM c`); err != nil {
		tb.Fatal(err)
	}
	// The c.i term makes the subquery correlated, so SQLite draws new
	// words for every row instead of once per statement.
	word := `(SELECT w FROM vocab WHERE id = (c.i * 0 + abs(random())) % (1 + abs(random()) % 5000))`
	body := strings.Repeat(word+" || ' ' || ", 11) + word
	insert := `INSERT INTO messages (room_id, creator_id, client_id, body, html, plain, created_at, updated_at)
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000),
		b(i, t) AS (SELECT i, ` + body + ` FROM c)
		SELECT ?, ?, 'fill-' || ? || '-' || i, t, '<p>' || t || '</p>', t, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z' FROM b`
	for batch := 0; ; batch++ {
		var pages, size int64
		if err := db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
			tb.Fatal(err)
		}
		if err := db.QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
			tb.Fatal(err)
		}
		if pages*size >= int64(mb)<<20 {
			break
		}
		if _, err := db.Exec(insert, roomID, userID, strconv.Itoa(batch)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)); err != nil {
			tb.Fatal(err)
		}
		if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			tb.Fatal(err)
		}
	}
}
