package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is how an artifact is compressed.
type Compression string

const (
	CompressionNone Compression = "none"
	CompressionZstd Compression = "zstd"
	CompressionGzip Compression = "gzip"
)

// ParseCompression parses a --compress value: "" (the flag without a
// value) and "zstd" mean zstd; "gzip" or "gz"; "none", "off" or "false"
// mean no compression.
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "zstd", "zst", "true":
		return CompressionZstd, nil
	case "gzip", "gz":
		return CompressionGzip, nil
	case "none", "off", "false", "no":
		return CompressionNone, nil
	}
	return "", fail(ErrInvalidRequest, "unknown compression %q: use zstd, gzip or none", s)
}

// Ext is the file name suffix of c.
func (c Compression) Ext() string {
	switch c {
	case CompressionZstd:
		return ".zst"
	case CompressionGzip:
		return ".gz"
	}
	return ""
}

// Encryption is how an artifact is encrypted; "" means not encrypted.
type Encryption string

const (
	EncryptionNone    Encryption = ""
	EncryptionAge     Encryption = "age"
	EncryptionOpenPGP Encryption = "openpgp"
)

// Ext is the file name suffix of e.
func (e Encryption) Ext() string {
	switch e {
	case EncryptionAge:
		return ".age"
	case EncryptionOpenPGP:
		return ".gpg"
	}
	return ""
}

// Recipients are the public keys a backup is encrypted to: either age
// recipients or OpenPGP public keys, never both.
type Recipients struct {
	kind         Encryption
	age          []age.Recipient
	pgp          openpgp.EntityList
	fingerprints []string
}

// ParseRecipients parses recipient specifications, each one of:
//   - age recipients ("age1…", also post-quantum "age1pq1…"), several
//     separated by commas or white space, as CAMPFIRE_BACKUP_AGE_RECIPIENTS
//     holds them;
//   - an armored OpenPGP public key block;
//   - the path of a file holding age recipients (one per line, "#"
//     comments, as age -R reads them) or an OpenPGP public key (armored or
//     binary, as gpg --export writes it).
//
// Files encrypted to OpenPGP keys open with gpg --decrypt.
func ParseRecipients(specs ...string) (*Recipients, error) {
	r := &Recipients{}
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		var err error
		switch {
		case strings.HasPrefix(spec, "-----BEGIN PGP"):
			err = r.addPGP([]byte(spec), "armored key")
		case strings.HasPrefix(spec, "age1"):
			err = r.addAge(strings.Join(strings.FieldsFunc(spec, func(c rune) bool {
				return c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r'
			}), "\n"), "recipient list")
		default:
			data, rerr := os.ReadFile(spec)
			if rerr != nil {
				return nil, fail(ErrInvalidRequest, "recipient %q is neither an age recipient (age1…) nor a readable key file: %w", spec, rerr)
			}
			if isPGPKey(data) {
				err = r.addPGP(data, spec)
			} else {
				err = r.addAge(string(data), spec)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// isPGPKey reports whether data looks like an OpenPGP key: armored, or a
// binary packet (tag byte with the high bit set).
func isPGPKey(data []byte) bool {
	t := bytes.TrimSpace(data)
	return bytes.HasPrefix(t, []byte("-----BEGIN PGP")) || (len(data) > 0 && data[0]&0x80 != 0)
}

func (r *Recipients) setKind(k Encryption) error {
	if r.kind != EncryptionNone && r.kind != k {
		return fail(ErrMixedRecipients, "%s: give either age recipients or OpenPGP keys", ErrMixedRecipients.Message)
	}
	r.kind = k
	return nil
}

func (r *Recipients) addAge(text, source string) error {
	recs, err := age.ParseRecipients(strings.NewReader(text))
	if err != nil {
		return fail(ErrInvalidRequest, "age recipients in %s: %v", source, err)
	}
	if err := r.setKind(EncryptionAge); err != nil {
		return err
	}
	for _, rec := range recs {
		r.age = append(r.age, rec)
		if s, ok := rec.(fmt.Stringer); ok {
			r.fingerprints = append(r.fingerprints, s.String())
		}
	}
	return nil
}

func (r *Recipients) addPGP(data []byte, source string) error {
	keys, err := readKeyRing(data)
	if err != nil {
		return fail(ErrInvalidRequest, "OpenPGP key in %s: %v", source, err)
	}
	if err := r.setKind(EncryptionOpenPGP); err != nil {
		return err
	}
	for _, e := range keys {
		fpr := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
		if _, ok := e.EncryptionKey(time.Now()); !ok {
			return fail(ErrInvalidRequest, "OpenPGP key %s in %s has no valid encryption key (expired, revoked or sign-only)", fpr, source)
		}
		r.pgp = append(r.pgp, e)
		r.fingerprints = append(r.fingerprints, "openpgp:"+fpr)
	}
	return nil
}

func readKeyRing(data []byte) (openpgp.EntityList, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(data))
}

// Len is the number of recipients.
func (r *Recipients) Len() int {
	if r == nil {
		return 0
	}
	return len(r.age) + len(r.pgp)
}

// Encryption is the scheme the recipients use (EncryptionNone when empty).
func (r *Recipients) Encryption() Encryption {
	if r.Len() == 0 {
		return EncryptionNone
	}
	return r.kind
}

// Fingerprints are the public identifiers of the recipients (age
// recipient strings, "openpgp:<fingerprint>"), safe to record.
func (r *Recipients) Fingerprints() []string {
	if r == nil {
		return nil
	}
	return append([]string(nil), r.fingerprints...)
}

// pgpConfig is what we encrypt OpenPGP messages with: AES-256 in the
// SEIPD v1 (MDC) packet every gpg since 1.4 reads, no OpenPGP compression
// (we compress before encrypting).
var pgpConfig = &packet.Config{
	DefaultCipher:          packet.CipherAES256,
	DefaultCompressionAlgo: packet.CompressionNone,
}

// Identities are the private keys that decrypt backups: age identities and
// OpenPGP private keys.
type Identities struct {
	age []age.Identity
	pgp openpgp.EntityList
}

// LoadIdentities reads identity files: age identity files (lines of
// AGE-SECRET-KEY-…, as age-keygen writes them) and OpenPGP private keys
// (armored or binary, as gpg --export-secret-keys writes them).
// passphrase unlocks passphrase-protected OpenPGP keys.
func LoadIdentities(passphrase []byte, paths ...string) (*Identities, error) {
	ids := &Identities{}
	for _, p := range paths {
		if strings.TrimSpace(p) == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fail(ErrInvalidRequest, "identity file: %w", err)
		}
		more, err := ParseIdentities(data, passphrase)
		if err != nil {
			return nil, fail(ErrInvalidRequest, "identity file %s: %w", p, err)
		}
		ids.Add(more)
	}
	return ids, nil
}

// ParseIdentities parses the contents of one identity file (see
// LoadIdentities).
func ParseIdentities(data []byte, passphrase []byte) (*Identities, error) {
	ids := &Identities{}
	if isPGPKey(data) {
		keys, err := readKeyRing(data)
		if err != nil {
			return nil, fmt.Errorf("OpenPGP key: %v", err)
		}
		for _, e := range keys {
			if e.PrivateKey == nil {
				return nil, fmt.Errorf("OpenPGP key %X is a public key; decryption needs the private key", e.PrimaryKey.Fingerprint)
			}
			if locked(e) {
				if len(passphrase) == 0 {
					return nil, fmt.Errorf("OpenPGP key %X is protected by a passphrase; none was given", e.PrimaryKey.Fingerprint)
				}
				if err := e.DecryptPrivateKeys(passphrase); err != nil {
					return nil, fmt.Errorf("OpenPGP key %X: wrong passphrase (%v)", e.PrimaryKey.Fingerprint, err)
				}
			}
		}
		ids.pgp = keys
		return ids, nil
	}
	a, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not an age identity file or OpenPGP private key: %v", err)
	}
	ids.age = a
	return ids, nil
}

