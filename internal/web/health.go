package web

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/campfire-in-go/campfire/internal/monitor"
	"github.com/campfire-in-go/campfire/internal/schedule"
)

// healthTimeout bounds a health check's database round trip, so a stuck
// database answers 503 instead of hanging the load balancer's probe.
const healthTimeout = 2 * time.Second

type healthStatus struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Error   string `json:"error,omitempty"`
}

// handleHealth is liveness plus the database: 200 when it answers, else 503.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.Logger.WarnContext(r.Context(), "health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, healthStatus{Status: "unavailable", Version: s.Version, Error: "database unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, healthStatus{Status: "ok", Version: s.Version})
	return nil
}

// handleLive answers while the process serves HTTP at all.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, healthStatus{Status: "ok", Version: s.Version})
	return nil
}

// handleReady answers 200 when the server can take traffic: the database
// answers and first run is not required to have happened.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	return s.handleHealth(w, r)
}

type detailedHealth struct {
	Status        string         `json:"status"`
	Version       string         `json:"version"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	CheckedAt     time.Time      `json:"checked_at"`
	Database      databaseHealth `json:"database"`
	Disk          []diskHealth   `json:"disk"`
	Process       processHealth  `json:"process"`
	Live          liveHealth     `json:"live"`
	Backups       backupHealth   `json:"backups"`
	// Schedule and Alerts: the backup jobs and the active alerts.
	Schedule []schedule.JobStatus `json:"schedule"`
	Alerts   []monitor.Alert      `json:"alerts"`
}

type databaseHealth struct {
	Status        string  `json:"status"`
	Engine        string  `json:"engine"`
	LatencyMS     float64 `json:"latency_ms"`
	SQLiteVersion string  `json:"sqlite_version,omitempty"`
	SchemaVersion int     `json:"schema_version"`
	FileBytes     int64   `json:"file_bytes"`
	WALBytes      int64   `json:"wal_bytes"`
	Error         string  `json:"error,omitempty"`
}

type diskHealth struct {
	Name       string `json:"name"`
	Path       string `json:"path"`
	FreeBytes  uint64 `json:"free_bytes"`
	TotalBytes uint64 `json:"total_bytes"`
	Error      string `json:"error,omitempty"`
}

type processHealth struct {
	Goroutines    int    `json:"goroutines"`
	HeapBytes     uint64 `json:"heap_bytes"`
	SysBytes      uint64 `json:"sys_bytes"`
	ResidentBytes uint64 `json:"resident_bytes,omitempty"`
	GoVersion     string `json:"go_version"`
}

// liveHealth counts the WebSocket connections.
type liveHealth struct {
	Connections  int    `json:"connections"`
	Rooms        int    `json:"rooms"`
	DroppedTotal uint64 `json:"dropped_total"`
}

// handleHealthDetailed reports real measurements; it never includes secrets
// (no DSN credentials, tokens or keys). 503 when the database is down.
func (s *Server) handleHealthDetailed(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	h := detailedHealth{
		Status:        "ok",
		Version:       s.Version,
		UptimeSeconds: time.Since(s.started).Seconds(),
		CheckedAt:     time.Now().UTC(),
	}
	st, err := s.DB.Stats(ctx)
	h.Database = databaseHealth{
		Status: "ok", Engine: st.Engine, LatencyMS: float64(st.Latency.Microseconds()) / 1000,
		SQLiteVersion: st.SQLiteVersion, SchemaVersion: st.SchemaVersion, FileBytes: st.FileBytes, WALBytes: st.WALBytes,
	}
	status := http.StatusOK
	if err != nil {
		s.Logger.WarnContext(r.Context(), "health check failed", "err", err)
		h.Status, h.Database.Status, h.Database.Error = "unavailable", "unavailable", "database unavailable"
		status = http.StatusServiceUnavailable
	}
	if s.DataDir != "" {
		h.Disk = append(h.Disk, diskUsage("data", s.DataDir))
	}
	var backupDisk *diskHealth
	h.Backups, backupDisk = s.backupStatus(ctx, h.CheckedAt)
	if backupDisk != nil {
		h.Disk = append(h.Disk, *backupDisk)
	}
	h.Schedule, h.Alerts = s.monitoring(ctx)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.Process = processHealth{
		Goroutines: runtime.NumGoroutine(), HeapBytes: ms.HeapAlloc, SysBytes: ms.Sys,
		ResidentBytes: residentBytes(), GoVersion: runtime.Version(),
	}
	hs := s.Hub.Stats()
	h.Live = liveHealth{Connections: hs.Connections, Rooms: hs.Rooms, DroppedTotal: hs.Dropped}
	writeJSON(w, status, h)
	return nil
}
