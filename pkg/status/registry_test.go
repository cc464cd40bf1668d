package status

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func testSpecs() []ServiceSpec {
	return []ServiceSpec{
		{ID: "web", Label: "Web", Nodes: []NodeSpec{
			{ID: "api", Mode: ModePoll, Replicas: []string{"http://a", "http://b"}},
			{ID: "cdn", Mode: ModePoll, Replicas: []string{"http://c"}},
		}},
		{ID: "db", Label: "DB", Nodes: []NodeSpec{
			{ID: "main", Mode: ModePoll, Replicas: []string{"tcp://d:5432"}},
			{ID: "hosts", Mode: ModePush},
		}},
	}
}

func TestAggregation(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type set struct {
		ref Ref
		st  Status
	}
	cases := []struct {
		name             string
		sets             []set
		api, web, db, pg Status
	}{
		{"all healthy", nil, Healthy, Healthy, Healthy, Healthy},
		{"one sick replica makes node, service and page sick",
			[]set{{Ref{0, 0, 1}, Sick}}, Sick, Sick, Healthy, Sick},
		{"node is the worst replica",
			[]set{{Ref{0, 0, 0}, Sick}, {Ref{0, 0, 1}, Dead}}, Dead, Dead, Healthy, Dead},
		{"service is the worst node",
			[]set{{Ref{0, 1, 0}, Sick}}, Healthy, Sick, Healthy, Sick},
		{"page is the worst service",
			[]set{{Ref{0, 1, 0}, Sick}, {Ref{1, 0, 0}, Dead}}, Healthy, Sick, Dead, Dead},
		{"recovery brings the page back",
			[]set{{Ref{1, 0, 0}, Dead}, {Ref{1, 0, 0}, Healthy}}, Healthy, Healthy, Healthy, Healthy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry(testSpecs(), t0)
			for i, s := range tc.sets {
				r.Set(s.ref, Result{Status: s.st, At: t0.Add(time.Duration(i+1) * time.Second)})
			}
			snap := r.Snapshot()
			if got := snap.Services[0].Nodes.At(0).Status; got != tc.api {
				t.Errorf("node web/api = %v, want %v", got, tc.api)
			}
			if got := snap.Services[0].Status; got != tc.web {
				t.Errorf("service web = %v, want %v", got, tc.web)
			}
			if got := snap.Services[1].Status; got != tc.db {
				t.Errorf("service db = %v, want %v", got, tc.db)
			}
			if snap.Status != tc.pg {
				t.Errorf("page = %v, want %v", snap.Status, tc.pg)
			}
		})
	}
}

func TestSnapshotsAreImmutable(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRegistry(testSpecs(), t0)
	before := r.Snapshot()
	changed := r.Set(Ref{0, 0, 0}, Result{Status: Dead, Latency: time.Second, Err: "refused", At: t0.Add(time.Second)})
	after := r.Snapshot()
	if !changed {
		t.Fatal("Set reported no change for healthy → dead")
	}
	if before.Status != Healthy || before.Services[0].Nodes.At(0).Replicas.At(0).Status != Healthy {
		t.Fatal("an earlier snapshot changed under its reader")
	}
	if after.Status != Dead || after.Services[0].Nodes.At(0).Replicas.At(0).Error != "refused" {
		t.Fatalf("new snapshot = %v / %+v", after.Status, after.Services[0].Nodes.At(0).Replicas.At(0))
	}
	if before.Services[1] != after.Services[1] {
		t.Error("an untouched service was copied instead of shared")
	}
	if after.Version != before.Version+1 || after.StatusVersion != before.StatusVersion+1 {
		t.Errorf("versions %d/%d → %d/%d", before.Version, before.StatusVersion, after.Version, after.StatusVersion)
	}
	if !after.Changed.Equal(t0.Add(time.Second)) {
		t.Errorf("Changed = %v, want the time of the result", after.Changed)
	}
}

func TestLatencyOnlyKeepsStatusVersion(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRegistry(testSpecs(), t0)
	r.Set(Ref{0, 0, 0}, Result{Status: Healthy, Latency: time.Millisecond, At: t0})
	sv := r.Snapshot().StatusVersion
	if r.Set(Ref{0, 0, 0}, Result{Status: Healthy, Latency: 2 * time.Millisecond, At: t0}) {
		t.Error("a latency change was reported as a status change")
	}
	s := r.Snapshot()
	if s.StatusVersion != sv {
		t.Errorf("StatusVersion moved on a latency-only change: %d → %d", sv, s.StatusVersion)
	}
	if s.Services[0].Nodes.At(0).Replicas.At(0).Latency != 2*time.Millisecond {
		t.Error("latency not recorded")
	}
}

