package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/campfire-in-go/campfire/internal/monitor"
	"github.com/campfire-in-go/campfire/internal/schedule"
	"github.com/campfire-in-go/campfire/internal/web"
)

func TestHealthDetailedScheduleAndAlerts(t *testing.T) {
	t.Parallel()
	var body struct {
		Schedule []schedule.JobStatus `json:"schedule"`
		Alerts   []monitor.Alert      `json:"alerts"`
	}
	// Without a scheduler: empty lists, not null.
	e := newEnv(t)
	r := e.anon().call(http.StatusOK, "GET", "/health/detailed", nil, &body)
	if body.Schedule == nil || body.Alerts == nil || len(body.Schedule)+len(body.Alerts) != 0 {
		t.Errorf("without a scheduler: %s", r.Body)
	}

	next := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	e = newEnv(t, func(s *web.Server) {
		s.Monitoring = web.Monitoring{
			Schedule: func() []schedule.JobStatus {
				return []schedule.JobStatus{{Job: "backup_full", Spec: "0 2 * * *", NextRun: &next}}
			},
			Alerts: func(context.Context) []monitor.Alert {
				return []monitor.Alert{{Key: monitor.KeyNoFullBackup, Summary: "no full backup in the backup directory"}}
			},
		}
	})
	e.anon().call(http.StatusOK, "GET", "/health/detailed", nil, &body)
	if len(body.Schedule) != 1 || body.Schedule[0].Job != "backup_full" || !body.Schedule[0].NextRun.Equal(next) {
		t.Errorf("schedule = %+v", body.Schedule)
	}
	if len(body.Alerts) != 1 || body.Alerts[0].Key != monitor.KeyNoFullBackup {
		t.Errorf("alerts = %+v", body.Alerts)
	}
}
