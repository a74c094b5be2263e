package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Job is one periodic task.
type Job struct {
	// Name identifies the job in logs, results and Status ("backup_full").
	Name string
	// Spec is a cron expression or descriptor (see the package doc), or
	// Off.
	Spec string
	// Run does the work. Its ctx is cancelled only when Stop gives up
	// waiting, not when the server starts shutting down, so a backup
	// under way can finish.
	Run func(ctx context.Context) error
}

// Result is the outcome of one run of a job.
type Result struct {
	Job      string
	Started  time.Time
	Finished time.Time
	// Err is the job's error, or its panic as an error; nil on success.
	Err error
}

// Options configure a Scheduler.
type Options struct {
	Logger *slog.Logger
	// OnResult receives every run's outcome, after it is logged; it runs
	// on the job's goroutine, so a slow OnResult delays the job's next run.
	OnResult func(ctx context.Context, r Result)
	// Location evaluates the specs; nil means the local time zone.
	Location *time.Location
}

// Scheduler runs jobs on their schedules between Start and Stop.
type Scheduler struct {
	logger   *slog.Logger
	onResult func(context.Context, Result)
	cron     *cron.Cron
	loc      *time.Location
	jobs     []*job

	ctx    context.Context // the jobs' context, cancelled by Stop
	cancel context.CancelFunc

	mu      sync.Mutex // guards the run records of jobs
	started bool
}

// job is a Job with its schedule and run record (under Scheduler.mu).
type job struct {
	Job
	sched cron.Schedule // nil when disabled
	id    cron.EntryID

	running  bool
	last     *Result
	skipped  int64
	finished int64
}

// New validates the jobs: unique names, a Run each, and specs that parse.
// A disabled job is kept (Status reports it) but never runs.
func New(jobs []Job, opts Options) (*Scheduler, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	s := &Scheduler{logger: logger, onResult: opts.OnResult, loc: loc}
	s.cron = cron.New(cron.WithParser(parser), cron.WithLocation(loc), cron.WithLogger(cronLogger{logger: logger}))
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.Name == "" || j.Run == nil {
			return nil, errors.New("schedule: a job needs a name and a Run function")
		}
		if seen[j.Name] {
			return nil, fmt.Errorf("schedule: two jobs named %q", j.Name)
		}
		seen[j.Name] = true
		jb := &job{Job: j}
		jb.Spec = strings.TrimSpace(j.Spec)
		if !Disabled(jb.Spec) {
			sched, err := Parse(jb.Spec)
			if err != nil {
				return nil, fmt.Errorf("schedule of %s %q: %w", j.Name, jb.Spec, err)
			}
			jb.sched = sched
			// Skips are warnings: a job that outlasts its interval is a
			// schedule to fix.
			wrap := cron.SkipIfStillRunning(cronLogger{logger: logger, skip: func() { s.skipped(jb) }})
			jb.id = s.cron.Schedule(sched, wrap(cron.FuncJob(func() { s.run(jb) })))
		} else {
			jb.Spec = Off
		}
		s.jobs = append(s.jobs, jb)
	}
	return s, nil
}

// Start starts running the jobs on their schedules. ctx provides the
// values of the jobs' context; cancelling it does not stop them (Stop
// does).
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.cron.Start()
	for _, j := range s.jobs {
		if j.sched != nil {
			s.logger.Info("scheduled job", "job", j.Name, "spec", j.Spec, "next_run", j.sched.Next(time.Now()))
		}
	}
}

// Stop stops scheduling new runs and waits for running ones until ctx is
// done; then it cancels them, waits a moment for them to return, and
// reports which were still running.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	done := s.cron.Stop()
	select {
	case <-done.Done():
		s.cancel()
		return nil
	case <-ctx.Done():
	}
	running := s.running()
	s.cancel()
	select {
	case <-done.Done():
	case <-time.After(5 * time.Second):
	}
	return fmt.Errorf("scheduled jobs still running at shutdown were cancelled: %s", strings.Join(running, ", "))
}

func (s *Scheduler) running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, j := range s.jobs {
		if j.running {
			names = append(names, j.Name)
		}
	}
	return names
}

func (s *Scheduler) skipped(j *job) {
	s.mu.Lock()
	j.skipped++
	s.mu.Unlock()
	s.logger.Warn("scheduled job still running from its previous run: this run is skipped", "job", j.Name, "spec", j.Spec)
}

// run runs j once, turning a panic into an error, and reports the result.
func (s *Scheduler) run(j *job) {
	s.mu.Lock()
	j.running = true
	ctx := s.ctx
	s.mu.Unlock()

	r := Result{Job: j.Name, Started: time.Now()}
	s.logger.Debug("scheduled job started", "job", j.Name)
	r.Err = call(ctx, j.Run)
	r.Finished = time.Now()

	s.mu.Lock()
	j.running = false
	j.last = &r
	j.finished++
	s.mu.Unlock()

	dur := r.Finished.Sub(r.Started).Round(time.Millisecond)
	if r.Err != nil {
		s.logger.Error("scheduled job failed", "job", j.Name, "duration", dur, "err", r.Err)
	} else {
		s.logger.Info("scheduled job done", "job", j.Name, "duration", dur)
	}
	if s.onResult != nil {
		if err := call(ctx, func(ctx context.Context) error { s.onResult(ctx, r); return nil }); err != nil {
			s.logger.Error("scheduled job: recording the result failed", "job", j.Name, "err", err)
		}
	}
}

// call runs fn, returning a panic as an error with its stack.
func call(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx)
}

// cronLogger passes cron's messages to slog: its routine chatter at debug
// level, a skipped run to skip.
type cronLogger struct {
	logger *slog.Logger
	skip   func()
}

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" && l.skip != nil {
		l.skip()
		return
	}
	l.logger.Debug("cron: "+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.logger.Error("cron: "+msg, append(kv, "err", err)...)
}
