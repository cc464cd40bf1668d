package probe

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// Options configure a Scheduler.
type Options struct {
	Config   *config.Config   // validated with the same Kinds
	Registry *status.Registry // built from Config.StatusSpecs()
	Kinds    []Kind           // the probe kinds (pkg/kinds)
	Logger   *slog.Logger     // nil discards
	Version  string           // goes into the User-Agent of HTTP probes
}

// Scheduler probes every poll replica once per poll_interval and every script
// replica once per script_interval, and writes each result into the registry
// as soon as it is known.
//
// Timing. The first sweep starts every replica at once, limited only by the
// parallelism cap, so first results for all replicas arrive within one sweep.
// After that, replica i of n (config order) owns the slots
// start + i·interval/n + k·interval: steady-state load is flat, in steps of
// releaseTick (the probes due within one tick start together). After each
// probe the next one is the replica's first slot that is at least half an
// interval after this probe's slot (for the first sweep: after it really
// began) and not before it finished. In steady state that is exactly one
// interval later, even when a probe started late; the first gap, after the
// first sweep, is between half and one and a half intervals. A probe running
// longer than an interval skips the slots it overran.
//
// Each lane (poll, script) has one dispatcher goroutine holding a min-heap of
// due times and a fixed pool of `*_parallelism` workers, so a replica costs a
// small struct, not a goroutine and a timer. A poll retry goes back into the
// heap: waiting for it holds no worker.
type Scheduler struct {
	reg      *status.Registry
	log      *slog.Logger
	lanes    []*lane
	builders []Builder // of every kind, closed when Run ends
	running  atomic.Bool
}

// lane is the schedule of the kinds of one lane.
type lane struct {
	kind      string // LanePoll or LaneScript
	interval  time.Duration
	workers   int
	retry     bool          // retry a dead attempt once, retryWait later
	retryWait time.Duration // poll lane
	rules     *pollRules    // poll lane; nil for scripts
	jobs      []*job
}

// pollRules are the [metrics] limits that judge poll attempts.
type pollRules struct {
	dead time.Duration // timeout of one attempt
	sick time.Duration // a slower healthy answer is sick
}

// job is one probed replica.
type job struct {
	ref    status.Ref
	name   string // URL without its password, or script-N
	node   *nodeInfo
	target Target
	seq    int           // position in the lane; orders equal due times
	phase  time.Duration // offset of the replica's slots within the interval

	// Scheduling state, all durations since the lane started. Owned by the
	// dispatcher while the job waits in the heap and by one worker while it
	// runs; the channels between them order the accesses.
	due      time.Duration
	began    time.Duration // the slot of the current probe; its actual start in the first sweep
	retrying bool
	swept    bool          // the first probe is done
	last     status.Status // last recorded status, for change logs
}

// nodeInfo is what replicas of one node share.
type nodeInfo struct {
	service, node string
	checks        []*sharedCheck // node checks of the kinds, shared by its replicas
}

