package probe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/probe/probetest"
	"github.com/overvakt/overvakt/pkg/status"
)

// The scheduler tests run in a synctest bubble with a fake probe kind: a
// probe takes exactly the (fake) time its target says, so timing is exact
// and no test depends on how busy the machine is.

// fakeTarget is what a fake:// replica does when probed.
type fakeTarget func(ctx context.Context) probe.Attempt

// fakeKind probes fake://name replicas with the targets of a test, and
// records when each one was probed. With nodeCheck set, nodes with a
// "fake_check" key get it as their node check.
type fakeKind struct {
	mu      sync.Mutex
	targets map[string]fakeTarget // by replica name; missing: healthy at once
	probed  map[string][]time.Time
	check   func(ctx context.Context) probe.NodeResult
	checks  atomic.Int32
	gotNode []string // fake_check values of the nodes checked
}

func newFakeKind() *fakeKind {
	return &fakeKind{targets: map[string]fakeTarget{}, probed: map[string][]time.Time{}}
}

// fakeNode is the fake kind's node key.
type fakeNode struct {
	Check string `toml:"fake_check"`
}

func (*fakeNode) CheckNode(*config.Check, *config.Node) {}

func (f *fakeKind) kind() probe.Kind {
	return probe.Kind{
		ProbeKind: config.ProbeKind{Name: "fake", Schemes: []string{"fake"},
			Node: func() config.NodeTable { return &fakeNode{} }},
		Prepare: func(*probe.Env, config.Table) (probe.Builder, error) { return f, nil },
	}
}

func (f *fakeKind) Target(n *config.Node, i int) (probe.Target, error) {
	u, err := url.Parse(n.Replicas[i])
	if err != nil {
		return nil, err
	}
	return &fakeReplica{f: f, name: u.Host}, nil
}

func (f *fakeKind) NodeCheck(n *config.Node) probe.NodeCheck {
	t, _ := n.Tables["fake"].(*fakeNode)
	if f.check == nil || t == nil || t.Check == "" {
		return nil
	}
	return &fakeCheck{f: f, name: t.Check}
}

func (f *fakeKind) Close() {}

func (f *fakeKind) set(name string, t fakeTarget) {
	f.mu.Lock()
	f.targets[name] = t
	f.mu.Unlock()
}

func (f *fakeKind) times(name string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.probed[name]...)
}

type fakeReplica struct {
	f    *fakeKind
	name string
}

func (r *fakeReplica) Probe(ctx context.Context) probe.Attempt {
	r.f.mu.Lock()
	r.f.probed[r.name] = append(r.f.probed[r.name], time.Now())
	t := r.f.targets[r.name]
	r.f.mu.Unlock()
	if t == nil {
		return probe.Attempt{Status: status.Healthy, Latency: time.Millisecond}
	}
	return t(ctx)
}

type fakeCheck struct {
	f    *fakeKind
	name string
}

func (c *fakeCheck) Name() string { return "queue " + c.name }

func (c *fakeCheck) Check(ctx context.Context) probe.NodeResult {
	c.f.checks.Add(1)
	c.f.mu.Lock()
	c.f.gotNode = append(c.f.gotNode, c.name)
	c.f.mu.Unlock()
	return c.f.check(ctx)
}

// takes is a target that answers healthy after d, or ends with ctx.
func takes(d time.Duration) fakeTarget {
	return func(ctx context.Context) probe.Attempt {
		start := time.Now()
		select {
		case <-time.After(d):
			return probe.Attempt{Status: status.Healthy, Latency: time.Since(start)}
		case <-ctx.Done():
			return probe.Attempt{Status: status.Dead, Latency: time.Since(start), Err: "no answer"}
		}
	}
}

// fails is a target that is dead at once.
func fails(why string) fakeTarget {
	return func(context.Context) probe.Attempt { return probe.Attempt{Status: status.Dead, Err: why} }
}

// names lists n fake replicas r0, r1…
func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("fake://r%d", i)
	}
	return out
}

func node(replicas ...string) config.Node { return probetest.PollNode(nil, replicas...) }

func TestEveryReplicaOncePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 12
		const interval = time.Second
		const intervals = 5
		f := newFakeKind()
		cfg := probetest.Config(node(names(n)...))
		cfg.Metrics.PollInterval = config.Seconds(interval.Seconds())
		began := time.Now()
		r := probetest.Start(t, cfg, []probe.Kind{f.kind()}, nil)
		time.Sleep(intervals*interval + interval/4)
		r.Stop()

		var quarters [4]int
		for i := range n {
			name := fmt.Sprintf("r%d", i)
			times := f.times(name)
			// First probe at once, second within 0.5..1.5 intervals, then
			// one per interval: 5 or 6 probes in 5.25 intervals.
			if len(times) < intervals || len(times) > intervals+1 {
				t.Errorf("%s probed %d times in %.2f intervals, want %d or %d", name, len(times), intervals+0.25, intervals, intervals+1)
				continue
			}
			if first := times[0].Sub(began); first != 0 {
				t.Errorf("%s: first probe after %v, want it at once", name, first)
			}
			if gap := times[1].Sub(times[0]); gap < interval/2 || gap > 3*interval/2 {
				t.Errorf("%s: first gap %v, want between half and one and a half intervals", name, gap)
			}
			for k := 2; k < len(times); k++ {
				if gap := times[k].Sub(times[k-1]); gap != interval {
					t.Errorf("%s: gap %d is %v, want exactly %v", name, k, gap, interval)
				}
			}
			for _, at := range times[1:] {
				quarters[(at.Sub(began)%interval)/(interval/4)]++
			}
		}
		// Flat load: each quarter of the interval gets a quarter of the
		// steady-state probes (a thundering herd would put them all in one).
		total := quarters[0] + quarters[1] + quarters[2] + quarters[3]
		for q, c := range quarters {
			if c*5 < total || c*3 > total {
				t.Errorf("quarter %d of the interval got %d of %d probes, want about a quarter: %v", q, c, total, quarters)
			}
		}
	})
}

func TestParallelismCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const parallelism = 3
		var inFlight, peak atomic.Int32
		f := newFakeKind()
		for i := range 30 {
			f.set(fmt.Sprintf("r%d", i), func(ctx context.Context) probe.Attempt {
				now := inFlight.Add(1)
				for old := peak.Load(); now > old && !peak.CompareAndSwap(old, now); old = peak.Load() {
				}
				a := takes(40 * time.Millisecond)(ctx)
				inFlight.Add(-1)
				return a
			})
		}
		cfg := probetest.Config(node(names(30)...))
		cfg.Metrics.PollParallelism = parallelism
		began := time.Now()
		r := probetest.Start(t, cfg, []probe.Kind{f.kind()}, nil)
		probetest.WaitChecked(t, r.Reg, time.Minute)
		if got := peak.Load(); got != parallelism {
			t.Errorf("at most %d probes were in flight, want poll_parallelism = %d", got, parallelism)
		}
		// 30 probes of 40 ms, 3 at a time, in 20 ms release ticks.
		if took := time.Since(began); took > 500*time.Millisecond {
			t.Errorf("the first sweep took %v, want 10 rounds of 40 ms", took)
		}
	})
}

func TestFirstResultsWithinOneSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 200
		f := newFakeKind()
		for i := range n {
			f.set(fmt.Sprintf("r%d", i), takes(10*time.Millisecond))
		}
		cfg := probetest.Config(node(names(n)...))
		cfg.Metrics.PollInterval = 10
		cfg.Metrics.PollParallelism = 16
		began := time.Now()
		r := probetest.Start(t, cfg, []probe.Kind{f.kind()}, nil)
		probetest.WaitChecked(t, r.Reg, time.Minute)
		// 200 probes of 10 ms, 16 at a time: no stagger over the interval.
		if took := time.Since(began); took > 500*time.Millisecond {
			t.Errorf("first results for %d replicas took %v, want well under the 10 s interval", n, took)
		}
	})
}

func TestHangingReplicaDoesNotDelayOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 400 * time.Millisecond
		f := newFakeKind()
		f.set("hang", takes(time.Hour))
		replicas := append([]string{"fake://hang"}, names(3)...)
		cfg := probetest.Config(node(replicas...))
		cfg.Metrics.PollInterval = config.Seconds(interval.Seconds())
		cfg.Metrics.PollDelayDead = 10
		cfg.Metrics.PollParallelism = 2
		probetest.Start(t, cfg, []probe.Kind{f.kind()}, nil)
		time.Sleep(6*interval + interval/2)
		for i := range 3 {
			if got := len(f.times(fmt.Sprintf("r%d", i))); got < 6 {
				t.Errorf("r%d probed %d times in 6.5 intervals beside a hanging replica, want 6 or more", i, got)
			}
		}
		if got := len(f.times("hang")); got != 1 {
			t.Errorf("the hanging replica was asked %d times, want 1 (still waiting)", got)
		}
	})
}

func TestRetryWaitHoldsNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKind()
		f.set("failing", fails("status 500"))
		cfg := probetest.Config(node("fake://failing", "fake://fine"))
		cfg.Metrics.PollParallelism = 1
		cfg.Metrics.PollRetry = 2.5
		r := probetest.Start(t, cfg, []probe.Kind{f.kind()}, nil)
		time.Sleep(100 * time.Millisecond)
		if r.Reg.Snapshot().Services[0].Nodes.At(0).Replicas.At(1).Checked.IsZero() {
			t.Fatal("a replica waiting for its retry held the only slot")
		}
		snap := probetest.WaitChecked(t, r.Reg, 6*time.Second)
		if rep := snap.Services[0].Nodes.At(0).Replicas.At(0); rep.Status != status.Dead {
			t.Errorf("failing replica is %s, want dead after its retry", rep.Status)
		}
		if times := f.times("failing"); len(times) != 2 || times[1].Sub(times[0]) < 2500*time.Millisecond {
			t.Errorf("failing replica probed at %v, want twice, poll_retry (2.5 s) apart", times)
		}
	})
}

