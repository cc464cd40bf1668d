package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// replicaURLs names n replicas of one server by path: /r0, /r1…
func replicaURLs(base string, n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = base + "/r" + strconv.Itoa(i)
	}
	return urls
}

// byPath groups the server's hits by request path.
func byPath(hits []hit) map[string][]time.Time {
	m := map[string][]time.Time{}
	for _, h := range hits {
		m[h.path] = append(m[h.path], h.at)
	}
	return m
}

// Timing assertions leave room for a loaded two-core machine: a stalled
// probe is late, but slots are anchored, so lateness does not accumulate.
func TestEveryReplicaOncePerInterval(t *testing.T) {
	const n = 12
	const interval = time.Second
	const intervals = 5
	srv := newServer(t, nil)
	cfg := testConfig(pollNode(replicaURLs(srv.URL, n)...))
	cfg.Metrics.PollInterval = config.Seconds(interval.Seconds())
	began := time.Now()
	r := start(t, cfg, nil, nil)
	time.Sleep(intervals*interval + interval/4)
	r.stop()

	hits := byPath(srv.seen())
	if len(hits) != n {
		t.Fatalf("%d replicas were probed, want %d", len(hits), n)
	}
	var quarters [4]int
	for path, times := range hits {
		// First probe at once, second within 0.5..1.5 intervals, then one
		// per interval: 5 or 6 probes in 5.25 intervals (4 if the last is late).
		if len(times) < intervals-1 || len(times) > intervals+1 {
			t.Errorf("%s probed %d times in %.2f intervals, want %d or %d", path, len(times), intervals+0.25, intervals, intervals+1)
			continue
		}
		if first := times[0].Sub(began); first > interval/2 {
			t.Errorf("%s: first probe after %v, want it in the first sweep", path, first)
		}
		if gap := times[1].Sub(times[0]); gap < interval/2 || gap > 3*interval/2+interval/4 {
			t.Errorf("%s: first gap %v, want between half and one and a half intervals", path, gap)
		}
		steady := times[1:]
		mean := steady[len(steady)-1].Sub(steady[0]) / time.Duration(len(steady)-1)
		if mean < interval*80/100 || mean > interval*120/100 {
			t.Errorf("%s: steady gaps average %v, want %v", path, mean, interval)
		}
		for _, at := range steady {
			quarters[(at.Sub(began)%interval)/(interval/4)]++
		}
	}
	// Flat load: each quarter of the interval gets about a quarter of the
	// steady-state probes (a thundering herd would put them all in one).
	total := quarters[0] + quarters[1] + quarters[2] + quarters[3]
	for q, c := range quarters {
		if c*10 < total || c*10 > total*4 {
			t.Errorf("quarter %d of the interval got %d of %d probes, want about a quarter: %v", q, c, total, quarters)
		}
	}
}

func TestParallelismCap(t *testing.T) {
	const parallelism = 3
	var inFlight, peak atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		now := inFlight.Add(1)
		for old := peak.Load(); now > old && !peak.CompareAndSwap(old, now); old = peak.Load() {
		}
		sleep(r, 40*time.Millisecond)
		inFlight.Add(-1)
	})
	cfg := testConfig(pollNode(replicaURLs(srv.URL, 30)...))
	cfg.Metrics.PollParallelism = parallelism
	r := start(t, cfg, nil, nil)
	waitChecked(t, r.reg, 5*time.Second)
	if got := peak.Load(); got != parallelism {
		t.Errorf("at most %d requests were in flight, want poll_parallelism = %d", got, parallelism)
	}
}

func TestFirstResultsWithinOneSweep(t *testing.T) {
	const n = 200
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { sleep(r, 10*time.Millisecond) })
	cfg := testConfig(pollNode(replicaURLs(srv.URL, n)...))
	cfg.Metrics.PollInterval = 10
	cfg.Metrics.PollParallelism = 16
	began := time.Now()
	r := start(t, cfg, nil, nil)
	waitChecked(t, r.reg, 5*time.Second) // half the interval: no stagger over it
	t.Logf("first results for %d replicas after %v", n, time.Since(began))
}