// NewScheduler validates the probe tree against the registry and builds every
// target (parsed URLs, compiled patterns, static request parts) up front.
func NewScheduler(opts Options) (*Scheduler, error) {
	cfg, reg := opts.Config, opts.Registry
	if cfg == nil || reg == nil {
		return nil, errors.New("probe: NewScheduler needs Options.Config and Options.Registry")
	}
	s := &Scheduler{reg: reg, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	m := &cfg.Metrics
	poll := &lane{kind: LanePoll, interval: m.PollInterval.Duration(), workers: m.PollParallelism,
		retry: true, retryWait: m.PollRetry.Duration(),
		rules: &pollRules{dead: m.PollDelayDead.Duration(), sick: m.PollDelaySick.Duration()}}
	script := &lane{kind: LaneScript, interval: m.ScriptInterval.Duration(), workers: m.ScriptParallelism}
	prefix := ""
	if cfg.File != "" {
		prefix = cfg.File + ": "
	}

	env := &Env{Metrics: m, UserAgent: userAgent(opts.Version, cfg.Branding.PageURL),
		Dialer: &net.Dialer{KeepAlive: -1}, Logger: s.log}
	builders := make(map[string]Builder, len(opts.Kinds))
	for i := range opts.Kinds {
		k := &opts.Kinds[i]
		b, err := k.Prepare(env, cfg.Plugins[k.Name])
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%s%w", prefix, err)
		}
		builders[k.Name] = b
		s.builders = append(s.builders, b)
	}

	snap := reg.Snapshot()
	if len(snap.Services) != len(cfg.Probe.Services) {
		s.close()
		return nil, errRegistryShape
	}
	for si := range cfg.Probe.Services {
		svc := &cfg.Probe.Services[si]
		if len(snap.Services[si].Nodes) != len(svc.Nodes) {
			s.close()
			return nil, errRegistryShape
		}
		for ni := range svc.Nodes {
			n := &svc.Nodes[ni]
			where := fmt.Sprintf("%sprobe.service[%d].node[%d]", prefix, si, ni)
			info := &nodeInfo{service: svc.ID, node: n.ID}
			for i := range opts.Kinds {
				if nc := builders[opts.Kinds[i].Name].NodeCheck(n); nc != nil {
					info.checks = append(info.checks, &sharedCheck{check: nc})
				}
			}
			entries, key := n.Replicas, "replicas"
			if n.Mode != "poll" {
				entries, key = n.Scripts, "scripts"
			}
			if n.Mode != "poll" && n.Mode != "script" {
				continue // push and local nodes are fed by reporters
			}
			if len(snap.Services[si].Nodes[ni].Replicas) != len(entries) {
				s.close()
				return nil, errRegistryShape
			}
			for ri, raw := range entries {
				k, name, err := kindFor(opts.Kinds, n.Mode, raw, ri)
				if err == nil {
					var t Target
					if t, err = builders[k.Name].Target(n, ri); err == nil {
						l := poll
						if laneOf(k) == LaneScript {
							l = script
						}
						l.jobs = append(l.jobs, &job{ref: status.Ref{Service: si, Node: ni, Replica: ri},
							name: name, node: info, target: t})
						continue
					}
				}
				s.close()
				return nil, fmt.Errorf("%s.%s[%d]: %w", where, key, ri, err)
			}
		}
	}
	for _, l := range []*lane{poll, script} {
		if len(l.jobs) == 0 {
			continue
		}
		if err := l.check(prefix); err != nil {
			s.close()
			return nil, err
		}
		s.lanes = append(s.lanes, l)
	}
	return s, nil
}

// kindFor finds the kind of replica ri of a node with this mode, and the
// replica's name: its URL without the password (also the registry's
// replica ID, see Config.StatusSpecs), or script-N.
func kindFor(kinds []Kind, mode, raw string, ri int) (*Kind, string, error) {
	if mode != "poll" {
		for i := range kinds {
			if kinds[i].Mode == mode {
				return &kinds[i], "script-" + strconv.Itoa(ri+1), nil
			}
		}
		return nil, "", fmt.Errorf("no probe kind runs the scripts of mode %q", mode)
	}
	name := config.MaskPassword(raw)
	scheme, _, _ := strings.Cut(raw, "://")
	var schemes []string
	for i := range kinds {
		if slices.Contains(kinds[i].Schemes, scheme) {
			return &kinds[i], name, nil
		}
		schemes = append(schemes, kinds[i].Schemes...)
	}
	return nil, "", fmt.Errorf("%q: unknown scheme %q (want %s)", name, scheme, strings.Join(schemes, ", "))
}

var errRegistryShape = errors.New("probe: the registry does not match the config; build it from Config.StatusSpecs()")

func (l *lane) check(prefix string) error {
	if l.interval <= 0 {
		return fmt.Errorf("%smetrics.%s_interval: %v is not an interval (want > 0)", prefix, l.kind, l.interval.Seconds())
	}
	if l.workers < 1 {
		return fmt.Errorf("%smetrics.%s_parallelism: %d (want 1 or more)", prefix, l.kind, l.workers)
	}
	if l.rules != nil && l.rules.dead <= 0 {
		return fmt.Errorf("%smetrics.poll_delay_dead: %v is not a timeout (want > 0)", prefix, l.rules.dead.Seconds())
	}
	return nil
}