func TestUpsertAndRemove(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRegistry(testSpecs(), t0)
	si, ni, ok := r.Snapshot().FindNode("db", "hosts")
	if !ok {
		t.Fatal("FindNode did not find db/hosts")
	}
	if _, _, ok := r.Snapshot().FindNode("db", "nope"); ok {
		t.Fatal("FindNode found a node that does not exist")
	}
	r.Upsert(si, ni, "host-1", Result{Status: Healthy, At: t0, Load: &Load{CPU: 0.1, RAM: 0.2}})
	r.Upsert(si, ni, "host-2", Result{Status: Sick, At: t0})
	n := r.Snapshot().Services[si].Nodes.At(ni)
	if n.Replicas.Len() != 2 || n.Status != Sick || n.Replicas.At(0).Load.RAM != 0.2 {
		t.Fatalf("after upserts: %d replicas, node %v", n.Replicas.Len(), n.Status)
	}
	r.Upsert(si, ni, "host-2", Result{Status: Healthy, At: t0})
	if got := r.Snapshot().Services[si].Nodes.At(ni); got.Replicas.Len() != 2 || got.Status != Healthy {
		t.Fatalf("upsert of a known replica: %d replicas, node %v", got.Replicas.Len(), got.Status)
	}
	if !r.Remove(si, ni, "host-1", t0) || r.Remove(si, ni, "host-1", t0) {
		t.Fatal("Remove should succeed once")
	}
	if got := r.Snapshot().Services[si].Nodes.At(ni).Replicas; got.Len() != 1 || got.At(0).ID != "host-2" {
		t.Fatalf("after remove: %+v", got)
	}
}

func TestSubscribeSignalsChanges(t *testing.T) {
	r := NewRegistry(testSpecs(), time.Unix(0, 0))
	ch, cancel := r.Subscribe()
	r.Set(Ref{0, 0, 0}, Result{Status: Sick})
	r.Set(Ref{0, 0, 0}, Result{Status: Dead})
	select {
	case <-ch:
	default:
		t.Fatal("no signal after a change")
	}
	cancel()
	r.Set(Ref{0, 0, 0}, Result{Status: Healthy})
	select {
	case <-ch:
		t.Fatal("signal after unsubscribing")
	default:
	}
}

// Concurrent writers and lock-free readers: run with -race.
func TestConcurrentSetAndRead(t *testing.T) {
	r := NewRegistry(testSpecs(), time.Unix(0, 0))
	var wg sync.WaitGroup
	refs := []Ref{{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {1, 0, 0}}
	for _, ref := range refs {
		wg.Add(1)
		go func(ref Ref) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				r.Set(ref, Result{Status: Status(i % 3)})
			}
		}(ref)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			s := r.Snapshot()
			worst := Healthy
			for _, svc := range s.Services {
				worst = Worst(worst, svc.Status)
			}
			if worst != s.Status {
				t.Errorf("snapshot %d: page %v but worst service %v", s.Version, s.Status, worst)
				return
			}
		}
	}()
	wg.Wait()
	<-done
	if v := r.Snapshot().Version; v != 1+uint64(len(refs))*500 {
		t.Errorf("Version = %d, want one step per Set", v)
	}
}

func TestParse(t *testing.T) {
	for _, name := range []string{"healthy", "sick", "dead"} {
		s, err := Parse(name)
		if err != nil || s.String() != name {
			t.Errorf("Parse(%q) = %v, %v", name, s, err)
		}
	}
	if _, err := Parse("ok"); err == nil {
		t.Error("Parse accepted an unknown status")
	}
	if _, err := ParseMode("pull"); err == nil {
		t.Error("ParseMode accepted an unknown mode")
	}
}

