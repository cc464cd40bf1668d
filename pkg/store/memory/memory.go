// Package memory is a store.Store in memory: for tests, and for a server
// that should remember nothing ([storage] driver = "memory"). Its content
// ends with the process.
package memory

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/store"
)

// Store is the in-memory store.
type Store struct {
	mu       sync.Mutex
	closed   bool
	anns     []store.Announcement // oldest first
	state    map[string][]byte
	runs     []store.Run
	results  map[store.ReplicaKey][]store.Result // by time
	changes  map[store.Component][]store.Change  // by time
	replicas map[store.ReplicaKey]store.PushReplica
	rollups  map[rollupKey]store.Rollup
	n        *notices // incidents, windows, subscribers; made on first use
}

type rollupKey struct {
	level   store.Level
	start   int64
	of      store.Component
	replica string
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		state:    map[string][]byte{},
		results:  map[store.ReplicaKey][]store.Result{},
		changes:  map[store.Component][]store.Change{},
		replicas: map[store.ReplicaKey]store.PushReplica{},
		rollups:  map[rollupKey]store.Rollup{},
	}
}

// lock takes the store, failing once it is closed.
func (s *Store) lock() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}

func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// Backup has nothing to copy to a file but an empty marker, since nothing
// is kept on disk.
func (s *Store) Backup(_ context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return os.ErrExist
	}
	return os.WriteFile(path, nil, 0o600)
}

func (s *Store) ListAnnouncements(context.Context) ([]store.Announcement, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := slices.Clone(s.anns)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Published.After(out[j].Published) })
	return out, nil
}

func (s *Store) AddAnnouncement(_ context.Context, a store.Announcement) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, old := range s.anns {
		if old.ID == a.ID {
			return fmt.Errorf("memory store: announcement %q exists", a.ID)
		}
	}
	s.anns = append(s.anns, a)
	return nil
}

func (s *Store) RetractAnnouncement(_ context.Context, id string, at time.Time) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	for i := range s.anns {
		if s.anns[i].ID == id && s.anns[i].Retracted.IsZero() {
			s.anns[i].Retracted = at
			return true, nil
		}
	}
	return false, nil
}

func (s *Store) GetState(_ context.Context, key string) ([]byte, bool, error) {
	if err := s.lock(); err != nil {
		return nil, false, err
	}
	defer s.mu.Unlock()
	v, ok := s.state[key]
	return slices.Clone(v), ok, nil
}

func (s *Store) PutState(_ context.Context, key string, value []byte) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.state[key] = slices.Clone(value)
	return nil
}

func (s *Store) StartRun(_ context.Context, at time.Time) (int64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	for i := range s.runs {
		if s.runs[i].Stopped.IsZero() {
			s.runs[i].Stopped = s.runs[i].Alive
		}
	}
	id := int64(len(s.runs) + 1)
	s.runs = append(s.runs, store.Run{ID: id, Started: at, Alive: at})
	return id, nil
}

func (s *Store) StopRun(_ context.Context, id int64, at time.Time) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for i := range s.runs {
		if s.runs[i].ID == id {
			s.runs[i].Alive, s.runs[i].Stopped = at, at
		}
	}
	return nil
}

func (s *Store) Runs(_ context.Context, from, to time.Time) ([]store.Run, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Run
	for _, r := range s.runs {
		if r.Started.Before(to) && !r.End().Before(from) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *Store) Write(_ context.Context, b *store.Batch) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, r := range b.Results {
		s.results[r.Key] = putByTime(s.results[r.Key], r, func(x store.Result) time.Time { return x.At })
	}
	for _, c := range b.Changes {
		s.changes[c.Of] = putByTime(s.changes[c.Of], c, func(x store.Change) time.Time { return x.At })
	}
	for _, p := range b.PushReplicas {
		s.replicas[p.Key] = p
	}
	for _, k := range b.Flushed {
		delete(s.replicas, k)
	}
	for i := range s.runs {
		if s.runs[i].ID == b.Run && b.At.After(s.runs[i].Alive) {
			s.runs[i].Alive = b.At
		}
	}
	return nil
}

// putByTime inserts v into list, kept in time order (millisecond grain, as
// the SQL store keeps it), replacing an entry at the same time.
func putByTime[T any](list []T, v T, at func(T) time.Time) []T {
	t := at(v).UnixMilli()
	i := sort.Search(len(list), func(i int) bool { return at(list[i]).UnixMilli() >= t })
	if i < len(list) && at(list[i]).UnixMilli() == t {
		list[i] = v
		return list
	}
	return slices.Insert(list, i, v)
}

func (s *Store) PushReplicas(context.Context) ([]store.PushReplica, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]store.PushReplica, 0, len(s.replicas))
	for _, p := range s.replicas {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return keyLess(out[i].Key, out[j].Key) })
	return out, nil
}

