// Package storetest is the suite every store.Store implementation passes:
// each persisted kind written, read back, updated, deleted and pruned. A
// backend's test calls Run with a way to open its store.
package storetest

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// Backend opens stores for the suite.
type Backend struct {
	// Open opens the store kept in dir (a fresh t.TempDir() for a new one).
	Open func(t *testing.T, dir string) store.Store
	// Persistent: a store closed and opened again on the same dir has kept
	// everything (false for the memory store).
	Persistent bool
	// OpenBackup opens a copy made by Backup, for a persistent backend.
	OpenBackup func(t *testing.T, path string) store.Store
}

// t0 is a moment with a zero millisecond remainder: every backend keeps
// times to the millisecond.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

var ctx = context.Background()

// Run runs the whole suite.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		f    func(*testing.T, Backend)
	}{
		{"announcements", testAnnouncements},
		{"incidents", testIncidents},
		{"maintenance windows", testWindows},
		{"subscribers", testSubscribers},
		{"monitors", testMonitors},
		{"state", testState},
		{"runs", testRuns},
		{"results", testResults},
		{"changes", testChanges},
		{"push replicas", testPushReplicas},
		{"rollups", testRollups},
		{"retention", testPrune},
		{"concurrent writes", testConcurrent},
		{"closed", testClosed},
	}
	if b.Persistent {
		tests = append(tests, struct {
			name string
			f    func(*testing.T, Backend)
		}{"kept across a restart", testReopen}, struct {
			name string
			f    func(*testing.T, Backend)
		}{"backup", testBackup})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, b) })
	}
}

func open(t *testing.T, b Backend) store.Store {
	t.Helper()
	s := b.Open(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// same compares as the suite means it: times by instant, not location.
func same(got, want any) bool {
	return fmt.Sprintf("%v", normalize(got)) == fmt.Sprintf("%v", normalize(want))
}

// normalize puts every time.Time inside v into UTC, through reflection.
func normalize(v any) any {
	rv := reflect.ValueOf(v)
	out := reflect.New(rv.Type()).Elem()
	out.Set(rv)
	walk(out)
	return out.Interface()
}

func walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Slice:
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		for i := range v.Len() {
			walk(v.Index(i))
		}
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			if !t.IsZero() {
				v.Set(reflect.ValueOf(t.UTC()))
			}
			return
		}
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				walk(v.Field(i))
			}
		}
	}
}

func testAnnouncements(t *testing.T, b Backend) {
	s := open(t, b)
	list, err := s.ListAnnouncements(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("a new store lists %v", list)
	}
	a1 := store.Announcement{ID: "a1", Title: "Maintenance", Text: "Tonight\n22:00 <b>UTC</b>", Published: at(0)}
	a2 := store.Announcement{ID: "a2", Title: "Incident", Text: "Résolu ✓", Published: at(time.Minute)}
	a3 := store.Announcement{ID: "a3", Title: "Later", Text: "x", Published: at(2 * time.Minute)}
	for _, a := range []store.Announcement{a1, a2, a3} {
		must(t, s.AddAnnouncement(ctx, a))
	}
	if err := s.AddAnnouncement(ctx, a1); err == nil {
		t.Error("adding an announcement with a used id did not fail")
	}
	ok, err := s.RetractAnnouncement(ctx, "a2", at(time.Hour))
	must(t, err)
	if !ok {
		t.Error("retracting a2 said it was not there")
	}
	for _, id := range []string{"a2", "nope"} {
		if ok, err := s.RetractAnnouncement(ctx, id, at(2*time.Hour)); ok || err != nil {
			t.Errorf("retracting %s again or unknown: %v %v, want false, nil", id, ok, err)
		}
	}
	a2.Retracted = at(time.Hour)
	list, err = s.ListAnnouncements(ctx)
	must(t, err)
	if want := []store.Announcement{a3, a2, a1}; !same(list, want) {
		t.Errorf("list:\n got %v\nwant %v", list, want)
	}
}

