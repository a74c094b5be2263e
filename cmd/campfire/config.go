package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Database engines named by Config.DatabaseEngine.
const (
	engineSQLite   = "sqlite"
	enginePostgres = "postgres"
)

// Defaults (DESIGN.md "Configuration").
const (
	defaultDatabaseURL         = "./data/campfire.db"
	defaultAddr                = ":3000"
	defaultStorageDir          = "./data/files"
	defaultBackupDir           = "./backups"
	defaultBackupRetentionDays = 30
	// The other grandfather-father-son counts (the spec's defaults).
	defaultBackupRetentionWeeks  = 12
	defaultBackupRetentionMonths = 12
	defaultBackupRetentionYears  = 7
	defaultLogLevel              = "info"
	defaultLogFormat             = "auto"

	// maxBackupRetentionDays keeps retention*24h far from overflowing a
	// time.Duration (about 106,000 days).
	maxBackupRetentionDays = 36500
	// Upper bounds of the other counts: a century.
	maxBackupRetentionWeeks  = 5218
	maxBackupRetentionMonths = 1200
	maxBackupRetentionYears  = 100
)

// Config is the server's configuration: the environment first, then the
// flags the user set on the command line.
type Config struct {
	// DatabaseURL is the value as given (it may carry a password).
	DatabaseURL string
	// DatabaseEngine is engineSQLite or enginePostgres.
	DatabaseEngine string
	// DatabasePath is the SQLite file; empty for PostgreSQL.
	DatabasePath string

	Addr       string
	StorageDir string
	BackupDir  string

	// BackupRetentionDays, Weeks, Months and Years are the retention
	// policy of backup prune: daily, weekly, monthly and yearly backups
	// kept (0 turns a kind off, except days).
	BackupRetentionDays   int
	BackupRetentionWeeks  int
	BackupRetentionMonths int
	BackupRetentionYears  int
	// BackupRemote is the off-site destination URL (s3://, gs:// or
	// file://), or empty for none. It may carry credentials.
	BackupRemote string
	// BackupRemoteRetention is the policy of prune --remote
	// (CAMPFIRE_BACKUP_REMOTE_RETENTION_*; defaults: the local counts).
	BackupRemoteRetention retention
	// BackupAgeRecipients are age public keys (or recipient strings),
	// validated by the backup engine, not here.
	BackupAgeRecipients []string
	// BackupAgeIdentityFile decrypts encrypted backups for verify and
	// restore: an age identity file (age-keygen) or an OpenPGP private
	// key. A path; the file is the secret.
	BackupAgeIdentityFile string
	// BackupPGPPassphrase unlocks a passphrase-protected OpenPGP private
	// key; a secret.
	BackupPGPPassphrase string

	// AlertWebhookURL is a Slack-compatible incoming webhook; a secret.
	AlertWebhookURL string
	// Schedule and Alerts: serve's backup jobs and the monitor's
	// thresholds (config_schedule.go).
	Schedule scheduleConfig
	Alerts   alertConfig

	// Continuous backup (config_continuous.go).
	BackupContinuous bool
	BackupShipDelay  time.Duration
	BackupPITRDays   int

	LogLevel  string // debug, info, warn or error
	LogFormat string // auto, text or json
}

// Flag names registered by addConfigFlags.
const (
	flagDatabaseURL = "database-url"
	flagAddr        = "addr"
	flagStorageDir  = "storage-dir"
	flagBackupDir   = "backup-dir"
	flagLogLevel    = "log-level"
	flagLogFormat   = "log-format"
)

// addConfigFlags registers the flags that override configuration variables.
// Their defaults are only shown in help: loadConfig takes a flag's value only
// when the user set it, so the environment is not overridden by a default.
func addConfigFlags(fs *pflag.FlagSet) {
	fs.String(flagDatabaseURL, defaultDatabaseURL,
		"database: a SQLite path, sqlite://PATH, file:PATH or postgres://URL; env CAMPFIRE_DATABASE_URL")
	fs.String(flagAddr, defaultAddr,
		"HTTP listen address as [host]:port; env CAMPFIRE_ADDR")
	fs.String(flagStorageDir, defaultStorageDir,
		"directory for uploaded attachments; env CAMPFIRE_STORAGE_DIR")
	fs.String(flagBackupDir, defaultBackupDir,
		"directory for local backups; env CAMPFIRE_BACKUP_DIR")
	fs.String(flagLogLevel, defaultLogLevel,
		"log level: debug, info, warn or error; env CAMPFIRE_LOG_LEVEL")
	fs.String(flagLogFormat, defaultLogFormat,
		"log format: auto (text on a terminal, JSON otherwise), text or json; env CAMPFIRE_LOG_FORMAT")
}