func TestPollRules(t *testing.T) {
	scenarios := []struct {
		name      string
		target    fakeTarget
		want      status.Status
		wantErr   string
		wantTries int
	}{
		{"fast answer is healthy", takes(100 * time.Millisecond), status.Healthy, "", 1},
		{"slow answer is sick and not retried", takes(1500 * time.Millisecond), status.Sick,
			"fake://r0: answered in 1.5s (sick from 1s)", 1},
		{"no answer within poll_delay_dead is dead after a retry", takes(time.Hour), status.Dead, "no answer", 2},
		{"a failure is retried once", fails("refused"), status.Dead, "refused", 2},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKind()
				f.set("r0", sc.target)
				rep := probetest.FirstResult(t, probetest.Config(node("fake://r0")), []probe.Kind{f.kind()})
				if rep.Status != sc.want || rep.Error != sc.wantErr {
					t.Errorf("got %s %q, want %s %q", rep.Status, rep.Error, sc.want, sc.wantErr)
				}
				if got := len(f.times("r0")); got != sc.wantTries {
					t.Errorf("probed %d times, want %d", got, sc.wantTries)
				}
			})
		})
	}
}

func TestRunStopsCleanly(t *testing.T) {
	// The bubble fails the test if any goroutine Run started outlives it.
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKind()
		f.set("hang", takes(time.Hour))
		cfg := probetest.Config(node("fake://hang", "fake://fine"))
		cfg.Metrics.PollInterval = 0.2
		reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
		s, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: reg, Kinds: []probe.Kind{f.kind()}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		finished := make(chan error, 1)
		go func() { finished <- s.Run(ctx) }()
		time.Sleep(time.Second)
		cancel()
		if err := <-finished; err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
		if err := s.Run(context.Background()); err == nil {
			t.Error("a second Run did not fail")
		}
		if got := len(f.times("fine")); got < 5 {
			t.Errorf("the fine replica was probed %d times in 5 intervals", got)
		}
	})
}

func TestReplicaChangesAreLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fail atomic.Bool
		f := newFakeKind()
		f.set("web", func(context.Context) probe.Attempt {
			if fail.Load() {
				return probe.Attempt{Status: status.Dead, Err: "HEAD fake://web: status 500 (want 200..399)"}
			}
			return probe.Attempt{Status: status.Healthy}
		})
		cfg := probetest.Config(node("fake://web"))
		cfg.Metrics.PollInterval = 0.2
		cfg.Metrics.PollRetry = 0
		var buf syncBuffer
		r := probetest.Start(t, cfg, []probe.Kind{f.kind()}, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
		probetest.WaitChecked(t, r.Reg, time.Second)
		fail.Store(true)
		time.Sleep(time.Second)
		if r.Reg.Snapshot().Status != status.Dead {
			t.Fatal("replica did not turn dead")
		}
		r.Stop()
		logs := buf.String()
		want := `msg="replica changed" service=svc node=node replica=0 target=fake://web status=dead was=healthy error="HEAD fake://web: status 500 (want 200..399)"`
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s\nlog:\n%s", want, logs)
		}
		if n := strings.Count(logs, "replica changed"); n != 1 {
			t.Errorf("%d change lines, want 1 (healthy at start is not a change):\n%s", n, logs)
		}
	})
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