func testIncidents(t *testing.T, b Backend) {
	s := open(t, b)
	api := store.Component{Service: "web", Node: "api"}
	inc := store.Incident{ID: "i1", Title: "Slow API", Impact: "minor", Affected: []store.Component{api, {Service: "db"}},
		Status: "investigating", Created: at(0), Updates: []store.IncidentUpdate{{At: at(0), Status: "investigating", Text: "Looking into it."}}}
	draft := store.Incident{ID: "i2", Title: "Investigating: API is not responding", Impact: "major", Affected: []store.Component{api},
		Status: "investigating", Draft: true, PublishAt: at(time.Hour), Source: "alert", Created: at(time.Minute),
		Updates: []store.IncidentUpdate{{At: at(time.Minute), Status: "investigating", Text: "status 503"}}}
	must(t, s.PutIncident(ctx, inc))
	must(t, s.PutIncident(ctx, draft))
	inc.Status, inc.Resolved = "resolved", at(30*time.Minute)
	inc.Updates = append(inc.Updates, store.IncidentUpdate{At: at(10 * time.Minute), Status: "identified", Text: "A **bad** deploy."},
		store.IncidentUpdate{At: at(30 * time.Minute), Status: "resolved", Text: "Rolled back."})
	must(t, s.PutIncident(ctx, inc))
	got, err := s.ListIncidents(ctx)
	must(t, err)
	if want := []store.Incident{draft, inc}; !same(got, want) {
		t.Errorf("incidents:\n got %v\nwant %v", got, want)
	}
	if ok, err := s.DeleteIncident(ctx, "i2"); !ok || err != nil {
		t.Errorf("delete the draft: %v %v", ok, err)
	}
	if ok, _ := s.DeleteIncident(ctx, "i2"); ok {
		t.Error("deleting it again said it was there")
	}
	got, _ = s.ListIncidents(ctx)
	if want := []store.Incident{inc}; !same(got, want) {
		t.Errorf("after the delete:\n got %v\nwant %v", got, want)
	}
}

func testWindows(t *testing.T, b Backend) {
	s := open(t, b)
	w1 := store.Window{ID: "w1", Title: "Upgrade", Text: "Tonight", Affected: []store.Component{{Service: "db"}}, Start: at(2 * time.Hour), End: at(3 * time.Hour),
		Created: at(0)}
	w2 := store.Window{ID: "w2", Title: "Network", Affected: []store.Component{{Service: "web", Node: "api"}}, Start: at(time.Hour), End: at(90 * time.Minute)}
	must(t, s.PutWindow(ctx, w1))
	must(t, s.PutWindow(ctx, w2))
	w1.End = at(4 * time.Hour)
	must(t, s.PutWindow(ctx, w1))
	got, err := s.ListWindows(ctx)
	must(t, err)
	if want := []store.Window{w2, w1}; !same(got, want) {
		t.Errorf("windows:\n got %v\nwant %v", got, want)
	}
	if ok, _ := s.DeleteWindow(ctx, "w2"); !ok {
		t.Error("delete w2 said it was not there")
	}
	if got, _ := s.ListWindows(ctx); !same(got, []store.Window{w1}) {
		t.Errorf("after the delete: %v", got)
	}
}

func testSubscribers(t *testing.T, b Backend) {
	s := open(t, b)
	mail := store.Subscriber{ID: "s1", Email: "ada@example.com", Components: []store.Component{{Service: "web"}},
		ConfirmHash: "c0ffee", UnsubscribeHash: "beef", Created: at(0)}
	hook := store.Subscriber{ID: "s2", URL: "https://hooks.example.com/status", Confirmed: true, Created: at(time.Second)}
	must(t, s.PutSubscriber(ctx, mail))
	must(t, s.PutSubscriber(ctx, hook))
	mail.Confirmed, mail.ConfirmHash = true, ""
	must(t, s.PutSubscriber(ctx, mail))
	got, err := s.ListSubscribers(ctx)
	must(t, err)
	if want := []store.Subscriber{mail, hook}; !same(got, want) {
		t.Errorf("subscribers:\n got %v\nwant %v", got, want)
	}
	if ok, _ := s.DeleteSubscriber(ctx, "s1"); !ok {
		t.Error("delete s1 said it was not there")
	}
	if got, _ := s.ListSubscribers(ctx); !same(got, []store.Subscriber{hook}) {
		t.Errorf("after the delete: %v", got)
	}
}

