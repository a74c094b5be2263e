package backup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// The SQLite WAL file format (sqlite.org/fileformat.html, "The WAL file
// format"): a 32-byte header, then frames of a 24-byte header and one page.
// Continuous backup reads it directly: frames are valid only up to the
// first one whose salts or cumulative checksum do not match, and only
// frames up to the last commit frame (commit size != 0) are committed.
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
	walMagicLE         = 0x377f0682
	walMagicBE         = 0x377f0683
)

// walHeader is the WAL file's header.
type walHeader struct {
	order    binary.ByteOrder // of the checksums, from the magic
	PageSize uint32
	CkptSeq  uint32
	Salt1    uint32
	Salt2    uint32
	Sum1     uint32
	Sum2     uint32
}

// walPos is a position in one WAL: frames read so far under its salts,
// and the cumulative checksum after the last of them.
type walPos struct {
	Salt1  uint32 `json:"salt1"`
	Salt2  uint32 `json:"salt2"`
	Frames int64  `json:"frames"`
	Sum1   uint32 `json:"-"`
	Sum2   uint32 `json:"-"`
}

// walBatch is what a read of the WAL found past a position: the newest
// version of every page written by the committed transactions, and the
// position after the last commit frame.
type walBatch struct {
	Pages    map[uint32][]byte
	DBPages  uint32 // database size in pages after the last commit
	MinPages uint32 // the smallest size any commit of the batch left
	Commits  int
	End      walPos
	Bytes    int64 // WAL bytes consumed
}

var errWALReset = errors.New("the WAL was reset")

// readWALHeader reads the header of the WAL at path. A missing or empty
// WAL has no header: ok is false then.
func readWALHeader(f *os.File) (h walHeader, ok bool, err error) {
	var b [walHeaderSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return h, false, nil
		}
		return h, false, err
	}
	switch binary.BigEndian.Uint32(b[0:]) {
	case walMagicLE:
		h.order = binary.LittleEndian
	case walMagicBE:
		h.order = binary.BigEndian
	default:
		return h, false, fmt.Errorf("WAL: bad magic %#x", binary.BigEndian.Uint32(b[0:]))
	}
	h.PageSize = binary.BigEndian.Uint32(b[8:])
	if h.PageSize == 1 {
		h.PageSize = 65536
	}
	h.CkptSeq = binary.BigEndian.Uint32(b[12:])
	h.Salt1 = binary.BigEndian.Uint32(b[16:])
	h.Salt2 = binary.BigEndian.Uint32(b[20:])
	h.Sum1 = binary.BigEndian.Uint32(b[24:])
	h.Sum2 = binary.BigEndian.Uint32(b[28:])
	s1, s2 := walChecksum(h.order, b[:24], 0, 0)
	if s1 != h.Sum1 || s2 != h.Sum2 {
		// A header being rewritten; the next read sees it whole.
		return h, false, nil
	}
	return h, true, nil
}

// start is the position before the first frame of the WAL with header h.
func (h walHeader) start() walPos {
	return walPos{Salt1: h.Salt1, Salt2: h.Salt2, Sum1: h.Sum1, Sum2: h.Sum2}
}

// walChecksum continues SQLite's WAL checksum over b (a multiple of 8
// bytes) from s1, s2.
func walChecksum(order binary.ByteOrder, b []byte, s1, s2 uint32) (uint32, uint32) {
	for i := 0; i+8 <= len(b); i += 8 {
		s1 += order.Uint32(b[i:]) + s2
		s2 += order.Uint32(b[i+4:]) + s1
	}
	return s1, s2
}

// openWAL opens the WAL of the database at dbPath; a missing file is
// (nil, nil).
func openWAL(dbPath string) (*os.File, error) {
	f, err := os.Open(dbPath + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// readWAL reads the committed frames after pos, at most maxBytes of WAL
// (cut at a commit, but always at least one transaction). The salts of pos
// must be the header's: otherwise the WAL was restarted since and the
// result is errWALReset. A frame at pos that no longer carries pos's
// checksum chain means the same.
func readWAL(f *os.File, h walHeader, pos walPos, maxBytes int64) (*walBatch, error) {
	if pos.Salt1 != h.Salt1 || pos.Salt2 != h.Salt2 {
		return nil, errWALReset
	}
	ps := int64(h.PageSize)
	frameSize := walFrameHeaderSize + ps
	b := &walBatch{Pages: map[uint32][]byte{}, End: pos}
	pending := map[uint32][]byte{}
	cur := pos
	buf := make([]byte, frameSize)
	for {
		off := walHeaderSize + cur.Frames*frameSize
		if _, err := f.ReadAt(buf, off); err != nil {
			if errors.Is(err, io.EOF) {
				return b, nil
			}
			return nil, err
		}
		salt1 := binary.BigEndian.Uint32(buf[8:])
		salt2 := binary.BigEndian.Uint32(buf[12:])
		if salt1 != h.Salt1 || salt2 != h.Salt2 {
			return b, nil // a frame left over from before a restart
		}
		s1, s2 := walChecksum(h.order, buf[:8], cur.Sum1, cur.Sum2)
		s1, s2 = walChecksum(h.order, buf[walFrameHeaderSize:], s1, s2)
		if s1 != binary.BigEndian.Uint32(buf[16:]) || s2 != binary.BigEndian.Uint32(buf[20:]) {
			return b, nil // end of the valid frames
		}
		cur.Frames++
		cur.Sum1, cur.Sum2 = s1, s2
		pgno := binary.BigEndian.Uint32(buf[0:])
		pending[pgno] = append([]byte(nil), buf[walFrameHeaderSize:]...)
		if commit := binary.BigEndian.Uint32(buf[4:]); commit != 0 {
			for n, p := range pending {
				b.Pages[n] = p
			}
			clear(pending)
			b.DBPages = commit
			if b.Commits == 0 || commit < b.MinPages {
				b.MinPages = commit
			}
			// A shrinking database drops the pages past its end.
			for n := range b.Pages {
				if n > commit {
					delete(b.Pages, n)
				}
			}
			b.Commits++
			b.Bytes += (cur.Frames - b.End.Frames) * frameSize
			b.End = cur
			if b.Bytes >= maxBytes {
				return b, nil
			}
		}
	}
}

// walSalt1 reads salt 1 of the header of dbPath's WAL (ok false when there
// is no whole header).
func walSalt1(dbPath string) (uint32, bool) {
	f, err := openWAL(dbPath)
	if err != nil || f == nil {
		return 0, false
	}
	defer f.Close()
	h, ok, err := readWALHeader(f)
	if err != nil || !ok {
		return 0, false
	}
	return h.Salt1, true
}
