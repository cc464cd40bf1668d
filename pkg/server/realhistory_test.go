package server

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// trouble is a stretch a node was not healthy, in a made-up history.
type trouble struct {
	service, node string
	from, to      time.Time // to zero: still going on
	st            status.Status
	why           string
}

// realisticHistory makes up 90 days of the realistic page, written as
// the server writes them (runs, changes, and the last day's results for
// the response times), and returns a reader with its view built at now:
// a short outage of the REST API three days ago and a slow hour twenty
// days ago, the object storage down since 25 minutes ago and for two
// hours 40 days ago, the dashboard slow for an hour, the webhook delivery
// down a morning, and the server itself down nine hours on one night.
func realisticHistory(t testing.TB, now time.Time) *history.Reader {
	t.Helper()
	return realisticHistoryWith(t, now, nil)
}

// realisticHistoryWith is realisticHistory with maintenance windows.
func realisticHistoryWith(t testing.TB, now time.Time, maint history.Maintenance) *history.Reader {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	day := func(n int, h float64) time.Time {
		d := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.Local).AddDate(0, 0, -n)
		return d.Add(time.Duration(h * float64(time.Hour)))
	}
	troubles := []trouble{
		{"api", "rest", day(3, 14.2), day(3, 16.1), status.Dead, "GET https://api-2.acme.example/: status 502"},
		{"api", "rest", day(20, 9), day(20, 10), status.Sick, "answered in 6.4 s"},
		{"infra", "storage", now.Add(-25 * time.Minute), time.Time{}, status.Dead, "dial tcp s3-2.acme.example:443: connection refused"},
		{"infra", "storage", day(40, 2), day(40, 4), status.Dead, "dial tcp s3-1.acme.example:443: i/o timeout"},
		{"web", "app", day(10, 18), day(10, 19), status.Sick, "answered in 5.1 s"},
		{"api", "hooks", day(55, 6), day(55, 11.5), status.Dead, "exit status 2"},
	}
	gapFrom, gapTo := day(62, 21), day(61, 6) // the server was down
	specs := realisticSpecs()
	statusAt := func(svc, node string, at time.Time) (status.Status, string) {
		worst, why := status.Healthy, ""
		for _, tr := range troubles {
			if tr.service == svc && tr.node == node && !at.Before(tr.from) && (tr.to.IsZero() || at.Before(tr.to)) && tr.st > worst {
				worst, why = tr.st, tr.why
			}
		}
		return worst, why
	}
	serviceAt := func(svc status.ServiceSpec, at time.Time) (status.Status, string) {
		worst, why := status.Healthy, ""
		for _, n := range svc.Nodes {
			if s, w := statusAt(svc.ID, n.ID, at); s > worst {
				worst, why = s, n.Label+": "+w
			}
		}
		return worst, why
	}
	// Every moment something changed, per run.
	var edges []time.Time
	for _, tr := range troubles {
		edges = append(edges, tr.from)
		if !tr.to.IsZero() {
			edges = append(edges, tr.to)
		}
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].Before(edges[j]) })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	run := func(from, to time.Time, open bool) {
		id, err := st.StartRun(ctx, from)
		must(err)
		b := store.Batch{Run: id, At: to}
		last := map[store.Component]status.Status{}
		change := func(c store.Component, at time.Time, s status.Status, why string) {
			if old, ok := last[c]; !ok || old != s {
				b.Changes = append(b.Changes, store.Change{Of: c, At: at, Status: s, Reason: why})
				last[c] = s
			}
		}
		for _, at := range append([]time.Time{from}, edges...) {
			if at.Before(from) || !at.Before(to) {
				continue
			}
			for _, svc := range specs {
				for _, n := range svc.Nodes {
					s, why := statusAt(svc.ID, n.ID, at)
					change(store.Component{Service: svc.ID, Node: n.ID}, at, s, why)
				}
				s, why := serviceAt(svc, at)
				change(store.Component{Service: svc.ID}, at, s, why)
			}
		}
		// The last 26 hours' results, every 10 minutes, for the response
		// times: a few ms of jitter, and the afternoon busier.
		for at := maxTime(from, now.Add(-26*time.Hour)); at.Before(to); at = at.Add(10 * time.Minute) {
			for _, svc := range specs {
				for _, n := range svc.Nodes {
					s, why := statusAt(svc.ID, n.ID, at)
					for k, rep := range n.Replicas {
						ms := 60 + 25*k + at.Minute()%7
						if h := at.Hour(); h >= 13 && h < 17 {
							ms += 35
						}
						rs, rwhy := status.Healthy, ""
						if k == len(n.Replicas)-1 {
							rs, rwhy = s, why
						}
						b.Results = append(b.Results, store.Result{Key: store.ReplicaKey{Service: svc.ID, Node: n.ID, Replica: rep},
							At: at, Status: rs, Latency: time.Duration(ms) * time.Millisecond, Reason: rwhy})
					}
				}
			}
		}
		must(st.Write(ctx, &b))
		if !open {
			must(st.StopRun(ctx, id, to))
		}
	}
	run(day(89, 0), gapFrom, false)
	run(gapTo, now, true)

	tree := func() []*status.Service { return realisticRegistry(now).Snapshot().Services }
	ru := history.NewRollups(st, config.Default().Storage, tree, nil)
	ru.SetClock(func() time.Time { return now }, time.Local)
	if maint != nil {
		ru.SetMaintenance(maint)
	}
	must(ru.Catch(ctx))
	r := history.NewReader(st, ru, tree, nil)
	must(r.Refresh(ctx))
	return r
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
