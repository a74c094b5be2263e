// Command fanout measures live fan-out over WebSockets: N clients connect to
// a target, posters send messages at a fixed total rate, and every client
// notes when each message arrives. It reports delivery latency (from the
// start of the POST to receipt, per client), delivered messages per second,
// and messages lost (expected N×posted − received, after a grace period).
//
// Two targets take the same measurement:
//
//	baseline  tools/wsbaseline, the least possible server: POST /post with
//	          a raw body, GET /ws
//	campfire  POST /api/rooms/{id}/messages with a Bearer token; GET /ws,
//	          subscribe to the room, read message_created frames
//
// Against a server running on its own (traffic stays on loopback):
//
//	go run ./tools/wsbaseline -addr 127.0.0.1:8090 &
//	go run ./tools/fanout -target baseline -url http://127.0.0.1:8090 -pid PID -n 1000 -r 100 -d 10s
//	go run ./tools/fanout -target campfire -url http://127.0.0.1:3000 -token T -room 1 -pid PID -n 1000
//
// With -self the target runs in this process (campfire on a temporary
// database, set up over HTTP), so one command needs nothing else.
// -target both alternates the two, -runs times, and prints the medians and
// campfire's ratio to the baseline. Campfire sends about 2.7 KB per short
// message (JSON plus the rendered fragment), so -pad 2600 gives the
// baseline frames of the same size:
//
//	go run ./tools/fanout -self -target both -pad 2600 -n 1000 -runs 3
//
// Memory mode holds -idle idle connections open and reports the target's
// resident memory growth per connection, read from /proc/<pid>/status. With
// -self that process is this one, clients included, so for a fair figure
// run a freshly started target separately and pass its -pid:
//
//	go run ./tools/fanout -target baseline -url http://127.0.0.1:8090 -pid PID -idle 10000
//
// Every run is bounded (connections, messages, -timeout) and ends by
// itself. Progress goes to stderr; the summary to stdout, as a table or
// with -json.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"text/tabwriter"
	"time"
)

// Bounds keep a typo from opening a million sockets or running for a day.
const (
	maxClients  = 20_000
	maxIdle     = 50_000
	maxMessages = 1_000_000 // posts per run
	maxReceipts = 200_000_000
	maxDuration = 10 * time.Minute
)

// config is the command line.
type config struct {
	Target   string        `json:"target"`
	URL      string        `json:"url"`
	Token    string        `json:"-"`
	Room     int64         `json:"room,omitempty"`
	Self     bool          `json:"self"`
	Clients  int           `json:"clients"`
	Posters  int           `json:"posters"`
	Rate     float64       `json:"rate"`
	Duration time.Duration `json:"duration_ns"`
	Grace    time.Duration `json:"grace_ns"`
	Settle   time.Duration `json:"settle_ns"`
	Pad      int           `json:"pad,omitempty"`
	Runs     int           `json:"runs"`
	Idle     int           `json:"idle,omitempty"`
	Hold     time.Duration `json:"hold_ns,omitempty"`
	Sub      bool          `json:"subscribe_idle,omitempty"`
	PID      int           `json:"pid,omitempty"`
	DialConc int           `json:"dial_concurrency"`
	JSON     bool          `json:"-"`
	Timeout  time.Duration `json:"-"`
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	fs.StringVar(&c.Target, "target", "baseline", "server kind: baseline, campfire, or both (with -self: alternate runs, report medians and ratios)")
	fs.StringVar(&c.URL, "url", "", "base URL of a running target on loopback, e.g. http://127.0.0.1:8090")
	fs.StringVar(&c.Token, "token", "", "campfire: API token of a member of -room (posts and WebSockets use it)")
	fs.Int64Var(&c.Room, "room", 0, "campfire: room id to subscribe to and post in")
	fs.BoolVar(&c.Self, "self", false, "start the target in this process instead of using -url")
	fs.IntVar(&c.Clients, "n", 100, "WebSocket clients receiving")
	fs.IntVar(&c.Posters, "p", 4, "concurrent posters sharing the rate")
	fs.Float64Var(&c.Rate, "r", 100, "messages posted per second, in total")
	fs.DurationVar(&c.Duration, "d", 10*time.Second, "posting time")
	fs.IntVar(&c.Pad, "pad", 0, "baseline: pad each body to about this many bytes (campfire sends about 2.7 KB per short message; -pad 2600 gives the baseline the same)")
	fs.IntVar(&c.Runs, "runs", 1, "repeat the measurement and report the median of each figure")
	fs.DurationVar(&c.Grace, "grace", 5*time.Second, "wait at most this long after the last post for deliveries")
	fs.DurationVar(&c.Settle, "settle", time.Second, "pause after connecting, before posting or measuring memory")
	fs.IntVar(&c.Idle, "idle", 0, "memory mode: open this many idle connections and report target memory per connection")
	fs.DurationVar(&c.Hold, "hold", 0, "memory mode: keep the connections open this long after measuring")
	fs.BoolVar(&c.Sub, "subscribe", false, "memory mode, campfire: subscribe each idle connection to -room")
	fs.IntVar(&c.PID, "pid", 0, "process id of the target, for its memory and CPU time (default with -self: this process)")
	fs.IntVar(&c.DialConc, "dial-concurrency", 64, "WebSocket handshakes in flight while connecting")
	fs.BoolVar(&c.JSON, "json", false, "print the result as JSON")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, c.validate()
}

