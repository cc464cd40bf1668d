// Package sqlite is the embedded store: one SQLite file (modernc.org/sqlite,
// pure Go) in WAL mode. A commit survives a crash of the process (kill -9);
// only a crash of the machine may lose the last second. One server uses a
// file at a time: a lock file beside it says which process has it.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// Store is a store.Store on one SQLite file.
type Store struct {
	db   *sql.DB
	path string
	lock *os.File // held (flock) while the store is open

	mu  sync.Mutex // guards ids
	ids map[store.ReplicaKey]int64

	// The statements of Write, prepared once: parsing SQL for every row
	// cost more than writing it.
	stmts writeStmts
}

// writeStmts are the statements Write runs for each row of a batch.
type writeStmts struct {
	result, change, push, flush, findComponent, addComponent *sql.Stmt
}

const (
	sqlResult = `INSERT INTO results (replica_id, at_ms, status, latency_us, reason) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (replica_id, at_ms) DO UPDATE SET status = excluded.status, latency_us = excluded.latency_us, reason = excluded.reason`
	sqlChange = `INSERT INTO changes (component_id, at_ms, status, reason, resumed) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (component_id, at_ms) DO UPDATE SET status = excluded.status, reason = excluded.reason, resumed = excluded.resumed`
	sqlPush = `INSERT INTO push_replicas (replica_id, interval_ms, last_report_ms, status, has_load, cpu, ram)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (replica_id) DO UPDATE SET interval_ms = excluded.interval_ms,
		last_report_ms = excluded.last_report_ms, status = excluded.status, has_load = excluded.has_load,
		cpu = excluded.cpu, ram = excluded.ram`
	sqlFlush         = "DELETE FROM push_replicas WHERE replica_id = ?"
	sqlFindComponent = "SELECT id FROM components WHERE service = ? AND node = ? AND replica = ?"
	sqlAddComponent  = "INSERT INTO components (service, node, replica) VALUES (?, ?, ?) RETURNING id"
)

// prepare prepares the write statements, once the schema is up to date.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&s.stmts.result, sqlResult}, {&s.stmts.change, sqlChange}, {&s.stmts.push, sqlPush},
		{&s.stmts.flush, sqlFlush}, {&s.stmts.findComponent, sqlFindComponent}, {&s.stmts.addComponent, sqlAddComponent},
	} {
		st, err := s.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.st = st
	}
	return nil
}

var _ store.Store = (*Store)(nil)

// Open opens (or creates, with its folder) the store at path and brings its
// schema up to date. It fails, naming the file and what to do, when another
// process has the file, when the file is not a database this program can
// use, or when the folder cannot be written.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store %s: create its folder: %w", path, err)
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(5000)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+url.PathEscape(path)+"?"+q.Encode())
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	// One connection: writes are batched and reads are few, and SQLite
	// allows one writer anyway.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path, lock: lock, ids: map[store.ReplicaKey]int64{}}
	err = s.migrate(ctx)
	if err == nil {
		err = s.prepare(ctx)
	}
	if err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("store %s: %w; if the file is damaged, move it away (the server starts with an empty history) or restore a backup made with `overvakt backup`", path, err)
	}
	return s, nil
}

// lockFile takes an exclusive lock on path + ".lock" and writes our pid in
// it, so a second server on the same file is told which one has it.
func lockFile(path string) (*os.File, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(owner))
			if pid == "" {
				pid = "another process"
			} else {
				pid = "process " + pid
			}
			return nil, fmt.Errorf("store %s is in use by %s (another overvakt on the same [storage] path?); stop it, or give this one another path", path, pid)
		}
		return nil, fmt.Errorf("store %s: lock %s: %w", path, name, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// Path is the file the store is in.
func (s *Store) Path() string { return s.path }

// Close closes the database and releases the file.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.lock != nil {
		s.lock.Close()
	}
	return err
}

// Backup writes a consistent copy to path with VACUUM INTO.
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup %s: the file exists; name a new one", path)
	}
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	return nil
}

// ms is a time as Unix milliseconds, the unit every column uses.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS is the inverse of ms; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(t), Valid: true}
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// ---- announcements