func TestNodeCheck(t *testing.T) {
	scenarios := []struct {
		name       string
		check      probe.NodeResult
		replicas   fakeTarget
		want       status.Status
		wantErr    string
		wantCounts *status.Queue
		wantCalls  int32
	}{
		{
			name:  "healthy node check keeps healthy replicas",
			check: probe.NodeResult{Status: status.Healthy, Queue: &status.Queue{Ready: 3, Unacked: 1}},
			want:  status.Healthy, wantCounts: &status.Queue{Ready: 3, Unacked: 1}, wantCalls: 1,
		},
		{
			name:  "loaded queue makes replicas sick",
			check: probe.NodeResult{Status: status.Sick, Queue: &status.Queue{Ready: 900, Unacked: 2}},
			want:  status.Sick, wantErr: "queue jobs: sick (900 ready, 2 unacked)",
			wantCounts: &status.Queue{Ready: 900, Unacked: 2}, wantCalls: 1,
		},
		{
			name:  "a check that cannot be made keeps the replica status",
			check: probe.NodeResult{Status: status.Dead, Err: errors.New("GET http://127.0.0.1:15672/api/queues/%2F/jobs: 401")},
			want:  status.Healthy, wantErr: "queue jobs: GET http://127.0.0.1:15672/api/queues/%2F/jobs: 401", wantCalls: 1,
		},
		{
			name:     "dead replicas skip the check",
			check:    probe.NodeResult{Status: status.Sick},
			replicas: fails("status 500"),
			want:     status.Dead, wantErr: "status 500", wantCalls: 0,
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKind()
				f.check = func(context.Context) probe.NodeResult { return sc.check }
				for i := range 3 {
					f.set(fmt.Sprintf("r%d", i), sc.replicas)
				}
				n := probetest.PollNode(map[string]config.NodeTable{"fake": &fakeNode{Check: "jobs"}}, names(3)...)
				cfg := probetest.Config(n)
				// One at a time, so the first replica's answer is the one the
				// others reuse (concurrent ones would skip the check instead).
				cfg.Metrics.PollParallelism = 1
				r := probetest.Start(t, cfg, []probe.Kind{f.kind()}, nil)
				snap := probetest.WaitChecked(t, r.Reg, time.Minute)
				for i, rep := range snap.Services[0].Nodes.At(0).Replicas.All() {
					if rep.Status != sc.want || !strings.Contains(rep.Error, sc.wantErr) || (sc.wantErr == "" && rep.Error != "") {
						t.Errorf("replica %d: %s %q, want %s with %q", i, rep.Status, rep.Error, sc.want, sc.wantErr)
					}
					if fmt.Sprint(rep.Queue) != fmt.Sprint(sc.wantCounts) {
						t.Errorf("replica %d: queue %v, want %v", i, rep.Queue, sc.wantCounts)
					}
				}
				if got := f.checks.Load(); got != sc.wantCalls {
					t.Errorf("node checked %d times for 3 replicas, want %d (once per node per sweep)", got, sc.wantCalls)
				}
			})
		})
	}
}

// A hanging node check holds one worker; the node's other replicas and
// every other node go on being probed.
func TestHangingNodeCheckDoesNotStallProbing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKind()
		f.check = func(ctx context.Context) probe.NodeResult {
			<-ctx.Done()
			return probe.NodeResult{Err: ctx.Err()}
		}
		checked := probetest.PollNode(map[string]config.NodeTable{"fake": &fakeNode{Check: "jobs"}}, names(3)...)
		other := probetest.PollNode(nil, "fake://o1", "fake://o2", "fake://o3", "fake://o4")
		other.ID = "other"
		cfg := probetest.Config(checked, other)
		cfg.Metrics.PollParallelism = 2
		r := probetest.Start(t, cfg, []probe.Kind{f.kind()}, nil)
		time.Sleep(time.Second)
		n := 0
		for _, nd := range r.Reg.Snapshot().Services[0].Nodes.All() {
			for _, rep := range nd.Replicas.All() {
				if !rep.Checked.IsZero() {
					n++
				}
			}
		}
		if n != 6 { // all but the replica whose worker waits on the check
			t.Fatalf("%d of 6 replicas probed while one node check hangs", n)
		}
		if got := f.checks.Load(); got != 1 {
			t.Errorf("node check asked %d times, want 1 (the others reuse or skip it)", got)
		}
	})
}

func TestNewSchedulerRejects(t *testing.T) {
	f := newFakeKind()
	kinds := []probe.Kind{f.kind()}
	scenarios := []struct {
		name    string
		cfg     func() *config.Config
		reg     func() *status.Registry
		kinds   []probe.Kind
		wantErr string
	}{
		{
			name:    "unknown scheme",
			cfg:     func() *config.Config { return probetest.Config(node("fake://ok", "htp://x")) },
			wantErr: `probe.service[0].node[0].replicas[1]: "htp://x": unknown scheme "htp" (want fake)`,
		},
		{
			name:    "unknown scheme hides the password",
			cfg:     func() *config.Config { return probetest.Config(node("htp://u:hunter2@x/")) },
			wantErr: `"htp://u:xxxxx@x/"`,
		},
		{
			name: "a kind that cannot be prepared",
			cfg:  func() *config.Config { return probetest.Config(node("fake://a")) },
			kinds: []probe.Kind{{ProbeKind: config.ProbeKind{Name: "broken", Schemes: []string{"x"}},
				Prepare: func(*probe.Env, config.Table) (probe.Builder, error) {
					return nil, errors.New(`plugins.broken.socket: "packet" is not a socket kind`)
				}}},
			wantErr: `plugins.broken.socket: "packet"`,
		},
		{
			name: "registry from another config",
			cfg:  func() *config.Config { return probetest.Config(node("fake://a")) },
			reg: func() *status.Registry {
				return status.NewRegistry(probetest.Config(node("fake://a", "fake://b")).StatusSpecs(), time.Now())
			},
			wantErr: "registry does not match the config",
		},
		{
			name: "file name prefixes errors",
			cfg: func() *config.Config {
				c := probetest.Config(node("ftp://x"))
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
				reg = sc.reg()
			}
			k := kinds
			if sc.kinds != nil {
				k = sc.kinds
			}
			_, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: reg, Kinds: k})
			if err == nil || !strings.Contains(err.Error(), sc.wantErr) {
				t.Errorf("err = %v, want it to contain %s", err, sc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err shows a password: %v", err)
			}
		})
	}
}

