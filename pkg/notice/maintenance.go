package notice

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/store"
)

// Window is one maintenance window: from the config file (once, or one
// occurrence of a repeating one) or made through the API.
type Window = store.Window

// MaxWindows bounds the windows made through the API that are kept ahead.
const MaxWindows = 200

// Schedule is the one owner of maintenance windows: the config's, and
// those made through the manager API (kept in the store). It is safe for
// concurrent use, and its reads never wait.
type Schedule struct {
	config     []config.Maintenance
	locs       []*time.Location // of each config window's Timezone
	st         store.Incidents
	components Components
	now        func() time.Time
	log        *slog.Logger

	mu   sync.Mutex // serializes writes
	api  atomic.Pointer[[]Window]
	vers atomic.Uint64

	subMu sync.Mutex
	subs  map[chan struct{}]struct{} // told of every change
}

// ScheduleOptions configure a Schedule; Store and Components are required.
type ScheduleOptions struct {
	Config     []config.Maintenance // checked by the loader
	Store      store.Incidents
	Components Components
	Now        func() time.Time
	Logger     *slog.Logger
}

// NewSchedule reads the windows kept in the store.
func NewSchedule(ctx context.Context, o ScheduleOptions) (*Schedule, error) {
	s := &Schedule{config: o.Config, st: o.Store, components: o.Components, now: o.Now, log: o.Logger,
		subs: map[chan struct{}]struct{}{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, m := range o.Config {
		loc := time.Local
		if m.Timezone != "" {
			l, err := time.LoadLocation(m.Timezone)
			if err != nil {
				return nil, fmt.Errorf("maintenance %q: timezone: %w", m.Title, err)
			}
			loc = l
		}
		s.locs = append(s.locs, loc)
	}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Schedule) reload(ctx context.Context) error {
	ws, err := s.st.ListWindows(ctx)
	if err != nil {
		return err
	}
	s.api.Store(&ws)
	s.vers.Add(1)
	s.subMu.Lock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	s.subMu.Unlock()
	return nil
}

// Version grows with every change of the windows made through the API.
func (s *Schedule) Version() uint64 { return s.vers.Load() }

// Subscribe returns a channel that receives a value after windows are
// added or removed (changes in a row may come as one), and a function
// that stops it. Windows starting and ending send nothing: NextChange
// says when that happens.
func (s *Schedule) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.subMu.Lock()
	s.subs[ch] = struct{}{}
	s.subMu.Unlock()
	return ch, func() {
		s.subMu.Lock()
		delete(s.subs, ch)
		s.subMu.Unlock()
	}
}

// Windows returns every window overlapping [from, to), by start: the
// config's (each occurrence of a repeating one) and the API's.
func (s *Schedule) Windows(from, to time.Time) []Window {
	var out []Window
	for i, m := range s.config {
		out = append(out, s.occurrences(i, m, from, to)...)
	}
	for _, w := range *s.api.Load() {
		if w.Start.Before(to) && w.End.After(from) {
			out = append(out, w)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// occurrences are the windows of config window i overlapping [from, to).
func (s *Schedule) occurrences(i int, m config.Maintenance, from, to time.Time) []Window {
	affected := make([]store.Component, 0, len(m.Affected))
	for _, a := range m.Affected {
		svc, node, _ := strings.Cut(a, ":")
		affected = append(affected, store.Component{Service: svc, Node: node})
	}
	mk := func(start, end time.Time) Window {
		return Window{ID: "config-" + strconv.Itoa(i) + "-" + strconv.FormatInt(start.Unix(), 10),
			Title: m.Title, Text: m.Text, Affected: affected, Start: start, End: end}
	}
	if m.Every == "" {
		if m.Start.Before(to) && m.End.After(from) {
			return []Window{mk(m.Start, m.End)}
		}
		return nil
	}
	hour, minute, _ := config.ClockTime(m.At)
	length := time.Duration(m.Duration)
	loc := s.locs[i]
	// Start a period early: an occurrence that began before from may last
	// into it.
	day := from.In(loc).AddDate(0, 0, -8)
	var out []Window
	for d := time.Date(day.Year(), day.Month(), day.Day(), hour, minute, 0, 0, loc); d.Before(to); d = time.Date(d.Year(), d.Month(), d.Day()+1, hour, minute, 0, 0, loc) {
		if m.Every == "weekly" && !strings.EqualFold(d.Weekday().String(), m.Day) {
			continue
		}
		if end := d.Add(length); end.After(from) {
			out = append(out, mk(d, end))
		}
	}
	return out
}

// Active returns the windows open at t.
func (s *Schedule) Active(t time.Time) []Window {
	return s.Windows(t, t.Add(time.Nanosecond))
}

// Covers reports whether a window open at t affects node (or, with Node
// empty, service) c: a window for a service covers its nodes.
func (s *Schedule) Covers(c store.Component, t time.Time) bool {
	for _, w := range s.Active(t) {
		if w.Affects(c) {
			return true
		}
	}
	return false
}

// NextChange is the first start or end of a window after t, within eight
// days; zero when there is none.
func (s *Schedule) NextChange(t time.Time) time.Time {
	var next time.Time
	for _, w := range s.Windows(t, t.Add(8*24*time.Hour)) {
		for _, b := range []time.Time{w.Start, w.End} {
			if b.After(t) && (next.IsZero() || b.Before(next)) {
				next = b
			}
		}
	}
	return next
}

// NewWindow is a window an operator schedules.
type NewWindow struct {
	Title, Text string
	Affected    []string
	Start, End  time.Time
}

// Add schedules a window. A window starts no earlier than it is made: a
// start in the past becomes now, so downtime cannot be turned into
// maintenance after the fact.
func (s *Schedule) Add(ctx context.Context, n NewWindow) (Window, error) {
	w := Window{ID: rand.Text(), Title: strings.TrimSpace(n.Title), Text: strings.TrimSpace(strings.ReplaceAll(n.Text, "\r\n", "\n")),
		Start: n.Start, End: n.End}
	now := s.now()
	w.Created = now
	switch {
	case w.Title == "":
		return Window{}, &Invalid{`missing "title"`}
	case n.Start.IsZero() || n.End.IsZero():
		return Window{}, &Invalid{`missing "start" or "end": RFC 3339 times like "2026-12-05T22:00:00Z"`}
	case !n.End.After(n.Start):
		return Window{}, &Invalid{`"end" (` + n.End.Format(time.RFC3339) + `) is not after "start" (` + n.Start.Format(time.RFC3339) + `)`}
	case !n.End.After(now):
		return Window{}, &Invalid{`"end" (` + n.End.Format(time.RFC3339) + `) is in the past: a window cannot be made after the fact`}
	case len(n.Affected) == 0:
		return Window{}, &Invalid{`missing "affected": the services and nodes it affects, e.g. ["db", "web:api"]`}
	case w.Text != "" && checkText(w.Text) != "":
		return Window{}, &Invalid{checkText(w.Text)}
	}
	if w.Start.Before(now) {
		w.Start = now
	}
	for _, name := range n.Affected {
		if !s.components.Known(name) {
			return Window{}, &Invalid{"unknown component " + strconv.Quote(name) + `: name a service ("web") or a node ("web:api") of the config`}
		}
		svc, node, _ := strings.Cut(name, ":")
		if c := (store.Component{Service: svc, Node: node}); !slices.Contains(w.Affected, c) {
			w.Affected = append(w.Affected, c)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ahead := 0
	for _, old := range *s.api.Load() {
		if old.End.After(now) {
			ahead++
		}
	}
	if ahead >= MaxWindows {
		return Window{}, &Invalid{"there are already " + strconv.Itoa(MaxWindows) + " windows ahead; remove some first"}
	}
	if err := s.st.PutWindow(ctx, w); err != nil {
		return Window{}, err
	}
	s.log.Info("maintenance scheduled", "id", w.ID, "title", w.Title, "start", w.Start, "end", w.End)
	return w, s.reload(ctx)
}

// Remove cancels a window made through the API.
func (s *Schedule) Remove(ctx context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, err := s.st.DeleteWindow(ctx, id)
	if err != nil || !ok {
		return ok, err
	}
	s.log.Info("maintenance removed", "id", id)
	return true, s.reload(ctx)
}

// Made returns the windows made through the API, by start.
func (s *Schedule) Made() []Window { return *s.api.Load() }