func keyLess(a, b store.ReplicaKey) bool {
	if a.Service != b.Service {
		return a.Service < b.Service
	}
	if a.Node != b.Node {
		return a.Node < b.Node
	}
	return a.Replica < b.Replica
}

func (s *Store) LastResults(context.Context) ([]store.Result, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Result
	for _, rs := range s.results {
		if len(rs) > 0 {
			out = append(out, rs[len(rs)-1])
		}
	}
	sort.Slice(out, func(i, j int) bool { return keyLess(out[i].Key, out[j].Key) })
	return out, nil
}

func (s *Store) Results(_ context.Context, node store.Component, from, to time.Time) ([]store.Result, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Result
	for k, rs := range s.results {
		if k.NodeOf() != node {
			continue
		}
		for i, r := range rs {
			inForce := r.At.Before(from) && (i+1 == len(rs) || !rs[i+1].At.Before(from))
			if inForce || !r.At.Before(from) && r.At.Before(to) {
				out = append(out, r)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Key.Replica != out[j].Key.Replica {
			return out[i].Key.Replica < out[j].Key.Replica
		}
		return out[i].At.Before(out[j].At)
	})
	return out, nil
}

func (s *Store) LastChanges(context.Context) ([]store.Change, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Change
	for _, cs := range s.changes {
		for i := len(cs) - 1; i >= 0; i-- {
			if !cs[i].Resumed {
				out = append(out, cs[i])
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return keyLess(store.ReplicaKey{Service: out[i].Of.Service, Node: out[i].Of.Node},
			store.ReplicaKey{Service: out[j].Of.Service, Node: out[j].Of.Node})
	})
	return out, nil
}

func (s *Store) Changes(_ context.Context, c store.Component, from, to time.Time) ([]store.Change, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Change
	for i, ch := range s.changes[c] {
		inForce := ch.At.Before(from) && (i+1 == len(s.changes[c]) || !s.changes[c][i+1].At.Before(from))
		if inForce || !ch.At.Before(from) && ch.At.Before(to) {
			out = append(out, ch)
		}
	}
	return out, nil
}

func (s *Store) ChangesSince(_ context.Context, from, to time.Time) ([]store.Change, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Change
	for _, cs := range s.changes {
		for _, ch := range cs {
			if !ch.At.Before(from) && ch.At.Before(to) {
				out = append(out, ch)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return keyLess(store.ReplicaKey{Service: out[i].Of.Service, Node: out[i].Of.Node},
			store.ReplicaKey{Service: out[j].Of.Service, Node: out[j].Of.Node})
	})
	return out, nil
}

func (s *Store) PutRollups(_ context.Context, rs []store.Rollup) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, r := range rs {
		r.Start = time.UnixMilli(r.Start.UnixMilli())
		s.rollups[rollupKey{r.Level, r.Start.UnixMilli(), r.Of, r.Replica}] = r
	}
	return nil
}

func (s *Store) Rollups(_ context.Context, level store.Level, from, to time.Time, replicas bool) ([]store.Rollup, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Rollup
	for k, r := range s.rollups {
		if k.level == level && !r.Start.Before(from) && r.Start.Before(to) && (replicas || k.replica == "") {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return keyLess(store.ReplicaKey{Service: out[i].Of.Service, Node: out[i].Of.Node, Replica: out[i].Replica},
			store.ReplicaKey{Service: out[j].Of.Service, Node: out[j].Of.Node, Replica: out[j].Replica})
	})
	return out, nil
}

func (s *Store) LastRollup(_ context.Context, level store.Level) (time.Time, error) {
	if err := s.lock(); err != nil {
		return time.Time{}, err
	}
	defer s.mu.Unlock()
	var last time.Time
	for k, r := range s.rollups {
		if k.level == level && r.Start.After(last) {
			last = r.Start
		}
	}
	return last, nil
}

func (s *Store) Prune(_ context.Context, raw, rollups time.Time) (int64, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	var n int64
	for k, rs := range s.results {
		keep := slices.DeleteFunc(rs, func(r store.Result) bool { return r.At.Before(raw) })
		n += int64(len(rs) - len(keep))
		s.results[k] = keep
	}
	for k, r := range s.rollups {
		if r.Start.Before(rollups) {
			delete(s.rollups, k)
			n++
		}
	}
	before := len(s.runs)
	s.runs = slices.DeleteFunc(s.runs, func(r store.Run) bool { return r.End().Before(rollups) })
	n += int64(before - len(s.runs))
	for k, cs := range s.changes {
		last := len(cs) - 1
		keep := make([]store.Change, 0, len(cs))
		for i, c := range cs {
			if c.At.Before(rollups) && i != last {
				n++
				continue
			}
			keep = append(keep, c)
		}
		s.changes[k] = keep
	}
	return n, nil
}
