package main

import (
	"time"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// mapEnv returns a getenv reading from m.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// mustUsageError fails unless err is a one-line usageError containing every
// one of subs.
func mustUsageError(tb testing.TB, err error, subs ...string) {
	tb.Helper()
	var ue *usageError
	if !errors.As(err, &ue) {
		tb.Fatalf("error = %v (%T), want a usage error", err, err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") {
		tb.Errorf("error %q spans several lines, want one", msg)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			tb.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func defaultConfig() Config {
	return Config{
		DatabaseURL:           "./data/campfire.db",
		DatabaseEngine:        "sqlite",
		DatabasePath:          "./data/campfire.db",
		Addr:                  ":3000",
		StorageDir:            "./data/files",
		BackupDir:             "./backups",
		BackupRetentionDays:   30,
		BackupRetentionWeeks:  12,
		BackupRetentionMonths: 12,
		BackupRetentionYears:  7,
		BackupContinuous:      true,
		BackupShipDelay:       50 * time.Millisecond,
		BackupPITRDays:        7,
		BackupRemoteRetention: retention{Days: 30, Weeks: 12, Months: 12, Years: 7},
		LogLevel:              "info",
		LogFormat:             "auto",
		Schedule:              defaultSchedule(),
		Alerts:                defaultAlerts(),
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	got, err := loadConfig(mapEnv(nil), nil)
	if err != nil {
		t.Fatalf("loadConfig(empty env) error: %v", err)
	}
	if diff := cmp.Diff(defaultConfig(), got); diff != "" {
		t.Errorf("loadConfig(empty env) mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadConfigEnv(t *testing.T) {
	env := map[string]string{
		"CAMPFIRE_DATABASE_URL":             "/var/lib/campfire/chat.db",
		"CAMPFIRE_ADDR":                     "127.0.0.1:8080",
		"CAMPFIRE_STORAGE_DIR":              "/srv/files",
		"CAMPFIRE_BACKUP_DIR":               "/srv/backups",
		"CAMPFIRE_BACKUP_RETENTION_DAYS":    "7",
		"CAMPFIRE_BACKUP_REMOTE":            "file:///mnt/offsite",
		"CAMPFIRE_BACKUP_AGE_RECIPIENTS":    "age1aaa, age1bbb\nage1ccc  age1ddd,,",
		"CAMPFIRE_BACKUP_AGE_IDENTITY_FILE": " /etc/campfire/backup-key.txt ",
		"CAMPFIRE_BACKUP_PGP_PASSPHRASE":    " pass phrase ",
		"CAMPFIRE_BACKUP_RETENTION_WEEKS":   "4",
		"CAMPFIRE_BACKUP_RETENTION_MONTHS":  "0",
		"CAMPFIRE_BACKUP_RETENTION_YEARS":   "10",
		"CAMPFIRE_ALERT_WEBHOOK_URL":        "https://hooks.example.com/x",
		"CAMPFIRE_LOG_LEVEL":                "DEBUG",
		"CAMPFIRE_LOG_FORMAT":               "json",
	}
	got, err := loadConfig(mapEnv(env), nil)
	if err != nil {
		t.Fatalf("loadConfig error: %v", err)
	}
	want := Config{
		DatabaseURL:           "/var/lib/campfire/chat.db",
		DatabaseEngine:        "sqlite",
		DatabasePath:          "/var/lib/campfire/chat.db",
		Addr:                  "127.0.0.1:8080",
		StorageDir:            "/srv/files",
		BackupDir:             "/srv/backups",
		BackupRetentionDays:   7,
		BackupRetentionWeeks:  4,
		BackupRetentionMonths: 0,
		BackupRetentionYears:  10,
		BackupRemote:          "file:///mnt/offsite",
		BackupRemoteRetention: retention{Days: 7, Weeks: 4, Months: 0, Years: 10}, // the local counts
		BackupAgeRecipients:   []string{"age1aaa", "age1bbb", "age1ccc", "age1ddd"},
		BackupAgeIdentityFile: "/etc/campfire/backup-key.txt",
		BackupPGPPassphrase:   " pass phrase ",
		AlertWebhookURL:       "https://hooks.example.com/x",
		BackupContinuous:      true,
		BackupShipDelay:       50 * time.Millisecond,
		BackupPITRDays:        7,
		LogLevel:              "debug",
		LogFormat:             "json",
		Schedule:              defaultSchedule(),
		Alerts:                defaultAlerts(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loadConfig mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadConfigDatabaseURL(t *testing.T) {
	tests := []struct {
		in         string
		wantEngine string
		wantPath   string
	}{
		{"data.db", "sqlite", "data.db"},
		{"./data/campfire.db", "sqlite", "./data/campfire.db"},
		{"/var/lib/campfire.db", "sqlite", "/var/lib/campfire.db"},
		{"./odd:name.db", "sqlite", "./odd:name.db"},
		{":memory:", "sqlite", ":memory:"},
		{"sqlite://data/campfire.db", "sqlite", "data/campfire.db"},
		{"sqlite://./data/campfire.db", "sqlite", "./data/campfire.db"},
		{"sqlite:///var/lib/campfire.db", "sqlite", "/var/lib/campfire.db"},
		{"SQLite:///var/lib/campfire.db", "sqlite", "/var/lib/campfire.db"},
		{"sqlite:///var/lib/with%20space.db", "sqlite", "/var/lib/with space.db"},
		{"file:campfire.db", "sqlite", "campfire.db"},
		{"file:./data/campfire.db", "sqlite", "./data/campfire.db"},
		{"file:/var/lib/campfire.db", "sqlite", "/var/lib/campfire.db"},
		{"file:///var/lib/campfire.db", "sqlite", "/var/lib/campfire.db"},
		{"file://localhost/var/lib/campfire.db", "sqlite", "/var/lib/campfire.db"},
		{"postgres://campfire:secret@localhost:5432/campfire?sslmode=disable", "postgres", ""},
		{"postgresql://localhost/campfire", "postgres", ""},
		{"postgres:///campfire?host=/var/run/postgresql", "postgres", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := loadConfig(mapEnv(map[string]string{"CAMPFIRE_DATABASE_URL": tt.in}), nil)
			if err != nil {
				t.Fatalf("loadConfig(CAMPFIRE_DATABASE_URL=%q) error: %v", tt.in, err)
			}
			if got.DatabaseURL != tt.in || got.DatabaseEngine != tt.wantEngine || got.DatabasePath != tt.wantPath {
				t.Errorf("loadConfig(CAMPFIRE_DATABASE_URL=%q) = (url %q, engine %q, path %q), want (%q, %q, %q)",
					tt.in, got.DatabaseURL, got.DatabaseEngine, got.DatabasePath, tt.in, tt.wantEngine, tt.wantPath)
			}
		})
	}
}

// TestLoadConfigInvalid checks that every bad value is a one-line usage
// error naming the variable (and the value where it is not secret).
func TestLoadConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"DatabaseMySQL", map[string]string{"CAMPFIRE_DATABASE_URL": "mysql://x"},
			[]string{"CAMPFIRE_DATABASE_URL", `"mysql:"`, "sqlite://", "postgres://"}},
		{"DatabaseHTTP", map[string]string{"CAMPFIRE_DATABASE_URL": "http://example.com/db"},
			[]string{"CAMPFIRE_DATABASE_URL", "http:"}},
		{"DatabaseSQLiteNoPath", map[string]string{"CAMPFIRE_DATABASE_URL": "sqlite://"},
			[]string{"CAMPFIRE_DATABASE_URL", "no file path"}},
		{"DatabaseSQLiteQuery", map[string]string{"CAMPFIRE_DATABASE_URL": "sqlite://x.db?_pragma=synchronous(OFF)"},
			[]string{"CAMPFIRE_DATABASE_URL", "query parameters"}},
		{"DatabaseFileHost", map[string]string{"CAMPFIRE_DATABASE_URL": "file://otherhost/x.db"},
			[]string{"CAMPFIRE_DATABASE_URL", "host"}},
		{"DatabasePostgresBad", map[string]string{"CAMPFIRE_DATABASE_URL": "postgres://u:p@host:port/db"},
			[]string{"CAMPFIRE_DATABASE_URL", "PostgreSQL"}},
		{"AddrNonsense", map[string]string{"CAMPFIRE_ADDR": "nonsense"},
			[]string{"CAMPFIRE_ADDR", `"nonsense"`, "host]:port"}},
		{"AddrNoPort", map[string]string{"CAMPFIRE_ADDR": "localhost:"},
			[]string{"CAMPFIRE_ADDR", "0 to 65535"}},
		{"AddrPortTooBig", map[string]string{"CAMPFIRE_ADDR": ":65536"},
			[]string{"CAMPFIRE_ADDR", "0 to 65535"}},
		{"AddrPortName", map[string]string{"CAMPFIRE_ADDR": ":http"},
			[]string{"CAMPFIRE_ADDR", "0 to 65535"}},
		{"AddrNegative", map[string]string{"CAMPFIRE_ADDR": ":-1"},
			[]string{"CAMPFIRE_ADDR"}},
		{"RetentionZero", map[string]string{"CAMPFIRE_BACKUP_RETENTION_DAYS": "0"},
			[]string{"CAMPFIRE_BACKUP_RETENTION_DAYS", `"0"`, "whole number"}},
		{"RetentionNegative", map[string]string{"CAMPFIRE_BACKUP_RETENTION_DAYS": "-3"},
			[]string{"CAMPFIRE_BACKUP_RETENTION_DAYS"}},
		{"RetentionWords", map[string]string{"CAMPFIRE_BACKUP_RETENTION_DAYS": "thirty"},
			[]string{"CAMPFIRE_BACKUP_RETENTION_DAYS", `"thirty"`}},
		{"RetentionUnit", map[string]string{"CAMPFIRE_BACKUP_RETENTION_DAYS": "30d"},
			[]string{"CAMPFIRE_BACKUP_RETENTION_DAYS"}},
		{"RetentionHuge", map[string]string{"CAMPFIRE_BACKUP_RETENTION_DAYS": "1000000"},
			[]string{"CAMPFIRE_BACKUP_RETENTION_DAYS"}},
		{"RetentionWeeksNegative", map[string]string{"CAMPFIRE_BACKUP_RETENTION_WEEKS": "-1"},
			[]string{"CAMPFIRE_BACKUP_RETENTION_WEEKS", `"-1"`, "weeks from 0"}},
		{"RetentionMonthsWords", map[string]string{"CAMPFIRE_BACKUP_RETENTION_MONTHS": "twelve"},
			[]string{"CAMPFIRE_BACKUP_RETENTION_MONTHS", `"twelve"`, "months"}},
		{"RetentionYearsHuge", map[string]string{"CAMPFIRE_BACKUP_RETENTION_YEARS": "1000"},
			[]string{"CAMPFIRE_BACKUP_RETENTION_YEARS", "years from 0 (keep none) to 100"}},
		{"RemoteScheme", map[string]string{"CAMPFIRE_BACKUP_REMOTE": "ftp://host/dir"},
			[]string{"CAMPFIRE_BACKUP_REMOTE", "unsupported scheme", "s3://", "gs://", "file://"}},
		{"RemoteNoScheme", map[string]string{"CAMPFIRE_BACKUP_REMOTE": "/mnt/backups"},
			[]string{"CAMPFIRE_BACKUP_REMOTE", "file:///"}},
		{"RemoteNoBucket", map[string]string{"CAMPFIRE_BACKUP_REMOTE": "s3:///prefix"},
			[]string{"CAMPFIRE_BACKUP_REMOTE", "no bucket"}},
		{"RemoteFileNoPath", map[string]string{"CAMPFIRE_BACKUP_REMOTE": "file://"},
			[]string{"CAMPFIRE_BACKUP_REMOTE", "no directory"}},
		{"BothBuckets", map[string]string{"CAMPFIRE_S3_BUCKET": "a", "CAMPFIRE_GCS_BUCKET": "b"},
			[]string{"CAMPFIRE_S3_BUCKET", "CAMPFIRE_GCS_BUCKET"}},
		{"S3BucketWithPrefix", map[string]string{"CAMPFIRE_S3_BUCKET": "bucket/prefix"},
			[]string{"CAMPFIRE_S3_BUCKET", "CAMPFIRE_BACKUP_REMOTE"}},
		{"WebhookScheme", map[string]string{"CAMPFIRE_ALERT_WEBHOOK_URL": "ftp://hooks.example.com/T0/SECRET"},
			[]string{"CAMPFIRE_ALERT_WEBHOOK_URL", "https://"}},
		{"SlackWebhookNotURL", map[string]string{"SLACK_WEBHOOK_URL": "SECRET"},
			[]string{"SLACK_WEBHOOK_URL", "https://"}},
		{"LogLevel", map[string]string{"CAMPFIRE_LOG_LEVEL": "verbose"},
			[]string{"CAMPFIRE_LOG_LEVEL", `"verbose"`, "debug, info, warn or error"}},
		{"LogFormat", map[string]string{"CAMPFIRE_LOG_FORMAT": "xml"},
			[]string{"CAMPFIRE_LOG_FORMAT", `"xml"`, "auto, text or json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(mapEnv(tt.env), nil)
			mustUsageError(t, err, tt.want...)
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q reveals a secret", err)
			}
		})
	}
}

func TestLoadConfigBackupRemote(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"None", nil, ""},
		{"S3", map[string]string{"CAMPFIRE_BACKUP_REMOTE": "s3://bucket/prefix?region=eu-west-1&endpoint=http://127.0.0.1:7070&use_path_style=true"},
			"s3://bucket/prefix?region=eu-west-1&endpoint=http://127.0.0.1:7070&use_path_style=true"},
		{"GCS", map[string]string{"CAMPFIRE_BACKUP_REMOTE": "gs://bucket/prefix"}, "gs://bucket/prefix"},
		{"File", map[string]string{"CAMPFIRE_BACKUP_REMOTE": "file:///mnt/offsite"}, "file:///mnt/offsite"},
		{"S3Shorthand", map[string]string{"CAMPFIRE_S3_BUCKET": "campfire-backups-prod", "CAMPFIRE_S3_REGION": "us-west-2"},
			"s3://campfire-backups-prod?region=us-west-2"},
		{"S3ShorthandNoRegion", map[string]string{"CAMPFIRE_S3_BUCKET": "campfire-backups-prod"},
			"s3://campfire-backups-prod"},
		{"GCSShorthand", map[string]string{"CAMPFIRE_GCS_BUCKET": "campfire-backups-prod"},
			"gs://campfire-backups-prod"},
		{"RegionAlone", map[string]string{"CAMPFIRE_S3_REGION": "us-west-2"}, ""},
		{"ExplicitWins", map[string]string{"CAMPFIRE_BACKUP_REMOTE": "gs://explicit", "CAMPFIRE_S3_BUCKET": "shorthand"},
			"gs://explicit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(mapEnv(tt.env), nil)
			if err != nil {
				t.Fatalf("loadConfig(%v) error: %v", tt.env, err)
			}
			if got.BackupRemote != tt.want {
				t.Errorf("loadConfig(%v).BackupRemote = %q, want %q", tt.env, got.BackupRemote, tt.want)
			}
		})
	}
}

func TestLoadConfigWebhook(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"None", nil, ""},
		{"Campfire", map[string]string{"CAMPFIRE_ALERT_WEBHOOK_URL": "https://a.example/1"}, "https://a.example/1"},
		{"Slack", map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X"}, "https://hooks.slack.com/services/T/B/X"},
		{"CampfireWins", map[string]string{"CAMPFIRE_ALERT_WEBHOOK_URL": "http://a.example/1", "SLACK_WEBHOOK_URL": "https://b.example/2"},
			"http://a.example/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(mapEnv(tt.env), nil)
			if err != nil {
				t.Fatalf("loadConfig error: %v", err)
			}
			if got.AlertWebhookURL != tt.want {
				t.Errorf("AlertWebhookURL = %q, want %q", got.AlertWebhookURL, tt.want)
			}
		})
	}
}