// close releases what the kinds prepared.
func (s *Scheduler) close() {
	for _, b := range s.builders {
		b.Close()
	}
}

// Run probes until ctx is cancelled, then waits for every goroutine it
// started (in-flight probes are cancelled, their results dropped) and
// returns nil. It can be called once.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("probe: Scheduler.Run was already called")
	}
	var wg sync.WaitGroup
	for _, l := range s.lanes {
		wg.Go(func() { s.runLane(ctx, l) })
	}
	<-ctx.Done() // also when there is nothing to probe
	wg.Wait()
	s.close()
	return nil
}

// releaseTick is the dispatcher's time grain. It hands a job over at the end
// of the tick in which it is due, together with every other job due in that
// tick, one after the other, and sleeps in between. A flat schedule of hundreds of probes a second
// would otherwise wake the dispatcher, a worker and the threads under them
// for every single probe, and those wake-ups cost more CPU than the probes.
// 20 ms keeps a probe at most one tick late (slots stay anchored, so the
// delay never adds up) while starting probes in batches of a few dozen at
// 1,000 probes/s.
const releaseTick = 20 * time.Millisecond

// tickEnd is the end of the release tick holding due: due rounded up to a
// whole number of ticks since the lane started.
func tickEnd(due time.Duration) time.Duration {
	return (due + releaseTick - 1) / releaseTick * releaseTick
}