// scriptKind runs the scripts of script nodes with the fake kind's
// targets, by script text.
func (f *fakeKind) scriptKind() probe.Kind {
	return probe.Kind{
		ProbeKind: config.ProbeKind{Name: "fakescript", Mode: "script"},
		Prepare: func(*probe.Env, config.Table) (probe.Builder, error) {
			return fakeScripts{f}, nil
		},
	}
}

type fakeScripts struct{ f *fakeKind }

func (s fakeScripts) Target(n *config.Node, i int) (probe.Target, error) {
	return &fakeReplica{f: s.f, name: n.Scripts[i]}, nil
}
func (fakeScripts) NodeCheck(*config.Node) probe.NodeCheck { return nil }
func (fakeScripts) Close()                                 {}

// Two poll nodes and a script node with intervals of their own: each
// replica keeps its own interval exactly, replicas sharing an interval
// spread over it, and the first sweep still starts everything at once.
func TestNodeIntervals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fast := probetest.PollNode(nil, "fake://f0", "fake://f1", "fake://f2", "fake://f3")
		fast.ID, fast.PollInterval = "fast", 1
		slow := probetest.PollNode(nil, "fake://s0", "fake://s1", "fake://s2")
		slow.ID, slow.PollInterval = "slow", 3
		usual := probetest.PollNode(nil, "fake://u0", "fake://u1")
		usual.ID = "usual"
		scripts := probetest.ScriptNode("x0", "x1")
		scripts.ScriptInterval = 2
		cfg := probetest.Config(fast, slow, usual, scripts)
		cfg.Metrics.PollInterval = 6
		cfg.Metrics.ScriptInterval = 60
		f := newFakeKind()
		began := time.Now()
		probetest.Start(t, cfg, []probe.Kind{f.kind(), f.scriptKind()}, nil)
		time.Sleep(12*time.Second + 100*time.Millisecond)

		groups := []struct {
			names    []string
			interval time.Duration
		}{
			{[]string{"f0", "f1", "f2", "f3"}, time.Second},
			{[]string{"s0", "s1", "s2"}, 3 * time.Second},
			{[]string{"u0", "u1"}, 6 * time.Second},
			{[]string{"x0", "x1"}, 2 * time.Second},
		}
		for _, g := range groups {
			offsets := map[time.Duration]bool{}
			for _, name := range g.names {
				times := f.times(name)
				if want := int(12 * time.Second / g.interval); len(times) < want || len(times) > want+1 {
					t.Errorf("%s (every %v) probed %d times in 12 s, want %d or %d", name, g.interval, len(times), want, want+1)
					continue
				}
				if first := times[0].Sub(began); first != 0 {
					t.Errorf("%s: first probe after %v, want it at once", name, first)
				}
				if gap := times[1].Sub(times[0]); gap < g.interval/2 || gap > 3*g.interval/2 {
					t.Errorf("%s: first gap %v, want between half and one and a half of %v", name, gap, g.interval)
				}
				for k := 2; k < len(times); k++ {
					if gap := times[k].Sub(times[k-1]); gap != g.interval {
						t.Errorf("%s: gap %d is %v, want exactly %v", name, k, gap, g.interval)
					}
				}
				offsets[times[len(times)-1].Sub(began)%g.interval] = true
			}
			// Replicas sharing an interval own slots spread over it.
			if len(offsets) != len(g.names) {
				t.Errorf("%v share %d slot offsets within their %v interval, want %d apart", g.names, len(offsets), g.interval, len(g.names))
			}
			for off := range offsets {
				step := g.interval / time.Duration(len(g.names))
				if rem := off % step; rem > 20*time.Millisecond { // one release tick
					t.Errorf("%v: slot offset %v is not a multiple of %v", g.names, off, step)
				}
			}
		}
	})
}

// counting answers call k (from 0) of a target as answer(k) says.
func counting(answer func(k int) probe.Attempt) fakeTarget {
	var calls atomic.Int32
	return func(ctx context.Context) probe.Attempt {
		a := answer(int(calls.Add(1) - 1))
		if a.Latency > 0 {
			select {
			case <-time.After(a.Latency):
			case <-ctx.Done():
				return probe.Attempt{Status: status.Dead, Latency: a.Latency, Err: "no answer"}
			}
		}
		return a
	}
}

