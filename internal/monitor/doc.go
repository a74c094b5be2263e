// Package monitor decides whether backups are healthy and tells people
// when they are not.
//
// Check is pure: from what is known (Status: the backups in the backup
// directory, replication lag, destinations, disk space) and Thresholds it
// returns the active alerts, each with a stable key. A Notifier turns the
// alerts of successive checks into notifications: once when an alert
// starts, again after a repeat interval while it lasts, and once when it
// clears; each is logged and, when a webhook is configured, posted to it
// (Slack-compatible JSON). Its state lives in a Store: memory in the
// server, a small file in the backup directory for campfire backup monitor
// run from cron.
package monitor
