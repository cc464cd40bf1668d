package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

var shownT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// maxShownLag is how far the page's copy of a push replica may trail its
// latest report when nothing visible changed (pkg/push keeps it).
const maxShownLag = time.Second

// startShownServer serves the API on a fake clock at shownT0; the sweep runs
// only when the test calls it.
func startShownServer(t *testing.T) (*testServer, *fakeClock) {
	t.Helper()
	c := &fakeClock{now: shownT0}
	return startServer(t, c.Now), c
}

// reportAt sends one report at time at and wants 200.
func (s *testServer) reportAt(t *testing.T, c *fakeClock, at time.Time, path, body string) {
	t.Helper()
	c.Set(at)
	if r := s.do(t, "POST", path, basic(reporterToken), body); r.code != 200 {
		t.Fatalf("report at %v: %d %s", at.Sub(shownT0), r.code, r.body)
	}
}

func pushBody(cpu, ram float64) string {
	return fmt.Sprintf(`{"replica":"h","interval":30,"load":{"cpu":%v,"ram":%v}}`, cpu, ram)
}

// TestIdenticalReportsBurst: a replica reporting the same load ten times a
// second for three seconds makes at most one new snapshot a second, and the
// "checked" time the page shows is never a second or more behind.
func TestIdenticalReportsBurst(t *testing.T) {
	s, c := startShownServer(t)
	start := s.reg.Snapshot().Version
	for i := range 31 {
		at := shownT0.Add(time.Duration(i) * 100 * time.Millisecond)
		s.reportAt(t, c, at, "/reporter/hosts/push/", pushBody(0.42, 0.61))
		rep := s.replica("hosts", "push", "h")
		if rep == nil {
			t.Fatalf("report %d: replica not in the registry", i)
		}
		if lag := at.Sub(rep.Checked); lag < 0 || lag >= maxShownLag {
			t.Fatalf("report %d: snapshot checked %v behind the report, want less than %v", i, lag, maxShownLag)
		}
	}
	// Writes at 0 s (the replica appears), 1 s, 2 s and 3 s.
	if got := s.reg.Snapshot().Version - start; got != 4 {
		t.Fatalf("31 identical reports over 3 s made %d snapshots, want 4", got)
	}
}

// TestVisibleChangeShownAtOnce: a report that changes what the page shows
// reaches the registry at once, even right after the previous one.
func TestVisibleChangeShownAtOnce(t *testing.T) {
	cases := []struct {
		name        string
		path        string
		first, next string
		shownAtOnce bool
		want        func(*status.Replica) bool
	}{
		{"cpu up 1%", "/reporter/hosts/push/", pushBody(0.42, 0.61), pushBody(0.43, 0.61), true,
			func(r *status.Replica) bool { return r.Load.CPU == 0.43 }},
		{"ram down 1%", "/reporter/hosts/push/", pushBody(0.42, 0.61), pushBody(0.42, 0.60), true,
			func(r *status.Replica) bool { return r.Load.RAM == 0.60 }},
		{"cpu crosses half a percent", "/reporter/hosts/push/", pushBody(0.424, 0.61), pushBody(0.426, 0.61), true,
			func(r *status.Replica) bool { return r.Load.CPU == 0.426 }},
		{"push turns sick", "/reporter/hosts/push/", pushBody(0.5, 0.61), pushBody(0.95, 0.61), true,
			func(r *status.Replica) bool {
				return r.Status == status.Sick && strings.Contains(r.Error, "CPU load 95%")
			}},
		{"push recovers", "/reporter/hosts/push/", pushBody(0.5, 0.85), pushBody(0.5, 0.61), true,
			func(r *status.Replica) bool { return r.Status == status.Healthy && r.Error == "" }},
		{"local turns sick", "/reporter/hosts/local/", `{"replica":"h","interval":30,"health":"healthy"}`,
			`{"replica":"h","interval":30,"health":"sick"}`, true,
			func(r *status.Replica) bool { return r.Status == status.Sick }},
		{"local turns dead", "/reporter/hosts/local/", `{"replica":"h","interval":30,"health":"sick"}`,
			`{"replica":"h","interval":30,"health":"dead"}`, true,
			func(r *status.Replica) bool {
				return r.Status == status.Dead && r.Error == "the replica reports itself dead"
			}},
		{"cpu within the same percent", "/reporter/hosts/push/", pushBody(0.42, 0.61), pushBody(0.424, 0.61), false,
			func(r *status.Replica) bool { return r.Load.CPU == 0.424 }},
		{"local unchanged", "/reporter/hosts/local/", `{"replica":"h","interval":30,"health":"sick"}`,
			`{"replica":"h","interval":30,"health":"sick"}`, false,
			func(r *status.Replica) bool { return r.Status == status.Sick }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c := startShownServer(t)
			node := strings.Split(tc.path, "/")[3]
			s.reportAt(t, c, shownT0, tc.path, tc.first)
			next := shownT0.Add(10 * time.Millisecond)
			s.reportAt(t, c, next, tc.path, tc.next)
			rep := s.replica("hosts", node, "h")
			if shown := rep.Checked.Equal(next) && tc.want(rep); shown != tc.shownAtOnce {
				t.Fatalf("right after the second report the registry has %+v (load %+v); shown at once = %v, want %v",
					rep, rep.Load, shown, tc.shownAtOnce)
			}
			// Whatever was held back is in the registry a second later,
			// even without another report.
			s.Agents.Sweep(shownT0.Add(maxShownLag))
			rep = s.replica("hosts", node, "h")
			if !rep.Checked.Equal(next) || !tc.want(rep) {
				t.Fatalf("after the sweep the registry has %+v (load %+v), want the second report", rep, rep.Load)
			}
		})
	}
}