func TestPollAttempts(t *testing.T) {
	ok := func(d time.Duration) probe.Attempt { return probe.Attempt{Status: status.Healthy, Latency: d} }
	refused := probe.Attempt{Status: status.Dead, Err: "refused"}
	scenarios := []struct {
		name      string
		attempts  int // of the node; [metrics] says 3
		answers   []probe.Attempt
		want      status.Status
		wantErr   string
		wantTries int
	}{
		{name: "all three answer", answers: []probe.Attempt{ok(time.Millisecond)},
			want: status.Healthy, wantTries: 3},
		{name: "1 of 3 failed is healthy, and says so",
			answers: []probe.Attempt{ok(time.Millisecond), refused, ok(time.Millisecond)},
			want:    status.Healthy, wantErr: "1 of 3 attempts failed: refused", wantTries: 3},
		{name: "2 of 3 failed is dead after the retry",
			answers: []probe.Attempt{refused, ok(time.Millisecond), refused},
			want:    status.Dead, wantErr: "2 of 3 attempts failed: refused", wantTries: 6},
		{name: "failures are told apart",
			answers: []probe.Attempt{refused, {Status: status.Dead, Err: "reset"}, ok(time.Millisecond)},
			want:    status.Dead, wantErr: "2 of 3 attempts failed: refused; reset", wantTries: 6},
		{name: "the median answer is slow: sick",
			answers: []probe.Attempt{ok(1200 * time.Millisecond), ok(100 * time.Millisecond), ok(1500 * time.Millisecond)},
			want:    status.Sick, wantErr: "fake://r0: answered in 1.2s, the median of 3 answers, (sick from 1s)", wantTries: 3},
		{name: "one slow answer of three is not sick",
			answers: []probe.Attempt{ok(100 * time.Millisecond), ok(1500 * time.Millisecond), ok(120 * time.Millisecond)},
			want:    status.Healthy, wantTries: 3},
		{name: "median of the two answers when one failed",
			answers: []probe.Attempt{ok(900 * time.Millisecond), refused, ok(1300 * time.Millisecond)},
			want:    status.Sick, wantErr: "fake://r0: answered in 1.1s, the median of 2 answers, (sick from 1s); 1 of 3 attempts failed: refused", wantTries: 3},
		{name: "a node's own attempts", attempts: 1, answers: []probe.Attempt{refused, ok(time.Millisecond)},
			want: status.Healthy, wantTries: 2},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKind()
				f.set("r0", counting(func(k int) probe.Attempt { return sc.answers[k%len(sc.answers)] }))
				n := node("fake://r0")
				n.PollAttempts = sc.attempts
				cfg := probetest.Config(n)
				cfg.Metrics.PollAttempts = 3
				rep := probetest.FirstResult(t, cfg, []probe.Kind{f.kind()})
				if rep.Status != sc.want || rep.Error != sc.wantErr {
					t.Errorf("got %s %q, want %s %q", rep.Status, rep.Error, sc.want, sc.wantErr)
				}
				if got := len(f.times("r0")); got != sc.wantTries {
					t.Errorf("probed %d times, want %d", got, sc.wantTries)
				}
			})
		})
	}
}

// An attempt that could not be made because of this server keeps the
// replica's status: no retry, no dead result, and one warning a minute.
func TestInconclusiveKeepsStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var broken atomic.Bool
		f := newFakeKind()
		noFDs := probe.Attempt{Status: status.Dead, Inconclusive: true,
			Err: "this server has no file descriptors left: dial tcp: socket: too many open files"}
		f.set("web", func(context.Context) probe.Attempt {
			if broken.Load() {
				return noFDs
			}
			return probe.Attempt{Status: status.Healthy, Latency: time.Millisecond}
		})
		f.set("never", func(context.Context) probe.Attempt { return noFDs })
		cfg := probetest.Config(node("fake://web", "fake://never"))
		cfg.Metrics.PollInterval = 1
		var buf syncBuffer
		r := probetest.Start(t, cfg, []probe.Kind{f.kind()}, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
		time.Sleep(1500 * time.Millisecond)
		broken.Store(true)
		time.Sleep(90 * time.Second)

		reps := r.Reg.Snapshot().Services[0].Nodes.At(0).Replicas
		want := "could not check: " + noFDs.Err
		if web := reps.At(0); web.Status != status.Healthy || web.Error != want || web.Checked.IsZero() {
			t.Errorf("web = %s %q (checked %v), want healthy as last seen, with %q", web.Status, web.Error, web.Checked, want)
		}
		if never := reps.At(1); never.Status != status.Healthy || !never.Checked.IsZero() || never.Error != want {
			t.Errorf("never = %s %q (checked %v), want unchecked with %q", never.Status, never.Error, never.Checked, want)
		}
		// One probe per interval, no retries: 91.5 s at 1 s.
		if got := len(f.times("never")); got < 90 || got > 93 {
			t.Errorf("an inconclusive replica was probed %d times in 91.5 intervals, want one per interval", got)
		}
		r.Stop()
		logs := buf.String()
		if strings.Contains(logs, "replica changed") {
			t.Errorf("an inconclusive attempt changed a replica:\n%s", logs)
		}
		if n := strings.Count(logs, "level=WARN"); n != 2 {
			t.Errorf("%d warnings in 91.5 s, want 2 (one a minute):\n%s", n, logs)
		}
		if !strings.Contains(logs, `msg="could not check a replica: the fault is this server's, not the replica's; it keeps its status"`) ||
			!strings.Contains(logs, "unlogged_since_last=") {
			t.Errorf("warning lacks its words:\n%s", logs)
		}
	})
}