// BenchmarkSet: the cost of one probe result landing in a registry of
// 10,000 replicas (100 services × 10 nodes × 10 replicas).
func BenchmarkSet(b *testing.B) {
	var specs []ServiceSpec
	for s := 0; s < 100; s++ {
		ss := ServiceSpec{ID: "s"}
		for n := 0; n < 10; n++ {
			ss.Nodes = append(ss.Nodes, NodeSpec{ID: "n", Replicas: make([]string, 10)})
		}
		specs = append(specs, ss)
	}
	r := NewRegistry(specs, time.Now())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Set(Ref{i % 100, (i / 100) % 10, i % 10}, Result{Status: Healthy, Latency: time.Duration(i)})
	}
}

func TestUncheckedCountsReplicasWithoutResult(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRegistry(testSpecs(), t0)
	if got := r.Snapshot().Unchecked; got != 4 {
		t.Fatalf("Unchecked at start = %d, want the 4 configured replicas", got)
	}
	r.Set(Ref{0, 0, 0}, Result{At: t0})
	r.Set(Ref{0, 0, 0}, Result{At: t0.Add(time.Second)}) // a second result counts once
	r.Set(Ref{0, 0, 1}, Result{At: t0})
	si, ni, _ := r.Snapshot().FindNode("db", "hosts")
	r.Upsert(si, ni, "host-1", Result{At: t0}) // push replicas arrive with a result
	if got := r.Snapshot().Unchecked; got != 2 {
		t.Fatalf("Unchecked = %d, want 2", got)
	}
	r.Set(Ref{0, 1, 0}, Result{At: t0})
	r.Set(Ref{1, 0, 0}, Result{At: t0})
	r.Remove(si, ni, "host-1", t0)
	if got := r.Snapshot().Unchecked; got != 0 {
		t.Fatalf("Unchecked after every replica reported = %d, want 0", got)
	}
}

// recorded counts what a recorder hears.
type recorded struct{ results, changes int }

func (r *recorded) Result(string, string, Mode, *Replica)                   { r.results++ }
func (r *recorded) Changed(string, string, Status, time.Time, string, bool) { r.changes++ }

func TestKeepChangesOnlyTheError(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRegistry(testSpecs(), t0)
	var rec recorded
	r.SetRecorder(&rec)
	r.Set(Ref{0, 0, 0}, Result{Status: Sick, Latency: time.Second, Err: "slow", At: t0})
	heard := rec
	before := r.Snapshot()

	r.Keep(Ref{0, 0, 0}, "could not check: too many open files", t0.Add(time.Minute))
	r.Keep(Ref{0, 0, 1}, "could not check: too many open files", t0.Add(time.Minute))
	after := r.Snapshot()
	got := after.Services[0].Nodes.At(0).Replicas.At(0)
	if got.Status != Sick || !got.Checked.Equal(t0) || got.Latency != time.Second || got.Error != "could not check: too many open files" {
		t.Errorf("kept replica = %+v, want sick as of t0, with the new error", got)
	}
	if unchecked := after.Services[0].Nodes.At(0).Replicas.At(1); !unchecked.Checked.IsZero() || after.Unchecked != before.Unchecked {
		t.Errorf("a replica never checked counts as checked after Keep: %+v, Unchecked %d → %d", unchecked, before.Unchecked, after.Unchecked)
	}
	if after.StatusVersion != before.StatusVersion || after.Version != before.Version+2 || after.Status != Sick {
		t.Errorf("versions %d/%d → %d/%d, page %s: want only Version to move", before.Version, before.StatusVersion,
			after.Version, after.StatusVersion, after.Status)
	}
	if rec != heard {
		t.Errorf("the recorder heard %+v of Keep, want nothing", rec)
	}
	r.Keep(Ref{0, 0, 0}, "could not check: too many open files", t0.Add(2*time.Minute))
	if r.Snapshot().Version != after.Version {
		t.Error("keeping the same reason again made a new snapshot")
	}
}

func TestCertDaysLeft(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		left time.Duration
		want int
	}{
		{90 * 24 * time.Hour, 90},
		{5*24*time.Hour + 3*time.Hour, 5},
		{3 * time.Hour, 0},
		{0, 0},
		{-3 * time.Hour, -1},
		{-2 * 24 * time.Hour, -2},
		{-2*24*time.Hour - time.Hour, -3},
	} {
		c := &Cert{NotAfter: now.Add(tc.left)}
		if got := c.DaysLeft(now); got != tc.want {
			t.Errorf("DaysLeft with %v left = %d, want %d", tc.left, got, tc.want)
		}
	}
}

