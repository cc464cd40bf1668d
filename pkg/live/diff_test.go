package live

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

// specs is a small page: a node that hides its replicas' names, one that
// shows them, a node never checked, and push hosts that show theirs.
func specs() []status.ServiceSpec {
	return []status.ServiceSpec{
		{ID: "web", Label: "Website", Nodes: []status.NodeSpec{
			{ID: "api", Label: "API", Mode: status.ModePoll,
				Replicas: []string{"http://api-1.internal:8080/health", "http://api-2.internal:8080/health"}},
			{ID: "cdn", Label: "CDN", Mode: status.ModePoll, RevealReplicaName: true,
				Replicas: []string{"https://cdn1.example.net/", "https://cdn2.example.net/"}},
		}},
		{ID: "db", Label: "Database", Nodes: []status.NodeSpec{
			{ID: "main", Label: "Primary", Mode: status.ModePoll, Replicas: []string{"tcp://db.internal:5432"}},
		}},
		{ID: "agents", Label: "Agents", Nodes: []status.NodeSpec{
			{ID: "hosts", Label: "Hosts", Mode: status.ModePush, RevealReplicaName: true},
		}},
	}
}

// checked is the registry of specs with every web replica checked
// healthy at t0.
func checked() *status.Registry {
	reg := status.NewRegistry(specs(), t0.Add(-time.Hour))
	for n := range 2 {
		for r := range 2 {
			reg.Set(status.Ref{Service: 0, Node: n, Replica: r}, status.Result{Status: status.Healthy, Latency: 80 * time.Millisecond, At: t0})
		}
	}
	return reg
}

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func upsert(reg *status.Registry, host string, st status.Status, s int) {
	reg.Upsert(2, 0, host, status.Result{Status: st, At: at(s), Load: &status.Load{CPU: 0.5, RAM: 0.5}})
}

// TestEvents: each change of the registry gives the events the page's
// visitors may see, and nothing else: no URL of a replica that hides its
// name, no error, no latency.
func TestEvents(t *testing.T) {
	tests := []struct {
		name   string
		before func(*status.Registry) // before the clients' view starts
		change func(*status.Registry)
		want   []string
	}{
		{"a new latency changes nothing the page shows", nil,
			func(reg *status.Registry) {
				reg.Set(status.Ref{}, status.Result{Status: status.Healthy, Latency: 2 * time.Second, At: at(1)})
			}, nil},
		{"a hidden replica goes dead", nil,
			func(reg *status.Registry) {
				reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Dead, Err: "connection refused by api-2.internal", At: at(1)})
			},
			[]string{`{"type":"status","page":{"status":"dead","since":"2026-12-02T09:00:01Z"},
				"services":[{"id":"web","status":"dead"}],
				"nodes":[{"service":"web","id":"api","status":"dead","since":"2026-12-02T09:00:01Z","replicas":2}],
				"replicas":[{"service":"web","node":"api","index":2,"name":"replica 2","status":"dead"}]}`}},
		{"a named replica turns sick and back", nil,
			func(reg *status.Registry) {
				reg.Set(status.Ref{Node: 1, Replica: 1}, status.Result{Status: status.Sick, At: at(1)})
			},
			[]string{`{"type":"status","page":{"status":"sick","since":"2026-12-02T09:00:01Z"},
				"services":[{"id":"web","status":"sick"}],
				"nodes":[{"service":"web","id":"cdn","status":"sick","since":"2026-12-02T09:00:01Z","replicas":2}],
				"replicas":[{"service":"web","node":"cdn","index":2,"name":"cdn2.example.net","status":"sick"}]}`}},
		{"a recovery in the same look as a failure is no change", nil,
			func(reg *status.Registry) {
				reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: at(1)})
				reg.Set(status.Ref{}, status.Result{Status: status.Healthy, At: at(2)})
			}, nil},
		{"the first result of a replica ends its no data", nil,
			func(reg *status.Registry) {
				reg.Set(status.Ref{Service: 1}, status.Result{Status: status.Healthy, At: at(1)})
			},
			[]string{`{"type":"status","replicas":[{"service":"db","node":"main","index":1,"name":"replica 1","status":"healthy"}]}`}},
		{"a push host appears", nil,
			func(reg *status.Registry) { upsert(reg, "host-1", status.Healthy, 1) },
			[]string{`{"type":"status","nodes":[{"service":"agents","id":"hosts","status":"healthy","replicas":1}],
				"replicas":[{"service":"agents","node":"hosts","index":1,"name":"host-1","status":"healthy"}]}`}},
		{"a push host leaves and the next one moves up",
			func(reg *status.Registry) {
				upsert(reg, "host-1", status.Healthy, 1)
				upsert(reg, "host-2", status.Sick, 1)
				upsert(reg, "host-3", status.Sick, 1)
			},
			func(reg *status.Registry) { reg.Remove(2, 0, "host-1", at(2)) },
			[]string{`{"type":"status","nodes":[{"service":"agents","id":"hosts","status":"sick","since":"2026-12-02T09:00:01Z","replicas":2}],
				"replicas":[{"service":"agents","node":"hosts","index":1,"name":"host-2","status":"sick"},
					{"service":"agents","node":"hosts","index":2,"name":"host-3","status":"sick"}]}`}},
		{"a push host that reports again changes nothing", func(reg *status.Registry) { upsert(reg, "host-1", status.Healthy, 1) },
			func(reg *status.Registry) { upsert(reg, "host-1", status.Healthy, 2) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := checked()
			if tc.before != nil {
				tc.before(reg)
			}
			st := newState(Options{Status: reg})
			tc.change(reg)
			got := st.step()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d messages, want %d:\n%s", len(got), len(tc.want), bytes.Join(got, []byte("\n")))
			}
			for i, want := range tc.want {
				sameJSON(t, got[i], want)
			}
			for _, m := range got {
				for _, secret := range []string{"internal", "refused", "latency"} {
					if bytes.Contains(m, []byte(secret)) {
						t.Errorf("an event tells %q, which the page does not show: %s", secret, m)
					}
				}
			}
			// What the events told adds up to the snapshot a new client gets.
			if len(got) > 0 {
				sameJSON(t, st.snapshotMessage(), string(encode(snapshotOf(reg.Snapshot(), st.anns, st.incs))))
			}
		})
	}
}

