package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/campfire-in-go/campfire/internal/admin"
	"github.com/campfire-in-go/campfire/internal/live"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// metrics is the server's own Prometheus registry: no global state, so
// several servers (tests) can live in one process.
type metrics struct {
	registry       *prometheus.Registry
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	messagesPosted prometheus.Counter
}

// newMetrics builds the registry; db returns the current database (a
// restore replaces it) and is only called while serving /metrics.
func newMetrics(db func() *sqldb.DB, hub *live.Hub, cont func() admin.Continuous) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "campfire_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "campfire_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		messagesPosted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "campfire_messages_posted_total",
			Help: "Messages posted (idempotent retries not counted).",
		}),
	}
	m.registry.MustRegister(
		m.requests, m.latency, m.messagesPosted,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		dbCollector{db},
		liveCollector{hub},
		backupCollector{db},
		replicationCollector{cont},
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// dbCollector reports the connection pools and the database files.
type dbCollector struct{ db func() *sqldb.DB }

var (
	dbOpenDesc = prometheus.NewDesc("campfire_db_open_connections",
		"Open connections by pool and state.", []string{"pool", "state"}, nil)
	dbWaitDesc = prometheus.NewDesc("campfire_db_wait_total",
		"Times a query waited for a free connection.", []string{"pool"}, nil)
	dbWaitSecondsDesc = prometheus.NewDesc("campfire_db_wait_seconds_total",
		"Time spent waiting for a free connection.", []string{"pool"}, nil)
	dbWALDesc = prometheus.NewDesc("campfire_db_wal_bytes",
		"Size of the SQLite write-ahead log.", nil, nil)
)

func (c dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dbOpenDesc
	ch <- dbWaitDesc
	ch <- dbWaitSecondsDesc
	ch <- dbWALDesc
}

func (c dbCollector) Collect(ch chan<- prometheus.Metric) {
	db := c.db()
	reader, writer := db.PoolStats()
	for pool, s := range map[string]struct {
		inUse, idle int
		waits       int64
		wait        time.Duration
	}{
		"reader": {reader.InUse, reader.Idle, reader.WaitCount, reader.WaitDuration},
		"writer": {writer.InUse, writer.Idle, writer.WaitCount, writer.WaitDuration},
	} {
		ch <- prometheus.MustNewConstMetric(dbOpenDesc, prometheus.GaugeValue, float64(s.inUse), pool, "in_use")
		ch <- prometheus.MustNewConstMetric(dbOpenDesc, prometheus.GaugeValue, float64(s.idle), pool, "idle")
		ch <- prometheus.MustNewConstMetric(dbWaitDesc, prometheus.CounterValue, float64(s.waits), pool)
		ch <- prometheus.MustNewConstMetric(dbWaitSecondsDesc, prometheus.CounterValue, s.wait.Seconds(), pool)
	}
	ch <- prometheus.MustNewConstMetric(dbWALDesc, prometheus.GaugeValue, float64(db.WALSize()))
}

// liveCollector reports the WebSocket hub.
type liveCollector struct{ hub *live.Hub }

var (
	liveConnsDesc = prometheus.NewDesc("campfire_live_connections",
		"Open WebSocket connections.", nil, nil)
	liveRoomsDesc = prometheus.NewDesc("campfire_live_rooms",
		"Rooms with at least one subscribed connection.", nil, nil)
	liveDroppedDesc = prometheus.NewDesc("campfire_live_dropped_total",
		"Connections dropped for falling behind (close 1008, too slow).", nil, nil)
	livePublishedDesc = prometheus.NewDesc("campfire_live_published_total",
		"Live events published.", nil, nil)
)

func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- liveConnsDesc
	ch <- liveRoomsDesc
	ch <- liveDroppedDesc
	ch <- livePublishedDesc
}

func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.hub.Stats()
	ch <- prometheus.MustNewConstMetric(liveConnsDesc, prometheus.GaugeValue, float64(st.Connections))
	ch <- prometheus.MustNewConstMetric(liveRoomsDesc, prometheus.GaugeValue, float64(st.Rooms))
	ch <- prometheus.MustNewConstMetric(liveDroppedDesc, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(livePublishedDesc, prometheus.CounterValue, float64(st.Published))
}