func TestLoadConfigFlags(t *testing.T) {
	env := map[string]string{
		"CAMPFIRE_DATABASE_URL": "env.db",
		"CAMPFIRE_ADDR":         ":4000",
		"CAMPFIRE_STORAGE_DIR":  "/env/files",
		"CAMPFIRE_BACKUP_DIR":   "/env/backups",
		"CAMPFIRE_LOG_LEVEL":    "warn",
		"CAMPFIRE_LOG_FORMAT":   "text",
	}

	t.Run("NotSetKeepsEnv", func(t *testing.T) {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		addConfigFlags(fs)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		got, err := loadConfig(mapEnv(env), fs)
		if err != nil {
			t.Fatalf("loadConfig error: %v", err)
		}
		if got.DatabasePath != "env.db" || got.Addr != ":4000" || got.StorageDir != "/env/files" ||
			got.BackupDir != "/env/backups" || got.LogLevel != "warn" || got.LogFormat != "text" {
			t.Errorf("unset flags overrode the environment: %+v", got)
		}
	})

	t.Run("SetOverridesEnv", func(t *testing.T) {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		addConfigFlags(fs)
		err := fs.Parse([]string{
			"--database-url", "postgres://db/campfire", "--addr", "127.0.0.1:5000",
			"--storage-dir", "/flag/files", "--backup-dir=/flag/backups",
			"--log-level", "error", "--log-format", "json",
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := loadConfig(mapEnv(env), fs)
		if err != nil {
			t.Fatalf("loadConfig error: %v", err)
		}
		want := defaultConfig()
		want.DatabaseURL = "postgres://db/campfire"
		want.DatabaseEngine = "postgres"
		want.DatabasePath = ""
		want.Addr = "127.0.0.1:5000"
		want.StorageDir = "/flag/files"
		want.BackupDir = "/flag/backups"
		want.LogLevel = "error"
		want.LogFormat = "json"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("loadConfig mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("BadFlagNamed", func(t *testing.T) {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		addConfigFlags(fs)
		if err := fs.Parse([]string{"--addr", "nope"}); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(mapEnv(env), fs)
		mustUsageError(t, err, "--addr", `"nope"`)
	})

	t.Run("HelpNamesEnvAndDefault", func(t *testing.T) {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		addConfigFlags(fs)
		usage := fs.FlagUsages()
		for _, s := range []string{
			"CAMPFIRE_DATABASE_URL", "./data/campfire.db", "CAMPFIRE_ADDR", `":3000"`,
			"CAMPFIRE_STORAGE_DIR", "./data/files", "CAMPFIRE_BACKUP_DIR", "./backups",
			"CAMPFIRE_LOG_LEVEL", "CAMPFIRE_LOG_FORMAT",
		} {
			if !strings.Contains(usage, s) {
				t.Errorf("flag help does not mention %q:\n%s", s, usage)
			}
		}
	})
}

// TestConfigRedaction checks that neither String nor LogValue reveals a
// password, an access key or the webhook URL.
func TestConfigRedaction(t *testing.T) {
	env := map[string]string{
		"CAMPFIRE_DATABASE_URL":             "postgres://campfire:PGSECRET@db.internal:5432/campfire?sslmode=require&password=PGSECRET2",
		"CAMPFIRE_BACKUP_REMOTE":            "s3://AKIAKEYID:S3SECRET@bucket/prefix?region=us-east-1&secret_access_key=S3SECRET2&endpoint=http://u:S3SECRET3@127.0.0.1:7070",
		"CAMPFIRE_ALERT_WEBHOOK_URL":        "https://hooks.slack.com/services/T000/B000/HOOKSECRET",
		"CAMPFIRE_BACKUP_PGP_PASSPHRASE":    "PASSPHRASESECRET",
		"CAMPFIRE_BACKUP_AGE_IDENTITY_FILE": "/etc/campfire/age-identity.txt",
	}
	c, err := loadConfig(mapEnv(env), nil)
	if err != nil {
		t.Fatalf("loadConfig error: %v", err)
	}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c)
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c)

	for name, out := range map[string]string{
		"String":        c.String(),
		"LogValue/JSON": logged.String(),
		"LogValue/text": text.String(),
	} {
		for _, secret := range []string{"PGSECRET", "AKIAKEYID", "S3SECRET", "HOOKSECRET", "/services/", "PASSPHRASESECRET"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s reveals %q: %s", name, secret, out)
			}
		}
		for _, shown := range []string{"db.internal", "campfire", "sslmode=require", "region=us-east-1", "127.0.0.1:7070", "hooks.slack.com", "bucket/prefix",
			"/etc/campfire/age-identity.txt", "backup_pgp_passphrase_set", "backup_retention_years"} {
			if !strings.Contains(out, shown) {
				t.Errorf("%s does not show %q: %s", name, shown, out)
			}
		}
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		level, format string
		terminal      bool
		wantJSON      bool
		wantDebug     bool
	}{
		{"info", "auto", true, false, false},
		{"info", "auto", false, true, false},
		{"debug", "text", false, false, true},
		{"warn", "json", true, true, false},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		log := newLogger(&buf, tt.level, tt.format, tt.terminal)
		log.Debug("chatter")
		log.Warn("degraded", "k", "v")
		out := buf.String()
		if got := strings.HasPrefix(out, "{") || strings.Contains(out, "\n{"); got != tt.wantJSON {
			t.Errorf("newLogger(%q, %q, terminal=%v) JSON = %v, want %v; output:\n%s",
				tt.level, tt.format, tt.terminal, got, tt.wantJSON, out)
		}
		if got := strings.Contains(out, "chatter"); got != tt.wantDebug {
			t.Errorf("newLogger(%q, %q) logged debug = %v, want %v", tt.level, tt.format, got, tt.wantDebug)
		}
		if !strings.Contains(out, "degraded") {
			t.Errorf("newLogger(%q, %q) dropped a warning: %q", tt.level, tt.format, out)
		}
	}
}