// TestSnapshot: the first message holds the whole page: every service,
// node and replica, named as the page names them.
func TestSnapshot(t *testing.T) {
	reg := checked()
	reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Dead, Err: "refused", At: at(1)})
	upsert(reg, "host-1", status.Sick, 2)
	st := newState(Options{Status: reg})
	sameJSON(t, st.snapshotMessage(), `{"type":"snapshot","page":{"status":"dead","since":"2026-12-02T09:00:01Z"},
		"services":[
			{"id":"web","label":"Website","status":"dead","nodes":[
				{"id":"api","label":"API","status":"dead","since":"2026-12-02T09:00:01Z","replicas":[
					{"index":1,"name":"replica 1","status":"healthy"},{"index":2,"name":"replica 2","status":"dead"}]},
				{"id":"cdn","label":"CDN","status":"healthy","replicas":[
					{"index":1,"name":"cdn1.example.net","status":"healthy"},{"index":2,"name":"cdn2.example.net","status":"healthy"}]}]},
			{"id":"db","label":"Database","status":"healthy","nodes":[
				{"id":"main","label":"Primary","status":"healthy","replicas":[{"index":1,"name":"replica 1","status":"healthy","no_data":true}]}]},
			{"id":"agents","label":"Agents","status":"sick","nodes":[
				{"id":"hosts","label":"Hosts","status":"sick","since":"2026-12-02T09:00:02Z","replicas":[
					{"index":1,"name":"host-1","status":"sick"}]}]}],
		"announcements":[],"incidents":[]}`)
}

// snapshots is a status source of hand-made snapshots, for changes the
// registry cannot make yet (nodes added to and taken out of a service).
type snapshots struct{ snap *status.Snapshot }

func (s *snapshots) Snapshot() *status.Snapshot           { return s.snap }
func (s *snapshots) Subscribe() (<-chan struct{}, func()) { return make(chan struct{}), func() {} }

// withNodes is snap with service si's nodes replaced.
func withNodes(snap *status.Snapshot, si int, nodes status.List[*status.Node]) *status.Snapshot {
	next := *snap
	next.Version++
	next.Services = append([]*status.Service(nil), snap.Services...)
	svc := *snap.Services[si]
	svc.Nodes = nodes
	next.Services[si] = &svc
	return &next
}

