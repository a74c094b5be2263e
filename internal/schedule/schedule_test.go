package schedule

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	utc := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		spec    string
		wantErr string
		next    time.Time // from utc, when the spec is in UTC
	}{
		{spec: "CRON_TZ=UTC 0 2 * * *", next: time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)},
		{spec: "TZ=UTC 30 3 * * *", next: time.Date(2026, 11, 28, 3, 30, 0, 0, time.UTC)},
		{spec: "CRON_TZ=UTC 0 3 * * 0", next: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}, // a Sunday
		{spec: "CRON_TZ=UTC */5 * * * *", next: time.Date(2026, 11, 27, 10, 35, 0, 0, time.UTC)},
		{spec: "CRON_TZ=UTC @daily", next: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		{spec: "@every 1h", next: utc.Add(time.Hour)},
		{spec: "  0 2 * * *  "},
		{spec: "@weekly"},
		{spec: "0 9-17 * * 1-5"},
		{spec: "", wantErr: "empty schedule"},
		{spec: "0 2 * *", wantErr: "expected exactly 5 fields"},
		{spec: "0 0 2 * * *", wantErr: "expected exactly 5 fields"},
		{spec: "61 2 * * *", wantErr: "above maximum"},
		{spec: "0 2 * * mon-funday", wantErr: "failed to parse"},
		{spec: "@sometimes", wantErr: "unrecognized descriptor"},
		{spec: "@every soon", wantErr: "failed to parse duration"},
		{spec: "CRON_TZ=Mars/Olympus 0 2 * * *", wantErr: "bad location"},
		{spec: "TZ=UTC", wantErr: "needs a schedule after it"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tt.spec, err, tt.wantErr)
			}
			if err := Validate(tt.spec); err == nil {
				t.Errorf("Validate(%q) = nil, want an error", tt.spec)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.spec, err)
			continue
		}
		if !tt.next.IsZero() {
			if got := s.Next(utc); !got.Equal(tt.next) {
				t.Errorf("Parse(%q).Next(%s) = %s, want %s", tt.spec, utc, got, tt.next)
			}
		}
	}
	for _, off := range []string{"off", "OFF", " Off "} {
		if !Disabled(off) || Validate(off) != nil {
			t.Errorf("%q should disable a job", off)
		}
	}
}

func TestNewRejects(t *testing.T) {
	run := func(context.Context) error { return nil }
	for name, jobs := range map[string][]Job{
		"bad spec":  {{Name: "a", Spec: "every day", Run: run}},
		"duplicate": {{Name: "a", Spec: "@daily", Run: run}, {Name: "a", Spec: "@daily", Run: run}},
		"no run":    {{Name: "a", Spec: "@daily"}},
	} {
		if _, err := New(jobs, Options{}); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// syncBuffer is a log sink safe for the jobs' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunsAndReports(t *testing.T) {
	var logs syncBuffer
	results := make(chan Result, 10)
	var n atomic.Int32
	s, err := New([]Job{
		{Name: "tick", Spec: "@every 1s", Run: func(ctx context.Context) error {
			switch n.Add(1) {
			case 1:
				return nil
			case 2:
				return errors.New("disk full")
			default:
				panic("boom")
			}
		}},
		{Name: "never", Spec: "off", Run: func(context.Context) error { t.Error("a disabled job ran"); return nil }},
	}, Options{
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnResult: func(_ context.Context, r Result) { results <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if len(st) != 2 || st[0].NextRun == nil || st[1].Spec != Off || st[1].NextRun != nil || st[0].LastRun != nil {
		t.Fatalf("Status before start = %+v", st)
	}
	s.Start(t.Context())
	var got []Result
	for len(got) < 3 {
		select {
		case r := <-results:
			got = append(got, r)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d results after 10s", len(got))
		}
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got[0].Err != nil || got[0].Job != "tick" || got[0].Finished.Before(got[0].Started) {
		t.Errorf("first result = %+v, want success", got[0])
	}
	if got[1].Err == nil || got[1].Err.Error() != "disk full" {
		t.Errorf("second result = %+v, want the job's error", got[1])
	}
	if got[2].Err == nil || !strings.HasPrefix(got[2].Err.Error(), "panic: boom") {
		t.Errorf("third result = %+v, want the panic as an error", got[2])
	}
	st = s.Status()
	if st[0].LastRun == nil || st[0].LastResult == "" || st[0].Runs < 3 {
		t.Errorf("Status after runs = %+v", st[0])
	}
	if l := logs.String(); !strings.Contains(l, "scheduled job failed") || !strings.Contains(l, "disk full") {
		t.Errorf("log lacks the failure:\n%s", l)
	}
}

func TestSkipsOverlappingRuns(t *testing.T) {
	var logs syncBuffer
	release := make(chan struct{})
	var runs, concurrent, maxConcurrent atomic.Int32
	s, err := New([]Job{{Name: "slow", Spec: "@every 1s", Run: func(ctx context.Context) error {
		runs.Add(1)
		c := concurrent.Add(1)
		defer concurrent.Add(-1)
		if c > maxConcurrent.Load() {
			maxConcurrent.Store(c)
		}
		<-release
		return nil
	}}}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(t.Context())
	deadline := time.Now().Add(10 * time.Second)
	for s.Status()[0].SkippedTotal < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no skipped runs after 10s: %+v", s.Status()[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !s.Status()[0].Running {
		t.Error("Status does not show the job running")
	}
	close(release)
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 1 || maxConcurrent.Load() != 1 {
		t.Errorf("runs = %d, max concurrent = %d; want 1 and 1", runs.Load(), maxConcurrent.Load())
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "this run is skipped") || !strings.Contains(l, "job=slow") {
		t.Errorf("skips not logged as warnings:\n%s", l)
	}
}

func TestStopWaitsForRunningJob(t *testing.T) {
	started := make(chan struct{})
	var finished atomic.Bool
	s, err := New([]Job{{Name: "backup", Spec: "@every 1s", Run: func(ctx context.Context) error {
		select {
		case started <- struct{}{}:
		default:
			return nil
		}
		time.Sleep(500 * time.Millisecond)
		finished.Store(ctx.Err() == nil)
		return nil
	}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Cancelling Start's context (a shutdown signal) does not cancel the job.
	ctx, cancel := context.WithCancel(t.Context())
	s.Start(ctx)
	<-started
	cancel()
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Error("Stop returned before the running job finished, or the job saw its context cancelled")
	}
}

func TestStopGivesUpAtDeadline(t *testing.T) {
	started := make(chan struct{}, 1)
	s, err := New([]Job{{Name: "stuck", Spec: "@every 1s", Run: func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(t.Context())
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = s.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "stuck") {
		t.Fatalf("Stop = %v, want an error naming the stuck job", err)
	}
	if st := s.Status()[0]; st.Running || st.LastResult != ResultFailure {
		t.Errorf("after Stop: %+v, want the cancelled run recorded as failed", st)
	}
}