// BenchmarkStatusChange: one replica of a big node, or one node of a big
// service, changing status (healthy ↔ dead) in a registry that holds
// 10,000 of them.
func BenchmarkStatusChange(b *testing.B) {
	const n = 10000
	b.Run("push replica of 10000", func(b *testing.B) {
		r := NewRegistry([]ServiceSpec{{ID: "s", Nodes: []NodeSpec{{ID: "hosts", Mode: ModePush}}}}, time.Now())
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("host-%05d", i)
			r.Upsert(0, 0, names[i], Result{Status: Healthy, At: time.Now()})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			st := Healthy
			if i%2 == 0 {
				st = Dead
			}
			r.Upsert(0, 0, names[(i/2*7919)%n], Result{Status: st, At: time.Now()})
		}
	})
	b.Run("node of 10000", func(b *testing.B) {
		spec := ServiceSpec{ID: "s"}
		for i := range n {
			spec.Nodes = append(spec.Nodes, NodeSpec{ID: fmt.Sprintf("n%d", i), Mode: ModePoll, Replicas: []string{"https://x/"}})
		}
		r := NewRegistry([]ServiceSpec{spec}, time.Now())
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			st := Healthy
			if i%2 == 0 {
				st = Dead
			}
			r.Set(Ref{Node: (i / 2 * 7919) % n}, Result{Status: st, At: time.Now()})
		}
	})
}

func TestNodesComeAndGo(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRegistry([]ServiceSpec{{ID: "dyn"}}, t0)
	for _, id := range []string{"a", "b", "c"} {
		if !r.AddNode(0, NodeSpec{ID: id, Mode: ModePoll, Replicas: []string{"https://" + id + "/"}}, t0) {
			t.Fatalf("AddNode %s refused", id)
		}
	}
	if r.AddNode(0, NodeSpec{ID: "b"}, t0) {
		t.Error("a second node b was added")
	}
	if got := r.Snapshot().Unchecked; got != 3 {
		t.Errorf("Unchecked = %d, want 3", got)
	}
	r.SetByID(0, "c", 0, Result{Status: Dead, At: t0})
	if !r.RemoveNode(0, "a", t0) || r.RemoveNode(0, "a", t0) {
		t.Fatal("RemoveNode a: want true once")
	}
	// c moved up a place; a result by id still reaches it.
	r.SetByID(0, "c", 0, Result{Status: Sick, At: t0})
	snap := r.Snapshot()
	svc := snap.Services[0]
	if svc.Nodes.Len() != 2 || svc.Nodes.At(1).ID != "c" || svc.Nodes.At(1).Status != Sick || svc.Status != Sick {
		t.Fatalf("after removing a: %d nodes, second %+v, service %v", svc.Nodes.Len(), svc.Nodes.At(1), svc.Status)
	}
	if snap.Unchecked != 1 {
		t.Errorf("Unchecked = %d, want 1 (b)", snap.Unchecked)
	}
	if r.SetByID(0, "a", 0, Result{Status: Dead, At: t0}) {
		t.Error("a result reached a removed node")
	}
	r.RemoveNode(0, "c", t0)
	if s := r.Snapshot(); s.Status != Healthy || s.Services[0].Nodes.Len() != 1 {
		t.Errorf("after removing the sick node: page %v, %d nodes", s.Status, s.Services[0].Nodes.Len())
	}
}

// recording is a Recorder that keeps what it hears.
type recording struct {
	results []string // "service/node/replica status error"
	changes []string // "service/node status reason"
}

func (r *recording) Result(service, node string, _ Mode, rep *Replica) {
	r.results = append(r.results, service+"/"+node+"/"+rep.ID+" "+rep.Status.String()+" "+rep.Error)
}

func (r *recording) Changed(service, node string, st Status, at time.Time, reason string, resumed bool) {
	r.changes = append(r.changes, service+"/"+node+" "+st.String()+" "+reason)
}

