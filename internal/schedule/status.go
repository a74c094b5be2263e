package schedule

import (
	"strings"
	"time"
)

// Result values of JobStatus.LastResult.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// JobStatus is a job as /health/detailed shows it.
type JobStatus struct {
	Job  string `json:"job"`
	Spec string `json:"spec"`
	// NextRun is null for a disabled job.
	NextRun *time.Time `json:"next_run"`
	// LastRun is when the last finished run started; null before one.
	LastRun    *time.Time `json:"last_run"`
	LastResult string     `json:"last_result,omitempty"` // ResultSuccess, ResultFailure
	// LastError is the first line of the last run's error.
	LastError    string `json:"last_error,omitempty"`
	Running      bool   `json:"running"`
	Runs         int64  `json:"runs"`
	SkippedTotal int64  `json:"skipped_total"`
}

// Status reports every job, in the order given to New.
func (s *Scheduler) Status() []JobStatus {
	now := time.Now().In(s.loc)
	// Asked before taking s.mu: cron answers from its own goroutine.
	// Its Next is exact for @every, which counts from the start.
	next := map[*job]time.Time{}
	for _, j := range s.jobs {
		if j.sched != nil {
			if e := s.cron.Entry(j.id); e.Valid() && !e.Next.IsZero() {
				next[j] = e.Next
			} else {
				next[j] = j.sched.Next(now) // not started yet
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]JobStatus, 0, len(s.jobs))
	for _, j := range s.jobs {
		st := JobStatus{Job: j.Name, Spec: j.Spec, Running: j.running, Runs: j.finished, SkippedTotal: j.skipped}
		if n, ok := next[j]; ok {
			st.NextRun = &n
		}
		if j.last != nil {
			started := j.last.Started
			st.LastRun = &started
			st.LastResult = ResultSuccess
			if j.last.Err != nil {
				st.LastResult = ResultFailure
				st.LastError, _, _ = strings.Cut(j.last.Err.Error(), "\n")
			}
		}
		out = append(out, st)
	}
	return out
}
