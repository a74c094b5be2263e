package web

import (
	"context"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// Backups on /metrics and /health/detailed come from the audit log in the
// database (sqldb.BackupSummary), so backups the command line took while
// no server ran count as much as the server's own.

// backupCollector reports the audit log's summary at scrape time.
type backupCollector struct{ db func() *sqldb.DB }

var (
	backupLastSuccessDesc = prometheus.NewDesc("campfire_backup_last_success_timestamp_seconds",
		"Unix time the last successful backup of each type finished.", []string{"type"}, nil)
	backupDurationDesc = prometheus.NewDesc("campfire_backup_duration_seconds",
		"How long the last successful backup of each type took.", []string{"type"}, nil)
	backupSizeDesc = prometheus.NewDesc("campfire_backup_size_bytes",
		"Stored size of the last successful backup of each type.", []string{"type"}, nil)
	backupFailuresDesc = prometheus.NewDesc("campfire_backup_failures_total",
		"Failed backups of each type.", []string{"type"}, nil)
	backupLastVerifiedDesc = prometheus.NewDesc("campfire_backup_last_verify_success_timestamp_seconds",
		"Unix time of the last successful verification of a backup.", nil, nil)
	backupLastDrillDesc = prometheus.NewDesc("campfire_backup_last_drill_timestamp_seconds",
		"Unix time of the last restore drill, by result (success or failure).", []string{"status"}, nil)
	backupEventsDesc = prometheus.NewDesc("campfire_backup_events_total",
		"Backups, verifications, prunes and restores in the audit log, by action and status.", []string{"action", "status"}, nil)
)

// backupTypes always get a failures series, so that rate() and increase()
// work from the first failure on.
var backupTypes = []string{string(backup.TypeFull), string(backup.TypeHot), string(backup.TypeSchema)}

func (c backupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backupLastSuccessDesc
	ch <- backupDurationDesc
	ch <- backupSizeDesc
	ch <- backupFailuresDesc
	ch <- backupLastVerifiedDesc
	ch <- backupLastDrillDesc
	ch <- backupEventsDesc
}

func (c backupCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	sum, err := c.db().BackupSummary(ctx)
	if err != nil {
		return // the database is down: /health says so; the scrape still works
	}
	for typ, e := range sum.LastSuccess {
		ch <- prometheus.MustNewConstMetric(backupLastSuccessDesc, prometheus.GaugeValue, unixSeconds(e.FinishedAt), typ)
		ch <- prometheus.MustNewConstMetric(backupDurationDesc, prometheus.GaugeValue, float64(e.DurationMS)/1000, typ)
		ch <- prometheus.MustNewConstMetric(backupSizeDesc, prometheus.GaugeValue, float64(e.Bytes), typ)
	}
	types := slices.Clone(backupTypes)
	for typ := range sum.Failures {
		if !slices.Contains(types, typ) {
			types = append(types, typ)
		}
	}
	for _, typ := range types {
		ch <- prometheus.MustNewConstMetric(backupFailuresDesc, prometheus.CounterValue, float64(sum.Failures[typ]), typ)
	}
	if sum.LastVerified != nil {
		ch <- prometheus.MustNewConstMetric(backupLastVerifiedDesc, prometheus.GaugeValue, unixSeconds(sum.LastVerified.FinishedAt))
	}
	if d := sum.LastDrill; d != nil {
		ch <- prometheus.MustNewConstMetric(backupLastDrillDesc, prometheus.GaugeValue, unixSeconds(d.FinishedAt), d.Status)
	}
	for action, byStatus := range sum.Counts {
		for status, n := range byStatus {
			ch <- prometheus.MustNewConstMetric(backupEventsDesc, prometheus.CounterValue, float64(n), action, status)
		}
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// backupHealth is the backups section of /health/detailed.
type backupHealth struct {
	// Configured is true when the server has a backup directory and it
	// exists (the first backup creates it).
	Configured bool   `json:"configured"`
	Dir        string `json:"dir,omitempty"`
	// Count is the number of backups in the directory (every type).
	Count int `json:"count"`
	// LastFull is when the last successful full backup finished,
	// LastFullAgeSeconds how long ago (null without one).
	LastFull           *time.Time `json:"last_full"`
	LastFullAgeSeconds *float64   `json:"last_full_age_seconds"`
	LastHot            *time.Time `json:"last_hot"`
	// LastIncremental is the last segment of continuous backup, and
	// ReplicationLagSeconds the age of the oldest commit not yet shipped
	// (off site too, when a destination is configured): the actual RPO.
	// Both null when continuous backup is off.
	LastIncremental       *time.Time `json:"last_incremental"`
	ReplicationLagSeconds *float64   `json:"replication_lag_seconds"`
	LastVerified          *time.Time `json:"last_verified"`
	// LastDrill is the newest restore drill (campfire backup drill, the
	// daily verify job): when, whether it passed, what it compared.
	LastDrill *struct {
		At     time.Time `json:"at"`
		Status string    `json:"status"`
		Detail string    `json:"detail"`
	} `json:"last_drill"`
	LastFailure *struct {
		At     time.Time `json:"at"`
		Action string    `json:"action"`
		Type   string    `json:"type"`
		Detail string    `json:"detail"`
	} `json:"last_failure"`
	FailuresTotal int64  `json:"failures_total"`
	Error         string `json:"error,omitempty"`
	// Remote is the off-site destination's last self-test (serve runs
	// one at start); null without a destination or before it finished.
	Remote *admin.RemoteCheck `json:"remote"`
	// Continuous is continuous backup's state (null when off), and
	// Restorable the window point-in-time restore covers: from the
	// oldest full backup a chain starts from to the last shipped commit
	// (campfire restore --list checks every segment of it).
	Continuous *backup.ReplicationHealth `json:"continuous"`
	Restorable *struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
	} `json:"restorable"`
}

// backupStatus fills the backups section; disk is the backup directory's
// disk usage when it exists.
func (s *Server) backupStatus(ctx context.Context, now time.Time) (backupHealth, *diskHealth) {
	var h backupHealth
	var disk *diskHealth
	if s.Backups != nil {
		h.Remote = s.Backups.RemoteStatus()
	}
	if s.Backups != nil && s.Backups.Config.Dir != "" {
		dir := s.Backups.Config.Dir
		h.Dir = dir
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			h.Configured = true
			d := diskUsage("backups", dir)
			disk = &d
			if entries, err := backup.List(dir); err != nil {
				h.Error = "cannot list the backup directory"
			} else {
				h.Count = len(entries)
				s.continuousStatus(&h, entries)
			}
		}
	}
	sum, err := s.DB.BackupSummary(ctx)
	if err != nil {
		if h.Error == "" {
			h.Error = "cannot read the backup audit log"
		}
		return h, disk
	}
	if e := sum.LastSuccess[string(backup.TypeFull)]; e != nil {
		t := e.FinishedAt
		age := now.Sub(t).Seconds()
		h.LastFull, h.LastFullAgeSeconds = &t, &age
	}
	if e := sum.LastSuccess[string(backup.TypeHot)]; e != nil {
		t := e.FinishedAt
		h.LastHot = &t
	}
	if e := sum.LastVerified; e != nil {
		t := e.FinishedAt
		h.LastVerified = &t
	}
	if e := sum.LastDrill; e != nil {
		h.LastDrill = &struct {
			At     time.Time `json:"at"`
			Status string    `json:"status"`
			Detail string    `json:"detail"`
		}{e.FinishedAt, e.Status, e.Detail}
	}
	if e := sum.LastFailure; e != nil {
		h.LastFailure = &struct {
			At     time.Time `json:"at"`
			Action string    `json:"action"`
			Type   string    `json:"type"`
			Detail string    `json:"detail"`
		}{e.FinishedAt, e.Action, e.Type, e.Detail}
	}
	for _, n := range sum.Failures {
		h.FailuresTotal += n
	}
	return h, disk
}

// continuousStatus fills the continuous backup part of h.
func (s *Server) continuousStatus(h *backupHealth, entries []backup.Entry) {
	if s.Backups.Continuous == nil {
		return
	}
	c := s.Backups.Continuous.Health()
	h.Continuous = &c
	if !c.LastShippedAt.IsZero() {
		t := c.LastShippedAt
		h.LastIncremental = &t
	}
	lag := c.LagSeconds
	if c.Offsite != nil {
		lag = max(lag, c.Offsite.LagSeconds)
	}
	h.ReplicationLagSeconds = &lag
	var from time.Time
	for _, e := range entries {
		if e.Manifest != nil && e.Manifest.Chain != nil && (from.IsZero() || e.CreatedAt.Before(from)) {
			from = e.CreatedAt
		}
	}
	if !from.IsZero() {
		to := from
		if c.LastShippedAt.After(from) {
			to = c.LastShippedAt
		}
		h.Restorable = &struct {
			From time.Time `json:"from"`
			To   time.Time `json:"to"`
		}{from, to}
	}
}