func (s *Store) ListAnnouncements(ctx context.Context) ([]store.Announcement, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT id, title, text, published_ms, retracted_ms FROM announcements ORDER BY published_ms DESC, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Announcement
	for rows.Next() {
		var a store.Announcement
		var pub int64
		var ret sql.NullInt64
		if err := rows.Scan(&a.ID, &a.Title, &a.Text, &pub, &ret); err != nil {
			return nil, err
		}
		a.Published, a.Retracted = fromMS(pub), fromMS(ret.Int64)
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *Store) AddAnnouncement(ctx context.Context, a store.Announcement) error {
	_, err := s.db.ExecContext(ctx,
		"INSERT INTO announcements (id, title, text, published_ms, retracted_ms) VALUES (?, ?, ?, ?, ?)",
		a.ID, a.Title, a.Text, ms(a.Published), nullMS(a.Retracted))
	return err
}

func (s *Store) RetractAnnouncement(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx,
		"UPDATE announcements SET retracted_ms = ? WHERE id = ? AND retracted_ms IS NULL", ms(at), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ---- state and runs

func (s *Store) GetState(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, "SELECT value FROM state WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return v, err == nil, err
}

func (s *Store) PutState(ctx context.Context, key string, value []byte) error {
	_, err := s.db.ExecContext(ctx,
		"INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return err
}

func (s *Store) StartRun(ctx context.Context, at time.Time) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// A run that never stopped ended at its last sign of life.
		if _, err := tx.ExecContext(ctx, "UPDATE runs SET stopped_ms = alive_ms WHERE stopped_ms IS NULL"); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "INSERT INTO runs (started_ms, alive_ms) VALUES (?, ?) RETURNING id",
			ms(at), ms(at)).Scan(&id)
	})
	return id, err
}

func (s *Store) StopRun(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, "UPDATE runs SET alive_ms = ?, stopped_ms = ? WHERE id = ?", ms(at), ms(at), id)
	return err
}

func (s *Store) Runs(ctx context.Context, from, to time.Time) ([]store.Run, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT id, started_ms, alive_ms, stopped_ms FROM runs WHERE started_ms < ? AND COALESCE(stopped_ms, alive_ms) >= ? ORDER BY started_ms",
		ms(to), ms(from))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		var r store.Run
		var started, alive int64
		var stopped sql.NullInt64
		if err := rows.Scan(&r.ID, &started, &alive, &stopped); err != nil {
			return nil, err
		}
		r.Started, r.Alive, r.Stopped = fromMS(started), fromMS(alive), fromMS(stopped.Int64)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ---- history

// component returns the id of a replica, node (Replica "") or service
// (Node and Replica "") inside tx, adding it when it is new.
func (s *Store) component(ctx context.Context, tx *sql.Tx, k store.ReplicaKey) (int64, error) {
	s.mu.Lock()
	id, ok := s.ids[k]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	err := tx.StmtContext(ctx, s.stmts.findComponent).QueryRowContext(ctx, k.Service, k.Node, k.Replica).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.StmtContext(ctx, s.stmts.addComponent).QueryRowContext(ctx, k.Service, k.Node, k.Replica).Scan(&id)
	}
	if err != nil {
		return 0, err
	}
	// Remembered only once the transaction commits (see tx), so a rollback
	// cannot leave an id that does not exist.
	return id, nil
}

// remember caches ids the last transaction made or found.
func (s *Store) remember(ids map[store.ReplicaKey]int64) {
	s.mu.Lock()
	for k, id := range ids {
		s.ids[k] = id
	}
	s.mu.Unlock()
}

func compKey(c store.Component) store.ReplicaKey {
	return store.ReplicaKey{Service: c.Service, Node: c.Node}
}

