package web

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/campfire-in-go/campfire/internal/admin"
)

// replicationCollector reports continuous backup at scrape time.
type replicationCollector struct{ cont func() admin.Continuous }

var (
	replLagDesc = prometheus.NewDesc("campfire_backup_replication_lag_seconds",
		"Age of the oldest commit not yet in continuous backup, by destination (local: the backup directory; remote: the off-site copy): the data a loss would cost now.", []string{"destination"}, nil)
	replLastDesc = prometheus.NewDesc("campfire_backup_replication_last_shipped_timestamp_seconds",
		"Unix time of the last continuous-backup segment, by destination.", []string{"destination"}, nil)
	replSegmentsDesc = prometheus.NewDesc("campfire_backup_replication_segments_total",
		"Continuous-backup segments written, by destination.", []string{"destination"}, nil)
	replBytesDesc = prometheus.NewDesc("campfire_backup_replication_bytes_total",
		"Bytes of continuous-backup segments written, by destination.", []string{"destination"}, nil)
	replErrorsDesc = prometheus.NewDesc("campfire_backup_replication_errors_total",
		"Failed continuous-backup writes, by destination.", []string{"destination"}, nil)
	replPendingDesc = prometheus.NewDesc("campfire_backup_replication_pending_segments",
		"Segments written locally and not yet copied off site.", nil, nil)
	replStallDesc = prometheus.NewDesc("campfire_backup_checkpoint_stall_max_seconds",
		"Longest time writers waited for a checkpoint of continuous backup since start.", nil, nil)
	replCheckpointsDesc = prometheus.NewDesc("campfire_backup_checkpoints_total",
		"Checkpoints run by continuous backup.", nil, nil)
)

func (c replicationCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{replLagDesc, replLastDesc, replSegmentsDesc, replBytesDesc, replErrorsDesc, replPendingDesc, replStallDesc, replCheckpointsDesc} {
		ch <- d
	}
}

func (c replicationCollector) Collect(ch chan<- prometheus.Metric) {
	cont := c.cont()
	if cont == nil {
		return
	}
	h := cont.Health()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(replLagDesc, h.LagSeconds, "local")
	if !h.LastShippedAt.IsZero() {
		gauge(replLastDesc, unixSeconds(h.LastShippedAt), "local")
	}
	counter(replSegmentsDesc, float64(h.Segments), "local")
	counter(replBytesDesc, float64(h.Bytes), "local")
	counter(replErrorsDesc, float64(h.Errors), "local")
	gauge(replStallDesc, h.MaxCheckpointStallMS/1000)
	counter(replCheckpointsDesc, float64(h.Checkpoints))
	if o := h.Offsite; o != nil {
		gauge(replLagDesc, o.LagSeconds, "remote")
		if !o.LastUploadAt.IsZero() {
			gauge(replLastDesc, unixSeconds(o.LastUploadAt), "remote")
		}
		counter(replSegmentsDesc, float64(o.Uploads), "remote")
		counter(replBytesDesc, float64(o.Bytes), "remote")
		counter(replErrorsDesc, float64(o.Errors), "remote")
		gauge(replPendingDesc, float64(o.Pending))
	}
}
