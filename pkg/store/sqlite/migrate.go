package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each once, in a transaction of its own;
// the schema_version table says how many are. Never change one that has
// shipped: add the next.
var migrations = []string{
	// 1: everything the first store keeps. Times are Unix milliseconds,
	// latencies microseconds. A component is a service (node and replica
	// empty), a node (replica empty) or a replica.
	`CREATE TABLE announcements (
		id TEXT PRIMARY KEY,
		title TEXT NOT NULL,
		text TEXT NOT NULL,
		published_ms INTEGER NOT NULL,
		retracted_ms INTEGER
	);
	CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
	CREATE TABLE runs (
		id INTEGER PRIMARY KEY,
		started_ms INTEGER NOT NULL,
		alive_ms INTEGER NOT NULL,
		stopped_ms INTEGER
	);
	CREATE TABLE components (
		id INTEGER PRIMARY KEY,
		service TEXT NOT NULL,
		node TEXT NOT NULL,
		replica TEXT NOT NULL,
		UNIQUE (service, node, replica)
	);
	CREATE TABLE results (
		replica_id INTEGER NOT NULL,
		at_ms INTEGER NOT NULL,
		status INTEGER NOT NULL,
		latency_us INTEGER NOT NULL,
		reason TEXT,
		PRIMARY KEY (replica_id, at_ms)
	) WITHOUT ROWID;
	CREATE TABLE changes (
		component_id INTEGER NOT NULL,
		at_ms INTEGER NOT NULL,
		status INTEGER NOT NULL,
		reason TEXT,
		resumed INTEGER NOT NULL,
		PRIMARY KEY (component_id, at_ms)
	) WITHOUT ROWID;
	CREATE INDEX changes_at ON changes (at_ms);
	CREATE TABLE push_replicas (
		replica_id INTEGER PRIMARY KEY,
		interval_ms INTEGER NOT NULL,
		last_report_ms INTEGER NOT NULL,
		status INTEGER NOT NULL,
		has_load INTEGER NOT NULL,
		cpu REAL NOT NULL,
		ram REAL NOT NULL
	);
	CREATE TABLE rollups (
		level INTEGER NOT NULL,
		start_ms INTEGER NOT NULL,
		component_id INTEGER NOT NULL,
		healthy_ms INTEGER NOT NULL,
		sick_ms INTEGER NOT NULL,
		dead_ms INTEGER NOT NULL,
		nodata_ms INTEGER NOT NULL,
		latency_sum_us INTEGER NOT NULL,
		latency_count INTEGER NOT NULL,
		latency_max_us INTEGER NOT NULL,
		latency_p95_us INTEGER NOT NULL,
		PRIMARY KEY (level, start_ms, component_id)
	) WITHOUT ROWID;`,

	// 2: incidents with their updates, maintenance windows made through the
	// API, and subscribers. Component lists are JSON arrays of
	// ["service", "node"] pairs: they are read and written whole.
	`CREATE TABLE incidents (
		id TEXT PRIMARY KEY,
		title TEXT NOT NULL,
		impact TEXT NOT NULL,
		affected TEXT NOT NULL,
		status TEXT NOT NULL,
		draft INTEGER NOT NULL,
		publish_at_ms INTEGER,
		source TEXT NOT NULL,
		created_ms INTEGER NOT NULL,
		resolved_ms INTEGER
	);
	CREATE TABLE incident_updates (
		incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
		seq INTEGER NOT NULL,
		at_ms INTEGER NOT NULL,
		status TEXT NOT NULL,
		text TEXT NOT NULL,
		PRIMARY KEY (incident_id, seq)
	);
	CREATE TABLE windows (
		id TEXT PRIMARY KEY,
		title TEXT NOT NULL,
		text TEXT NOT NULL,
		affected TEXT NOT NULL,
		start_ms INTEGER NOT NULL,
		end_ms INTEGER NOT NULL
	);
	CREATE TABLE subscribers (
		id TEXT PRIMARY KEY,
		email TEXT NOT NULL,
		url TEXT NOT NULL,
		components TEXT NOT NULL,
		confirmed INTEGER NOT NULL,
		confirm_hash TEXT NOT NULL,
		unsubscribe_hash TEXT NOT NULL,
		created_ms INTEGER NOT NULL
	);`,

	// 3: the time of a rollup inside maintenance windows, counted apart
	// from its statuses (rollups made before it had none), and when a
	// window was scheduled (0: not known).
	`ALTER TABLE rollups ADD COLUMN maintenance_ms INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE windows ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;`,

	// 4: the dynamic targets.
	`CREATE TABLE monitors (
		url TEXT PRIMARY KEY,
		node TEXT NOT NULL,
		data BLOB NOT NULL,
		added_ms INTEGER NOT NULL
	);`,
}

// migrate brings the schema up to date. It also reads the file, so a file
// that is not a database fails here, at start.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); err != nil {
		return err
	}
	var version int
	err := s.db.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&version)
	switch {
	case err == sql.ErrNoRows:
		if _, err := s.db.ExecContext(ctx, "INSERT INTO schema_version (version) VALUES (0)"); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("the file has schema version %d, newer than this program knows (%d); run a newer overvakt", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "UPDATE schema_version SET version = ?", v+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	return nil
}