func (c *config) validate() error {
	switch c.Target {
	case "baseline":
	case "campfire":
		if !c.Self && (c.Token == "" || c.Room <= 0) {
			return errors.New("-target campfire needs -token and -room (or -self)")
		}
	case "both":
		if !c.Self {
			return errors.New("-target both needs -self")
		}
	default:
		return fmt.Errorf("-target %q: want baseline, campfire or both", c.Target)
	}
	if c.Runs < 1 || c.Runs > 50 {
		return errors.New("-runs must be in [1, 50]")
	}
	if c.Self == (c.URL != "") {
		return errors.New("give exactly one of -url and -self")
	}
	if c.URL != "" {
		if err := loopbackURL(c.URL); err != nil {
			return err
		}
	}
	if c.DialConc < 1 || c.DialConc > 1024 {
		return errors.New("-dial-concurrency must be in [1, 1024]")
	}
	switch {
	case c.Idle < 0 || c.Idle > maxIdle:
		return fmt.Errorf("-idle must be in [0, %d]", maxIdle)
	case c.Idle > 0:
		if !c.Self && c.PID <= 0 {
			return errors.New("-idle needs -pid of the target (or -self)")
		}
		return nil
	case c.Clients < 1 || c.Clients > maxClients:
		return fmt.Errorf("-n must be in [1, %d]", maxClients)
	case c.Posters < 1 || c.Posters > 1000:
		return errors.New("-p must be in [1, 1000]")
	case c.Rate <= 0:
		return errors.New("-r must be positive")
	case c.Duration <= 0 || c.Duration > maxDuration:
		return fmt.Errorf("-d must be in (0, %s]", maxDuration)
	case c.Grace < 0 || c.Grace > maxDuration:
		return fmt.Errorf("-grace must be in [0, %s]", maxDuration)
	case c.Pad < 0 || c.Pad > 60_000:
		return errors.New("-pad must be in [0, 60000]")
	}
	if m := c.messages(); m < 1 || m > maxMessages {
		return fmt.Errorf("-r × -d = %d messages; must be in [1, %d]", m, maxMessages)
	}
	if int64(c.Clients)*int64(c.messages()) > maxReceipts {
		return fmt.Errorf("-n × -r × -d is over %d deliveries", maxReceipts)
	}
	return nil
}

// messages is how many posts the schedule holds.
func (c *config) messages() int {
	return int(c.Rate * c.Duration.Seconds())
}

