// Package historytest writes a made-up history into a store, for the tests
// of the page and of pkg/history: 90 days of one service with two nodes,
// an outage, a slow hour and two days the server was down.
package historytest

import (
	"context"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// A made-up 90 days, with every figure below worked out by hand:
//
//   - the server ran from day 0 (89 days before "today") at 00:00 to now,
//     except days 60 and 61 (days 60..61 00:00 to 62 00:00 it was down);
//   - node web:api, one replica probed every 10 minutes, healthy, except on
//     day 80 from 06:00 to 12:00, when it was dead ("status 503"), and on
//     day 85 from 00:00 to 01:00, when it was sick;
//   - node web:new was added on day 70: no data before;
//   - today (day 89) is 12 hours old, all healthy.
var (
	// Day0 is the first day, in UTC.
	Day0 = time.Date(2026, 9, 4, 0, 0, 0, 0, time.UTC)
	// Now is when the history ends: today (day 89) at noon.
	Now = Day0.Add(89*24*time.Hour + 12*time.Hour)
)

// At is hour h of day d.
func At(d int, h float64) time.Time {
	return Day0.Add(time.Duration(d)*24*time.Hour + time.Duration(h*float64(time.Hour)))
}

// Tree is the service and nodes of the history, as the registry has them.
func Tree() []*status.Service {
	return []*status.Service{{ID: "web", Label: "Web", Nodes: status.ListOf(
		&status.Node{ID: "api", Label: "API", Mode: status.ModePoll}, &status.Node{ID: "new", Label: "New", Mode: status.ModePoll})}}
}

// Write writes the 90 days into a store, as the registry and the writer
// would have: runs, results every 10 minutes, changes.
func Write(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	run1, err := st.StartRun(ctx, At(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	api := store.Component{Service: "web", Node: "api"}
	fresh := store.Component{Service: "web", Node: "new"}
	svc := store.Component{Service: "web"}
	apiStatus := func(at time.Time) (status.Status, string) {
		switch {
		case !at.Before(At(80, 6)) && at.Before(At(80, 12)):
			return status.Dead, "GET https://api.example.com/: status 503"
		case !at.Before(At(85, 0)) && at.Before(At(85, 1)):
			return status.Sick, "answered in 6s"
		}
		return status.Healthy, ""
	}
	write := func(run int64, from, to time.Time) {
		var b store.Batch
		b.Run = run
		last := map[store.Component]status.Status{}
		change := func(c store.Component, at time.Time, st status.Status, why string) {
			if old, ok := last[c]; !ok || old != st {
				b.Changes = append(b.Changes, store.Change{Of: c, At: at, Status: st, Reason: why, Resumed: ok && old == st})
				last[c] = st
			}
		}
		for at := from; at.Before(to); at = at.Add(10 * time.Minute) {
			st, why := apiStatus(at)
			b.Results = append(b.Results, store.Result{Key: store.ReplicaKey{Service: "web", Node: "api", Replica: "r1"},
				At: at, Status: st, Latency: 20 * time.Millisecond, Reason: why})
			change(api, at, st, why)
			svcStatus := st
			if !at.Before(At(70, 0)) {
				b.Results = append(b.Results, store.Result{Key: store.ReplicaKey{Service: "web", Node: "new", Replica: "r1"},
					At: at, Status: status.Healthy, Latency: 40 * time.Millisecond})
				change(fresh, at, status.Healthy, "")
			}
			change(svc, at, svcStatus, why)
			b.At = at
		}
		b.At = to
		must(st.Write(ctx, &b))
	}
	write(run1, At(0, 0), At(60, 0))
	must(st.StopRun(ctx, run1, At(60, 0)))
	run2, err := st.StartRun(ctx, At(62, 0))
	must(err)
	write(run2, At(62, 0), Now)
}

func tree() []*status.Service {
	return []*status.Service{{ID: "web", Nodes: status.ListOf(&status.Node{ID: "api"}, &status.Node{ID: "new"})}}
}