// startWith runs a scheduler with opts (Config, Kinds and LookupHost set)
// until the test ends.
func startWith(t *testing.T, opts probe.Options) *status.Registry {
	t.Helper()
	opts.Registry = status.NewRegistry(opts.Config.StatusSpecs(), time.Now())
	s, err := probe.NewScheduler(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return opts.Registry
}

func TestResolverFailingForEveryName(t *testing.T) {
	timeout := &net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}
	noSuchHost := &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}
	lookupFails := func(host string) fakeTarget {
		return func(context.Context) probe.Attempt {
			return probe.Attempt{Status: status.Dead, LookupFailed: true, Err: "dial tcp: lookup " + host + ": i/o timeout"}
		}
	}
	scenarios := []struct {
		name     string
		replicas []string
		answers  map[string]fakeTarget // missing: healthy at once
		peer     string                // a replica of a node of its own, polled every 50 ms
		lookup   func(host string) error
		want     map[string]string // status, or "kept: <error>" while unchecked
		lookups  int
	}{
		{
			name:     "every name fails: could not check",
			replicas: []string{"fake://a.example:80", "fake://b.example:80", "fake://c.example:80"},
			answers: map[string]fakeTarget{
				"a.example:80": lookupFails("a.example"),
				"b.example:80": lookupFails("b.example"),
				"c.example:80": lookupFails("c.example"),
			},
			lookup: func(string) error { return timeout },
			want: map[string]string{
				"a.example:80": "kept: could not check: this server's DNS resolver fails for every name (b.example, c.example fail too): dial tcp: lookup a.example: i/o timeout",
				"b.example:80": "kept: could not check: this server's DNS resolver fails for every name (b.example, c.example fail too): dial tcp: lookup b.example: i/o timeout",
				"c.example:80": "kept: could not check: this server's DNS resolver fails for every name (b.example, c.example fail too): dial tcp: lookup c.example: i/o timeout",
			},
			lookups: 2, // one check serves all three
		},
		{
			name:     "other names resolve: the name is dead",
			replicas: []string{"fake://a.example:80", "fake://b.example:80"},
			answers: map[string]fakeTarget{
				"a.example:80": lookupFails("a.example"),
				"b.example:80": takes(500 * time.Millisecond), // answers after a and its retry failed
			},
			lookup: func(host string) error {
				if host == "b.example" {
					return nil
				}
				return timeout
			},
			want:    map[string]string{"a.example:80": "dead", "b.example:80": "healthy"},
			lookups: 2, // for a, and for its retry
		},
		{
			name:     "no such host from the resolver means it works",
			replicas: []string{"fake://a.example:80", "fake://b.example:80"},
			answers:  map[string]fakeTarget{"a.example:80": lookupFails("a.example"), "b.example:80": lookupFails("b.example")},
			lookup:   func(string) error { return noSuchHost },
			want:     map[string]string{"a.example:80": "dead", "b.example:80": "dead"},
			lookups:  2, // a's and b's failures share a check, and so do their retries
		},
		{
			name:     "a replica reached by name answered since: no lookup needed",
			replicas: []string{"fake://a.example:80"},
			answers: map[string]fakeTarget{"a.example:80": func(ctx context.Context) probe.Attempt {
				time.Sleep(100 * time.Millisecond) // the peer answers meanwhile
				return lookupFails("a.example")(ctx)
			}},
			peer:    "fake://b.example:80",
			lookup:  func(string) error { return timeout },
			want:    map[string]string{"a.example:80": "dead", "b.example:80": "healthy"},
			lookups: 0,
		},
		{
			name:     "no other name to try: the name is dead",
			replicas: []string{"fake://a.example:80", "fake://127.0.0.1:80", "fake://localhost:80"},
			answers:  map[string]fakeTarget{"a.example:80": lookupFails("a.example")},
			lookup:   func(string) error { return timeout },
			want:     map[string]string{"a.example:80": "dead", "127.0.0.1:80": "healthy", "localhost:80": "healthy"},
			lookups:  0,
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKind()
				for name, a := range sc.answers {
					f.set(name, a)
				}
				var lookups atomic.Int32
				nodes := []config.Node{node(sc.replicas...)}
				if sc.peer != "" {
					peer := node(sc.peer)
					peer.ID, peer.PollInterval = "peer", 0.05
					nodes = append(nodes, peer)
				}
				cfg := probetest.Config(nodes...)
				cfg.Metrics.PollParallelism = 2
				reg := startWith(t, probe.Options{Config: cfg, Kinds: []probe.Kind{f.kind()},
					LookupHost: func(ctx context.Context, host string) error {
						lookups.Add(1)
						return sc.lookup(host)
					}})
				time.Sleep(10 * time.Second)
				for _, n := range reg.Snapshot().Services[0].Nodes.All() {
					for _, rep := range n.Replicas.All() {
						name := strings.TrimPrefix(rep.ID, "fake://")
						got := rep.Status.String()
						if rep.Checked.IsZero() {
							got = "kept: " + rep.Error
						}
						if got != sc.want[name] {
							t.Errorf("%s: %s\n want %s", name, got, sc.want[name])
						}
					}
				}
				if got := lookups.Load(); got != int32(sc.lookups) {
					t.Errorf("%d lookups of other names, want %d", got, sc.lookups)
				}
			})
		})
	}
}