// runLane is the dispatcher of one lane: it hands due jobs to the workers
// and puts finished ones back into the heap at their next due time.
func (s *Scheduler) runLane(ctx context.Context, l *lane) {
	start := time.Now()
	q := make(jobQueue, len(l.jobs))
	for i, j := range l.jobs {
		j.seq = i
		j.phase = time.Duration(float64(l.interval) * float64(i) / float64(len(l.jobs)))
		j.due = 0 // the first sweep starts at once
		q[i] = j
	}
	heap.Init(&q)

	work := make(chan *job)
	workers := min(l.workers, len(l.jobs))
	done := make(chan *job, workers) // never blocks: at most `workers` jobs are out
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { s.work(ctx, l, start, work, done) })
	}
	defer wg.Wait()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var send chan<- *job
		var next *job
		var wake <-chan time.Time
		if len(q) > 0 {
			next = q[0]
			// Release at the tick's end even when woken earlier (by a
			// finished job), so a replica starts at the same point of its
			// slot every time and the jobs of a tick start together.
			if now, at := time.Since(start), tickEnd(next.due); at <= now {
				send = work
			} else {
				timer.Reset(at - now)
				wake = timer.C
			}
		}
		select {
		case send <- next:
			heap.Pop(&q)
		case j := <-done:
			heap.Push(&q, j)
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// work runs jobs until ctx is cancelled.
func (s *Scheduler) work(ctx context.Context, l *lane, start time.Time, work <-chan *job, done chan<- *job) {
	for {
		var j *job
		select {
		case <-ctx.Done():
			return
		case j = <-work:
		}
		if !j.retrying {
			j.began = j.due
			if !j.swept {
				j.began = time.Since(start)
			}
		}
		a := l.probe(ctx, j)
		if ctx.Err() != nil {
			return // shutting down: the attempt was cut short, not failed
		}
		if a.Status == status.Dead && l.retry && !j.retrying {
			j.retrying = true
			j.due = time.Since(start) + l.retryWait
			if s.log.Enabled(ctx, slog.LevelDebug) {
				s.log.Debug("probe failed, retrying", "service", j.node.service, "node", j.node.node,
					"replica", j.ref.Replica, "target", j.name, "retry_in", l.retryWait, "error", a.Err)
			}
		} else {
			j.retrying = false
			if !s.record(ctx, l, j, a) {
				return
			}
			j.swept = true
			j.due = l.next(j, time.Since(start))
		}
		done <- j
	}
}

// probe runs one attempt of j under the lane's rules: on the poll lane the
// attempt ends at poll_delay_dead, and a healthy answer slower than
// poll_delay_sick is sick (and not retried).
func (l *lane) probe(ctx context.Context, j *job) Attempt {
	if l.rules == nil {
		return j.target.Probe(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, l.rules.dead)
	defer cancel()
	a := j.target.Probe(ctx)
	if a.Status == status.Healthy && a.Latency >= l.rules.sick {
		a.Status = status.Sick
		a.Err = j.name + ": answered in " + roundDuration(a.Latency).String() + " (sick from " + l.rules.sick.String() + ")"
	}
	return a
}

// next returns the replica's first slot (phase + k·interval) that is at
// least half an interval after the probe began and not before it finished.
// A probe "begins" at its slot, so a late start (a busy or stalled machine)
// does not shift later probes; only first-sweep probes, which all share slot
// zero, count from when they really started.
func (l *lane) next(j *job, finished time.Duration) time.Duration {
	earliest := max(j.began+l.interval/2, finished)
	if earliest <= j.phase {
		return j.phase
	}
	k := (earliest - j.phase + l.interval - 1) / l.interval
	return j.phase + k*l.interval
}

// record adds the node's checks where it has some, writes the result into
// the registry and logs changes. It returns false when ctx ended first.
func (s *Scheduler) record(ctx context.Context, l *lane, j *job, a Attempt) bool {
	res := status.Result{Status: a.Status, Latency: a.Latency, Err: a.Err}
	if a.Status != status.Dead {
		for _, sh := range j.node.checks {
			// A node's replicas have neighbouring phases, so with a
			// half-interval cache the node is checked about once per sweep.
			nr, answered := sh.get(ctx, l.interval/2)
			if ctx.Err() != nil {
				return false
			}
			switch {
			case !answered:
				// The node's first check is still running: judge by the replica alone.
			case nr.Err != nil:
				// A check that cannot be made (an unreachable management
				// API) says nothing about the service itself: keep the
				// replica's own status and show why.
				res.Err = joinErr(res.Err, sh.check.Name()+": "+nr.Err.Error())
			default:
				if nr.Queue != nil {
					res.Queue = nr.Queue
				}
				if nr.Status != status.Healthy {
					res.Status = status.Worst(res.Status, nr.Status)
					res.Err = joinErr(res.Err, nodeReason(sh.check.Name(), nr))
				}
			}
		}
	}
	res.At = time.Now()
	s.reg.Set(j.ref, res)
	if res.Status != j.last {
		s.log.Info("replica changed", "service", j.node.service, "node", j.node.node, "replica", j.ref.Replica,
			"target", j.name, "status", res.Status, "was", j.last, "error", res.Err)
		j.last = res.Status
	} else if res.Status != status.Healthy && s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("probe failed", "service", j.node.service, "node", j.node.node, "replica", j.ref.Replica,
			"target", j.name, "status", res.Status, "error", res.Err)
	}
	return true
}

// nodeReason says why a node check is not healthy: "queue jobs: dead (3
// ready, 0 unacked)".
func nodeReason(name string, nr NodeResult) string {
	reason := name + ": " + nr.Status.String()
	if q := nr.Queue; q != nil {
		reason += " (" + strconv.Itoa(q.Ready) + " ready, " + strconv.Itoa(q.Unacked) + " unacked)"
	}
	return reason
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// jobQueue is a min-heap of jobs by due time, then by position.
type jobQueue []*job

func (q jobQueue) Len() int { return len(q) }
func (q jobQueue) Less(a, b int) bool {
	if q[a].due != q[b].due {
		return q[a].due < q[b].due
	}
	return q[a].seq < q[b].seq
}
func (q jobQueue) Swap(a, b int) { q[a], q[b] = q[b], q[a] }
func (q *jobQueue) Push(x any)   { *q = append(*q, x.(*job)) }
func (q *jobQueue) Pop() any {
	old := *q
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return j
}
