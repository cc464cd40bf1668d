package history

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sort"
	"sync/atomic"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// BarDays is how many days the page's bars show.
const BarDays = 90

// View is the history the page shows, as of At: per node 90 days, its
// uptime and its response times, per service its uptime, and the outages.
type View struct {
	At      time.Time
	Version uint64 // grows with every view built
	// Days are the starts of the bars' days, oldest first; the last is today.
	Days     []time.Time
	Nodes    map[store.Component]*NodeHistory // by service and node
	Services map[string]Uptime                // by service id
	// Outages of nodes, newest first: every stretch a node was dead, within
	// the retention of status changes.
	Outages []Outage
}

// NodeHistory is one node's history.
type NodeHistory struct {
	Days    []Day // as View.Days
	Uptime  Uptime
	Latency []LatencyPoint // the last 24 hours, hour by hour, oldest first
}

// Day is how one day went (today: so far). Maintenance is its time with
// data inside maintenance windows, which counts as neither up nor down.
type Day struct {
	Start                       time.Time
	Healthy, Sick, Dead, NoData time.Duration
	Maintenance                 time.Duration
}

// Worst is the worst status the day saw; ok is false when it had no data.
func (d Day) Worst() (st status.Status, ok bool) {
	switch {
	case d.Dead > 0:
		return status.Dead, true
	case d.Sick > 0:
		return status.Sick, true
	case d.Healthy > 0:
		return status.Healthy, true
	}
	return status.Healthy, false
}

// Ratio is the day's uptime.
func (d Day) Ratio() Ratio { return Ratio{Up: d.Healthy + d.Sick, Data: d.Healthy + d.Sick + d.Dead} }

// Uptime over the last 24 hours, 7, 30 and 90 days.
type Uptime struct {
	Day, Week, Month, Quarter Ratio
}

// Ratio is up time against time with data: healthy or sick counts as up,
// dead as down, and time without data (the server not running, a replica
// not checked yet) or under maintenance not at all.
type Ratio struct {
	Up, Data time.Duration
}

// Percent is the uptime in percent; NaN without data.
func (r Ratio) Percent() float64 {
	if r.Data <= 0 {
		return math.NaN()
	}
	return 100 * float64(r.Up) / float64(r.Data)
}

func (r Ratio) plus(o Ratio) Ratio { return Ratio{Up: r.Up + o.Up, Data: r.Data + o.Data} }

// LatencyPoint is the mean latency of one hour's healthy and sick results.
type LatencyPoint struct {
	Start time.Time
	Mean  time.Duration
	Count int64 // 0: no data that hour
}

// Outage is a stretch a node was dead.
type Outage struct {
	Of       store.Component
	From, To time.Time // To is zero while it lasts
	Reason   string    // the first dead replica's reason when it began
}

// Reader builds views from the store.
type Reader struct {
	st      store.Store
	rollups *Rollups // for the zone of days and how far hours are summed up
	tree    func() []*status.Service
	log     *slog.Logger
	version atomic.Uint64
	cur     atomic.Pointer[View]
}

// NewReader builds views of the nodes and services of tree, with the days
// and hours of rollups.
func NewReader(st store.Store, rollups *Rollups, tree func() []*status.Service, log *slog.Logger) *Reader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{st: st, rollups: rollups, tree: tree, log: log}
}

// RefreshEvery is how often the page's history is rebuilt.
const RefreshEvery = time.Minute

// Current is the last view built, nil before the first.
func (r *Reader) Current() *View { return r.cur.Load() }