func testMonitors(t *testing.T, b Backend) {
	s := open(t, b)
	a := store.Monitor{URL: "https://a.example.com/health", Node: "m-a", Data: []byte(`{"team":"search"}`), Added: at(0)}
	c := store.Monitor{URL: "http://c.example.com/", Node: "m-c", Data: []byte(`"plain"`), Added: at(time.Second)}
	must(t, s.PutMonitor(ctx, c))
	must(t, s.PutMonitor(ctx, a))
	a.Data = []byte(`[1,2,3]`)
	must(t, s.PutMonitor(ctx, a)) // the same URL: its data changes
	got, err := s.ListMonitors(ctx)
	must(t, err)
	if want := []store.Monitor{a, c}; !same(got, want) {
		t.Errorf("monitors:\n got %v\nwant %v", got, want)
	}
	if ok, _ := s.DeleteMonitor(ctx, a.URL); !ok {
		t.Error("delete a said it was not there")
	}
	if ok, _ := s.DeleteMonitor(ctx, a.URL); ok {
		t.Error("a second delete of a said it was there")
	}
	if got, _ := s.ListMonitors(ctx); !same(got, []store.Monitor{c}) {
		t.Errorf("after the delete: %v", got)
	}
}

func testState(t *testing.T, b Backend) {
	s := open(t, b)
	if _, ok, err := s.GetState(ctx, "silence"); ok || err != nil {
		t.Fatalf("missing key: ok=%v err=%v", ok, err)
	}
	must(t, s.PutState(ctx, "silence", []byte(`{"until":1}`)))
	must(t, s.PutState(ctx, "notify", []byte{0, 1, 2}))
	must(t, s.PutState(ctx, "silence", []byte(`{"until":2}`)))
	for key, want := range map[string]string{"silence": `{"until":2}`, "notify": "\x00\x01\x02"} {
		v, ok, err := s.GetState(ctx, key)
		if !ok || err != nil || string(v) != want {
			t.Errorf("%s = %q %v %v, want %q", key, v, ok, err, want)
		}
	}
}

func testRuns(t *testing.T, b Backend) {
	s := open(t, b)
	r1, err := s.StartRun(ctx, at(0))
	must(t, err)
	must(t, s.Write(ctx, &store.Batch{Run: r1, At: at(10 * time.Second)}))
	must(t, s.Write(ctx, &store.Batch{Run: r1, At: at(20 * time.Second)}))
	// A crash: the next run closes this one at its last sign of life.
	r2, err := s.StartRun(ctx, at(time.Minute))
	must(t, err)
	must(t, s.Write(ctx, &store.Batch{Run: r2, At: at(70 * time.Second)}))
	must(t, s.StopRun(ctx, r2, at(80*time.Second)))
	r3, err := s.StartRun(ctx, at(2*time.Minute))
	must(t, err)
	must(t, s.Write(ctx, &store.Batch{Run: r3, At: at(130 * time.Second)}))
	// A late batch never moves the sign of life back.
	must(t, s.Write(ctx, &store.Batch{Run: r3, At: at(125 * time.Second)}))

	runs, err := s.Runs(ctx, at(0), at(time.Hour))
	must(t, err)
	want := []store.Run{
		{ID: r1, Started: at(0), Alive: at(20 * time.Second), Stopped: at(20 * time.Second)},
		{ID: r2, Started: at(time.Minute), Alive: at(80 * time.Second), Stopped: at(80 * time.Second)},
		{ID: r3, Started: at(2 * time.Minute), Alive: at(130 * time.Second)},
	}
	if !same(runs, want) {
		t.Errorf("runs:\n got %v\nwant %v", runs, want)
	}
	if got := want[0].End(); !got.Equal(at(20 * time.Second)) {
		t.Errorf("End of a crashed run = %v", got)
	}
	only, err := s.Runs(ctx, at(75*time.Second), at(119*time.Second))
	must(t, err)
	if len(only) != 1 || only[0].ID != r2 {
		t.Errorf("runs overlapping 75 s..119 s: %v, want the second", only)
	}
}