// setting is one configuration value and where it came from, so an error
// can name the variable or flag the user has to fix.
type setting struct {
	value  string
	source string // "CAMPFIRE_ADDR" or "--addr"; empty for the default
}

func (s setting) name() string {
	if s.source == "" {
		return "default"
	}
	return s.source
}

// loadConfig reads the configuration from getenv, then from the flags in
// flags that the user set (flags may be nil). Every invalid value is
// reported as a usage error naming the variable or flag.
func loadConfig(getenv func(string) string, flags *pflag.FlagSet) (Config, error) {
	get := func(envName, flagName, def string) setting {
		s := setting{value: def}
		if v := strings.TrimSpace(getenv(envName)); v != "" {
			s = setting{value: v, source: envName}
		}
		if flags != nil && flagName != "" {
			if f := flags.Lookup(flagName); f != nil && f.Changed {
				s = setting{value: strings.TrimSpace(f.Value.String()), source: "--" + flagName}
			}
		}
		return s
	}

	var c Config
	var err error

	db := get("CAMPFIRE_DATABASE_URL", flagDatabaseURL, defaultDatabaseURL)
	c.DatabaseURL = db.value
	if c.DatabaseEngine, c.DatabasePath, err = parseDatabaseURL(db); err != nil {
		return Config{}, err
	}

	addr := get("CAMPFIRE_ADDR", flagAddr, defaultAddr)
	if err := checkAddr(addr); err != nil {
		return Config{}, err
	}
	c.Addr = addr.value

	storage := get("CAMPFIRE_STORAGE_DIR", flagStorageDir, defaultStorageDir)
	c.StorageDir = storage.value
	backup := get("CAMPFIRE_BACKUP_DIR", flagBackupDir, defaultBackupDir)
	c.BackupDir = backup.value

	days := get("CAMPFIRE_BACKUP_RETENTION_DAYS", "", strconv.Itoa(defaultBackupRetentionDays))
	n, err := strconv.Atoi(days.value)
	if err != nil || n < 1 || n > maxBackupRetentionDays {
		return Config{}, usageErrorf("%s=%q is not valid: want a whole number of days from 1 to %d",
			days.name(), days.value, maxBackupRetentionDays)
	}
	c.BackupRetentionDays = n
	for _, r := range []struct {
		env      string
		def, max int
		into     *int
		unit     string
	}{
		{"CAMPFIRE_BACKUP_RETENTION_WEEKS", defaultBackupRetentionWeeks, maxBackupRetentionWeeks, &c.BackupRetentionWeeks, "weeks"},
		{"CAMPFIRE_BACKUP_RETENTION_MONTHS", defaultBackupRetentionMonths, maxBackupRetentionMonths, &c.BackupRetentionMonths, "months"},
		{"CAMPFIRE_BACKUP_RETENTION_YEARS", defaultBackupRetentionYears, maxBackupRetentionYears, &c.BackupRetentionYears, "years"},
	} {
		v := get(r.env, "", strconv.Itoa(r.def))
		n, err := strconv.Atoi(v.value)
		if err != nil || n < 0 || n > r.max {
			return Config{}, usageErrorf("%s=%q is not valid: want a whole number of %s from 0 (keep none) to %d",
				v.name(), v.value, r.unit, r.max)
		}
		*r.into = n
	}

	if c.BackupRemote, err = backupRemote(get); err != nil {
		return Config{}, err
	}
	if c.BackupRemoteRetention, err = remoteRetention(get, c); err != nil {
		return Config{}, err
	}

	recipients := strings.FieldsFunc(getenv("CAMPFIRE_BACKUP_AGE_RECIPIENTS"), func(r rune) bool {
		return r == ',' || unicode.IsSpace(r)
	})
	if len(recipients) > 0 {
		c.BackupAgeRecipients = recipients
	}
	c.BackupAgeIdentityFile = get("CAMPFIRE_BACKUP_AGE_IDENTITY_FILE", "", "").value
	// Not trimmed: a passphrase may begin or end with a space.
	c.BackupPGPPassphrase = getenv("CAMPFIRE_BACKUP_PGP_PASSPHRASE")

	hook := get("CAMPFIRE_ALERT_WEBHOOK_URL", "", "")
	if hook.value == "" {
		hook = get("SLACK_WEBHOOK_URL", "", "")
	}
	if hook.value != "" {
		u, err := url.Parse(hook.value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL is a secret: never echo it.
			return Config{}, usageErrorf("%s is not valid: want an http:// or https:// webhook URL such as https://hooks.slack.com/services/…",
				hook.name())
		}
		c.AlertWebhookURL = hook.value
	}

	if err := loadContinuousConfig(get, &c); err != nil {
		return Config{}, err
	}
	if err := loadScheduling(get, &c); err != nil {
		return Config{}, err
	}

	level := get("CAMPFIRE_LOG_LEVEL", flagLogLevel, defaultLogLevel)
	c.LogLevel = strings.ToLower(level.value)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return Config{}, usageErrorf("%s=%q is not valid: want debug, info, warn or error", level.name(), level.value)
	}

	format := get("CAMPFIRE_LOG_FORMAT", flagLogFormat, defaultLogFormat)
	c.LogFormat = strings.ToLower(format.value)
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		return Config{}, usageErrorf("%s=%q is not valid: want auto, text or json", format.name(), format.value)
	}

	return c, nil
}