// loopbackURL refuses anything but plain HTTP to this machine: the tool
// opens thousands of connections and must never aim them elsewhere.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("-url %q: want http://127.0.0.1:PORT", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: only loopback targets are allowed", raw)
	}
	return nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	rep, err := runAll(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
	if cfg.JSON {
		err = writeJSON(os.Stdout, cfg, rep)
	} else {
		err = writeReport(os.Stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

// report is every run of every target, and each target's medians.
type report struct {
	Runs    map[string][]*result `json:"runs"`
	Medians map[string]*result   `json:"medians"`
	Ratio   map[string]float64   `json:"ratio,omitempty"` // campfire ÷ baseline medians, with -target both
	order   []string
}

// runAll does cfg.Runs measurements of each target, alternating targets so
// that a change in the machine's load hits both alike.
func runAll(ctx context.Context, cfg config) (*report, error) {
	targets := []string{cfg.Target}
	if cfg.Target == "both" {
		targets = []string{"baseline", "campfire"}
	}
	rep := &report{Runs: map[string][]*result{}, Medians: map[string]*result{}, order: targets}
	for i := range cfg.Runs {
		for _, t := range targets {
			c := cfg
			c.Target = t
			if cfg.Runs > 1 || len(targets) > 1 {
				progress("run %d of %d: %s", i+1, cfg.Runs, t)
			}
			res, err := run(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t, err)
			}
			rep.Runs[t] = append(rep.Runs[t], res)
		}
	}
	for _, t := range targets {
		rep.Medians[t] = median(rep.Runs[t])
	}
	if len(targets) == 2 {
		rep.Ratio = ratios(rep.Medians["campfire"], rep.Medians["baseline"])
	}
	return rep, nil
}

// run sets up the target and does one measurement.
func run(ctx context.Context, cfg config) (*result, error) {
	conns := cfg.Clients
	if cfg.Idle > 0 {
		conns = cfg.Idle
	}
	if cfg.Self {
		conns *= 2 // both ends of every connection are in this process
	}
	if err := raiseFileLimit(conns + 256); err != nil {
		return nil, err
	}

	var tgt target
	if cfg.Self {
		s, err := startSelf(ctx, cfg.Target)
		if err != nil {
			return nil, err
		}
		defer s.stop()
		tgt = s.target
		if cfg.PID == 0 {
			cfg.PID = os.Getpid()
		}
	} else {
		tgt = newTarget(cfg.Target, cfg.URL, cfg.Token, cfg.Room)
	}
	progress("target %s at %s", cfg.Target, tgt.base())

	if cfg.Idle > 0 {
		return measureIdle(ctx, cfg, tgt)
	}
	return measureRate(ctx, cfg, tgt)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fanout: "+format+"\n", args...)
}

// raiseFileLimit makes room for n open descriptors. Go already lifts the
// soft limit to the hard one at start-up; root may raise the hard one too.
func raiseFileLimit(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	want := uint64(n)
	if lim.Cur >= want {
		return nil
	}
	lim.Cur = want
	if lim.Max < want {
		lim.Max = want
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise open-file limit to %d: %w (try ulimit -n, or fewer connections)", n, err)
	}
	return nil
}

// result is one measurement. Latencies are in milliseconds.
type result struct {
	Target string `json:"target"`
	Mode   string `json:"mode"` // "rate" or "idle"
	Note   string `json:"note,omitempty"`

	Clients      int     `json:"clients"`
	Connected    int     `json:"connected"` // still connected when posting began
	Posters      int     `json:"posters,omitempty"`
	Rate         float64 `json:"rate,omitempty"`
	Seconds      float64 `json:"seconds,omitempty"`
	Posted       int64   `json:"posted,omitempty"`
	PostErrors   int64   `json:"post_errors,omitempty"`
	PostErr      string  `json:"post_error,omitempty"`
	PostRate     float64 `json:"post_rate,omitempty"` // achieved posts/s
	Expected     int64   `json:"expected,omitempty"`
	Received     int64   `json:"received,omitempty"`
	Lost         int64   `json:"lost"`
	LostPct      float64 `json:"lost_pct"`
	Duplicates   int64   `json:"duplicates,omitempty"`
	Disconnected int64   `json:"disconnected"`
	CloseReason  string  `json:"close_reason,omitempty"`
	Delivered    float64 `json:"delivered_per_sec,omitempty"`
	LatP50       float64 `json:"latency_p50_ms,omitempty"`
	LatP90       float64 `json:"latency_p90_ms,omitempty"`
	LatP99       float64 `json:"latency_p99_ms,omitempty"`
	LatMax       float64 `json:"latency_max_ms,omitempty"`
	PostP50      float64 `json:"post_p50_ms,omitempty"`
	PostP99      float64 `json:"post_p99_ms,omitempty"`
	CPUSeconds   float64 `json:"target_cpu_seconds,omitempty"`
	// Target CPU per message delivered to one client, in µs: it hardly moves
	// when other work loads the machine, unlike latency, so it is the
	// steadiest figure to compare targets by.
	CPUPerDelivery float64 `json:"target_cpu_us_per_delivery,omitempty"`
	OwnCPU         float64 `json:"fanout_cpu_seconds,omitempty"` // clients and posters (and the target with -self)
	OtherCores     float64 `json:"other_cpu_cores"`              // the rest of the machine, on average during the same time

	RSSBeforeKiB int64   `json:"rss_before_kib,omitempty"`
	RSSAfterKiB  int64   `json:"rss_after_kib,omitempty"`
	PerConnKiB   float64 `json:"rss_per_conn_kib,omitempty"`
}

func writeJSON(w io.Writer, cfg config, rep *report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Config config `json:"config"`
		*report
	}{cfg, rep})
}

