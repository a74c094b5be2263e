package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// A segment is one immutable piece of continuous backup: the newest
// version of every page that a run of committed transactions wrote, with
// the database's size and checksum after them. Segments are numbered in a
// chain that starts at a full backup (the base); segment n applies on top
// of the base plus segments 1..n-1. A compacted segment covers a range of
// numbers [First, Last] and replaces them.
//
// Stored form: zstd, then age or OpenPGP when configured, of
//
//	"CFSEG001" | uint32 header length | header JSON | pages | SHA-256
//
// where pages are (uint32 page number, page bytes) in page order and the
// SHA-256 covers everything before it, so a damaged or truncated segment
// is refused whatever the compression does with it.
const segmentMagic = "CFSEG001"

// SegmentHeader describes a segment.
type SegmentHeader struct {
	Chain    string `json:"chain"`
	Level    int    `json:"level"`
	First    uint64 `json:"first"`
	Last     uint64 `json:"last"`
	PageSize uint32 `json:"page_size"`
	// MinPages is the smallest database size within the range (pages
	// past it are dropped before the pages are written); DBPages the size
	// after the last transaction.
	MinPages uint32 `json:"min_pages"`
	DBPages  uint32 `json:"db_pages"`
	Commits  int    `json:"commits"`
	// Since is when the previous segment was read: every commit in this
	// one happened in (Since, At]. At is when the WAL was read, not later
	// than any commit's acknowledgement plus the batching delay.
	Since time.Time `json:"since"`
	At    time.Time `json:"at"`
	// Checksum is the database checksum after this segment (see
	// pageSums), as 16 hex digits.
	Checksum string `json:"checksum"`
	Pages    int    `json:"pages"`
}

// segment is a decoded segment.
type segment struct {
	SegmentHeader
	pages map[uint32][]byte
}

// SegmentKey names a segment object: position and time are in the name so
// a restore plans from one listing without opening every object.
//
//	wal/<chain>/<level>/<first 16 hex>-<last 16 hex>_<YYYYMMDDTHHMMSS.mmmZ>.seg.zst[.age|.gpg]
func SegmentKey(h SegmentHeader, enc Encryption) string {
	return path.Join(walPrefix, h.Chain, strconv.Itoa(h.Level),
		fmt.Sprintf("%016x-%016x_%s.seg%s%s", h.First, h.Last, h.At.UTC().Format(segmentTime), CompressionZstd.Ext(), enc.Ext()))
}

const (
	walPrefix   = "wal"
	segmentTime = "20060102T150405.000Z"
)

// segmentRef is a segment known from its object name.
type segmentRef struct {
	Key         string
	Chain       string
	Level       int
	First, Last uint64
	At          time.Time
	Size        int64
}

// parseSegmentKey reads a key written by SegmentKey.
func parseSegmentKey(key string) (segmentRef, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0] != walPrefix {
		return segmentRef{}, false
	}
	r := segmentRef{Key: key, Chain: parts[1]}
	var err error
	if r.Level, err = strconv.Atoi(parts[2]); err != nil {
		return r, false
	}
	name, _, ok := strings.Cut(parts[3], ".seg")
	if !ok {
		return r, false
	}
	rng, at, ok := strings.Cut(name, "_")
	if !ok {
		return r, false
	}
	first, last, ok := strings.Cut(rng, "-")
	if !ok {
		return r, false
	}
	if r.First, err = strconv.ParseUint(first, 16, 64); err != nil {
		return r, false
	}
	if r.Last, err = strconv.ParseUint(last, 16, 64); err != nil || r.Last < r.First {
		return r, false
	}
	if r.At, err = time.Parse(segmentTime, at); err != nil {
		return r, false
	}
	return r, true
}

// encodeSegment returns the plain (uncompressed, unencrypted) bytes of s.
func encodeSegment(s *segment) []byte {
	s.Pages = len(s.pages)
	hdr, _ := json.Marshal(s.SegmentHeader)
	var b bytes.Buffer
	b.Grow(len(segmentMagic) + 4 + len(hdr) + len(s.pages)*(4+int(s.PageSize)) + sha256.Size)
	b.WriteString(segmentMagic)
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(hdr))))
	b.Write(hdr)
	for _, n := range slices.Sorted(maps.Keys(s.pages)) {
		b.Write(binary.BigEndian.AppendUint32(nil, n))
		b.Write(s.pages[n])
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// decodeSegment parses plain segment bytes, checking their SHA-256.
func decodeSegment(b []byte) (*segment, error) {
	if len(b) < len(segmentMagic)+4+sha256.Size || string(b[:len(segmentMagic)]) != segmentMagic {
		return nil, errors.New("not a segment")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("segment checksum mismatch: the segment is damaged")
	}
	rest := body[len(segmentMagic):]
	n := binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(n) > uint64(len(rest)) {
		return nil, errors.New("segment header truncated")
	}
	s := &segment{pages: map[uint32][]byte{}}
	if err := json.Unmarshal(rest[:n], &s.SegmentHeader); err != nil {
		return nil, fmt.Errorf("segment header: %w", err)
	}
	rest = rest[n:]
	ps := int(s.PageSize)
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("segment: bad page size %d", ps)
	}
	if len(rest) != s.Pages*(4+ps) {
		return nil, fmt.Errorf("segment: %d bytes of pages, want %d", len(rest), s.Pages*(4+ps))
	}
	for len(rest) > 0 {
		pg := binary.BigEndian.Uint32(rest)
		s.pages[pg] = rest[4 : 4+ps]
		rest = rest[4+ps:]
	}
	return s, nil
}