// The certificate a probe saw reaches the registry, through every attempt
// of a poll.
func TestCertReachesTheRegistry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		notAfter := time.Now().Add(42 * 24 * time.Hour)
		f := newFakeKind()
		f.set("r0", counting(func(k int) probe.Attempt {
			if k == 1 {
				return probe.Attempt{Status: status.Dead, Err: "refused"} // no certificate
			}
			return probe.Attempt{Status: status.Healthy, Latency: time.Millisecond, Cert: &status.Cert{NotAfter: notAfter}}
		}))
		cfg := probetest.Config(node("fake://r0"))
		cfg.Metrics.PollAttempts = 3
		rep := probetest.FirstResult(t, cfg, []probe.Kind{f.kind()})
		if rep.Cert == nil || !rep.Cert.NotAfter.Equal(notAfter) || rep.Cert.DaysLeft(rep.Checked) != 41 {
			t.Errorf("certificate %+v, want the one seen, with 41 days left", rep.Cert)
		}
	})
}

// Dynamic targets come while the scheduler runs: each is probed at once
// and then once per interval, a removed one is probed no more, and the
// results of the others still reach their nodes though their places moved.
func TestDynamicTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 10 * time.Second
		f := newFakeKind()
		cfg := probetest.Config(node("fake://static"))
		cfg.Dynamic = &config.Dynamic{ServiceID: "dyn", Interval: config.Seconds(interval.Seconds()), MaxTargets: 1000}
		cfg.Metrics.PollParallelism = 16
		r := probetest.Start(t, cfg, []probe.Kind{f.kind()}, nil)
		dyn := len(cfg.Probe.Services)
		added := time.Now()
		for i := range 1000 {
			id := fmt.Sprintf("d%d", i)
			if !r.Reg.AddNode(dyn, status.NodeSpec{ID: id, Mode: status.ModePoll, Replicas: []string{"fake://" + id}}, time.Now()) {
				t.Fatalf("AddNode %s", id)
			}
			if err := r.Sched.AddTarget(id, id, "fake://"+id); err != nil {
				t.Fatalf("AddTarget %s: %v", id, err)
			}
		}
		if err := r.Sched.AddTarget("d5", "d5", "fake://d5"); err == nil {
			t.Error("a second d5 was taken")
		}
		time.Sleep(interval)
		snap := r.Reg.Snapshot()
		if snap.Unchecked != 0 {
			t.Fatalf("%d replicas unchecked one interval after 1,000 targets came", snap.Unchecked)
		}
		for i := range 1000 {
			times := f.times(fmt.Sprintf("d%d", i))
			if len(times) == 0 || times[0].Sub(added) > interval {
				t.Fatalf("d%d: first probe %v after it came", i, times)
			}
		}

		f.set("d3", fails("gone"))
		if !r.Sched.RemoveTarget("d1") || r.Sched.RemoveTarget("d1") {
			t.Error("RemoveTarget d1: want true once")
		}
		r.Reg.RemoveNode(dyn, "d1", time.Now())
		before := len(f.times("d1"))
		time.Sleep(3 * interval)
		if got := len(f.times("d1")); got != before {
			t.Errorf("d1 probed %d more times after it was removed", got-before)
		}
		snap = r.Reg.Snapshot()
		svc := snap.Services[dyn]
		if svc.Nodes.Len() != 999 || svc.Nodes.At(2).ID != "d3" || svc.Nodes.At(2).Status != status.Dead {
			t.Errorf("d3 (now third): %+v of %d", svc.Nodes.At(2), svc.Nodes.Len())
		}
	})
}
