package sqldb

import (
	"context"
	"database/sql"
	"os"
	"time"
)

// Stats describes the database for health checks.
type Stats struct {
	Engine        string        `json:"engine"`
	Path          string        `json:"path"`
	SQLiteVersion string        `json:"sqlite_version"`
	SchemaVersion int           `json:"schema_version"`
	FileBytes     int64         `json:"file_bytes"`
	WALBytes      int64         `json:"wal_bytes"`
	Latency       time.Duration `json:"-"`
}

// Ping checks that the database answers a query and the file is still there.
func (db *DB) Ping(ctx context.Context) error {
	if _, err := os.Stat(db.Path); err != nil {
		return err
	}
	var one int
	return db.reader.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations LIMIT 1`).Scan(&one)
}

// Stats measures a round trip and reports file sizes and pool statistics.
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	s := Stats{Engine: "sqlite", Path: db.Path}
	start := time.Now()
	if err := db.Ping(ctx); err != nil {
		return s, err
	}
	s.Latency = time.Since(start)
	if err := db.reader.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&s.SQLiteVersion); err != nil {
		return s, err
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return s, err
	}
	s.SchemaVersion = v
	if fi, err := os.Stat(db.Path); err == nil {
		s.FileBytes = fi.Size()
	}
	s.WALBytes = db.WALSize()
	return s, nil
}

// PoolStats reports the read and write connection pools.
func (db *DB) PoolStats() (reader, writer sql.DBStats) {
	return db.reader.Stats(), db.writer.Stats()
}