func TestHangingReplicaDoesNotDelayOthers(t *testing.T) {
	const interval = 400 * time.Millisecond
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			sleep(r, time.Minute)
		}
	})
	replicas := append([]string{srv.URL + "/hang"}, replicaURLs(srv.URL, 3)...)
	cfg := testConfig(pollNode(replicas...))
	cfg.Metrics.PollInterval = config.Seconds(interval.Seconds())
	cfg.Metrics.PollDelayDead = 10
	cfg.Metrics.PollParallelism = 2
	began := time.Now()
	r := start(t, cfg, nil, nil)

	for {
		snap := r.reg.Snapshot()
		reps := snap.Services[0].Nodes[0].Replicas
		if !reps[1].Checked.IsZero() && !reps[2].Checked.IsZero() && !reps[3].Checked.IsZero() {
			break
		}
		if time.Since(began) > 2*time.Second {
			t.Fatal("the other replicas got no result within 2s while one hangs")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(6 * interval)
	hits := byPath(srv.seen())
	for i := range 3 {
		path := "/r" + strconv.Itoa(i)
		if got := len(hits[path]); got < 5 {
			t.Errorf("%s probed %d times in about 6 intervals beside a hanging replica, want 5 or more", path, got)
		}
	}
	if got := len(hits["/hang"]); got != 1 {
		t.Errorf("the hanging replica was asked %d times, want 1 (still waiting)", got)
	}
}

func TestRetryWaitHoldsNoSlot(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/failing" {
			w.WriteHeader(500)
		}
	})
	cfg := testConfig(pollNode(srv.URL+"/failing", srv.URL+"/fine"))
	cfg.Metrics.PollParallelism = 1
	cfg.Metrics.PollRetry = 2.5
	began := time.Now()
	r := start(t, cfg, nil, nil)
	for r.reg.Snapshot().Services[0].Nodes[0].Replicas[1].Checked.IsZero() {
		if time.Since(began) > 2*time.Second {
			t.Fatal("a replica waiting for its retry held the only slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	snap := waitChecked(t, r.reg, 6*time.Second)
	if rep := snap.Services[0].Nodes[0].Replicas[0]; rep.Status != status.Dead {
		t.Errorf("failing replica is %s, want dead after its retry", rep.Status)
	}
}

func TestRunStopsCleanly(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { sleep(r, time.Minute) })
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "script.pid")
	cfg := testConfig(
		pollNode(srv.URL+"/hang", "tcp://"+openPort(t)),
		scriptNode("echo $$ > "+pidFile+"; sleep 60"),
	)
	cfg.Metrics.PollInterval = 0.2
	before := runtime.NumGoroutine()

	reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
	s, err := NewScheduler(Options{Config: cfg, Registry: reg, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan error, 1)
	go func() { finished <- s.Run(ctx) }()
	for {
		if _, err := os.Stat(pidFile); err == nil && len(srv.seen()) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-finished:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of cancel")
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("a second Run did not fail")
	}

	b, _ := os.ReadFile(pidFile)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && processAlive(pid) {
		t.Errorf("script process %d still runs after Run returned", pid)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before Run, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReplicaChangesAreLogged(t *testing.T) {
	var fail atomic.Bool
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(500)
		}
	})
	cfg := testConfig(pollNode(srv.URL))
	cfg.Metrics.PollInterval = 0.2
	cfg.Metrics.PollRetry = 0
	var buf syncBuffer
	r := start(t, cfg, nil, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	waitChecked(t, r.reg, 2*time.Second)
	fail.Store(true)
	deadline := time.Now().Add(3 * time.Second)
	for r.reg.Snapshot().Status != status.Dead {
		if time.Now().After(deadline) {
			t.Fatal("replica did not turn dead")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.stop()
	logs := buf.String()
	want := `msg="replica changed" service=svc node=node replica=0 target=` + srv.URL + ` status=dead was=healthy error="HEAD ` + srv.URL + `: status 500 (want 200..399)"`
	if !strings.Contains(logs, want) {
		t.Errorf("log lacks %s\nlog:\n%s", want, logs)
	}
	if n := strings.Count(logs, "replica changed"); n != 1 {
		t.Errorf("%d change lines, want 1 (healthy at start is not a change):\n%s", n, logs)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeQueues stands in for the RabbitMQ plugin, which needs a broker.
type fakeQueues struct {
	calls  atomic.Int32
	status status.Status
	counts status.Queue
	err    error
	seen   chan [3]any
}

func (f *fakeQueues) CheckQueue(ctx context.Context, queue string, nackHealthyBelow, nackDeadAbove int) (status.Status, status.Queue, error) {
	f.calls.Add(1)
	select {
	case f.seen <- [3]any{queue, nackHealthyBelow, nackDeadAbove}:
	default:
	}
	return f.status, f.counts, f.err
}

func TestQueueCheck(t *testing.T) {
	scenarios := []struct {
		name       string
		queues     *fakeQueues
		handler    http.HandlerFunc
		want       status.Status
		wantErr    string
		wantCounts *status.Queue
		wantCalls  int32
	}{
		{
			name:   "healthy queue keeps healthy replicas",
			queues: &fakeQueues{counts: status.Queue{Ready: 3, Unacked: 1}},
			want:   status.Healthy, wantCounts: &status.Queue{Ready: 3, Unacked: 1}, wantCalls: 1,
		},
		{
			name:   "loaded queue makes replicas sick",
			queues: &fakeQueues{status: status.Sick, counts: status.Queue{Ready: 900, Unacked: 2}},
			want:   status.Sick, wantErr: "queue jobs: sick (900 ready, 2 unacked)",
			wantCounts: &status.Queue{Ready: 900, Unacked: 2}, wantCalls: 1,
		},
		{
			name:   "queue error keeps the replica status",
			queues: &fakeQueues{status: status.Dead, err: errors.New("GET http://127.0.0.1:15672/api/queues/%2F/jobs: 401")},
			want:   status.Healthy, wantErr: "queue jobs: GET http://127.0.0.1:15672/api/queues/%2F/jobs: 401", wantCalls: 1,
		},
		{
			name:    "dead replicas skip the queue",
			queues:  &fakeQueues{status: status.Sick},
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) },
			want:    status.Dead, wantErr: "status 500", wantCalls: 0,
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.queues.seen = make(chan [3]any, 1)
			srv := newServer(t, sc.handler)
			node := pollNode(replicaURLs(srv.URL, 3)...)
			node.RabbitMQQueue = "jobs"
			node.RabbitMQQueueNackHealthyBelow = 7
			node.RabbitMQQueueNackDeadAbove = 70
			cfg := testConfig(node)
			// One at a time, so the first replica's answer is the one the
			// others reuse (concurrent ones would skip the queue instead).
			cfg.Metrics.PollParallelism = 1
			r := start(t, cfg, sc.queues, nil)
			snap := waitChecked(t, r.reg, 5*time.Second)
			for i, rep := range snap.Services[0].Nodes[0].Replicas {
				if rep.Status != sc.want || !strings.Contains(rep.Error, sc.wantErr) || (sc.wantErr == "" && rep.Error != "") {
					t.Errorf("replica %d: %s %q, want %s with %q", i, rep.Status, rep.Error, sc.want, sc.wantErr)
				}
				if fmt.Sprint(rep.Queue) != fmt.Sprint(sc.wantCounts) {
					t.Errorf("replica %d: queue %v, want %v", i, rep.Queue, sc.wantCounts)
				}
			}
			if got := sc.queues.calls.Load(); got != sc.wantCalls {
				t.Errorf("queue checked %d times for 3 replicas, want %d (once per node per sweep)", got, sc.wantCalls)
			}
			if sc.wantCalls > 0 {
				if got := <-sc.queues.seen; got != [3]any{"jobs", 7, 70} {
					t.Errorf("CheckQueue got %v, want the node's queue and overrides", got)
				}
			}
		})
	}
}

// hangingQueues never answers until the test ends, like a management API
// that accepts connections and then says nothing.
type hangingQueues struct{ calls atomic.Int32 }

func (h *hangingQueues) CheckQueue(ctx context.Context, queue string, _, _ int) (status.Status, status.Queue, error) {
	h.calls.Add(1)
	<-ctx.Done()
	return status.Sick, status.Queue{}, ctx.Err()
}

// A hanging queue check holds one worker; the node's other replicas and
// every other node go on being probed.
func TestHangingQueueCheckDoesNotStallProbing(t *testing.T) {
	srv := newServer(t, nil)
	queued := pollNode(replicaURLs(srv.URL, 3)...)
	queued.RabbitMQQueue = "jobs"
	other := pollNode(replicaURLs(srv.URL, 4)...)
	other.ID = "other"
	cfg := testConfig(queued, other)
	cfg.Metrics.PollParallelism = 2
	queues := &hangingQueues{}
	r := start(t, cfg, queues, nil)

	deadline := time.Now().Add(5 * time.Second)
	for {
		snap := r.reg.Snapshot()
		checked := 0
		for _, n := range snap.Services[0].Nodes {
			for _, rep := range n.Replicas {
				if !rep.Checked.IsZero() {
					checked++
				}
			}
		}
		if checked == 6 { // all but the replica whose worker waits on the queue
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 6 replicas probed while one queue check hangs", checked)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := queues.calls.Load(); n != 1 {
		t.Errorf("queue asked %d times, want 1 (the others reuse or skip it)", n)
	}
}

func TestQueueWithoutPlugin(t *testing.T) {
	srv := newServer(t, nil)
	node := pollNode(srv.URL)
	node.RabbitMQQueue = "jobs"
	rep := firstResult(t, testConfig(node)) // Queues is nil: the plugin is not configured
	if rep.Status != status.Healthy || rep.Queue != nil || rep.Error != "" {
		t.Errorf("got %s queue=%v %q, want healthy without queue data", rep.Status, rep.Queue, rep.Error)
	}
}

func TestNewSchedulerRejects(t *testing.T) {
	scenarios := []struct {
		name    string
		cfg     func() *config.Config
		reg     func(*config.Config) *status.Registry
		wantErr string
	}{
		{
			name:    "unknown scheme",
			cfg:     func() *config.Config { return testConfig(pollNode("http://ok/", "htp://x")) },
			wantErr: `probe.service[0].node[0].replicas[1]: "htp://x": unknown scheme "htp" (want http, https, tcp, icmp)`,
		},
		{
			name:    "tcp without a port",
			cfg:     func() *config.Config { return testConfig(pollNode("tcp://db.internal")) },
			wantErr: `"tcp://db.internal": want tcp://host:port`,
		},
		{
			name: "bad body pattern",
			cfg: func() *config.Config {
				n := pollNode("http://127.0.0.1/")
				n.HTTPBodyHealthyMatch = "(unclosed"
				return testConfig(n)
			},
			wantErr: `http_body_healthy_match "(unclosed"`,
		},
		{
			name:    "unparsable URL hides its password",
			cfg:     func() *config.Config { return testConfig(pollNode("http://u:hunter2@host:port:x/")) },
			wantErr: `"http://u:xxxxx@host:port:x/"`,
		},
		{
			name: "unknown ICMP socket kind",
			cfg: func() *config.Config {
				c := testConfig(pollNode("icmp://127.0.0.1"))
				c.Plugins.ICMP.Socket = "packet"
				return c
			},
			wantErr: `plugins.icmp.socket: "packet"`,
		},
		{
			name: "registry from another config",
			cfg:  func() *config.Config { return testConfig(pollNode("http://127.0.0.1/")) },
			reg: func(*config.Config) *status.Registry {
				return status.NewRegistry(testConfig(pollNode("http://a/", "http://b/")).StatusSpecs(), time.Now())
			},
			wantErr: "registry does not match the config",
		},
		{
			name: "file name prefixes errors",
			cfg: func() *config.Config {
				c := testConfig(pollNode("ftp://x"))
				c.File = "/etc/overvakt.toml"
				return c
			},
			wantErr: `/etc/overvakt.toml: probe.service[0].node[0].replicas[0]`,
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			cfg := sc.cfg()
			reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
			if sc.reg != nil {
				reg = sc.reg(cfg)
			}
			_, err := NewScheduler(Options{Config: cfg, Registry: reg})
			if err == nil || !strings.Contains(err.Error(), sc.wantErr) {
				t.Errorf("err = %v, want it to contain %s", err, sc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err shows a password: %v", err)
			}
		})
	}
}

func TestNextSlot(t *testing.T) {
	const I = 100 * time.Millisecond
	l := &lane{interval: I}
	scenarios := []struct {
		name                   string
		phase, began, finished time.Duration
		want                   time.Duration
	}{
		{name: "steady state: one interval later", phase: 30e6, began: 230e6, finished: 240e6, want: 330e6},
		{name: "late finish still keeps the slot", phase: 30e6, began: 230e6, finished: 320e6, want: 330e6},
		{name: "first sweep, late phase: same interval", phase: 80e6, began: 0, finished: 5e6, want: 80e6},
		{name: "first sweep, early phase: next interval", phase: 20e6, began: 1e6, finished: 5e6, want: 120e6},
		{name: "overrun skips to the first slot after the end", phase: 30e6, began: 30e6, finished: 250e6, want: 330e6},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			j := &job{phase: sc.phase, began: sc.began}
			if got := l.next(j, sc.finished); got != sc.want {
				t.Errorf("next = %v, want %v", got, sc.want)
			}
		})
	}
}