// segmentCodec compresses and encrypts segments. One encoder and decoder
// serve every segment: a zstd stream writer per segment would allocate
// megabytes ten times a second.
type segmentCodec struct {
	zenc       *zstd.Encoder
	zdec       *zstd.Decoder
	recipients *Recipients
	identities *Identities
}

func newSegmentCodec(r *Recipients, ids *Identities) (*segmentCodec, error) {
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, err
	}
	return &segmentCodec{zenc: zenc, zdec: zdec, recipients: r, identities: ids}, nil
}

func (c *segmentCodec) encryption() Encryption { return c.recipients.Encryption() }

// seal returns the stored form of plain segment bytes.
func (c *segmentCodec) seal(plain []byte) ([]byte, error) {
	z := c.zenc.EncodeAll(plain, make([]byte, 0, len(plain)/2))
	if c.recipients.Len() == 0 {
		return z, nil
	}
	var out bytes.Buffer
	enc, err := newEncoder(&out, CompressionNone, c.recipients)
	if err != nil {
		return nil, err
	}
	if _, err := enc.Write(z); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// open decodes a stored segment.
func (c *segmentCodec) open(stored []byte) (*segment, error) {
	z := stored
	if sniffEncryption(stored) != EncryptionNone {
		d, err := newDecoder(bytes.NewReader(stored), "", "", false, c.identities)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		// newDecoder also undoes the zstd layer it finds inside.
		plain, err := io.ReadAll(d)
		if err != nil {
			return nil, fmt.Errorf("decrypt segment: %w", err)
		}
		return decodeSegment(plain)
	}
	plain, err := c.zdec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress segment: %w", err)
	}
	return decodeSegment(plain)
}

// pageSums is the rolling checksum of a database, after LiteFS: the XOR of
// CRC-64 (ISO) over each page's number and bytes. Replacing one page costs
// two CRCs, so the backup knows the checksum of the database at every
// position it ships, and a restore recomputes it from the file it built.
type pageSums struct {
	sums  []uint64 // index pgno-1
	total uint64
}

var crcTable = crc64.MakeTable(crc64.ISO)

// pageSum is one page's part of the checksum. In page 1 it skips the
// header fields that a copy is allowed to change (file change counter,
// schema cookie, version-valid-for, SQLite version): the online backup
// API rewrites them in its copy, and in WAL mode they carry no data.
func pageSum(pgno uint32, page []byte) uint64 {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], pgno)
	c := crc64.Update(0, crcTable, n[:])
	if pgno == 1 && len(page) >= 100 {
		c = crc64.Update(c, crcTable, page[:24])
		c = crc64.Update(c, crcTable, page[28:40])
		c = crc64.Update(c, crcTable, page[44:92])
		return crc64.Update(c, crcTable, page[100:])
	}
	return crc64.Update(c, crcTable, page)
}

// set records the new content of page pgno.
func (p *pageSums) set(pgno uint32, page []byte) {
	for uint32(len(p.sums)) < pgno {
		p.sums = append(p.sums, 0)
	}
	s := pageSum(pgno, page)
	p.total ^= p.sums[pgno-1] ^ s
	p.sums[pgno-1] = s
}

// truncate drops the pages past n.
func (p *pageSums) truncate(n uint32) {
	for uint32(len(p.sums)) > n {
		p.total ^= p.sums[len(p.sums)-1]
		p.sums = p.sums[:len(p.sums)-1]
	}
}

// apply applies a batch of pages that leaves the database dbPages long,
// after being minPages long at its smallest, and returns what undoes it.
func (p *pageSums) apply(pages map[uint32][]byte, minPages, dbPages uint32, pageSize int) (undo func()) {
	total, n := p.total, len(p.sums)
	old := map[uint32]uint64{}
	save := func(pgno uint32) {
		if _, ok := old[pgno]; !ok && int(pgno) <= n {
			old[pgno] = p.sums[pgno-1]
		}
	}
	for pgno := minPages + 1; int(pgno) <= n; pgno++ {
		save(pgno) // truncated below
	}
	for pgno := range pages {
		save(pgno)
	}
	p.truncate(minPages)
	for pgno, pg := range pages {
		if pgno <= dbPages {
			p.set(pgno, pg)
		}
	}
	p.truncate(dbPages)
	for uint32(len(p.sums)) < dbPages {
		// A page inside the database that no frame wrote reads as zeros
		// in a file that was extended to hold it.
		p.set(uint32(len(p.sums))+1, make([]byte, pageSize))
	}
	return func() {
		for len(p.sums) < n {
			p.sums = append(p.sums, 0)
		}
		p.sums = p.sums[:n]
		for pgno, v := range old {
			p.sums[pgno-1] = v
		}
		p.total = total
	}
}

func formatSum(v uint64) string { return fmt.Sprintf("%016x", v) }

// sumsOf reads a database image page by page.
func sumsOf(r io.Reader, pageSize int) (*pageSums, error) {
	p := &pageSums{}
	buf := make([]byte, pageSize)
	for pgno := uint32(1); ; pgno++ {
		if _, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) {
				return p, nil
			}
			return nil, fmt.Errorf("checksum: %w", err)
		}
		p.set(pgno, buf)
	}
}