// lookup finds the id of a component without adding it; 0 when unknown.
func (s *Store) lookup(ctx context.Context, k store.ReplicaKey) (int64, error) {
	s.mu.Lock()
	id, ok := s.ids[k]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	err := s.db.QueryRowContext(ctx, "SELECT id FROM components WHERE service = ? AND node = ? AND replica = ?",
		k.Service, k.Node, k.Replica).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

func (s *Store) Write(ctx context.Context, b *store.Batch) error {
	made := map[store.ReplicaKey]int64{}
	idOf := func(tx *sql.Tx, k store.ReplicaKey) (int64, error) {
		if id, ok := made[k]; ok {
			return id, nil
		}
		id, err := s.component(ctx, tx, k)
		if err == nil {
			made[k] = id
		}
		return id, err
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if len(b.Results) > 0 {
			st := tx.StmtContext(ctx, s.stmts.result)
			for _, r := range b.Results {
				id, err := idOf(tx, r.Key)
				if err != nil {
					return err
				}
				if _, err := st.ExecContext(ctx, id, ms(r.At), int(r.Status), r.Latency.Microseconds(), nullString(r.Reason)); err != nil {
					return err
				}
			}
		}
		if len(b.Changes) > 0 {
			st := tx.StmtContext(ctx, s.stmts.change)
			for _, c := range b.Changes {
				id, err := idOf(tx, compKey(c.Of))
				if err != nil {
					return err
				}
				if _, err := st.ExecContext(ctx, id, ms(c.At), int(c.Status), nullString(c.Reason), c.Resumed); err != nil {
					return err
				}
			}
		}
		if len(b.PushReplicas) > 0 {
			st := tx.StmtContext(ctx, s.stmts.push)
			for _, p := range b.PushReplicas {
				id, err := idOf(tx, p.Key)
				if err != nil {
					return err
				}
				if _, err := st.ExecContext(ctx, id, p.Interval.Milliseconds(), ms(p.LastReport), int(p.Status), p.HasLoad, p.CPU, p.RAM); err != nil {
					return err
				}
			}
		}
		if len(b.Flushed) > 0 {
			st := tx.StmtContext(ctx, s.stmts.flush)
			for _, k := range b.Flushed {
				id, err := idOf(tx, k)
				if err != nil {
					return err
				}
				if _, err := st.ExecContext(ctx, id); err != nil {
					return err
				}
			}
		}
		if b.Run != 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE runs SET alive_ms = MAX(alive_ms, ?) WHERE id = ?", ms(b.At), b.Run); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.remember(made)
	}
	return err
}

// tx runs f in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) PushReplicas(ctx context.Context) ([]store.PushReplica, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.service, c.node, c.replica, p.interval_ms, p.last_report_ms, p.status, p.has_load, p.cpu, p.ram
		FROM push_replicas p JOIN components c ON c.id = p.replica_id ORDER BY c.service, c.node, c.replica`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.PushReplica
	for rows.Next() {
		var p store.PushReplica
		var interval, last int64
		var st int
		if err := rows.Scan(&p.Key.Service, &p.Key.Node, &p.Key.Replica, &interval, &last, &st, &p.HasLoad, &p.CPU, &p.RAM); err != nil {
			return nil, err
		}
		p.Interval, p.LastReport, p.Status = time.Duration(interval)*time.Millisecond, fromMS(last), status.Status(st)
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *Store) LastResults(ctx context.Context) ([]store.Result, error) {
	return s.results(ctx, `SELECT c.service, c.node, c.replica, r.at_ms, r.status, r.latency_us, r.reason
		FROM components c JOIN results r ON r.replica_id = c.id
		WHERE r.at_ms = (SELECT MAX(at_ms) FROM results WHERE replica_id = c.id)
		ORDER BY c.service, c.node, c.replica`)
}

func (s *Store) Results(ctx context.Context, node store.Component, from, to time.Time) ([]store.Result, error) {
	return s.results(ctx, `SELECT c.service, c.node, c.replica, r.at_ms, r.status, r.latency_us, r.reason
		FROM components c JOIN results r ON r.replica_id = c.id
		WHERE c.service = ? AND c.node = ? AND c.replica <> '' AND r.at_ms < ?
		AND r.at_ms >= COALESCE((SELECT MAX(at_ms) FROM results WHERE replica_id = c.id AND at_ms < ?), ?)
		ORDER BY c.replica, r.at_ms`, node.Service, node.Node, ms(to), ms(from), ms(from))
}

func (s *Store) results(ctx context.Context, query string, args ...any) ([]store.Result, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Result
	for rows.Next() {
		var r store.Result
		var at, lat int64
		var st int
		var reason sql.NullString
		if err := rows.Scan(&r.Key.Service, &r.Key.Node, &r.Key.Replica, &at, &st, &lat, &reason); err != nil {
			return nil, err
		}
		r.At, r.Status, r.Latency, r.Reason = fromMS(at), status.Status(st), time.Duration(lat)*time.Microsecond, reason.String
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) LastChanges(ctx context.Context) ([]store.Change, error) {
	return s.changes(ctx, `SELECT c.service, c.node, h.at_ms, h.status, h.reason, h.resumed
		FROM components c JOIN changes h ON h.component_id = c.id
		WHERE h.at_ms = (SELECT MAX(at_ms) FROM changes WHERE component_id = c.id AND resumed = 0)
		ORDER BY c.service, c.node`)
}

func (s *Store) Changes(ctx context.Context, c store.Component, from, to time.Time) ([]store.Change, error) {
	id, err := s.lookup(ctx, compKey(c))
	if err != nil || id == 0 {
		return nil, err
	}
	return s.changes(ctx, `SELECT ?, ?, at_ms, status, reason, resumed FROM changes
		WHERE component_id = ? AND at_ms >= COALESCE((SELECT MAX(at_ms) FROM changes WHERE component_id = ? AND at_ms < ?), ?) AND at_ms < ?
		ORDER BY at_ms`, c.Service, c.Node, id, id, ms(from), ms(from), ms(to))
}

func (s *Store) ChangesSince(ctx context.Context, from, to time.Time) ([]store.Change, error) {
	return s.changes(ctx, `SELECT c.service, c.node, h.at_ms, h.status, h.reason, h.resumed
		FROM changes h JOIN components c ON c.id = h.component_id
		WHERE h.at_ms >= ? AND h.at_ms < ? ORDER BY h.at_ms, c.service, c.node`, ms(from), ms(to))
}

func (s *Store) changes(ctx context.Context, query string, args ...any) ([]store.Change, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		var c store.Change
		var at int64
		var st int
		var reason sql.NullString
		if err := rows.Scan(&c.Of.Service, &c.Of.Node, &at, &st, &reason, &c.Resumed); err != nil {
			return nil, err
		}
		c.At, c.Status, c.Reason = fromMS(at), status.Status(st), reason.String
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) PutRollups(ctx context.Context, rs []store.Rollup) error {
	made := map[store.ReplicaKey]int64{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO rollups (level, start_ms, component_id, healthy_ms, sick_ms, dead_ms, nodata_ms,
			maintenance_ms, latency_sum_us, latency_count, latency_max_us, latency_p95_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (level, start_ms, component_id) DO UPDATE SET healthy_ms = excluded.healthy_ms, sick_ms = excluded.sick_ms,
			dead_ms = excluded.dead_ms, nodata_ms = excluded.nodata_ms, maintenance_ms = excluded.maintenance_ms, latency_sum_us = excluded.latency_sum_us,
			latency_count = excluded.latency_count, latency_max_us = excluded.latency_max_us, latency_p95_us = excluded.latency_p95_us`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rs {
			k := store.ReplicaKey{Service: r.Of.Service, Node: r.Of.Node, Replica: r.Replica}
			id, ok := made[k]
			if !ok {
				if id, err = s.component(ctx, tx, k); err != nil {
					return err
				}
				made[k] = id
			}
			if _, err := st.ExecContext(ctx, int(r.Level), ms(r.Start), id, r.Healthy.Milliseconds(), r.Sick.Milliseconds(),
				r.Dead.Milliseconds(), r.NoData.Milliseconds(), r.Maintenance.Milliseconds(), r.LatencySum.Microseconds(), r.LatencyCount,
				r.LatencyMax.Microseconds(), r.LatencyP95.Microseconds()); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.remember(made)
	}
	return err
}

