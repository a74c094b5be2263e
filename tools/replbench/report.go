package main

import (
	"fmt"
	"io"
	"sort"
)

// printTables prints the runs and their medians as Markdown tables.
func printTables(w io.Writer, out *output) {
	m := out.Machine
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s, kernel %s, load %s\nlitestream: %s\n\n", m.NumCPU, m.CPU, m.Go, m.Kernel, m.LoadAvg, m.Litestream)
	if len(out.Runs) > 0 {
		printRuns(w, out.Runs)
		printSummary(w, out.Runs)
	}
	if out.PITR != nil {
		printPITR(w, out.PITR)
	}
	if len(out.Ckpt) > 0 {
		printCkpt(w, out.Ckpt)
	}
}

func printCkpt(w io.Writer, rs []*ckptResult) {
	fmt.Fprintln(w, "\n| checkpoint policy | run | msg/s | p50 ms | p99 ms | checkpoints | messages per checkpoint | max stall ms | segments |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d | %.0f | %.2f | %.2f | %d | %.0f | %.0f | %d |\n", r.Config, r.Rep, r.PerSec, r.P50ms, r.P99ms, r.Checkpoints, r.PerCkpt, r.MaxStallms, r.Segments)
	}
	by := map[string][]float64{}
	var order []string
	for _, r := range rs {
		if _, ok := by[r.Config]; !ok {
			order = append(order, r.Config)
		}
		by[r.Config] = append(by[r.Config], r.PerSec)
	}
	off := median(by["off"])
	for _, c := range order {
		fmt.Fprintf(w, "median %s: %.0f msg/s, × off %.2f\n", c, median(by[c]), ratio(median(by[c]), off))
	}
}