// TestMonitorEvents: nodes added to a service and taken out of it (as
// dynamic targets are) are told as monitor events, with the whole added
// node; a node that stays and changes is a status event.
func TestMonitorEvents(t *testing.T) {
	src := &snapshots{snap: checked().Snapshot()}
	st := newState(Options{Status: src})
	web := src.snap.Services[0].Nodes
	shop := &status.Node{ID: "shop", Label: "shop.example.com/", Status: status.Dead, Changed: at(3),
		Replicas: status.ListOf(&status.Replica{ID: "https://shop.example.com/", Status: status.Dead, Checked: at(3)})}
	cdn := *web.At(1)
	cdn.Status, cdn.Changed = status.Sick, at(3)
	cdn.Replicas = cdn.Replicas.With(0, &status.Replica{ID: "https://cdn1.example.net/", Status: status.Sick, Checked: at(3)})
	src.snap = withNodes(src.snap, 0, web.Delete(0).With(0, &cdn).Append(shop))

	got := st.step()
	if len(got) != 2 {
		t.Fatalf("got %d messages, want a monitor and a status event:\n%s", len(got), bytes.Join(got, []byte("\n")))
	}
	sameJSON(t, got[0], `{"type":"monitor",
		"added":[{"service":"web","id":"shop","label":"shop.example.com/","status":"dead","since":"2026-12-02T09:00:03Z",
			"replicas":[{"index":1,"name":"replica 1","status":"dead"}]}],
		"removed":[{"service":"web","id":"api"}]}`)
	sameJSON(t, got[1], `{"type":"status",
		"nodes":[{"service":"web","id":"cdn","status":"sick","since":"2026-12-02T09:00:03Z","replicas":2}],
		"replicas":[{"service":"web","node":"cdn","index":1,"name":"cdn1.example.net","status":"sick"}]}`)
}

// TestBigNodeStepIsCheap: one result on a node of 10,000 replicas is one
// replica event, found without walking the node (a walk that names the
// replicas would allocate thousands of times).
func TestBigNodeStepIsCheap(t *testing.T) {
	for _, reveal := range []bool{false, true} {
		t.Run("reveal "+strconv.FormatBool(reveal), func(t *testing.T) {
			reg := bigRegistry(10_000, reveal)
			st := newState(Options{Status: reg})
			reg.Set(status.Ref{Replica: 7_777}, status.Result{Status: status.Dead, At: at(5)})
			st.step() // names the node's replicas once, when it reveals them
			reg.Set(status.Ref{Replica: 7_777}, status.Result{Status: status.Healthy, At: at(6)})
			reg.Set(status.Ref{Replica: 4_321}, status.Result{Status: status.Sick, At: at(6)})
			got := st.step()
			if len(got) != 1 || !strings.Contains(string(got[0]), `"index":4322`) || !strings.Contains(string(got[0]), `"index":7778`) ||
				strings.Count(string(got[0]), `"index"`) != 2 {
				t.Errorf("got %s; want one status event naming replicas 4322 and 7778", bytes.Join(got, []byte("\n")))
			}
			i := 0
			allocs := testing.AllocsPerRun(20, func() {
				i++
				reg.Set(status.Ref{Replica: (i + 1) / 2 * 97}, status.Result{Status: status.Status(i % 2 * 2), At: at(6 + i)})
				if len(st.step()) != 1 {
					t.Fatal("no event")
				}
			})
			if allocs > 60 {
				t.Errorf("a result and its event took %.0f allocations; want a few dozen at most", allocs)
			}
		})
	}
}

func bigRegistry(n int, reveal bool) *status.Registry {
	reps := make([]string, n)
	for i := range reps {
		reps[i] = "http://10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250) + ":8080/"
	}
	reg := status.NewRegistry([]status.ServiceSpec{{ID: "fleet", Label: "Fleet", Nodes: []status.NodeSpec{
		{ID: "web", Label: "Web", Mode: status.ModePoll, RevealReplicaName: reveal, Replicas: reps}}}}, t0)
	for i := range n {
		reg.Set(status.Ref{Replica: i}, status.Result{Status: status.Healthy, At: t0})
	}
	return reg
}

// BenchmarkStep is one status change on a node of 10,000 replicas: the
// registry's write and the owner's work for it, the diff and the encoding
// of the event. (pkg/status's BenchmarkStatusChange is the write alone.)
func BenchmarkStep(b *testing.B) {
	for _, reveal := range []bool{false, true} {
		b.Run("reveal="+strconv.FormatBool(reveal), func(b *testing.B) {
			reg := bigRegistry(10_000, reveal)
			st := newState(Options{Status: reg})
			for _, s := range []status.Status{status.Dead, status.Healthy} { // names them once, when it reveals them
				reg.Set(status.Ref{Replica: 9_999}, status.Result{Status: s, At: at(1)})
				st.step()
			}
			i := 0
			for b.Loop() {
				// Replica k goes dead, then comes back: every step has an event.
				k := i / 2 % 10_000
				reg.Set(status.Ref{Replica: k}, status.Result{Status: status.Status((i + 1) % 2 * 2), At: at(2 + i)})
				if len(st.step()) == 0 {
					b.Fatal("no event")
				}
				i++
			}
		})
	}
}

func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var w bytes.Buffer
	if err := json.Compact(&w, []byte(want)); err != nil {
		t.Fatalf("want: %v", err)
	}
	if !bytes.Equal(got, w.Bytes()) {
		t.Errorf("got  %s\nwant %s", got, w.Bytes())
	}
}
