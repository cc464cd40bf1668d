package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/overvakt/overvakt/pkg/store"
)

// components are kept as a JSON array of [service, node] pairs.
func encodeComponents(cs []store.Component) (string, error) {
	pairs := make([][2]string, len(cs))
	for i, c := range cs {
		pairs[i] = [2]string{c.Service, c.Node}
	}
	b, err := json.Marshal(pairs)
	return string(b), err
}

func decodeComponents(s string) ([]store.Component, error) {
	var pairs [][2]string
	if err := json.Unmarshal([]byte(s), &pairs); err != nil {
		return nil, fmt.Errorf("component list %q: %w", s, err)
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make([]store.Component, len(pairs))
	for i, p := range pairs {
		out[i] = store.Component{Service: p[0], Node: p[1]}
	}
	return out, nil
}

func (s *Store) ListIncidents(ctx context.Context) ([]store.Incident, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, title, impact, affected, status, draft, publish_at_ms, source, created_ms, resolved_ms
		FROM incidents ORDER BY created_ms DESC, id`)
	if err != nil {
		return nil, err
	}
	var out []store.Incident
	byID := map[string]int{}
	for rows.Next() {
		var inc store.Incident
		var affected string
		var publish, resolved sql.NullInt64
		var created int64
		if err := rows.Scan(&inc.ID, &inc.Title, &inc.Impact, &affected, &inc.Status, &inc.Draft, &publish, &inc.Source, &created, &resolved); err != nil {
			rows.Close()
			return nil, err
		}
		if inc.Affected, err = decodeComponents(affected); err != nil {
			rows.Close()
			return nil, err
		}
		inc.PublishAt, inc.Created, inc.Resolved = fromMS(publish.Int64), fromMS(created), fromMS(resolved.Int64)
		byID[inc.ID] = len(out)
		out = append(out, inc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ups, err := s.db.QueryContext(ctx, "SELECT incident_id, at_ms, status, text FROM incident_updates ORDER BY incident_id, seq")
	if err != nil {
		return nil, err
	}
	defer ups.Close()
	for ups.Next() {
		var id string
		var u store.IncidentUpdate
		var at int64
		if err := ups.Scan(&id, &at, &u.Status, &u.Text); err != nil {
			return nil, err
		}
		u.At = fromMS(at)
		if i, ok := byID[id]; ok {
			out[i].Updates = append(out[i].Updates, u)
		}
	}
	return out, ups.Err()
}

func (s *Store) PutIncident(ctx context.Context, inc store.Incident) error {
	affected, err := encodeComponents(inc.Affected)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, title, impact, affected, status, draft, publish_at_ms, source, created_ms, resolved_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET title = excluded.title, impact = excluded.impact,
			affected = excluded.affected, status = excluded.status, draft = excluded.draft, publish_at_ms = excluded.publish_at_ms,
			source = excluded.source, created_ms = excluded.created_ms, resolved_ms = excluded.resolved_ms`,
			inc.ID, inc.Title, inc.Impact, affected, inc.Status, inc.Draft, nullMS(inc.PublishAt), inc.Source, ms(inc.Created), nullMS(inc.Resolved)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM incident_updates WHERE incident_id = ?", inc.ID); err != nil {
			return err
		}
		for i, u := range inc.Updates {
			if _, err := tx.ExecContext(ctx, "INSERT INTO incident_updates (incident_id, seq, at_ms, status, text) VALUES (?, ?, ?, ?, ?)",
				inc.ID, i, ms(u.At), u.Status, u.Text); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) DeleteIncident(ctx context.Context, id string) (bool, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM incident_updates WHERE incident_id = ?", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM incidents WHERE id = ?", id)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return n == 1, err
}

func (s *Store) ListWindows(ctx context.Context) ([]store.Window, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, title, text, affected, start_ms, end_ms, created_ms FROM windows ORDER BY start_ms, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Window
	for rows.Next() {
		var w store.Window
		var affected string
		var start, end, created int64
		if err := rows.Scan(&w.ID, &w.Title, &w.Text, &affected, &start, &end, &created); err != nil {
			return nil, err
		}
		if w.Affected, err = decodeComponents(affected); err != nil {
			return nil, err
		}
		w.Start, w.End, w.Created = fromMS(start), fromMS(end), fromMS(created)
		out = append(out, w)
	}
	return out, rows.Err()
}

func (s *Store) PutWindow(ctx context.Context, w store.Window) error {
	affected, err := encodeComponents(w.Affected)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO windows (id, title, text, affected, start_ms, end_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, text = excluded.text, affected = excluded.affected,
		start_ms = excluded.start_ms, end_ms = excluded.end_ms, created_ms = excluded.created_ms`,
		w.ID, w.Title, w.Text, affected, ms(w.Start), ms(w.End), nullMS(w.Created).Int64)
	return err
}

func (s *Store) DeleteWindow(ctx context.Context, id string) (bool, error) {
	return s.deleteRow(ctx, "DELETE FROM windows WHERE id = ?", id)
}

func (s *Store) ListSubscribers(ctx context.Context) ([]store.Subscriber, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, email, url, components, confirmed, confirm_hash, unsubscribe_hash, created_ms
		FROM subscribers ORDER BY created_ms, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Subscriber
	for rows.Next() {
		var sub store.Subscriber
		var comps string
		var created int64
		if err := rows.Scan(&sub.ID, &sub.Email, &sub.URL, &comps, &sub.Confirmed, &sub.ConfirmHash, &sub.UnsubscribeHash, &created); err != nil {
			return nil, err
		}
		if sub.Components, err = decodeComponents(comps); err != nil {
			return nil, err
		}
		sub.Created = fromMS(created)
		out = append(out, sub)
	}
	return out, rows.Err()
}

func (s *Store) PutSubscriber(ctx context.Context, sub store.Subscriber) error {
	comps, err := encodeComponents(sub.Components)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO subscribers (id, email, url, components, confirmed, confirm_hash, unsubscribe_hash, created_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET email = excluded.email, url = excluded.url,
		components = excluded.components, confirmed = excluded.confirmed, confirm_hash = excluded.confirm_hash,
		unsubscribe_hash = excluded.unsubscribe_hash, created_ms = excluded.created_ms`,
		sub.ID, sub.Email, sub.URL, comps, sub.Confirmed, sub.ConfirmHash, sub.UnsubscribeHash, ms(sub.Created))
	return err
}

func (s *Store) DeleteSubscriber(ctx context.Context, id string) (bool, error) {
	return s.deleteRow(ctx, "DELETE FROM subscribers WHERE id = ?", id)
}

func (s *Store) ListMonitors(ctx context.Context) ([]store.Monitor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT url, node, data, added_ms FROM monitors ORDER BY added_ms, url`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Monitor
	for rows.Next() {
		var m store.Monitor
		var added int64
		if err := rows.Scan(&m.URL, &m.Node, &m.Data, &added); err != nil {
			return nil, err
		}
		m.Added = fromMS(added)
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *Store) PutMonitor(ctx context.Context, m store.Monitor) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO monitors (url, node, data, added_ms) VALUES (?, ?, ?, ?)
		ON CONFLICT (url) DO UPDATE SET node = excluded.node, data = excluded.data, added_ms = excluded.added_ms`,
		m.URL, m.Node, m.Data, ms(m.Added))
	return err
}

func (s *Store) DeleteMonitor(ctx context.Context, url string) (bool, error) {
	return s.deleteRow(ctx, "DELETE FROM monitors WHERE url = ?", url)
}

func (s *Store) deleteRow(ctx context.Context, query, id string) (bool, error) {
	res, err := s.db.ExecContext(ctx, query, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