// urlScheme returns the lowercased scheme of s if s starts with one of two
// or more characters ("postgres:", "file:"), so a plain path such as
// "data.db", "./x:y.db", "C:" or ":memory:" is not mistaken for a URL.
func urlScheme(s string) (string, bool) {
	i := strings.IndexByte(s, ':')
	if i < 2 {
		return "", false
	}
	for j, r := range s[:i] {
		isLetter := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		if !isLetter && (j == 0 || !('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return "", false
		}
	}
	return strings.ToLower(s[:i]), true
}

const databaseForms = "want a SQLite path (./data/campfire.db), sqlite://PATH, sqlite:///ABS/PATH, file:PATH or a postgres:// or postgresql:// URL"

// parseDatabaseURL returns the engine and, for SQLite, the file path.
func parseDatabaseURL(s setting) (engine, path string, err error) {
	v := s.value
	scheme, ok := urlScheme(v)
	if !ok {
		return engineSQLite, v, nil
	}
	switch scheme {
	case "postgres", "postgresql":
		if _, err := url.Parse(v); err != nil {
			// Not echoed: the URL may hold a password.
			return "", "", usageErrorf("%s is not a valid PostgreSQL URL (%s); %s",
				s.name(), urlErrorReason(err), databaseForms)
		}
		return enginePostgres, "", nil
	case "sqlite", "file":
		rest := v[len(scheme)+1:]
		if strings.HasPrefix(rest, "//") {
			// An authority: sqlite://PATH keeps PATH relative
			// (sqlite://./data/x.db, sqlite://data/x.db), while
			// sqlite:///abs and file:///abs are absolute.
			// file://localhost/abs is the one host a file URL may name.
			rest = rest[2:]
			if scheme == "file" {
				host, p, _ := strings.Cut(rest, "/")
				if host != "" && host != "localhost" {
					return "", "", usageErrorf("%s=%q is not valid: a file: URL cannot name a host; %s", s.name(), v, databaseForms)
				}
				rest = "/" + p
			}
		}
		if strings.ContainsAny(rest, "?#") {
			return "", "", usageErrorf("%s=%q is not valid: query parameters are not supported (campfire sets its own SQLite options); %s",
				s.name(), v, databaseForms)
		}
		p, err := url.PathUnescape(rest)
		if err != nil || p == "" || p == "/" {
			return "", "", usageErrorf("%s=%q is not valid: no file path; %s", s.name(), v, databaseForms)
		}
		return engineSQLite, p, nil
	default:
		return "", "", usageErrorf("%s: unsupported database scheme %q; %s", s.name(), scheme+":", databaseForms)
	}
}

// urlErrorReason returns why url.Parse failed without the URL, which
// url.Error quotes and which may hold a secret.
func urlErrorReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "unparseable"
}

