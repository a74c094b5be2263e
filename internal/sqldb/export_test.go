package sqldb

import "database/sql"

// Test hooks for the external sqldb_test package.

// ReaderPool returns the read-only connection pool.
func (db *DB) ReaderPool() *sql.DB { return db.reader }

// WriterPool returns the single-connection write pool.
func (db *DB) WriterPool() *sql.DB { return db.writer }