var (
	web1 = store.ReplicaKey{Service: "web", Node: "api", Replica: "https://a.example.com/"}
	web2 = store.ReplicaKey{Service: "web", Node: "api", Replica: "https://b.example.com/"}
	db1  = store.ReplicaKey{Service: "db", Node: "main", Replica: "tcp://10.0.0.1:5432"}
)

func testResults(t *testing.T, b Backend) {
	s := open(t, b)
	rs := []store.Result{
		{Key: web1, At: at(0), Status: status.Healthy, Latency: 12345 * time.Microsecond},
		{Key: web2, At: at(0), Status: status.Dead, Latency: 2 * time.Second, Reason: "HEAD https://b.example.com/: status 503"},
		{Key: web1, At: at(30 * time.Second), Status: status.Sick, Latency: 6 * time.Second, Reason: "slow"},
		{Key: db1, At: at(10 * time.Second), Status: status.Healthy, Latency: time.Millisecond},
	}
	must(t, s.Write(ctx, &store.Batch{At: at(time.Minute), Results: rs[:2]}))
	must(t, s.Write(ctx, &store.Batch{At: at(time.Minute), Results: rs[2:]}))
	// The same moment again replaces the result.
	again := rs[3]
	again.Status, again.Reason = status.Dead, "refused"
	must(t, s.Write(ctx, &store.Batch{At: at(time.Minute), Results: []store.Result{again}}))

	last, err := s.LastResults(ctx)
	must(t, err)
	if want := []store.Result{again, rs[2], rs[1]}; !same(last, want) {
		t.Errorf("last results:\n got %v\nwant %v", last, want)
	}
	api, err := s.Results(ctx, web1.NodeOf(), at(0), at(30*time.Second))
	must(t, err)
	if want := []store.Result{rs[0], rs[1]}; !same(api, want) {
		t.Errorf("results of web:api in [0, 30 s):\n got %v\nwant %v", api, want)
	}
	api, err = s.Results(ctx, web1.NodeOf(), at(time.Second), at(time.Hour))
	must(t, err)
	if want := []store.Result{rs[0], rs[2], rs[1]}; !same(api, want) {
		t.Errorf("results of web:api from 1 s, with the ones in force:\n got %v\nwant %v", api, want)
	}
	none, err := s.Results(ctx, store.Component{Service: "web", Node: "nope"}, at(0), at(time.Hour))
	must(t, err)
	if len(none) != 0 {
		t.Errorf("results of an unknown node: %v", none)
	}
}

func testChanges(t *testing.T, b Backend) {
	s := open(t, b)
	api := web1.NodeOf()
	svc := store.Component{Service: "web"}
	cs := []store.Change{
		{Of: api, At: at(0), Status: status.Healthy},
		{Of: svc, At: at(0), Status: status.Healthy},
		{Of: api, At: at(time.Minute), Status: status.Dead, Reason: "HEAD https://b.example.com/: status 503"},
		{Of: svc, At: at(time.Minute), Status: status.Dead, Reason: "api: HEAD https://b.example.com/: status 503"},
		{Of: api, At: at(5 * time.Minute), Status: status.Healthy},
		{Of: svc, At: at(7 * time.Minute), Status: status.Dead, Resumed: true},
	}
	must(t, s.Write(ctx, &store.Batch{At: at(10 * time.Minute), Changes: cs}))

	last, err := s.LastChanges(ctx)
	must(t, err)
	if want := []store.Change{cs[3], cs[4]}; !same(last, want) { // a resumption is no change of status
		t.Errorf("last changes:\n got %v\nwant %v", last, want)
	}
	got, err := s.Changes(ctx, api, at(2*time.Minute), at(time.Hour))
	must(t, err)
	if want := []store.Change{cs[2], cs[4]}; !same(got, want) {
		t.Errorf("changes of web:api from 2 min (with the one in force):\n got %v\nwant %v", got, want)
	}
	got, err = s.Changes(ctx, api, at(0), at(time.Minute))
	must(t, err)
	if want := []store.Change{cs[0]}; !same(got, want) {
		t.Errorf("changes of web:api in [0, 1 min):\n got %v\nwant %v", got, want)
	}
	all, err := s.ChangesSince(ctx, at(time.Second), at(time.Hour))
	must(t, err)
	if want := []store.Change{cs[3], cs[2], cs[4], cs[5]}; !same(all, want) { // by time, then service and node
		t.Errorf("changes since 1 s:\n got %v\nwant %v", all, want)
	}
}