// writeReport prints one column per target (the median when there are
// several runs) and, with -target both, campfire's ratio to the baseline.
func writeReport(w io.Writer, rep *report) error {
	cols := make([]*result, 0, 3)
	head := "\t"
	for _, t := range rep.order {
		cols = append(cols, rep.Medians[t])
		if n := len(rep.Runs[t]); n > 1 {
			head += fmt.Sprintf("%s (median of %d)\t", t, n)
		} else {
			head += t + "\t"
		}
	}
	if rep.Ratio != nil {
		head += "campfire ÷ baseline\t"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, head)
	row := func(name string, cell func(r *result) string) {
		fmt.Fprint(tw, name, "\t")
		for _, r := range cols {
			fmt.Fprint(tw, cell(r), "\t")
		}
		if rep.Ratio != nil {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprintln(tw)
	}
	// ratioRow adds campfire ÷ baseline for the figures where it means
	// something.
	ratioRow := func(name string, get func(r *result) float64, format string) {
		fmt.Fprint(tw, name, "\t")
		for _, r := range cols {
			fmt.Fprintf(tw, format+"\t", get(r))
		}
		if rep.Ratio != nil {
			if b := get(cols[0]); b != 0 {
				fmt.Fprintf(tw, "×%.2f\t", get(cols[1])/b)
			} else {
				fmt.Fprint(tw, "\t")
			}
		}
		fmt.Fprintln(tw)
	}
	first := cols[0]
	if first.Mode == "idle" {
		row("connections", func(r *result) string { return fmt.Sprintf("%d (%d open)", r.Clients, r.Connected) })
		ratioRow("RSS before (MiB)", func(r *result) float64 { return float64(r.RSSBeforeKiB) / 1024 }, "%.1f")
		ratioRow("RSS after (MiB)", func(r *result) float64 { return float64(r.RSSAfterKiB) / 1024 }, "%.1f")
		ratioRow("per connection (KiB)", func(r *result) float64 { return r.PerConnKiB }, "%.1f")
	} else {
		row("clients", func(r *result) string { return fmt.Sprintf("%d (%d at start)", r.Clients, r.Connected) })
		row("schedule", func(r *result) string {
			return fmt.Sprintf("%.0f msg/s × %.0fs, %d posters", r.Rate, r.Seconds, r.Posters)
		})
		row("posted", func(r *result) string {
			return fmt.Sprintf("%d (%.1f/s), %d failed", r.Posted, r.PostRate, r.PostErrors)
		})
		ratioRow("post p50 (ms)", func(r *result) float64 { return r.PostP50 }, "%.2f")
		ratioRow("post p99 (ms)", func(r *result) float64 { return r.PostP99 }, "%.2f")
		row("deliveries", func(r *result) string { return fmt.Sprintf("%d of %d", r.Received, r.Expected) })
		row("lost", func(r *result) string { return fmt.Sprintf("%d (%.3f%%)", r.Lost, r.LostPct) })
		row("disconnected", func(r *result) string { return fmt.Sprint(r.Disconnected) })
		ratioRow("delivered (msg/s)", func(r *result) float64 { return r.Delivered }, "%.0f")
		ratioRow("latency p50 (ms)", func(r *result) float64 { return r.LatP50 }, "%.2f")
		ratioRow("latency p90 (ms)", func(r *result) float64 { return r.LatP90 }, "%.2f")
		ratioRow("latency p99 (ms)", func(r *result) float64 { return r.LatP99 }, "%.2f")
		ratioRow("latency max (ms)", func(r *result) float64 { return r.LatMax }, "%.2f")
		if first.CPUSeconds > 0 {
			ratioRow("target CPU (s)", func(r *result) float64 { return r.CPUSeconds }, "%.2f")
			ratioRow("target CPU per delivery (µs)", func(r *result) float64 { return r.CPUPerDelivery }, "%.1f")
		}
		ratioRow(fmt.Sprintf("fanout CPU (s, %d CPUs)", runtime.NumCPU()), func(r *result) float64 { return r.OwnCPU }, "%.2f")
		row("other CPU (cores)", func(r *result) string { return fmt.Sprintf("%.2f", r.OtherCores) })
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range rep.order {
		for _, r := range rep.Runs[t] {
			if r.PostErr != "" {
				fmt.Fprintf(w, "%s: first post error: %s\n", t, r.PostErr)
			}
			if r.CloseReason != "" {
				fmt.Fprintf(w, "%s: first disconnect %s\n", t, r.CloseReason)
			}
		}
	}
	if n := first.Note; n != "" {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}