// Run rebuilds the view every RefreshEvery until ctx ends.
func (r *Reader) Run(ctx context.Context) error {
	t := time.NewTicker(RefreshEvery)
	defer t.Stop()
	for {
		if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("history: building the page's history failed; showing the last one", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh builds the view now.
func (r *Reader) Refresh(ctx context.Context) error {
	v, err := r.Build(ctx, r.rollups.now())
	if err != nil {
		return err
	}
	r.cur.Store(v)
	return nil
}

// sums is what is known of one component for a view.
type sums struct {
	daily  map[int64]store.Rollup // by day start (ms)
	hourly map[int64]store.Rollup // by hour start (ms)
	// live sums [from, to) after the last summed hour: its changes, with
	// the windows of the time.
	live func(from, to time.Time) span
}

// Build reads the store and builds the view as of now.
func (r *Reader) Build(ctx context.Context, now time.Time) (*View, error) {
	ru := r.rollups
	today := ru.DayStart(now)
	days := make([]time.Time, BarDays)
	d := today
	for i := BarDays - 1; i >= 0; i-- {
		days[i] = d
		d = ru.DayStart(d.Add(-time.Hour))
	}
	first := days[0]
	hoursUntil, err := ru.progress(ctx, hoursKey)
	if err != nil {
		return nil, err
	}
	if hoursUntil.IsZero() || hoursUntil.Before(first) {
		hoursUntil = first
	}
	if hoursUntil.After(now) {
		hoursUntil = now
	}
	daysUntil, err := ru.progress(ctx, daysKey)
	if err != nil {
		return nil, err
	}
	runs, err := r.st.Runs(ctx, first, now)
	if err != nil {
		return nil, err
	}
	if last := len(runs) - 1; last >= 0 && runs[last].Stopped.IsZero() {
		runs[last].Alive = now // this run: alive now, not only at its last write
	}
	hour := ru.hourStart(now)
	weekAgo := ru.hourStart(hour.Add(-7*24*time.Hour + time.Hour))
	dayAgo := ru.hourStart(hour.Add(-23 * time.Hour))

	all := map[store.Component]*sums{}
	get := func(c store.Component) *sums {
		s := all[c]
		if s == nil {
			s = &sums{daily: map[int64]store.Rollup{}, hourly: map[int64]store.Rollup{}}
			all[c] = s
		}
		return s
	}
	daily, err := r.st.Rollups(ctx, store.Daily, first, today, false)
	if err != nil {
		return nil, err
	}
	for _, ro := range daily {
		get(ro.Of).daily[ro.Start.UnixMilli()] = ro
	}
	hourly, err := r.st.Rollups(ctx, store.Hourly, minTime(weekAgo, firstUnsummedDay(daysUntil, first, today)), hoursUntil, false)
	if err != nil {
		return nil, err
	}
	for _, ro := range hourly {
		get(ro.Of).hourly[ro.Start.UnixMilli()] = ro
	}

	v := &View{At: now, Version: r.version.Add(1), Days: days,
		Nodes: map[store.Component]*NodeHistory{}, Services: map[string]Uptime{}}
	ws := ru.windows(hoursUntil, now) // for the live part only: rollups have theirs
	for _, svc := range r.tree() {
		nodeTails := make([][]event, svc.Nodes.Len())
		for i, n := range svc.Nodes.All() {
			nc := store.Component{Service: svc.ID, Node: n.ID}
			s := get(nc)
			tail, err := r.tailEvents(ctx, nc, hoursUntil, now)
			if err != nil {
				return nil, err
			}
			nodeTails[i] = tail
			s.live = func(from, to time.Time) span {
				return attribute(tail, runs, from, to, covered(ws, nc, from, to))
			}
			nh := &NodeHistory{Days: r.days(s, days, daysUntil, hoursUntil, now)}
			nh.Uptime = r.uptime(s, nh.Days, dayAgo, weekAgo, hoursUntil, now)
			if nh.Latency, err = r.latency(ctx, nc, s, dayAgo, hoursUntil, now); err != nil {
				return nil, err
			}
			v.Nodes[nc] = nh
		}
		sc := store.Component{Service: svc.ID}
		s := get(sc)
		tail, err := r.tailEvents(ctx, sc, hoursUntil, now)
		if err != nil {
			return nil, err
		}
		s.live = func(from, to time.Time) span {
			nodes := make([]nodeTime, svc.Nodes.Len())
			for i, n := range svc.Nodes.All() {
				nodes[i] = nodeTime{events: nodeTails[i], cover: covered(ws, store.Component{Service: svc.ID, Node: n.ID}, from, to)}
			}
			return serviceSpan(tail, nodes, serviceCover(ws, svc.ID, from, to), runs, from, to)
		}
		dayList := r.days(s, days, daysUntil, hoursUntil, now)
		v.Services[svc.ID] = r.uptime(s, dayList, dayAgo, weekAgo, hoursUntil, now)
	}
	if v.Outages, err = r.outages(ctx, first, now); err != nil {
		return nil, err
	}
	return v, nil
}

// firstUnsummedDay is the first day of the bars without a daily rollup.
func firstUnsummedDay(daysUntil, first, today time.Time) time.Time {
	switch {
	case daysUntil.IsZero() || daysUntil.Before(first):
		return first
	case daysUntil.After(today):
		return today
	}
	return daysUntil
}

func (r *Reader) tailEvents(ctx context.Context, c store.Component, from, to time.Time) ([]event, error) {
	return r.rollups.changes(ctx, c, from, to)
}

// days sums each day of the bars: its daily rollup when it has one, else
// its hourly rollups and, after the last summed hour, its changes.
func (r *Reader) days(s *sums, days []time.Time, daysUntil, hoursUntil, now time.Time) []Day {
	out := make([]Day, len(days))
	for i, d := range days {
		end := r.rollups.nextDay(d)
		if end.After(now) {
			end = now
		}
		day := Day{Start: d}
		if ro, ok := s.daily[d.UnixMilli()]; ok && !daysUntil.IsZero() && d.Before(daysUntil) {
			day.Healthy, day.Sick, day.Dead, day.NoData, day.Maintenance = ro.Healthy, ro.Sick, ro.Dead, ro.NoData, ro.Maintenance
			out[i] = day
			continue
		}
		var covered time.Duration
		for h := d; h.Before(end) && h.Before(hoursUntil); h = r.rollups.nextHour(h) {
			if ro, ok := s.hourly[h.UnixMilli()]; ok {
				day.Healthy += ro.Healthy
				day.Sick += ro.Sick
				day.Dead += ro.Dead
				day.NoData += ro.NoData
				day.Maintenance += ro.Maintenance
				covered += r.rollups.nextHour(h).Sub(h)
			}
		}
		if a := maxTime(d, hoursUntil); a.Before(end) {
			sp := s.live(a, end)
			day.Healthy += sp.healthy
			day.Sick += sp.sick
			day.Dead += sp.dead
			day.NoData += sp.noData
			day.Maintenance += sp.maint
			covered += end.Sub(a)
		}
		day.NoData += end.Sub(d) - covered
		out[i] = day
	}
	return out
}

// uptime sums the last 24 hours and 7 days (whole hours, this one
// included) from hourly rollups and the tail, and the last 30 and 90 days
// from the days.
func (r *Reader) uptime(s *sums, days []Day, dayAgo, weekAgo, hoursUntil, now time.Time) Uptime {
	var u Uptime
	window := func(from time.Time) Ratio {
		var ra Ratio
		for start, ro := range s.hourly {
			if t := time.UnixMilli(start); !t.Before(from) && t.Before(hoursUntil) {
				ra = ra.plus(Ratio{Up: ro.Healthy + ro.Sick, Data: ro.Healthy + ro.Sick + ro.Dead})
			}
		}
		if a := maxTime(from, hoursUntil); a.Before(now) {
			sp := s.live(a, now)
			ra = ra.plus(Ratio{Up: sp.healthy + sp.sick, Data: sp.healthy + sp.sick + sp.dead})
		}
		return ra
	}
	u.Day, u.Week = window(dayAgo), window(weekAgo)
	for i := len(days) - 1; i >= 0; i-- {
		ra := days[i].Ratio()
		if i >= len(days)-30 {
			u.Month = u.Month.plus(ra)
		}
		u.Quarter = u.Quarter.plus(ra)
	}
	return u
}

// latency is the mean latency of each of the last 24 hours: hourly
// rollups, then the results since the last summed hour.
func (r *Reader) latency(ctx context.Context, c store.Component, s *sums, dayAgo, hoursUntil, now time.Time) ([]LatencyPoint, error) {
	var points []LatencyPoint
	idx := map[int64]int{}
	for h, this := dayAgo, r.rollups.hourStart(now); !h.After(this); h = r.rollups.nextHour(h) {
		idx[h.UnixMilli()] = len(points)
		p := LatencyPoint{Start: h}
		if ro, ok := s.hourly[h.UnixMilli()]; ok && ro.LatencyCount > 0 {
			p.Count, p.Mean = ro.LatencyCount, ro.LatencySum/time.Duration(ro.LatencyCount)
		}
		points = append(points, p)
	}
	if !hoursUntil.Before(now) {
		return points, nil
	}
	results, err := r.st.Results(ctx, c, hoursUntil, now)
	if err != nil {
		return nil, err
	}
	sum := map[int]time.Duration{}
	for _, res := range results {
		if res.At.Before(hoursUntil) || res.Status == status.Dead {
			continue
		}
		i, ok := idx[r.rollups.hourStart(res.At).UnixMilli()]
		if !ok {
			continue
		}
		sum[i] += res.Latency
		points[i].Count++
	}
	for i, total := range sum {
		points[i].Mean = total / time.Duration(points[i].Count)
	}
	return points, nil
}

// outages finds every stretch a node was dead since from, newest first.
func (r *Reader) outages(ctx context.Context, from, now time.Time) ([]Outage, error) {
	cs, err := r.st.ChangesSince(ctx, from, now)
	if err != nil {
		return nil, err
	}
	open := map[store.Component]*Outage{}
	var out []Outage
	for _, c := range cs {
		if c.Of.Node == "" {
			continue // services: their nodes' outages say it better
		}
		o := open[c.Of]
		switch {
		case c.Status == status.Dead && o == nil:
			open[c.Of] = &Outage{Of: c.Of, From: c.At, Reason: c.Reason}
		case c.Status != status.Dead && o != nil:
			o.To = c.At
			out = append(out, *o)
			delete(open, c.Of)
		}
	}
	for _, o := range open {
		out = append(out, *o)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].From.After(out[j].From) })
	return out, nil
}

// Range is one node's history over a range, for the JSON API.
type Range struct {
	Of      store.Component
	From    time.Time
	To      time.Time
	Uptime  Ratio
	Buckets []Bucket // hours for 24h and 7d, days for 30d and 90d
}

// Bucket is one hour or day of a Range.
type Bucket struct {
	Start                       time.Time
	Healthy, Sick, Dead, NoData time.Duration
	Maintenance                 time.Duration
	Latency                     LatencyPoint // mean of healthy and sick results; no data for days
}

// Ranges are the ranges the JSON API serves.
var Ranges = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

// NodeRange reads one node's history over the last span (a key of
// Ranges) from the current view and the store.
func (r *Reader) NodeRange(ctx context.Context, c store.Component, span string, now time.Time) (*Range, error) {
	length, ok := Ranges[span]
	if !ok {
		return nil, errUnknownRange
	}
	v := r.Current()
	if v == nil {
		var err error
		if v, err = r.Build(ctx, now); err != nil {
			return nil, err
		}
	}
	nh := v.Nodes[c]
	if nh == nil {
		return nil, errUnknownNode
	}
	out := &Range{Of: c, To: v.At}
	if length > 7*24*time.Hour {
		days := int(length / (24 * time.Hour))
		for _, d := range nh.Days[len(nh.Days)-days:] {
			out.Buckets = append(out.Buckets, Bucket{Start: d.Start, Healthy: d.Healthy, Sick: d.Sick, Dead: d.Dead, NoData: d.NoData,
				Maintenance: d.Maintenance})
			out.Uptime = out.Uptime.plus(d.Ratio())
		}
		out.From = out.Buckets[0].Start
		return out, nil
	}
	// Hours: rollups, then the live part, as the view sums them.
	ru := r.rollups
	this := ru.hourStart(v.At)
	from := ru.hourStart(this.Add(-length + time.Hour))
	hoursUntil, err := ru.progress(ctx, hoursKey)
	if err != nil {
		return nil, err
	}
	if hoursUntil.IsZero() || hoursUntil.Before(from) {
		hoursUntil = from
	}
	hourly, err := r.st.Rollups(ctx, store.Hourly, from, hoursUntil, false)
	if err != nil {
		return nil, err
	}
	byHour := map[int64]store.Rollup{}
	for _, ro := range hourly {
		if ro.Of == c {
			byHour[ro.Start.UnixMilli()] = ro
		}
	}
	runs, err := r.st.Runs(ctx, from, v.At)
	if err != nil {
		return nil, err
	}
	if last := len(runs) - 1; last >= 0 && runs[last].Stopped.IsZero() {
		runs[last].Alive = v.At
	}
	tail, err := ru.changes(ctx, c, hoursUntil, v.At)
	if err != nil {
		return nil, err
	}
	results, err := r.st.Results(ctx, c, hoursUntil, v.At)
	if err != nil {
		return nil, err
	}
	ws := ru.windows(hoursUntil, v.At)
	for h := from; !h.After(this); h = ru.nextHour(h) {
		end := minTime(ru.nextHour(h), v.At)
		b := Bucket{Start: h, Latency: LatencyPoint{Start: h}}
		if ro, ok := byHour[h.UnixMilli()]; ok && h.Before(hoursUntil) {
			b.Healthy, b.Sick, b.Dead, b.NoData, b.Maintenance = ro.Healthy, ro.Sick, ro.Dead, ro.NoData, ro.Maintenance
			if ro.LatencyCount > 0 {
				b.Latency.Count, b.Latency.Mean = ro.LatencyCount, ro.LatencySum/time.Duration(ro.LatencyCount)
			}
		} else if !h.Before(hoursUntil) {
			sp := attribute(tail, runs, h, end, covered(ws, c, h, end))
			b.Healthy, b.Sick, b.Dead, b.NoData, b.Maintenance = sp.healthy, sp.sick, sp.dead, sp.noData, sp.maint
			var sum time.Duration
			for _, res := range results {
				if res.Status != status.Dead && !res.At.Before(h) && res.At.Before(end) {
					sum += res.Latency
					b.Latency.Count++
				}
			}
			if b.Latency.Count > 0 {
				b.Latency.Mean = sum / time.Duration(b.Latency.Count)
			}
		} else {
			b.NoData = end.Sub(h)
		}
		out.Buckets = append(out.Buckets, b)
		out.Uptime = out.Uptime.plus(Ratio{Up: b.Healthy + b.Sick, Data: b.Healthy + b.Sick + b.Dead})
	}
	out.From = from
	return out, nil
}

var (
	errUnknownRange = errors.New("unknown range; want 24h, 7d, 30d or 90d")
	errUnknownNode  = errors.New("no such node")
)

// IsUnknown reports whether err says the range or the node is unknown (a
// request's fault, not the server's).
func IsUnknown(err error) bool {
	return errors.Is(err, errUnknownRange) || errors.Is(err, errUnknownNode)
}