func printRuns(w io.Writer, runs []*runResult) {
	fmt.Fprintln(w, "| mode | rate | run | msg/s | p50 ms | p99 ms | due p99 ms | missed | errors | lag p50 ms | lag p99 ms | lost acked | loss window ms | holes | restore s | server CPU s/1k | litestream CPU s/1k | replica files | replica MiB | other CPU | log problems |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range runs {
		lost, win, holes, rs := "–", "–", "–", "–"
		if l := r.Loss; l != nil {
			if l.Err != "" {
				lost = "FAILED"
			} else {
				lost, win, holes, rs = fmt.Sprint(l.Lost), fmt.Sprintf("%.0f", l.WindowMS), fmt.Sprint(l.Holes), fmt.Sprintf("%.2f", l.RestoreSec)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.2f | %.2f | %.1f | %d | %d | %.0f | %.0f | %s | %s | %s | %s | %.3f | %.3f | %d | %.1f | %.2f | %d |\n",
			r.Mode, rateName(r.Rate), r.Rep, r.Load.PerSec, r.Load.P50ms, r.Load.P99ms, r.Load.DueP99ms, r.Load.Missed, r.Load.Errors,
			r.LagP50ms, r.LagP99ms, lost, win, holes, rs, r.CPUPer1kServer, r.CPUPer1kLS, r.ReplicaFiles, float64(r.ReplicaBytes)/(1<<20), r.OtherCPU, r.LogProblems)
	}
	for _, r := range runs {
		if r.FirstProblem != "" {
			fmt.Fprintf(w, "\n%s %s run %d logged: %s\n", r.Mode, rateName(r.Rate), r.Rep, r.FirstProblem)
		}
		if r.Loss != nil && r.Loss.Err != "" {
			fmt.Fprintf(w, "\n%s %s run %d restore failed: %s\n", r.Mode, rateName(r.Rate), r.Rep, r.Loss.Err)
		}
	}
	fmt.Fprintln(w)
}

func rateName(r float64) string {
	if r == 0 {
		return "max"
	}
	return fmt.Sprintf("%g/s", r)
}

// printSummary gives per rate and mode the medians, and the ratios of
// mode on (and litestream) to mode off measured in the same invocation.
func printSummary(w io.Writer, runs []*runResult) {
	type key struct {
		rate float64
		mode string
	}
	groups := map[key][]*runResult{}
	var rates []float64
	seen := map[float64]bool{}
	for _, r := range runs {
		k := key{r.Rate, r.Mode}
		groups[k] = append(groups[k], r)
		if !seen[r.Rate] {
			seen[r.Rate] = true
			rates = append(rates, r.Rate)
		}
	}
	sort.Float64s(rates)
	med := func(rs []*runResult, f func(*runResult) (float64, bool)) float64 {
		var xs []float64
		for _, r := range rs {
			if x, ok := f(r); ok {
				xs = append(xs, x)
			}
		}
		return median(xs)
	}
	fmt.Fprintln(w, "medians | rate | mode | runs | msg/s | × off | p50 ms | × off | p99 ms | × off | lag p50 | lag p99 | loss p50 ms | loss max ms | lost acked (sum) | restore s | server CPU s/1k | litestream CPU s/1k |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, rate := range rates {
		off := groups[key{rate, modeOff}]
		offRate := med(off, func(r *runResult) (float64, bool) { return r.Load.PerSec, true })
		offP50 := med(off, func(r *runResult) (float64, bool) { return r.Load.P50ms, true })
		offP99 := med(off, func(r *runResult) (float64, bool) { return r.Load.P99ms, true })
		for _, mode := range []string{modeOff, modeOn, modeLitestream} {
			rs := groups[key{rate, mode}]
			if len(rs) == 0 {
				continue
			}
			perSec := med(rs, func(r *runResult) (float64, bool) { return r.Load.PerSec, true })
			p50 := med(rs, func(r *runResult) (float64, bool) { return r.Load.P50ms, true })
			p99 := med(rs, func(r *runResult) (float64, bool) { return r.Load.P99ms, true })
			var wins []float64
			lost := 0
			for _, r := range rs {
				if r.Loss != nil && r.Loss.Err == "" {
					wins = append(wins, r.Loss.WindowMS)
					lost += r.Loss.Lost
				}
			}
			lossP50, lossMax, lostS := "–", "–", "–"
			if len(wins) > 0 {
				lossP50, lossMax, lostS = fmt.Sprintf("%.0f", median(wins)), fmt.Sprintf("%.0f", maxOf(wins)), fmt.Sprint(lost)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %s | %s | %s | %.2f | %.3f | %.3f |\n",
				rateName(rate), mode, len(rs), perSec, ratio(perSec, offRate), p50, ratio(p50, offP50), p99, ratio(p99, offP99),
				med(rs, func(r *runResult) (float64, bool) { return r.LagP50ms, r.LagSamples > 0 }),
				med(rs, func(r *runResult) (float64, bool) { return r.LagP99ms, r.LagSamples > 0 }),
				lossP50, lossMax, lostS,
				med(rs, func(r *runResult) (float64, bool) {
					if r.Loss == nil || r.Loss.Err != "" {
						return 0, false
					}
					return r.Loss.RestoreSec, true
				}),
				med(rs, func(r *runResult) (float64, bool) { return r.CPUPer1kServer, true }),
				med(rs, func(r *runResult) (float64, bool) { return r.CPUPer1kLS, mode == modeLitestream }))
		}
	}
	fmt.Fprintln(w)
}

func printPITR(w io.Writer, p *pitrResult) {
	fmt.Fprintf(w, "PITR: database %.1f MiB, base %.1f MiB in %.1f s; %d messages in %d segments (%.1f MiB), %d checkpoints, %s → %s; target %s\n",
		float64(p.DBBytes)/(1<<20), float64(p.BaseBytes)/(1<<20), p.BaseSeconds, p.Messages, p.Segments,
		float64(p.SegmentBytes)/(1<<20), p.Checkpoints, p.From, p.To, p.Target)
	fmt.Fprintf(w, "restore --to-time: %v s, median %.2f\nrestore latest:    %v s, median %.2f\n", p.ToTime, median(p.ToTime), p.Latest, median(p.Latest))
	fmt.Fprintln(w, "| split run | plan s | base (decode+verify) s | apply s | segments | ms per 1k segments | fsync+checksum s | quick_check etc. s | total s |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for i, s := range p.Splits {
		fmt.Fprintf(w, "| %d | %.2f | %.2f | %.2f | %d | %.0f | %.2f | %.2f | %.2f |\n", i+1, s.Plan, s.Base, s.Apply, s.Segments, s.Apply1k, s.Checksum, s.Checks, s.Total)
	}
	if p.Err != "" {
		fmt.Fprintf(w, "error: %s\n", p.Err)
	}
}