func (s *Store) Rollups(ctx context.Context, level store.Level, from, to time.Time, replicas bool) ([]store.Rollup, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.service, c.node, c.replica, r.start_ms, r.healthy_ms, r.sick_ms, r.dead_ms, r.nodata_ms,
		r.maintenance_ms, r.latency_sum_us, r.latency_count, r.latency_max_us, r.latency_p95_us
		FROM rollups r JOIN components c ON c.id = r.component_id
		WHERE r.level = ? AND r.start_ms >= ? AND r.start_ms < ? AND (? OR c.replica = '')
		ORDER BY r.start_ms, c.service, c.node, c.replica`,
		int(level), ms(from), ms(to), replicas)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Rollup
	for rows.Next() {
		r := store.Rollup{Level: level}
		var start, healthy, sick, dead, nodata, maint, sum, maxL, p95 int64
		if err := rows.Scan(&r.Of.Service, &r.Of.Node, &r.Replica, &start, &healthy, &sick, &dead, &nodata,
			&maint, &sum, &r.LatencyCount, &maxL, &p95); err != nil {
			return nil, err
		}
		r.Start = fromMS(start)
		r.Healthy, r.Sick, r.Dead, r.NoData, r.Maintenance = msDur(healthy), msDur(sick), msDur(dead), msDur(nodata), msDur(maint)
		r.LatencySum, r.LatencyMax, r.LatencyP95 = usDur(sum), usDur(maxL), usDur(p95)
		out = append(out, r)
	}
	return out, rows.Err()
}

func msDur(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
func usDur(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

func (s *Store) LastRollup(ctx context.Context, level store.Level) (time.Time, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(start_ms) FROM rollups WHERE level = ?", int(level)).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, err
	}
	return fromMS(v.Int64), nil
}

func (s *Store) Prune(ctx context.Context, raw, rollups time.Time) (int64, error) {
	var total int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []struct {
			sql    string
			before time.Time
		}{
			{"DELETE FROM results WHERE at_ms < ?", raw},
			{"DELETE FROM rollups WHERE start_ms < ?", rollups},
			{"DELETE FROM runs WHERE COALESCE(stopped_ms, alive_ms) < ?", rollups},
			// A change is kept while it is the one in force for its component.
			{`DELETE FROM changes WHERE at_ms < ? AND at_ms < (SELECT MAX(at_ms) FROM changes h WHERE h.component_id = changes.component_id)`, rollups},
		} {
			res, err := tx.ExecContext(ctx, q.sql, ms(q.before))
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	return total, err
}

// BackupFile writes a consistent copy of the store at path to out, whether
// or not a server has the store open: SQLite lets another process read a
// WAL database while it is written.
func BackupFile(ctx context.Context, path, out string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("backup %s: the file exists; name a new one", out)
	}
	db, err := sql.Open("sqlite", "file:"+url.PathEscape(path)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
		return fmt.Errorf("backup %s to %s: %w", path, out, err)
	}
	return nil
}
