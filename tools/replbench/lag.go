package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// segmentTime is the time in a segment's name:
// <first>-<last>_<YYYYMMDDTHHMMSS.mmmZ>.seg.zst
const segmentTime = "20060102T150405.000Z"

// newestSegmentAt returns the At of the newest level-0 segment in the
// backup directory (zero when none): the last file name of the newest
// chain, in name order, which is segment order.
func newestSegmentAt(backups string) time.Time {
	chains, err := os.ReadDir(filepath.Join(backups, "wal"))
	if err != nil || len(chains) == 0 {
		return time.Time{}
	}
	var newest time.Time
	// Chains are named by their start time; look at the last one or two.
	for _, c := range chains[max(0, len(chains)-2):] {
		segs, err := os.ReadDir(filepath.Join(backups, "wal", c.Name(), "0"))
		if err != nil {
			continue
		}
		for i := len(segs) - 1; i >= 0; i-- {
			if at, ok := segmentAt(segs[i].Name()); ok {
				if at.After(newest) {
					newest = at
				}
				break
			}
		}
	}
	return newest
}

func segmentAt(name string) (time.Time, bool) {
	i := strings.IndexByte(name, '_')
	j := strings.Index(name, ".seg")
	if i < 0 || j < i {
		return time.Time{}, false
	}
	at, err := time.Parse(segmentTime, name[i+1:j])
	return at, err == nil
}

// newestMtime returns the newest modification time of a file under dir:
// for Litestream's file replica, when it last wrote an LTX file.
func newestMtime(dir string) time.Time {
	var newest time.Time
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return nil
	})
	return newest
}

// lagSampler notes every interval how far the newest acknowledgement is
// ahead of the newest shipped state: the data a crash at that moment would
// lose (0 when everything acknowledged was shipped).
type lagSampler struct {
	mu      sync.Mutex
	samples []time.Duration
	stopCh  chan struct{}
	done    chan struct{}
}

func startLag(l *load, from time.Time, every time.Duration, shipped func() time.Time) *lagSampler {
	ls := &lagSampler{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(ls.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ls.stopCh:
				return
			case now := <-t.C:
				if now.Before(from) {
					continue
				}
				last := l.lastAck.Load()
				if last == 0 {
					continue
				}
				lag := time.Duration(0)
				if s := shipped(); !s.IsZero() {
					lag = max(0, time.Unix(0, last).Sub(s))
				} else {
					lag = time.Unix(0, last).Sub(l.start)
				}
				ls.mu.Lock()
				ls.samples = append(ls.samples, lag)
				ls.mu.Unlock()
			}
		}
	}()
	return ls
}

func (ls *lagSampler) stop() []time.Duration {
	close(ls.stopCh)
	<-ls.done
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.samples
}
