// Package admin is how campfire's command line and a running server share
// one database without ever both owning it (DESIGN.md "Backup engine
// principles"):
//
//   - the ownership lock: an exclusive flock on <database>.lock, held by
//     campfire serve for its lifetime and by a command that works on the
//     database alone (LockDatabase);
//   - the admin socket: serve listens on <database dir>/campfire.sock
//     (owner-only) and does backups, verifications, prunes and restores
//     for the command line (NewHandler, Listen, Client), streaming progress
//     as JSON lines;
//   - the operations themselves (Ops), shared by the socket, the web
//     page's "Back up now" button and the command line working alone: each
//     one is recorded in the database's audit log (sqldb.BackupEvent) and
//     logged in one line.
//
// The socket protocol is HTTP/1.1 over the Unix socket: GET /v1/status,
// and POST /v1/backup, /v1/verify, /v1/prune and /v1/restore with a JSON
// request. Their answer is application/x-ndjson: zero or more
// {"progress":{…}} or {"notice":"…"} lines, then one line with "result",
// "error" or both (a backup whose verification failed).
package admin