func checkAddr(s setting) error {
	_, port, err := net.SplitHostPort(s.value)
	if err != nil {
		return usageErrorf("%s=%q is not valid: want [host]:port such as :3000 or 127.0.0.1:8080", s.name(), s.value)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return usageErrorf("%s=%q is not valid: the port must be a number from 0 to 65535", s.name(), s.value)
	}
	return nil
}

// backupRemote returns CAMPFIRE_BACKUP_REMOTE, or the URL derived from the
// spec's shorthands CAMPFIRE_S3_BUCKET (+ CAMPFIRE_S3_REGION) or
// CAMPFIRE_GCS_BUCKET. An explicit CAMPFIRE_BACKUP_REMOTE wins.
func backupRemote(get func(envName, flagName, def string) setting) (string, error) {
	remote := get("CAMPFIRE_BACKUP_REMOTE", "", "")
	if remote.value == "" {
		s3 := get("CAMPFIRE_S3_BUCKET", "", "")
		gcs := get("CAMPFIRE_GCS_BUCKET", "", "")
		switch {
		case s3.value != "" && gcs.value != "":
			return "", usageErrorf("both CAMPFIRE_S3_BUCKET and CAMPFIRE_GCS_BUCKET are set: set only one, or set CAMPFIRE_BACKUP_REMOTE")
		case s3.value != "":
			if err := checkBucket(s3); err != nil {
				return "", err
			}
			u := url.URL{Scheme: "s3", Host: s3.value}
			if region := get("CAMPFIRE_S3_REGION", "", "").value; region != "" {
				u.RawQuery = url.Values{"region": {region}}.Encode()
			}
			return u.String(), nil
		case gcs.value != "":
			if err := checkBucket(gcs); err != nil {
				return "", err
			}
			return (&url.URL{Scheme: "gs", Host: gcs.value}).String(), nil
		default:
			return "", nil
		}
	}

	const forms = "want s3://BUCKET[/PREFIX][?region=…&endpoint=…], gs://BUCKET[/PREFIX] or file:///PATH"
	u, err := url.Parse(remote.value)
	if err != nil {
		return "", usageErrorf("%s is not a valid URL (%s); %s", remote.name(), urlErrorReason(err), forms)
	}
	shown := redactURL(u)
	switch u.Scheme {
	case "s3", "gs":
		if u.Host == "" {
			return "", usageErrorf("%s=%q has no bucket; %s", remote.name(), shown, forms)
		}
	case "file":
		if u.Path == "" || u.Path == "/" {
			return "", usageErrorf("%s=%q has no directory; %s", remote.name(), shown, forms)
		}
	default:
		return "", usageErrorf("%s=%q: unsupported scheme; %s", remote.name(), shown, forms)
	}
	return remote.value, nil
}

// checkBucket rejects a bucket shorthand that would not make a valid URL
// host; a prefix belongs in CAMPFIRE_BACKUP_REMOTE.
func checkBucket(s setting) error {
	if strings.ContainsAny(s.value, "/?#@: ") {
		return usageErrorf("%s=%q is not a bucket name; to add a prefix set CAMPFIRE_BACKUP_REMOTE=s3://BUCKET/PREFIX (or gs://…) instead",
			s.name(), s.value)
	}
	return nil
}

const redacted = "xxxxx"

// safeQueryKey reports whether the value of URL query parameter k may be
// shown in logs; every other value is replaced, since it may be a
// credential.
func safeQueryKey(k string) bool {
	switch k {
	case "region", "use_path_style", "disable_https", "awssdk", "dualstack", "fips",
		"accelerate", "anonymous", "s3ForcePathStyle", "prefix": // gocloud.dev s3blob, gcsblob
		return true
	case "sslmode", "application_name", "connect_timeout", "dbname", "host", "port", "user",
		"search_path", "target_session_attrs", "pool_max_conns", "pool_min_conns": // libpq, pgx
		return true
	}
	return false
}