// TestHeldBackReportStaysUntilDue: the sweep does not write a held-back
// report before the registry's copy is maxShownLag old, and writes the
// latest report once it is.
func TestHeldBackReportStaysUntilDue(t *testing.T) {
	s, c := startShownServer(t)
	s.reportAt(t, c, shownT0, "/reporter/hosts/push/", pushBody(0.42, 0.61))
	s.reportAt(t, c, shownT0.Add(200*time.Millisecond), "/reporter/hosts/push/", pushBody(0.421, 0.61))
	s.reportAt(t, c, shownT0.Add(400*time.Millisecond), "/reporter/hosts/push/", pushBody(0.422, 0.61))
	v := s.reg.Snapshot().Version
	s.Agents.Sweep(shownT0.Add(maxShownLag - time.Nanosecond))
	if got := s.reg.Snapshot().Version; got != v {
		t.Fatalf("the sweep wrote a report before it was due (version %d → %d)", v, got)
	}
	s.Agents.Sweep(shownT0.Add(maxShownLag))
	rep := s.replica("hosts", "push", "h")
	if !rep.Checked.Equal(shownT0.Add(400*time.Millisecond)) || rep.Load.CPU != 0.422 {
		t.Fatalf("after the sweep: checked %v, cpu %v; want the last report (+400ms, 0.422)", rep.Checked.Sub(shownT0), rep.Load.CPU)
	}
	v = s.reg.Snapshot().Version
	s.Agents.Sweep(shownT0.Add(3 * maxShownLag))
	if got := s.reg.Snapshot().Version; got != v {
		t.Fatalf("the sweep wrote again with nothing new (version %d → %d)", v, got)
	}
}

// TestSilenceCountsFromLastReport: a replica dies interval + delay after its
// last report, even when that report was held back from the registry.
func TestSilenceCountsFromLastReport(t *testing.T) {
	s, c := startShownServer(t)
	s.reportAt(t, c, shownT0, "/reporter/hosts/push/", pushBody(0.42, 0.61))
	last := shownT0.Add(500 * time.Millisecond)
	s.reportAt(t, c, last, "/reporter/hosts/push/", pushBody(0.42, 0.61))
	deadline := last.Add(30*time.Second + 300*time.Millisecond) // interval + push_delay_dead
	s.Agents.Sweep(deadline.Add(-time.Nanosecond))
	if rep := s.replica("hosts", "push", "h"); rep.Status != status.Healthy {
		t.Fatalf("just before interval + push_delay_dead after the last report: %v, want healthy", rep.Status)
	}
	s.Agents.Sweep(deadline)
	if rep := s.replica("hosts", "push", "h"); rep.Status != status.Dead || !strings.Contains(rep.Error, "no report for 30.3s") {
		t.Fatalf("at the deadline: %v %q, want dead for 30.3s of silence", rep.Status, rep.Error)
	}
	// The next report revives it at once, even with the same load as before.
	revived := deadline.Add(10 * time.Millisecond)
	s.reportAt(t, c, revived, "/reporter/hosts/push/", pushBody(0.42, 0.61))
	if rep := s.replica("hosts", "push", "h"); rep.Status != status.Healthy || !rep.Checked.Equal(revived) {
		t.Fatalf("after a new report: %v checked %v, want healthy at once", rep.Status, rep.Checked)
	}
}

// TestSilentLocalReplicaReportsDead: a local replica marked dead for silence
// that then reports itself dead shows its own report, not the silence.
func TestSilentLocalReplicaReportsDead(t *testing.T) {
	s, c := startShownServer(t)
	body := `{"replica":"h","interval":1,"health":"dead"}`
	s.reportAt(t, c, shownT0, "/reporter/hosts/local/", body)
	deadline := shownT0.Add(1300 * time.Millisecond)
	s.Agents.Sweep(deadline)
	if rep := s.replica("hosts", "local", "h"); !strings.Contains(rep.Error, "no report for") {
		t.Fatalf("after the silence: %q, want the silence named", rep.Error)
	}
	again := deadline.Add(10 * time.Millisecond)
	s.reportAt(t, c, again, "/reporter/hosts/local/", body)
	if rep := s.replica("hosts", "local", "h"); rep.Error != "the replica reports itself dead" || !rep.Checked.Equal(again) {
		t.Fatalf("after the report: %q checked %v, want the replica's own report", rep.Error, rep.Checked.Sub(shownT0))
	}
}