// TestRun runs the command line in-process and checks exit codes and that a
// failure prints exactly one "campfire:" line on stderr.
func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring; "" means stderr must be empty
	}{
		{"Help", []string{"--help"}, nil, 0, "serve", ""},
		{"NoArgs", nil, nil, 0, "Available Commands", ""},
		{"VersionFlag", []string{"--version"}, nil, 0, "campfire ", ""},
		{"UnknownCommand", []string{"nosuchcommand"}, nil, 2, "", `unknown command "nosuchcommand"`},
		{"Suggestion", []string{"versoin"}, nil, 2, "", `did you mean "version"`},
		{"UnknownFlag", []string{"version", "--bogus"}, nil, 2, "", "unknown flag: --bogus"},
		{"ExtraArgs", []string{"version", "extra"}, nil, 2, "", "campfire version --help"},
		{"BadConfig", []string{"serve"}, map[string]string{"CAMPFIRE_ADDR": "nonsense"}, 2, "", "CAMPFIRE_ADDR"},
		{"BadFlagValue", []string{"serve", "--log-level", "loud"}, nil, 2, "", "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr, mapEnv(tt.env))
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d; stderr: %s", tt.args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("run(%q) stdout = %q, want it to contain %q", tt.args, stdout.String(), tt.wantStdout)
			}
			if tt.wantStderr == "" {
				if stderr.Len() != 0 {
					t.Errorf("run(%q) stderr = %q, want empty", tt.args, stderr.String())
				}
				return
			}
			mustOneErrorLine(t, stderr.String(), tt.wantStderr)
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"Nil", nil, 0},
		{"Usage", usageErrorf("bad"), 2},
		{"Run", &runError{err: errors.New("disk full")}, 1},
		{"UsageInsideRun", &runError{err: usageErrorf("bad")}, 2},
		{"Cobra", errors.New(`required flag(s) "to" not set`), 2},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%s) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func mustOneErrorLine(tb testing.TB, stderr, want string) {
	tb.Helper()
	if !strings.HasPrefix(stderr, "campfire: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		tb.Errorf("stderr = %q, want exactly one line starting with \"campfire: \"", stderr)
	}
	if !strings.Contains(stderr, want) {
		tb.Errorf("stderr = %q, want it to contain %q", stderr, want)
	}
}

