package web

import (
	"context"

	"github.com/campfire-in-go/campfire/internal/monitor"
	"github.com/campfire-in-go/campfire/internal/schedule"
)

// Monitoring is what the backup scheduler and the monitor report on
// /health/detailed; a nil func reports an empty list.
type Monitoring struct {
	// Schedule returns the scheduled jobs with their next and last runs.
	Schedule func() []schedule.JobStatus
	// Alerts checks the backups now and returns the active alerts.
	Alerts func(ctx context.Context) []monitor.Alert
}

// monitoring fills the schedule and alerts of /health/detailed: lists,
// never null, so scripts can count them.
func (s *Server) monitoring(ctx context.Context) ([]schedule.JobStatus, []monitor.Alert) {
	jobs, alerts := []schedule.JobStatus{}, []monitor.Alert{}
	if f := s.Monitoring.Schedule; f != nil {
		if j := f(); j != nil {
			jobs = j
		}
	}
	if f := s.Monitoring.Alerts; f != nil {
		if a := f(ctx); a != nil {
			alerts = a
		}
	}
	return jobs, alerts
}
