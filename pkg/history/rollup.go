package history

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// Time is attributed this way, for replicas, nodes and services alike:
//
//   - outside the server's runs there is no data;
//   - within a run, a result (of a replica) or a change (of a node or
//     service) holds from its time until the next one or the end of the
//     run; before the first one of the run there is no data yet.
//
// So a stale status shown "as of" after a restart counts as no data until
// a fresh result comes, and the time the server was down is never counted
// as up or down.

// event is one result or change, as time attribution sees it.
type event struct {
	at time.Time
	st status.Status
}

// span sums the time in [from, to) per status, under maintenance, and
// without data.
type span struct {
	healthy, sick, dead, maint, noData time.Duration
}

func (s *span) add(st status.Status, d time.Duration) {
	switch st {
	case status.Healthy:
		s.healthy += d
	case status.Sick:
		s.sick += d
	default:
		s.dead += d
	}
}

// attribute sums [from, to) of one component whose events (sorted, the
// one in force at from included) happened during runs (sorted); its time
// with data inside cover counts as maintenance.
func attribute(events []event, runs []store.Run, from, to time.Time, cover []interval) span {
	return sum(timeline(events, runs, from, to), cover)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// latencies sums the latencies of healthy and sick results in [from, to):
// a dead probe's latency is its timeout, not how fast the replica answers.
type latencies struct {
	sum time.Duration
	all []time.Duration
}

func (l *latencies) add(r store.Result, from, to time.Time) {
	if r.Status == status.Dead || r.At.Before(from) || !r.At.Before(to) {
		return
	}
	l.sum += r.Latency
	l.all = append(l.all, r.Latency)
}

// fill puts the latency figures into a rollup: p95 by nearest rank.
func (l *latencies) fill(r *store.Rollup) {
	r.LatencySum, r.LatencyCount = l.sum, int64(len(l.all))
	if len(l.all) == 0 {
		return
	}
	slices.Sort(l.all)
	r.LatencyMax = l.all[len(l.all)-1]
	rank := (len(l.all)*95 + 99) / 100 // ceil(0.95 n)
	r.LatencyP95 = l.all[rank-1]
}

// Rollups sums hours and days up, and prunes, in the background.
type Rollups struct {
	st    store.Store
	cfg   config.Storage
	log   *slog.Logger
	maint Maintenance    // nil: no windows
	loc   *time.Location // days start at midnight here; hours on the hour here
	now   func() time.Time
	// Tree lists the nodes (by service) to sum up; the current config.
	tree func() []*status.Service
}

// NewRollups builds the background job; tree gives the services and nodes
// to sum up (the registry's current tree).
func NewRollups(st store.Store, cfg config.Storage, tree func() []*status.Service, log *slog.Logger) *Rollups {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Rollups{st: st, cfg: cfg, log: log, loc: time.Local, now: time.Now, tree: tree}
}

// SetClock sets the clock and the zone of days, for tests and the
// benchmark's made-up history.
func (r *Rollups) SetClock(now func() time.Time, loc *time.Location) {
	r.now, r.loc = now, loc
}

// SetMaintenance tells the rollups and the views read through them when
// what was under maintenance; call it before Run.
func (r *Rollups) SetMaintenance(m Maintenance) { r.maint = m }

// windows returns the windows overlapping [from, to); none without a
// schedule.
func (r *Rollups) windows(from, to time.Time) []store.Window {
	if r.maint == nil {
		return nil
	}
	return r.maint.Windows(from, to)
}

// Run sums up every minute what is complete, and prunes hourly, until ctx
// ends.
func (r *Rollups) Run(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		if err := r.Catch(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("history: rollups failed; trying again in a minute", "err", err)
		}
		if now := r.now(); now.Sub(lastPrune) >= time.Hour {
			if n, err := r.st.Prune(ctx, now.Add(-time.Duration(r.cfg.RawRetention)), now.Add(-time.Duration(r.cfg.RollupRetention))); err != nil {
				if ctx.Err() == nil {
					r.log.Error("history: pruning failed", "err", err)
				}
			} else {
				lastPrune = now
				if n > 0 {
					r.log.Info("history: pruned old rows", "rows", n)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// State keys of how far rollups have come: the end of the last hour and
// day summed up, in Unix milliseconds.
const (
	hoursKey = "history.hours_until"
	daysKey  = "history.days_until"
)

// settle is how long after an hour ends its last results are surely
// written.
const settle = 3 * FlushEvery

// Catch sums up every complete hour and day not summed up yet.
func (r *Rollups) Catch(ctx context.Context) error {
	now := r.now()
	hoursUntil, err := r.progress(ctx, hoursKey)
	if err != nil {
		return err
	}
	if hoursUntil.IsZero() {
		runs, err := r.st.Runs(ctx, time.Time{}, now)
		if err != nil || len(runs) == 0 {
			return err
		}
		hoursUntil = r.hourStart(runs[0].Started)
	}
	for h := hoursUntil; !h.Add(time.Hour).Add(settle).After(now); h = r.nextHour(h) {
		if err := r.Hour(ctx, h); err != nil {
			return err
		}
		if err := r.st.PutState(ctx, hoursKey, []byte(strconv.FormatInt(r.nextHour(h).UnixMilli(), 10))); err != nil {
			return err
		}
		hoursUntil = r.nextHour(h)
	}
	daysUntil, err := r.progress(ctx, daysKey)
	if err != nil {
		return err
	}
	if daysUntil.IsZero() {
		runs, err := r.st.Runs(ctx, time.Time{}, now)
		if err != nil || len(runs) == 0 {
			return err
		}
		daysUntil = r.DayStart(runs[0].Started)
	}
	for d := daysUntil; !r.nextDay(d).After(hoursUntil); d = r.nextDay(d) {
		if err := r.Day(ctx, d); err != nil {
			return err
		}
		if err := r.st.PutState(ctx, daysKey, []byte(strconv.FormatInt(r.nextDay(d).UnixMilli(), 10))); err != nil {
			return err
		}
	}
	return nil
}

// SetProgress records hours and days as summed up until the given starts,
// for history made elsewhere (the benchmark's made-up 90 days).
func (r *Rollups) SetProgress(ctx context.Context, hours, days time.Time) error {
	if err := r.st.PutState(ctx, hoursKey, []byte(strconv.FormatInt(r.hourStart(hours).UnixMilli(), 10))); err != nil {
		return err
	}
	return r.st.PutState(ctx, daysKey, []byte(strconv.FormatInt(r.DayStart(days).UnixMilli(), 10)))
}

func (r *Rollups) progress(ctx context.Context, key string) (time.Time, error) {
	v, ok, err := r.st.GetState(ctx, key)
	if err != nil || !ok {
		return time.Time{}, err
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}, nil // start over from the first run
	}
	return time.UnixMilli(n), nil
}

// hourStart is the start of the local hour holding t.
func (r *Rollups) hourStart(t time.Time) time.Time {
	l := t.In(r.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, r.loc)
}

func (r *Rollups) nextHour(h time.Time) time.Time { return r.hourStart(h.Add(90 * time.Minute)) }

// DayStart is the start of the local day holding t.
func (r *Rollups) DayStart(t time.Time) time.Time {
	l := t.In(r.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, r.loc)
}

func (r *Rollups) nextDay(d time.Time) time.Time {
	l := d.In(r.loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, r.loc)
}

// Hour sums up the hour starting at h: every replica, node and service of
// the tree. An hour without any run is no data throughout and writes
// nothing.
func (r *Rollups) Hour(ctx context.Context, h time.Time) error {
	end := r.nextHour(h)
	runs, err := r.st.Runs(ctx, h, end)
	if err != nil || len(runs) == 0 {
		return err
	}
	ws := r.windows(h, end)
	var out []store.Rollup
	for _, svc := range r.tree() {
		nodes := make([]nodeTime, svc.Nodes.Len())
		for i, n := range svc.Nodes.All() {
			nc := store.Component{Service: svc.ID, Node: n.ID}
			ev, err := r.changes(ctx, nc, h, end)
			if err != nil {
				return err
			}
			cover := covered(ws, nc, h, end)
			nodes[i] = nodeTime{events: ev, cover: cover}
			results, err := r.st.Results(ctx, nc, h, end)
			if err != nil {
				return err
			}
			var nodeLat latencies
			for i := 0; i < len(results); {
				j := i
				var rev []event
				var lat latencies
				for ; j < len(results) && results[j].Key.Replica == results[i].Key.Replica; j++ {
					rev = append(rev, event{results[j].At, results[j].Status})
					lat.add(results[j], h, end)
					nodeLat.add(results[j], h, end)
				}
				out = append(out, rollupOf(store.Hourly, nc, results[i].Key.Replica, h, attribute(rev, runs, h, end, cover), &lat))
				i = j
			}
			out = append(out, rollupOf(store.Hourly, nc, "", h, attribute(ev, runs, h, end, cover), &nodeLat))
		}
		sc := store.Component{Service: svc.ID}
		ev, err := r.changes(ctx, sc, h, end)
		if err != nil {
			return err
		}
		out = append(out, rollupOf(store.Hourly, sc, "", h, serviceSpan(ev, nodes, serviceCover(ws, svc.ID, h, end), runs, h, end), nil))
	}
	return r.st.PutRollups(ctx, out)
}

func (r *Rollups) changes(ctx context.Context, c store.Component, from, to time.Time) ([]event, error) {
	cs, err := r.st.Changes(ctx, c, from, to)
	if err != nil {
		return nil, err
	}
	ev := make([]event, len(cs))
	for i, ch := range cs {
		ev[i] = event{ch.At, ch.Status}
	}
	return ev, nil
}

func rollupOf(level store.Level, of store.Component, replica string, start time.Time, s span, lat *latencies) store.Rollup {
	r := store.Rollup{Level: level, Of: of, Replica: replica, Start: start,
		Healthy: s.healthy, Sick: s.sick, Dead: s.dead, NoData: s.noData, Maintenance: s.maint}
	if lat != nil {
		lat.fill(&r)
	}
	return r
}

// Day sums the hourly rollups of the day starting at d. Hours with no
// rollup count as no data; the day's p95 is the highest hourly p95 (an
// upper bound: percentiles do not add up).
func (r *Rollups) Day(ctx context.Context, d time.Time) error {
	end := r.nextDay(d)
	hours, err := r.st.Rollups(ctx, store.Hourly, d, end, true)
	if err != nil || len(hours) == 0 {
		return err
	}
	type key struct {
		of      store.Component
		replica string
	}
	days := map[key]*store.Rollup{}
	var order []key
	for _, h := range hours {
		k := key{h.Of, h.Replica}
		day := days[k]
		if day == nil {
			day = &store.Rollup{Level: store.Daily, Of: h.Of, Replica: h.Replica, Start: d}
			days[k] = day
			order = append(order, k)
		}
		day.Healthy += h.Healthy
		day.Sick += h.Sick
		day.Dead += h.Dead
		day.NoData += h.NoData
		day.Maintenance += h.Maintenance
		day.LatencySum += h.LatencySum
		day.LatencyCount += h.LatencyCount
		day.LatencyMax = max(day.LatencyMax, h.LatencyMax)
		day.LatencyP95 = max(day.LatencyP95, h.LatencyP95)
	}
	out := make([]store.Rollup, 0, len(order))
	length := end.Sub(d)
	for _, k := range order {
		day := days[k]
		day.NoData += length - (day.Healthy + day.Sick + day.Dead + day.NoData + day.Maintenance)
		out = append(out, *day)
	}
	return r.st.PutRollups(ctx, out)
}
