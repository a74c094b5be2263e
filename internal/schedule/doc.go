// Package schedule runs the server's periodic jobs (backups, prune,
// verification, the monitor check) on cron schedules, via
// github.com/robfig/cron/v3.
//
// A job is a name, a spec and a function; the caller decides what the
// function does and what happens to its outcome (OnResult), so this package
// knows nothing of backups. Runs of one job never overlap: a run that is
// due while the previous one still runs is skipped and logged. A panic in a
// job becomes its error. Stop waits for running jobs.
//
// Specs are standard 5-field cron expressions (minute hour day-of-month
// month day-of-week) or descriptors (@yearly, @monthly, @weekly, @daily,
// @hourly, @every 1h30m), evaluated in the process's local time zone (the
// TZ environment variable); a "CRON_TZ=Europe/Paris " or "TZ=UTC " prefix
// sets the zone of one spec. "off" disables a job.
package schedule
