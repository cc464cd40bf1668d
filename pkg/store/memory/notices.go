package memory

import (
	"context"
	"slices"
	"sort"

	"github.com/overvakt/overvakt/pkg/store"
)

// notices are the incidents, windows and subscribers, kept by id; callers
// get copies.
type notices struct {
	incidents   map[string]store.Incident
	windows     map[string]store.Window
	subscribers map[string]store.Subscriber
	monitors    map[string]store.Monitor
}

func (s *Store) notices() *notices {
	if s.n == nil {
		s.n = &notices{incidents: map[string]store.Incident{}, windows: map[string]store.Window{},
			subscribers: map[string]store.Subscriber{}, monitors: map[string]store.Monitor{}}
	}
	return s.n
}

func copyIncident(inc store.Incident) store.Incident {
	inc.Affected = slices.Clone(inc.Affected)
	inc.Updates = slices.Clone(inc.Updates)
	return inc
}

func (s *Store) ListIncidents(context.Context) ([]store.Incident, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Incident
	for _, inc := range s.notices().incidents {
		out = append(out, copyIncident(inc))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (s *Store) PutIncident(_ context.Context, inc store.Incident) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.notices().incidents[inc.ID] = copyIncident(inc)
	return nil
}

func (s *Store) DeleteIncident(_ context.Context, id string) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	_, ok := s.notices().incidents[id]
	delete(s.notices().incidents, id)
	return ok, nil
}

func (s *Store) ListWindows(context.Context) ([]store.Window, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Window
	for _, w := range s.notices().windows {
		w.Affected = slices.Clone(w.Affected)
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (s *Store) PutWindow(_ context.Context, w store.Window) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	w.Affected = slices.Clone(w.Affected)
	s.notices().windows[w.ID] = w
	return nil
}

func (s *Store) DeleteWindow(_ context.Context, id string) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	_, ok := s.notices().windows[id]
	delete(s.notices().windows, id)
	return ok, nil
}

func (s *Store) ListSubscribers(context.Context) ([]store.Subscriber, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []store.Subscriber
	for _, sub := range s.notices().subscribers {
		sub.Components = slices.Clone(sub.Components)
		out = append(out, sub)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (s *Store) PutSubscriber(_ context.Context, sub store.Subscriber) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	sub.Components = slices.Clone(sub.Components)
	s.notices().subscribers[sub.ID] = sub
	return nil
}

func (s *Store) DeleteSubscriber(_ context.Context, id string) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	_, ok := s.notices().subscribers[id]
	delete(s.notices().subscribers, id)
	return ok, nil
}

func (s *Store) ListMonitors(context.Context) ([]store.Monitor, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]store.Monitor, 0, len(s.notices().monitors))
	for _, m := range s.notices().monitors {
		m.Data = slices.Clone(m.Data)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Added.Equal(out[j].Added) {
			return out[i].Added.Before(out[j].Added)
		}
		return out[i].URL < out[j].URL
	})
	return out, nil
}

func (s *Store) PutMonitor(_ context.Context, m store.Monitor) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	m.Data = slices.Clone(m.Data)
	s.notices().monitors[m.URL] = m
	return nil
}

func (s *Store) DeleteMonitor(_ context.Context, url string) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	_, ok := s.notices().monitors[url]
	delete(s.notices().monitors, url)
	return ok, nil
}