func testPushReplicas(t *testing.T, b Backend) {
	s := open(t, b)
	h1 := store.PushReplica{Key: store.ReplicaKey{Service: "hosts", Node: "push", Replica: "h1"}, Interval: 30 * time.Second,
		LastReport: at(0), Status: status.Healthy, HasLoad: true, CPU: 0.42, RAM: 0.61}
	h2 := store.PushReplica{Key: store.ReplicaKey{Service: "hosts", Node: "push", Replica: "h2"}, Interval: 10 * time.Second,
		LastReport: at(time.Second), Status: status.Sick, HasLoad: true, CPU: 0.95, RAM: 0.5}
	l1 := store.PushReplica{Key: store.ReplicaKey{Service: "lan", Node: "local", Replica: "10.0.0.3"}, Interval: 2 * time.Minute,
		LastReport: at(2 * time.Second), Status: status.Dead}
	must(t, s.Write(ctx, &store.Batch{At: at(3 * time.Second), PushReplicas: []store.PushReplica{h1, h2, l1}}))
	h1.LastReport, h1.CPU = at(30*time.Second), 0.5
	must(t, s.Write(ctx, &store.Batch{At: at(31 * time.Second), PushReplicas: []store.PushReplica{h1},
		Flushed: []store.ReplicaKey{h2.Key, {Service: "hosts", Node: "push", Replica: "never"}}}))
	got, err := s.PushReplicas(ctx)
	must(t, err)
	if want := []store.PushReplica{h1, l1}; !same(got, want) {
		t.Errorf("push replicas:\n got %v\nwant %v", got, want)
	}
}

func testRollups(t *testing.T, b Backend) {
	s := open(t, b)
	api := web1.NodeOf()
	hour := t0.Truncate(time.Hour)
	rs := []store.Rollup{
		{Level: store.Hourly, Of: api, Start: hour, Healthy: 50 * time.Minute, Dead: 5 * time.Minute, NoData: 5 * time.Minute,
			LatencySum: 120 * time.Millisecond, LatencyCount: 110, LatencyMax: 2 * time.Second, LatencyP95: 300 * time.Millisecond},
		{Level: store.Hourly, Of: api, Replica: web1.Replica, Start: hour, Healthy: time.Hour, LatencyCount: 120},
		{Level: store.Hourly, Of: store.Component{Service: "web"}, Start: hour.Add(time.Hour), Sick: 40 * time.Minute, Maintenance: 20 * time.Minute},
		{Level: store.Daily, Of: api, Start: hour.Truncate(24 * time.Hour), Healthy: 23 * time.Hour, NoData: time.Hour},
	}
	must(t, s.PutRollups(ctx, rs))
	rs[0].Dead, rs[0].Healthy = 10*time.Minute, 45*time.Minute
	must(t, s.PutRollups(ctx, rs[:1])) // replaces

	hourly, err := s.Rollups(ctx, store.Hourly, hour, hour.Add(2*time.Hour), true)
	must(t, err)
	if want := []store.Rollup{rs[0], rs[1], rs[2]}; !same(hourly, want) {
		t.Errorf("hourly with replicas:\n got %v\nwant %v", hourly, want)
	}
	nodes, err := s.Rollups(ctx, store.Hourly, hour, hour.Add(time.Hour), false)
	must(t, err)
	if want := []store.Rollup{rs[0]}; !same(nodes, want) {
		t.Errorf("hourly of the first hour, no replicas:\n got %v\nwant %v", nodes, want)
	}
	for level, want := range map[store.Level]time.Time{store.Hourly: hour.Add(time.Hour), store.Daily: hour.Truncate(24 * time.Hour)} {
		if got, err := s.LastRollup(ctx, level); err != nil || !got.Equal(want) {
			t.Errorf("last rollup of level %d = %v %v, want %v", level, got, err, want)
		}
	}
}

