package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/campfire-in-go/campfire/internal/backup"
)

// restoreTimeLayouts are the --to-time forms accepted in local time; RFC
// 3339 (with its zone) is accepted too.
var restoreTimeLayouts = []string{
	time.DateTime, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", time.DateOnly,
}

// parseRestoreTime reads a --to-time value.
func parseRestoreTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, l := range restoreTimeLayouts {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErrorf(`--to-time %q: want "YYYY-MM-DD HH:MM:SS" (local time) or RFC 3339 such as 2024-01-02T15:04:05Z`, s)
}

// hasChain reports whether dir holds a full backup that starts a chain of
// continuous backup.
func hasChain(dir string) bool {
	entries, err := backup.List(dir)
	return err == nil && chainIn(entries)
}

// chainIn reports whether a full backup among entries starts a chain.
func chainIn(entries []backup.Entry) bool {
	for _, en := range entries {
		if en.Manifest != nil && en.Manifest.Chain != nil {
			return true
		}
	}
	return false
}

// printWindows lists what point-in-time restore can reach.
func printWindows(w io.Writer, ws []backup.Window) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintln(w, "\nPoint-in-time restore (campfire restore --to-time \"YYYY-MM-DD HH:MM:SS\"), to any moment of:")
	for _, win := range ws {
		state := "open"
		if win.Closed {
			state = "closed"
		}
		fmt.Fprintf(w, "  %s → %s  chain %s (%s): %d full %s, %d segments\n",
			win.From.Local().Format("2006-01-02 15:04:05.000"), win.To.Local().Format("2006-01-02 15:04:05.000"),
			win.Chain, state, win.Bases, plural(win.Bases, "backup", "backups"), win.Segments)
		if win.Problem != "" {
			fmt.Fprintf(w, "    NOT RESTORABLE past %s: %s\n", win.To.Local().Format("2006-01-02 15:04:05.000"), win.Problem)
		}
	}
}

// printPointInTime describes the roll-forward of a point-in-time plan.
func printPointInTime(w io.Writer, p *backup.Plan) {
	pt := p.PointInTime
	if pt == nil {
		return
	}
	target := "the last shipped commit"
	if !pt.Target.IsZero() {
		target = pt.Target.Local().Format("2006-01-02 15:04:05.000")
	}
	fmt.Fprintf(w, "  to      %s: %d segments of chain %s applied, up to position %d (%s), checksum %s matches\n",
		target, len(pt.Segments), pt.Chain, pt.Seq, pt.At.Local().Format("2006-01-02 15:04:05.000"), pt.Checksum)
}
