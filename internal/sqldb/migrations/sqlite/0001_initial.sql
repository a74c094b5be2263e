-- The core schema. Times are UTC text in a fixed-width format
-- (2006-01-02T15:04:05.000000Z), so they sort as text and read well in the
-- sqlite3 shell. Tables whose rows get deleted use AUTOINCREMENT: an id is
-- never reused, so a client's cursor or cached id never names another row.

CREATE TABLE accounts (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT    NOT NULL,
    join_code              TEXT    NOT NULL,
    restrict_room_creation INTEGER NOT NULL DEFAULT 0,
    -- At most one account can exist: this closes the first-run race.
    singleton_guard        INTEGER NOT NULL DEFAULT 0 UNIQUE,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT UNIQUE,            -- NULL for bots
    password_hash TEXT,                   -- NULL for bots
    role          TEXT NOT NULL CHECK (role IN ('member', 'administrator', 'bot')),
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
    bio           TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash     TEXT    NOT NULL UNIQUE, -- SHA-256 of the token; the token itself is never stored
    ip_address     TEXT    NOT NULL DEFAULT '',
    user_agent     TEXT    NOT NULL DEFAULT '',
    created_at     TEXT    NOT NULL,
    last_active_at TEXT    NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL DEFAULT '',
    type       TEXT    NOT NULL CHECK (type IN ('open', 'closed', 'direct')),
    creator_id INTEGER NOT NULL REFERENCES users (id),
    -- Sorted member ids of a direct room: one room per exact set of users.
    direct_key TEXT UNIQUE,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    CHECK ((type = 'direct') = (direct_key IS NOT NULL))
);

CREATE TABLE room_memberships (
    room_id     INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    involvement TEXT    NOT NULL DEFAULT 'mentions'
        CHECK (involvement IN ('everything', 'mentions', 'nothing', 'invisible')),
    unread_at   TEXT,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_memberships_user_id ON room_memberships (user_id);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id    INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    creator_id INTEGER NOT NULL REFERENCES users (id),
    client_id  TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    html       TEXT    NOT NULL,
    plain      TEXT    NOT NULL,
    sound      TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);
-- Pages of a room's messages are read by id (before/after cursors).
CREATE INDEX messages_room_id_id ON messages (room_id, id);
CREATE INDEX messages_room_id_created_at ON messages (room_id, created_at);
-- Posting is idempotent per author and client-supplied id.
CREATE UNIQUE INDEX messages_creator_id_client_id ON messages (creator_id, client_id);

CREATE TABLE message_mentions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user_id ON message_mentions (user_id);

CREATE TABLE boosts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    booster_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content    TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX boosts_message_id ON boosts (message_id);
CREATE INDEX boosts_booster_id ON boosts (booster_id);

CREATE TABLE searches (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    query      TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    UNIQUE (user_id, query)
);

-- Full-text search over the messages' plain text (engine-specific: FTS5
-- with porter stemming), kept in step by triggers so that restores and
-- imports are indexed too.
CREATE VIRTUAL TABLE message_search_index USING fts5 (
    plain,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search_index (rowid, plain) VALUES (new.id, new.plain);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_search_index (message_search_index, rowid, plain) VALUES ('delete', old.id, old.plain);
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF plain ON messages BEGIN
    INSERT INTO message_search_index (message_search_index, rowid, plain) VALUES ('delete', old.id, old.plain);
    INSERT INTO message_search_index (rowid, plain) VALUES (new.id, new.plain);
END;