func testPrune(t *testing.T, b Backend) {
	s := open(t, b)
	api := web1.NodeOf()
	run, err := s.StartRun(ctx, at(0))
	must(t, err)
	must(t, s.Write(ctx, &store.Batch{Run: run, At: at(3 * time.Hour),
		Results: []store.Result{{Key: web1, At: at(0)}, {Key: web1, At: at(time.Hour)}, {Key: web1, At: at(3 * time.Hour)}},
		Changes: []store.Change{{Of: api, At: at(0), Status: status.Dead}, {Of: api, At: at(time.Hour)},
			{Of: store.Component{Service: "db", Node: "main"}, At: at(0), Status: status.Sick}},
	}))
	must(t, s.PutRollups(ctx, []store.Rollup{{Level: store.Hourly, Of: api, Start: at(0)}, {Level: store.Hourly, Of: api, Start: at(2 * time.Hour)}}))
	n, err := s.Prune(ctx, at(2*time.Hour), at(90*time.Minute))
	must(t, err)
	// Two results, one rollup, the api's first change; the db's only change
	// is still in force and stays, and so does the run.
	if n != 4 {
		t.Errorf("pruned %d rows, want 4", n)
	}
	left, err := s.Results(ctx, api, at(-time.Hour), at(time.Hour*24))
	must(t, err)
	if len(left) != 1 || !left[0].At.Equal(at(3*time.Hour)) {
		t.Errorf("results left: %v", left)
	}
	changes, err := s.Changes(ctx, store.Component{Service: "db", Node: "main"}, at(2*time.Hour), at(3*time.Hour))
	must(t, err)
	if len(changes) != 1 || changes[0].Status != status.Sick {
		t.Errorf("the change in force was pruned: %v", changes)
	}
	rollups, err := s.Rollups(ctx, store.Hourly, at(-time.Hour), at(24*time.Hour), true)
	must(t, err)
	if len(rollups) != 1 || !rollups[0].Start.Equal(at(2*time.Hour)) {
		t.Errorf("rollups left: %v", rollups)
	}
	if runs, _ := s.Runs(ctx, at(0), at(24*time.Hour)); len(runs) != 1 {
		t.Errorf("runs left: %v", runs)
	}
}

