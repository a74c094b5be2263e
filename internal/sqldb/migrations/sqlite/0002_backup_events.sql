-- The audit log of backups, verifications, prunes and restores, whether the
-- CLI or the server ran them: who (actor), what (action, type, file), when
-- (started_at, finished_at) and how it went (status, detail). Rows are only
-- ever added. detail is a short sentence for people and never holds a
-- secret (no keys, passphrases or URLs with credentials).

CREATE TABLE backup_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    action      TEXT    NOT NULL CHECK (action IN ('backup', 'verify', 'prune', 'restore')),
    type        TEXT    NOT NULL DEFAULT '',   -- full, hot, schema, safety, ...; '' for prune
    file        TEXT    NOT NULL DEFAULT '',   -- the artifact's file name (or the directory pruned)
    status      TEXT    NOT NULL CHECK (status IN ('success', 'failure')),
    detail      TEXT    NOT NULL DEFAULT '',
    bytes       INTEGER NOT NULL DEFAULT 0,    -- stored bytes (backup, verify), deleted (prune), restored (restore)
    duration_ms INTEGER NOT NULL DEFAULT 0,
    actor       TEXT    NOT NULL DEFAULT '',   -- "cli:root@host", "server", "web:user 3"
    started_at  TEXT    NOT NULL,
    finished_at TEXT    NOT NULL
);
-- Health and metrics ask for the newest success or failure of an action.
CREATE INDEX backup_events_action_status_finished_at ON backup_events (action, status, finished_at);
