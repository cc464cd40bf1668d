package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/store"
)

// A file made by an older version is brought up to date, keeping its rows.
func TestMigrationKeepsRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE schema_version (version INTEGER NOT NULL)",
		"INSERT INTO schema_version (version) VALUES (1)",
		migrations[0],
		"INSERT INTO announcements (id, title, text, published_ms) VALUES ('a', 'Kept', 'x', 1)",
		"INSERT INTO components (id, service, node, replica) VALUES (1, 'web', 'api', '')",
		`INSERT INTO rollups (level, start_ms, component_id, healthy_ms, sick_ms, dead_ms, nodata_ms, latency_sum_us,
			latency_count, latency_max_us, latency_p95_us) VALUES (1, 3600000, 1, 3000000, 0, 600000, 0, 0, 0, 0, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if list, err := s.ListAnnouncements(context.Background()); err != nil || len(list) != 1 || list[0].Title != "Kept" {
		t.Fatalf("announcements after the migration: %v %v", list, err)
	}
	if _, err := s.ListIncidents(context.Background()); err != nil {
		t.Fatalf("the new tables: %v", err)
	}
	// A rollup from before maintenance was counted has none.
	rs, err := s.Rollups(context.Background(), store.Hourly, time.UnixMilli(0), time.UnixMilli(7200000), false)
	if err != nil || len(rs) != 1 || rs[0].Healthy != 50*time.Minute || rs[0].Dead != 10*time.Minute || rs[0].Maintenance != 0 {
		t.Fatalf("rollups after the migration: %+v %v", rs, err)
	}
	var v int
	s.db.QueryRow("SELECT version FROM schema_version").Scan(&v)
	if v != len(migrations) {
		t.Errorf("schema version %d, want %d", v, len(migrations))
	}
}

// A file from a newer program is refused, untouched.
func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	db, _ := sql.Open("sqlite", "file:"+path)
	db.Exec("CREATE TABLE schema_version (version INTEGER NOT NULL)")
	db.Exec("INSERT INTO schema_version (version) VALUES (99)")
	db.Close()
	if _, err := Open(context.Background(), path); err == nil {
		t.Fatal("a file of schema version 99 was opened")
	}
}