// TestBinary builds the real binary once and runs it as a user would.
func TestBinary(t *testing.T) {
	bin := testBinary(t)
	baseEnv := cleanEnv()
	campfire := func(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(append([]string(nil), baseEnv...), env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			code = exitErr.ExitCode()
		default:
			t.Fatalf("run %s %q: %v", bin, args, err)
		}
		return code, out.String(), errOut.String()
	}

	t.Run("Version", func(t *testing.T) {
		code, out, errOut := campfire(t, nil, "version")
		if code != 0 {
			t.Fatalf("campfire version exited %d; stderr: %s", code, errOut)
		}
		for _, want := range []string{"campfire v9.9.9-test (commit 0123abcd, built ", "go1.", "\nSQLite 3."} {
			if !strings.Contains(out, want) {
				t.Errorf("campfire version printed %q, want it to contain %q", out, want)
			}
		}
	})

	t.Run("VersionJSON", func(t *testing.T) {
		code, out, errOut := campfire(t, nil, "version", "--json")
		if code != 0 {
			t.Fatalf("campfire version --json exited %d; stderr: %s", code, errOut)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("campfire version --json printed %q: %v", out, err)
		}
		if got["version"] != "v9.9.9-test" || got["commit"] != "0123abcd" ||
			!strings.HasPrefix(got["go"], "go1.") || !strings.HasPrefix(got["sqlite"], "3.") {
			t.Errorf("campfire version --json = %v", got)
		}
	})

	t.Run("BadAddr", func(t *testing.T) {
		code, _, errOut := campfire(t, []string{"CAMPFIRE_ADDR=nonsense"}, "serve")
		if code != 2 {
			t.Errorf("CAMPFIRE_ADDR=nonsense campfire serve exited %d, want 2", code)
		}
		mustOneErrorLine(t, errOut, "CAMPFIRE_ADDR")
	})

	t.Run("UnknownCommand", func(t *testing.T) {
		code, _, errOut := campfire(t, nil, "nosuchcommand")
		if code != 2 {
			t.Errorf("campfire nosuchcommand exited %d, want 2", code)
		}
		mustOneErrorLine(t, errOut, "nosuchcommand")
	})

	t.Run("Help", func(t *testing.T) {
		code, out, errOut := campfire(t, nil, "--help")
		if code != 0 {
			t.Fatalf("campfire --help exited %d; stderr: %s", code, errOut)
		}
		for _, want := range []string{"serve", "migrate", "version"} {
			if !strings.Contains(out, want) {
				t.Errorf("campfire --help does not list %q:\n%s", want, out)
			}
		}
	})
}
