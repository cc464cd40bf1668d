package history

import (
	"slices"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// Time inside a maintenance window is attributed this way:
//
//   - a node's time with data inside a window that affects it (one for the
//     node, or for its whole service) counts as maintenance, whatever its
//     status; time without data stays no data;
//   - a service's time inside a window for the whole service likewise;
//   - while windows cover some of a service's nodes only, the service is
//     as bad as its other nodes (as the notifications see it): the worst of
//     those with data, else maintenance when a covered node has data, else
//     no data.
//
// Rollups are summed with the windows known at the time and kept, so a
// window made or removed later does not rewrite the past.

// Maintenance says when services and nodes were under maintenance (a
// *notice.Schedule).
type Maintenance interface {
	// Windows returns every window overlapping [from, to).
	Windows(from, to time.Time) []store.Window
}

// interval is [from, to).
type interval struct{ from, to time.Time }

// covered returns the stretches of [from, to) inside the windows of ws
// that affect c, merged and in order.
func covered(ws []store.Window, c store.Component, from, to time.Time) []interval {
	var out []interval
	for _, w := range ws {
		if !w.Affects(c) {
			continue
		}
		a, b := maxTime(w.Start, from), minTime(w.End, to)
		if a.Before(b) {
			out = append(out, interval{a, b})
		}
	}
	return merge(out)
}

// serviceCover returns the stretches inside windows for the whole
// service c.
func serviceCover(ws []store.Window, service string, from, to time.Time) []interval {
	var out []interval
	for _, w := range ws {
		if slices.Contains(w.Affected, store.Component{Service: service}) {
			if a, b := maxTime(w.Start, from), minTime(w.End, to); a.Before(b) {
				out = append(out, interval{a, b})
			}
		}
	}
	return merge(out)
}

func merge(in []interval) []interval {
	if len(in) < 2 {
		return in
	}
	slices.SortFunc(in, func(x, y interval) int { return x.from.Compare(y.from) })
	out := in[:1]
	for _, iv := range in[1:] {
		last := &out[len(out)-1]
		if !iv.from.After(last.to) {
			last.to = maxTime(last.to, iv.to)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// inside reports whether t is inside one of ivs.
func inside(ivs []interval, t time.Time) bool {
	for _, iv := range ivs {
		if !t.Before(iv.from) && t.Before(iv.to) {
			return true
		}
	}
	return false
}

// piece is a stretch of one status, or of no data.
type piece struct {
	from, to time.Time
	st       status.Status
	data     bool
}

// timeline cuts [from, to) of one component whose events (sorted, the one
// in force at from included) happened during runs (sorted) into pieces,
// by the rules at the top of rollup.go.
func timeline(events []event, runs []store.Run, from, to time.Time) []piece {
	var out []piece
	add := func(a, b time.Time, st status.Status, data bool) {
		if a.Before(b) {
			out = append(out, piece{a, b, st, data})
		}
	}
	t := from
	for _, r := range runs {
		a, b := maxTime(from, r.Started), minTime(to, r.End())
		if !a.Before(b) {
			continue
		}
		add(t, a, 0, false) // before the run
		t = a
		var st status.Status
		have := false // an event of this run is in force at t
		for _, e := range events {
			if e.at.Before(r.Started) {
				continue // from an earlier run: no data in this one
			}
			if !e.at.After(t) {
				st, have = e.st, true
				continue
			}
			if !e.at.Before(b) {
				break
			}
			add(t, e.at, st, have)
			t, st, have = e.at, e.st, true
		}
		add(t, b, st, have)
		t = b
	}
	add(t, to, 0, false)
	return out
}

// sum adds pieces up; their time with data inside cover counts as
// maintenance.
func sum(pieces []piece, cover []interval) span {
	var s span
	for _, p := range pieces {
		if !p.data {
			s.noData += p.to.Sub(p.from)
			continue
		}
		in := overlap(p.from, p.to, cover)
		s.maint += in
		s.add(p.st, p.to.Sub(p.from)-in)
	}
	return s
}

// overlap is how much of [a, b) lies inside ivs (merged).
func overlap(a, b time.Time, ivs []interval) time.Duration {
	var d time.Duration
	for _, iv := range ivs {
		if x, y := maxTime(a, iv.from), minTime(b, iv.to); x.Before(y) {
			d += y.Sub(x)
		}
	}
	return d
}

// pieceAt is the piece of ps (in order, without gaps) holding t.
func pieceAt(ps []piece, t time.Time) piece {
	i, _ := slices.BinarySearchFunc(ps, t, func(p piece, t time.Time) int {
		switch {
		case !p.to.After(t):
			return -1
		case p.from.After(t):
			return 1
		}
		return 0
	})
	if i < len(ps) {
		return ps[i]
	}
	return piece{}
}

// nodeTime is one node of a service, for serviceSpan.
type nodeTime struct {
	events []event
	cover  []interval // inside windows that affect it
}

// serviceSpan sums [from, to) of a service: its own events, but where
// windows cover some of its nodes only, the worst of its other nodes (see
// the top of this file).
func serviceSpan(own []event, nodes []nodeTime, svcCover []interval, runs []store.Run, from, to time.Time) span {
	var partial []interval // covered nodes, outside svcCover
	for _, n := range nodes {
		partial = append(partial, n.cover...)
	}
	partial = merge(partial)
	if overlap(from, to, partial) == overlap(from, to, svcCover) {
		// Nothing but the whole service, if that, is covered.
		return sum(timeline(own, runs, from, to), svcCover)
	}
	ownT := timeline(own, runs, from, to)
	nodeT := make([][]piece, len(nodes))
	cuts := []time.Time{from, to}
	for _, p := range ownT {
		cuts = append(cuts, p.from)
	}
	for i, n := range nodes {
		nodeT[i] = timeline(n.events, runs, from, to)
		for _, p := range nodeT[i] {
			cuts = append(cuts, p.from)
		}
		for _, iv := range n.cover {
			cuts = append(cuts, iv.from, iv.to)
		}
	}
	for _, iv := range svcCover {
		cuts = append(cuts, iv.from, iv.to)
	}
	slices.SortFunc(cuts, time.Time.Compare)
	cuts = slices.CompactFunc(cuts, time.Time.Equal)

	var s span
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		if a.Before(from) || b.After(to) {
			continue
		}
		d := b.Sub(a)
		switch {
		case inside(svcCover, a):
			if pieceAt(ownT, a).data {
				s.maint += d
			} else {
				s.noData += d
			}
		case inside(partial, a):
			worst, data, maint := status.Healthy, false, false
			for j, n := range nodes {
				p := pieceAt(nodeT[j], a)
				switch {
				case !p.data:
				case inside(n.cover, a):
					maint = true
				default:
					worst, data = status.Worst(worst, p.st), true
				}
			}
			switch {
			case data:
				s.add(worst, d)
			case maint:
				s.maint += d
			default:
				s.noData += d
			}
		default:
			if p := pieceAt(ownT, a); p.data {
				s.add(p.st, d)
			} else {
				s.noData += d
			}
		}
	}
	return s
}