func testConcurrent(t *testing.T, b Backend) {
	s := open(t, b)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				k := store.ReplicaKey{Service: "s", Node: "n", Replica: fmt.Sprintf("r%d", w)}
				if err := s.Write(ctx, &store.Batch{At: at(0), Results: []store.Result{{Key: k, At: at(time.Duration(i) * time.Second)}}}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.LastResults(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rs, err := s.Results(ctx, store.Component{Service: "s", Node: "n"}, at(0), at(time.Hour))
	must(t, err)
	if len(rs) != 200 {
		t.Errorf("%d results after 4×50 concurrent writes, want 200", len(rs))
	}
}

func testClosed(t *testing.T, b Backend) {
	s := b.Open(t, t.TempDir())
	must(t, s.Close())
	if err := s.PutState(ctx, "k", []byte("v")); err == nil {
		t.Error("a write after Close did not fail")
	}
}

func testReopen(t *testing.T, b Backend) {
	dir := t.TempDir()
	s := b.Open(t, dir)
	run, err := s.StartRun(ctx, at(0))
	must(t, err)
	must(t, s.AddAnnouncement(ctx, store.Announcement{ID: "a", Title: "t", Text: "x", Published: at(0)}))
	must(t, s.PutState(ctx, "k", []byte("v")))
	must(t, s.PutIncident(ctx, store.Incident{ID: "i", Title: "t", Created: at(0), Updates: []store.IncidentUpdate{{At: at(0), Text: "x"}}}))
	must(t, s.PutWindow(ctx, store.Window{ID: "w", Start: at(0), End: at(time.Hour)}))
	must(t, s.PutSubscriber(ctx, store.Subscriber{ID: "s", Email: "a@example.com", Created: at(0)}))
	mon := store.Monitor{URL: "https://a.example.com/", Node: "m-a", Data: []byte(`{"k":1}`), Added: at(0)}
	must(t, s.PutMonitor(ctx, mon))
	p := store.PushReplica{Key: store.ReplicaKey{Service: "h", Node: "p", Replica: "x"}, Interval: time.Minute, LastReport: at(0)}
	must(t, s.Write(ctx, &store.Batch{Run: run, At: at(time.Second), Results: []store.Result{{Key: web1, At: at(0)}},
		Changes: []store.Change{{Of: web1.NodeOf(), At: at(0)}}, PushReplicas: []store.PushReplica{p}}))
	must(t, s.Close())

	s = b.Open(t, dir)
	defer s.Close()
	if a, _ := s.ListAnnouncements(ctx); len(a) != 1 {
		t.Errorf("announcements after reopening: %v", a)
	}
	if v, ok, _ := s.GetState(ctx, "k"); !ok || string(v) != "v" {
		t.Errorf("state after reopening: %q %v", v, ok)
	}
	if incs, _ := s.ListIncidents(ctx); len(incs) != 1 || len(incs[0].Updates) != 1 {
		t.Errorf("incidents after reopening: %v", incs)
	}
	if ws, _ := s.ListWindows(ctx); len(ws) != 1 {
		t.Errorf("windows after reopening: %v", ws)
	}
	if subs, _ := s.ListSubscribers(ctx); len(subs) != 1 {
		t.Errorf("subscribers after reopening: %v", subs)
	}
	if ms, _ := s.ListMonitors(ctx); !same(ms, []store.Monitor{mon}) {
		t.Errorf("monitors after reopening: %v", ms)
	}
	if r, _ := s.LastResults(ctx); len(r) != 1 {
		t.Errorf("results after reopening: %v", r)
	}
	if c, _ := s.LastChanges(ctx); len(c) != 1 {
		t.Errorf("changes after reopening: %v", c)
	}
	if got, _ := s.PushReplicas(ctx); !same(got, []store.PushReplica{p}) {
		t.Errorf("push replicas after reopening: %v", got)
	}
	if runs, _ := s.Runs(ctx, at(0), at(time.Hour)); len(runs) != 1 || !runs[0].Alive.Equal(at(time.Second)) {
		t.Errorf("runs after reopening: %v", runs)
	}
}

func testBackup(t *testing.T, b Backend) {
	s := open(t, b)
	must(t, s.AddAnnouncement(ctx, store.Announcement{ID: "a", Title: "t", Text: "x", Published: at(0)}))
	must(t, s.Write(ctx, &store.Batch{At: at(0), Results: []store.Result{{Key: web1, At: at(0), Status: status.Dead}}}))
	path := filepath.Join(t.TempDir(), "copy.db")
	must(t, s.Backup(ctx, path))
	if err := s.Backup(ctx, path); err == nil {
		t.Error("a backup over an existing file did not fail")
	}
	// The store goes on while its copy is read.
	must(t, s.PutState(ctx, "after", []byte("1")))
	c := b.OpenBackup(t, path)
	defer c.Close()
	if a, _ := c.ListAnnouncements(ctx); len(a) != 1 {
		t.Errorf("announcements in the backup: %v", a)
	}
	if r, _ := c.LastResults(ctx); len(r) != 1 || r[0].Status != status.Dead {
		t.Errorf("results in the backup: %v", r)
	}
	if _, ok, _ := c.GetState(ctx, "after"); ok {
		t.Error("the backup has a write made after it")
	}
}
