package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/campfire-in-go/campfire/internal/backup"
	"github.com/campfire-in-go/campfire/internal/monitor"
)

func newBackupMonitorCommand(e *env) *cobra.Command {
	var asJSON, noNotify bool
	cmd := &cobra.Command{
		Use:   "monitor [--json] [--no-notify]",
		Short: "Check backup health, send alerts, exit 1 while any alert is active",
		Long: `Check the backups in CAMPFIRE_BACKUP_DIR and alert when something is wrong:

  no_full_backup       no good full backup for CAMPFIRE_ALERT_MAX_FULL_AGE (25h)
  backup_too_small     the newest full backup is under CAMPFIRE_ALERT_MIN_SIZE_RATIO
                       (0.5) of the average of the previous (up to 7) full backups
  replication_lag      continuous backup lags more than CAMPFIRE_ALERT_MAX_LAG (60s)
  destination_failing  an off-site destination failed CAMPFIRE_ALERT_DESTINATION_FAILURES
                       (3) times in a row
  low_disk             free space for backups under CAMPFIRE_ALERT_MIN_FREE_PERCENT (10)
                       of the file system or twice the newest full backup

It prints each condition as OK or ALERT, logs each alert that starts (error
level) or clears (info), and posts it to CAMPFIRE_ALERT_WEBHOOK_URL (or
SLACK_WEBHOOK_URL; Slack-compatible JSON). An alert is sent once when it
starts, again every CAMPFIRE_ALERT_REPEAT (24h) while it lasts, and a
"resolved" message when it clears: run it from cron as often as you like.
What was sent is remembered in <backup dir>/` + monitor.StateFile + ` (mode 0600).

Exit status: 0 when every condition is OK, 1 while any alert is active.
--no-notify checks and prints only (no webhook, no state change). campfire
serve runs the same check every 5 minutes by itself
(CAMPFIRE_BACKUP_SCHEDULE_MONITOR).`,
		Example: `  campfire backup monitor
  campfire backup monitor --json | jq '.alerts'
  # cron, every 15 minutes; mails the one-line error while an alert is active
  */15 * * * *  campfire  set -a; . /etc/campfire/env; campfire backup monitor >/dev/null`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackupMonitor(cmd, e, asJSON, noNotify)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the findings, alerts and notifications as JSON")
	cmd.Flags().BoolVar(&noNotify, "no-notify", false, "check and print only: send nothing and change no state")
	addBackupConfigFlags(cmd.Flags())
	return cmd
}

// monitorReport is what backup monitor --json prints.
type monitorReport struct {
	CheckedAt     time.Time         `json:"checked_at"`
	Dir           string            `json:"dir"`
	OK            bool              `json:"ok"`
	Findings      []monitor.Finding `json:"findings"`
	Alerts        []monitor.Alert   `json:"alerts"`
	Notifications []monitor.Event   `json:"notifications"`
}

func runBackupMonitor(cmd *cobra.Command, e *env, asJSON, noNotify bool) error {
	cfg, err := loadConfig(e.Getenv, cmd.Flags())
	if err != nil {
		return err
	}
	dir := absPath(cfg.BackupDir)
	now := time.Now()
	st, err := monitor.LocalStatus(dir)
	if err != nil {
		return err
	}
	rep := monitorReport{CheckedAt: now.UTC(), Dir: dir, Alerts: []monitor.Alert{}, Notifications: []monitor.Event{}}
	rep.Findings = monitor.Evaluate(now, st, cfg.Alerts.Thresholds)
	for _, f := range rep.Findings {
		if f.Alert {
			rep.Alerts = append(rep.Alerts, monitor.Alert{Key: f.Key, Summary: f.Detail})
		}
	}
	rep.OK = len(rep.Alerts) == 0

	var notifyErr error
	if !noNotify {
		// The state lives in the backup directory; create it as a backup
		// would, so a fresh install is deduplicated from the first run.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("backup directory: %w", err)
		}
		n := &monitor.Notifier{
			WebhookURL: cfg.AlertWebhookURL, Host: backup.DefaultHost(), Repeat: cfg.Alerts.Repeat,
			Logger: cliLogger(e, cfg), Store: monitor.FileStore(filepath.Join(dir, monitor.StateFile)),
		}
		evs, err := n.Update(cmd.Context(), now, rep.Alerts)
		rep.Notifications = append(rep.Notifications, evs...)
		notifyErr = err
	}

	if asJSON {
		if err := printJSON(e.Stdout, rep); err != nil {
			return err
		}
	} else {
		printMonitor(e.Stdout, rep, cfg.AlertWebhookURL != "" && !noNotify)
	}
	if notifyErr != nil {
		return notifyErr
	}
	if !rep.OK {
		keys := make([]string, len(rep.Alerts))
		for i, a := range rep.Alerts {
			keys[i] = a.Key
		}
		return fmt.Errorf("%d backup alert(s) active: %s; see campfire backup monitor and docs/operations.md", len(keys), strings.Join(keys, ", "))
	}
	return nil
}

func printMonitor(w io.Writer, rep monitorReport, webhook bool) {
	fmt.Fprintf(w, "Backup health of %s at %s\n", rep.Dir, localTime(rep.CheckedAt))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range rep.Findings {
		status := "OK"
		if f.Alert {
			status = "ALERT"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", status, f.Key, f.Detail)
	}
	tw.Flush()
	for _, ev := range rep.Notifications {
		how := "logged"
		switch {
		case ev.Delivered:
			how = "sent to the webhook"
		case webhook:
			how = "logged; the webhook failed (retried at the next check)"
		}
		fmt.Fprintf(w, "%s: %s (%s)\n", ev.Kind, ev.Alert.Key, how)
	}
}