// redactURL returns u as a string with any password and every query value
// not allowed by safeQueryKey replaced. A user name is kept (for PostgreSQL it is
// not a secret); use redactRemote for backup destinations.
func redactURL(u *url.URL) string {
	r := *u
	if r.User != nil {
		if _, ok := r.User.Password(); ok {
			r.User = url.UserPassword(r.User.Username(), redacted)
		}
	}
	if r.RawQuery != "" {
		// Rewrite the raw query pair by pair, so what is kept reads as
		// the user wrote it.
		parts := strings.Split(r.RawQuery, "&")
		for i, part := range parts {
			rawKey, rawValue, _ := strings.Cut(part, "=")
			k, err := url.QueryUnescape(rawKey)
			if err != nil {
				parts[i] = redacted
				continue
			}
			if safeQueryKey(k) {
				continue
			}
			v, err := url.QueryUnescape(rawValue)
			// An S3 endpoint is shown without userinfo or query.
			if e, perr := url.Parse(v); k == "endpoint" && err == nil && perr == nil && e.Host != "" {
				e.User = nil
				e.RawQuery = ""
				parts[i] = rawKey + "=" + e.String()
				continue
			}
			parts[i] = rawKey + "=" + redacted
		}
		r.RawQuery = strings.Join(parts, "&")
	}
	return r.String()
}

// redactRemote redacts a backup destination URL: userinfo there can only be
// a credential (an access key), so all of it goes.
func redactRemote(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	return redactURL(u)
}

// redactDatabaseURL shows a SQLite path as is and a PostgreSQL URL without
// its password.
func redactDatabaseURL(engine, s string) string {
	if engine != enginePostgres {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	return redactURL(u)
}

// webhookHost shows only the host of the webhook URL: its path is the key.
func webhookHost(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	return u.Host
}

// logAttrs is the configuration with every secret removed.
func (c Config) logAttrs() []slog.Attr {
	return []slog.Attr{
		slog.String("database_engine", c.DatabaseEngine),
		slog.String("database_url", redactDatabaseURL(c.DatabaseEngine, c.DatabaseURL)),
		slog.String("addr", c.Addr),
		slog.String("storage_dir", c.StorageDir),
		slog.String("backup_dir", c.BackupDir),
		slog.Int("backup_retention_days", c.BackupRetentionDays),
		slog.Int("backup_retention_weeks", c.BackupRetentionWeeks),
		slog.Int("backup_retention_months", c.BackupRetentionMonths),
		slog.Int("backup_retention_years", c.BackupRetentionYears),
		slog.String("backup_remote", redactRemote(c.BackupRemote)),
		slog.Int("backup_age_recipients", len(c.BackupAgeRecipients)),
		slog.String("backup_age_identity_file", c.BackupAgeIdentityFile),
		slog.Bool("backup_pgp_passphrase_set", c.BackupPGPPassphrase != ""),
		slog.String("alert_webhook_host", webhookHost(c.AlertWebhookURL)),
		slog.Bool("backup_continuous", c.BackupContinuous),
		slog.Duration("backup_ship_delay", c.BackupShipDelay),
		slog.Int("backup_pitr_days", c.BackupPITRDays),
		slog.Any("schedule", c.Schedule), slog.Any("alerts", c.Alerts),
		slog.String("log_level", c.LogLevel),
		slog.String("log_format", c.LogFormat),
	}
}

// LogValue implements slog.LogValuer without revealing secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(c.logAttrs()...)
}

// String implements fmt.Stringer without revealing secrets.
func (c Config) String() string {
	var b strings.Builder
	for i, a := range c.logAttrs() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", a.Key, strconv.Quote(a.Value.String()))
	}
	return b.String()
}

// newLogger returns a logger writing to w at level (debug, info, warn or
// error; anything else means info). Format auto means text on a terminal
// and JSON otherwise.
func newLogger(w io.Writer, level, format string, isTerminal bool) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" || (format != "json" && isTerminal) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether x (a writer or reader) is a terminal.
func isTerminal(x any) bool {
	f, ok := x.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