// TestRemoveNoted: removing a dead replica with a note records its last
// status with the note, and the note explains the recovery it causes.
func TestRemoveNoted(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRegistry(testSpecs(), t0)
	si, ni, _ := r.Snapshot().FindNode("db", "hosts")
	r.Upsert(si, ni, "host-1", Result{Status: Dead, At: t0, Err: "silent"})
	r.Upsert(si, ni, "host-2", Result{Status: Healthy, At: t0})
	rec := &recording{}
	r.SetRecorder(rec)

	const note = "flushed while dead by the reporter token from 192.0.2.7"
	if !r.RemoveNoted(si, ni, "host-1", t0.Add(time.Minute), note) {
		t.Fatal("host-1 not removed")
	}
	wantResults := []string{"db/hosts/host-1 dead " + note}
	wantChanges := []string{"db/hosts healthy " + note, "db/ healthy " + note}
	if !slices.Equal(rec.results, wantResults) || !slices.Equal(rec.changes, wantChanges) {
		t.Fatalf("heard results %q and changes %q,\nwant %q and %q", rec.results, rec.changes, wantResults, wantChanges)
	}
	if st := r.Snapshot().Status; st != Healthy {
		t.Fatalf("page %v after the flush, want healthy", st)
	}

	// Without a note a removal leaves no result, and changes nothing here.
	*rec = recording{}
	r.Remove(si, ni, "host-2", t0.Add(2*time.Minute))
	if len(rec.results) != 0 || len(rec.changes) != 0 {
		t.Fatalf("plain removal of a healthy replica recorded %q %q", rec.results, rec.changes)
	}
}

// Adopt: a registry built from a new config takes over the statuses of
// the nodes the old one had, live (not stale), and new nodes start
// unchecked.
func TestAdopt(t *testing.T) {
	t0 := time.Unix(1000, 0)
	old := NewRegistry([]ServiceSpec{
		{ID: "web", Nodes: []NodeSpec{{ID: "api", Mode: ModePoll, Replicas: []string{"https://a/", "https://b/"}}}},
		{ID: "agents", Nodes: []NodeSpec{{ID: "hosts", Mode: ModePush}}},
		{ID: "gone", Nodes: []NodeSpec{{ID: "x", Mode: ModePoll, Replicas: []string{"https://x/"}}}},
	}, t0)
	old.Set(Ref{0, 0, 0}, Result{Status: Dead, At: t0.Add(time.Second), Err: "refused"})
	old.Set(Ref{0, 0, 1}, Result{Status: Healthy, At: t0.Add(time.Second)})
	old.Upsert(1, 0, "h1", Result{Status: Sick, At: t0.Add(2 * time.Second)})
	old.Set(Ref{2, 0, 0}, Result{Status: Dead, At: t0})
	was := old.Snapshot()

	r := NewRegistry([]ServiceSpec{
		{ID: "agents", Nodes: []NodeSpec{{ID: "hosts", Mode: ModePush}}},
		{ID: "web", Nodes: []NodeSpec{
			{ID: "api", Mode: ModePoll, Replicas: []string{"https://b/", "https://c/"}}, // a dropped, c new
			{ID: "www", Mode: ModePoll, Replicas: []string{"https://w/"}},
		}},
	}, t0.Add(time.Minute))
	r.Adopt(was)
	s := r.Snapshot()
	hosts := s.Services[0].Nodes.At(0)
	if hosts.Replicas.Len() != 1 || hosts.Replicas.At(0).ID != "h1" || hosts.Replicas.At(0).Status != Sick || hosts.Replicas.At(0).Stale {
		t.Errorf("push replicas after Adopt: %+v", hosts.Replicas.Items())
	}
	api := s.Services[1].Nodes.At(0)
	if b := api.Replicas.At(0); b.ID != "https://b/" || b.Checked.IsZero() || b.Stale {
		t.Errorf("replica b: %+v, want its result taken over", b)
	}
	if c := api.Replicas.At(1); c.ID != "https://c/" || !c.Checked.IsZero() {
		t.Errorf("replica c: %+v, want unchecked", c)
	}
	if api.Status != Healthy || s.Services[1].Status != Healthy || s.Status != Sick {
		t.Errorf("statuses: api %v, web %v, page %v; want healthy (the dead replica was dropped), healthy, sick", api.Status, s.Services[1].Status, s.Status)
	}
	if s.Unchecked != 2 { // c and w
		t.Errorf("Unchecked = %d, want 2", s.Unchecked)
	}
	// A result on the adopted push replica lands by its name.
	r.Upsert(0, 0, "h1", Result{Status: Healthy, At: t0.Add(2 * time.Minute)})
	if got := r.Snapshot().Services[0].Nodes.At(0); got.Replicas.Len() != 1 || got.Status != Healthy {
		t.Errorf("after a report: %d replicas, %v", got.Replicas.Len(), got.Status)
	}
}