func locked(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && e.PrivateKey.Encrypted {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && s.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// Add adds other's identities to ids.
func (ids *Identities) Add(other *Identities) {
	if other == nil {
		return
	}
	ids.age = append(ids.age, other.age...)
	ids.pgp = append(ids.pgp, other.pgp...)
}

// AddAge adds age identities (e.g. generated in a test).
func (ids *Identities) AddAge(a ...age.Identity) { ids.age = append(ids.age, a...) }

// Len is the number of identities.
func (ids *Identities) Len() int {
	if ids == nil {
		return 0
	}
	return len(ids.age) + len(ids.pgp)
}

// encoder stacks the compression and encryption writers over dst. Closing
// it flushes both (dst itself is not closed).
type encoder struct {
	compress io.WriteCloser // nil without compression
	encrypt  io.WriteCloser // nil without encryption
	head     io.Writer
}

func newEncoder(dst io.Writer, c Compression, r *Recipients) (*encoder, error) {
	e := &encoder{head: dst}
	var err error
	switch r.Encryption() {
	case EncryptionAge:
		e.encrypt, err = age.Encrypt(dst, r.age...)
	case EncryptionOpenPGP:
		e.encrypt, err = openpgp.Encrypt(dst, r.pgp, nil, &openpgp.FileHints{IsBinary: true}, pgpConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("start encryption: %w", err)
	}
	if e.encrypt != nil {
		e.head = e.encrypt
	}
	switch c {
	case CompressionZstd:
		// Leave a core to the server when there are several.
		e.compress, err = zstd.NewWriter(e.head,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(max(1, runtime.GOMAXPROCS(0)-1)))
	case CompressionGzip:
		e.compress, err = gzip.NewWriterLevel(e.head, gzip.DefaultCompression)
	case CompressionNone, "":
	default:
		err = fmt.Errorf("unknown compression %q", c)
	}
	if err != nil {
		return nil, fmt.Errorf("start compression: %w", err)
	}
	if e.compress != nil {
		e.head = e.compress
	}
	return e, nil
}

func (e *encoder) Write(p []byte) (int, error) { return e.head.Write(p) }

func (e *encoder) Close() error {
	if e.compress != nil {
		if err := e.compress.Close(); err != nil {
			return fmt.Errorf("finish compression: %w", err)
		}
	}
	if e.encrypt != nil {
		if err := e.encrypt.Close(); err != nil {
			return fmt.Errorf("finish encryption: %w", err)
		}
	}
	return nil
}

// Magic numbers of the layers an artifact may have.
var (
	sqliteMagic = []byte("SQLite format 3\x00")
	zstdMagic   = []byte{0x28, 0xb5, 0x2f, 0xfd}
	gzipMagic   = []byte{0x1f, 0x8b}
	ageMagic    = []byte("age-encryption.org/v1\n")
	ageArmor    = []byte("-----BEGIN AGE ENCRYPTED FILE-----")
	pgpArmor    = []byte("-----BEGIN PGP MESSAGE-----")
)

// sniffEncryption guesses the encryption of a stream from its first bytes.
func sniffEncryption(head []byte) Encryption {
	switch {
	case bytes.HasPrefix(head, ageMagic), bytes.HasPrefix(head, ageArmor):
		return EncryptionAge
	case bytes.HasPrefix(head, pgpArmor):
		return EncryptionOpenPGP
	case len(head) > 0 && head[0]&0x80 != 0 && !bytes.HasPrefix(head, zstdMagic) && !bytes.HasPrefix(head, gzipMagic):
		return EncryptionOpenPGP
	}
	return EncryptionNone
}

// sniffCompression guesses the compression of a stream from its first
// bytes.
func sniffCompression(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		return CompressionZstd
	case bytes.HasPrefix(head, gzipMagic):
		return CompressionGzip
	}
	return CompressionNone
}

// decoder undoes encryption and compression. The layers come from the
// manifest when there is one (want), else from the stream's magic numbers;
// a stream whose magic contradicts the manifest is refused.
type decoder struct {
	r       io.Reader
	closers []func()
}

func newDecoder(src io.Reader, wantEnc Encryption, wantComp Compression, known bool, ids *Identities) (*decoder, error) {
	d := &decoder{}
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(64)
	enc := sniffEncryption(head)
	if known && enc != wantEnc {
		return nil, fmt.Errorf("the manifest says encryption %q but the file starts like %q", orNone(string(wantEnc)), orNone(string(enc)))
	}
	var r io.Reader = br
	switch enc {
	case EncryptionAge:
		if ids.Len() == 0 || len(ids.age) == 0 {
			return nil, fail(ErrNoIdentity, "%s", ErrNoIdentity.Message)
		}
		if bytes.HasPrefix(head, ageArmor) {
			r = armor.NewReader(r)
		}
		dr, err := age.Decrypt(r, ids.age...)
		if err != nil {
			var nomatch *age.NoIdentityMatchError
			if errors.As(err, &nomatch) {
				return nil, fail(ErrNoIdentity, "backup is encrypted with age and none of the %d identities given can decrypt it", len(ids.age))
			}
			return nil, fmt.Errorf("age: %w", err)
		}
		r = dr
	case EncryptionOpenPGP:
		if ids.Len() == 0 || len(ids.pgp) == 0 {
			return nil, fail(ErrNoIdentity, "%s", ErrNoIdentity.Message)
		}
		if bytes.HasPrefix(head, pgpArmor) {
			block, err := pgparmor.Decode(r)
			if err != nil {
				return nil, fmt.Errorf("OpenPGP armor: %w", err)
			}
			r = block.Body
		}
		md, err := openpgp.ReadMessage(r, ids.pgp, nil, pgpConfig)
		if err != nil {
			if errors.Is(err, pgperrors.ErrKeyIncorrect) {
				return nil, fail(ErrNoIdentity, "backup is encrypted with OpenPGP and none of the %d keys given can decrypt it", len(ids.pgp))
			}
			return nil, fmt.Errorf("OpenPGP: %w", err)
		}
		r = md.UnverifiedBody
	}
	br2 := bufio.NewReaderSize(r, 64<<10)
	head2, _ := br2.Peek(16)
	comp := sniffCompression(head2)
	if known && comp != wantComp && !(wantComp == "" && comp == CompressionNone) {
		return nil, fmt.Errorf("the manifest says compression %q but the data starts like %q", wantComp, comp)
	}
	r = br2
	switch comp {
	case CompressionZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		d.closers = append(d.closers, zr.Close)
		r = zr
	case CompressionGzip:
		gr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		d.closers = append(d.closers, func() { gr.Close() })
		r = gr
	}
	d.r = r
	return d, nil
}

func (d *decoder) Read(p []byte) (int, error) { return d.r.Read(p) }

func (d *decoder) Close() {
	for _, c := range d.closers {
		c()
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
