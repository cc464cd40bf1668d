package probe

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
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
	// LookupHost resolves a host name with this server's resolver, to tell
	// a resolver that fails for every name from a name that fails (see
	// resolverWatch); nil is net.DefaultResolver's.
	LookupHost func(ctx context.Context, host string) error
}

// Scheduler probes every poll replica once per poll_interval and every script
// replica once per script_interval (its node's own, or [metrics]'), and
// writes each result into the registry as soon as it is known.
//
// Timing. The first sweep starts every replica at once, limited only by the
// parallelism cap, so first results for all replicas arrive within one sweep.
// After that, each replica has its own interval, and replica i of the n
// replicas of a lane that share an interval (config order) owns the slots
// start + i·interval/n + k·interval: the load of each interval is flat, and
// so is their sum, in steps of releaseTick (the probes due within one tick
// start together). After each probe the next one is the replica's first
// slot that is at least half its interval after this probe's slot (for the
// first sweep: after it really began) and not before it finished. In steady
// state that is exactly one interval later, even when a probe started late;
// the first gap, after the first sweep, is between half and one and a half
// intervals. A probe running longer than an interval skips the slots it
// overran.
//
// Each lane (poll, script) has one dispatcher goroutine holding a min-heap of
// due times and a fixed pool of `*_parallelism` workers, so a replica costs a
// small struct, not a goroutine and a timer. A poll retry goes back into the
// heap: waiting for it holds no worker.
//
// An attempt that is inconclusive (the fault is this server's: no file
// descriptors, no ICMP permission, a resolver failing for every name) is
// neither a result nor a failure: the replica keeps its status, its error
// says "could not check: …", it is not retried, and a warning is logged
// (at most once per faultWarnEvery).
type Scheduler struct {
	reg      *status.Registry
	log      *slog.Logger
	lanes    []*lane
	builders []Builder // of every kind, closed when Run ends
	running  atomic.Bool
	warn     faultWarn

	// The dynamic targets ([dynamic]): nodes of service dynIndex added and
	// removed while the scheduler runs, probed on the poll lane.
	dyn        *config.Dynamic // nil: none
	dynIndex   int
	dynKinds   []Kind
	dynBuild   map[string]Builder
	dynMetrics *config.Metrics
	poll       *lane
	dynMu      sync.Mutex      // guards dynJobs, started and the builders' Target while running
	dynJobs    map[string]*job // by node id
	started    bool            // Run took the lanes' jobs
	stopped    chan struct{}   // closed when Run's context ends
}

// lane is the schedule of the kinds of one lane.
type lane struct {
	kind      string        // LanePoll or LaneScript
	interval  time.Duration // the [metrics] one; a job may have its own
	workers   int
	retry     bool           // retry a dead poll once, retryWait later
	retryWait time.Duration  // poll lane
	rules     *pollRules     // poll lane; nil for scripts
	resolver  *resolverWatch // poll lane
	jobs      []*job
	// adds brings jobs added while the lane runs (dynamic targets) to its
	// dispatcher; nil on a lane that takes none.
	adds chan *job
}

// pollRules are the [metrics] limits that judge poll attempts.
type pollRules struct {
	dead time.Duration // timeout of one attempt
	sick time.Duration // a slower healthy answer is sick
}

// job is one probed replica.
type job struct {
	ref      status.Ref
	name     string // URL without its password, or script-N
	host     string // the host name the replica is reached by; "" for an address or none
	node     *nodeInfo
	target   Target
	interval time.Duration // between two probes
	attempts int           // per poll; 1 for scripts
	seq      int           // position in the lane; orders equal due times
	phase    time.Duration // offset of the replica's slots within its interval

	// Scheduling state, all durations since the lane started. Owned by the
	// dispatcher while the job waits in the heap and by one worker while it
	// runs; the channels between them order the accesses.
	due      time.Duration
	began    time.Duration // the slot of the current probe; its actual start in the first sweep
	retrying bool
	swept    bool          // the first probe is done
	last     status.Status // last recorded status, for change logs

	// dyn is the node id of a dynamic target, whose position in its
	// service changes as others come and go; "" for the config's replicas.
	dyn     string
	removed atomic.Bool // the dynamic target was removed: drop the job
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
	s := &Scheduler{reg: reg, log: opts.Logger, stopped: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	m := &cfg.Metrics
	poll := &lane{kind: LanePoll, interval: m.PollInterval.Duration(), workers: m.PollParallelism,
		retry: true, retryWait: m.PollRetry.Duration(),
		rules: &pollRules{dead: m.PollDelayDead.Duration(), sick: m.PollDelaySick.Duration()}}
	lookup := opts.LookupHost
	if lookup == nil {
		lookup = func(ctx context.Context, host string) error {
			_, err := net.DefaultResolver.LookupHost(ctx, host)
			return err
		}
	}
	poll.resolver = &resolverWatch{lookup: lookup, timeout: poll.rules.dead}
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
	dynamic := 0
	if cfg.Dynamic != nil {
		dynamic = 1
		s.dyn, s.dynIndex, s.dynKinds, s.dynBuild, s.dynMetrics = cfg.Dynamic, len(cfg.Probe.Services), opts.Kinds, builders, m
		s.dynJobs = map[string]*job{}
		poll.adds = make(chan *job)
	}
	if len(snap.Services) != len(cfg.Probe.Services)+dynamic {
		s.close()
		return nil, errRegistryShape
	}
	for si := range cfg.Probe.Services {
		svc := &cfg.Probe.Services[si]
		if snap.Services[si].Nodes.Len() != len(svc.Nodes) {
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
			if snap.Services[si].Nodes.At(ni).Replicas.Len() != len(entries) {
				s.close()
				return nil, errRegistryShape
			}
			interval, attempts := n.Interval(m).Duration(), n.Attempts(m)
			if err := checkNodeSchedule(n, interval, attempts); err != "" {
				s.close()
				return nil, fmt.Errorf("%s.%s", where, err)
			}
			for ri, raw := range entries {
				k, name, err := kindFor(opts.Kinds, n.Mode, raw, ri)
				if err == nil {
					var t Target
					if t, err = builders[k.Name].Target(n, ri); err == nil {
						j := &job{ref: status.Ref{Service: si, Node: ni, Replica: ri},
							name: name, node: info, target: t, interval: interval, attempts: attempts}
						l := poll
						if laneOf(k) == LaneScript {
							l, j.attempts = script, 1
						} else {
							j.host = hostName(raw)
						}
						l.jobs = append(l.jobs, j)
						continue
					}
				}
				s.close()
				return nil, fmt.Errorf("%s.%s[%d]: %w", where, key, ri, err)
			}
		}
	}
	for _, j := range poll.jobs {
		poll.resolver.add(j.host)
	}
	s.poll = poll
	for _, l := range []*lane{poll, script} {
		if len(l.jobs) == 0 && l.adds == nil {
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

// checkNodeSchedule says what is wrong with a node's own interval or
// attempts, as "key: problem", or "". The [metrics] ones are the lanes'
// to check.
func checkNodeSchedule(n *config.Node, interval time.Duration, attempts int) string {
	own := n.PollInterval
	key := "poll_interval"
	if n.Mode == "script" {
		own, key = n.ScriptInterval, "script_interval"
	}
	switch {
	case own != 0 && interval <= 0:
		return fmt.Sprintf("%s: %v is not an interval (want > 0)", key, float64(own))
	case n.PollAttempts != 0 && attempts < 1:
		return fmt.Sprintf("poll_attempts: %d (want 1 or more)", attempts)
	}
	return ""
}

// hostName is the host name a replica URL reaches its target by, or ""
// when it names an address (or localhost, which no resolver answers).
func hostName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if h == "" || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return ""
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return ""
	}
	return h
}

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
	for _, j := range l.jobs {
		if j.attempts < 1 {
			return fmt.Errorf("%smetrics.poll_attempts: %d (want 1 or more)", prefix, j.attempts)
		}
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
	// From here on dynamic targets reach the poll lane through its adds.
	s.dynMu.Lock()
	s.started = true
	for _, l := range s.lanes {
		jobs := slices.Clone(l.jobs)
		wg.Go(func() { s.runLane(ctx, l, jobs) })
	}
	s.dynMu.Unlock()
	<-ctx.Done() // also when there is nothing to probe
	close(s.stopped)
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
func (s *Scheduler) runLane(ctx context.Context, l *lane, jobs []*job) {
	start := time.Now()
	q := make(jobQueue, len(jobs))
	for i, j := range jobs {
		j.seq = i
		j.due = 0 // the first sweep starts at once
		q[i] = j
	}
	spread(jobs)
	heap.Init(&q)

	work := make(chan *job)
	workers := min(l.workers, len(jobs))
	if l.adds != nil {
		workers = l.workers // jobs may come
	}
	done := make(chan *job, workers) // never blocks: at most `workers` jobs are out
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { s.work(ctx, l, start, work, done) })
	}
	defer wg.Wait()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	seq := len(jobs)
	for {
		for len(q) > 0 && q[0].removed.Load() {
			heap.Pop(&q) // a dynamic target that was removed
		}
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
			if !j.removed.Load() {
				heap.Push(&q, j)
			}
		case j := <-l.adds:
			seq++
			j.seq = seq
			j.due = time.Since(start) // its first probe at once
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
		a := l.poll(ctx, j)
		if ctx.Err() != nil {
			return // shutting down: the attempt was cut short, not failed
		}
		if j.removed.Load() {
			done <- j // the dispatcher forgets it
			continue
		}
		switch {
		case a.Inconclusive:
			// Neither a result nor a failure of the replica: it keeps its
			// status until the next slot, which comes as usual.
			j.retrying = false
			s.couldNotCheck(ctx, j, a)
			j.swept = true
			j.due = j.next(time.Since(start))
		case a.Status == status.Dead && l.retry && !j.retrying:
			j.retrying = true
			j.due = time.Since(start) + l.retryWait
			if s.log.Enabled(ctx, slog.LevelDebug) {
				s.log.Debug("probe failed, retrying", "service", j.node.service, "node", j.node.node,
					"replica", j.ref.Replica, "target", j.name, "retry_in", l.retryWait, "error", a.Err)
			}
		default:
			j.retrying = false
			if !s.record(ctx, j, a) {
				return
			}
			j.swept = true
			j.due = j.next(time.Since(start))
		}
		done <- j
	}
}

// spread gives each job its phase: the i-th of the n jobs that share an
// interval starts its slots i·interval/n into it.
func spread(jobs []*job) {
	groups := map[time.Duration][]*job{}
	for _, j := range jobs {
		groups[j.interval] = append(groups[j.interval], j)
	}
	for interval, group := range groups {
		for i, j := range group {
			j.phase = time.Duration(float64(interval) * float64(i) / float64(len(group)))
		}
	}
}

// next returns the replica's first slot (phase + k·interval) that is at
// least half an interval after the probe began and not before it finished.
// A probe "begins" at its slot, so a late start (a busy or stalled machine)
// does not shift later probes; only first-sweep probes, which all share slot
// zero, count from when they really started.
func (j *job) next(finished time.Duration) time.Duration {
	earliest := max(j.began+j.interval/2, finished)
	if earliest <= j.phase {
		return j.phase
	}
	k := (earliest - j.phase + j.interval - 1) / j.interval
	return j.phase + k*j.interval
}

// record adds the node's checks where it has some, writes the result into
// the registry and logs changes. It returns false when ctx ended first.
func (s *Scheduler) record(ctx context.Context, j *job, a Attempt) bool {
	res := status.Result{Status: a.Status, Latency: a.Latency, Err: a.Err, Cert: a.Cert}
	if a.Status != status.Dead {
		for _, sh := range j.node.checks {
			// A node's replicas have neighbouring phases, so with a
			// half-interval cache the node is checked about once per sweep.
			nr, answered := sh.get(ctx, j.interval/2)
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
	if j.dyn != "" {
		s.reg.SetByID(j.ref.Service, j.dyn, 0, res)
	} else {
		s.reg.Set(j.ref, res)
	}
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
	switch {
	case a == "":
		return b
	case b == "":
		return a
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

// AddTarget starts probing a dynamic target: node id of the [dynamic]
// service, which must already be in the registry, probed at rawURL. Its
// first probe starts at once. It fails when the scheduler has no
// [dynamic] table, the node is already probed, or no probe kind takes the
// URL.
func (s *Scheduler) AddTarget(id, label, rawURL string) error {
	if s.dyn == nil {
		return errors.New("probe: no [dynamic] table: dynamic targets are off")
	}
	s.dynMu.Lock()
	defer s.dynMu.Unlock()
	if _, dup := s.dynJobs[id]; dup {
		return fmt.Errorf("probe: dynamic target %q is already probed", id)
	}
	n := s.dyn.TargetNode(id, label, rawURL)
	k, name, err := kindFor(s.dynKinds, "poll", rawURL, 0)
	if err != nil {
		return err
	}
	if laneOf(k) != LanePoll {
		return fmt.Errorf("%q: the %s probe cannot be a dynamic target", name, k.Name)
	}
	t, err := s.dynBuild[k.Name].Target(&n, 0)
	if err != nil {
		return err
	}
	interval, attempts := n.Interval(s.dynMetrics).Duration(), n.Attempts(s.dynMetrics)
	j := &job{ref: status.Ref{Service: s.dynIndex}, dyn: id, name: name, host: hostName(rawURL),
		node: &nodeInfo{service: s.dyn.ServiceID, node: id}, target: t, interval: interval, attempts: attempts}
	// Its slots fall anywhere in the interval, spread by its id, so that
	// targets added together are not probed together ever after.
	j.phase = time.Duration(uint64(fnv32(id)) * uint64(interval) >> 32)
	s.dynJobs[id] = j
	if !s.started {
		s.poll.jobs = append(s.poll.jobs, j)
		return nil
	}
	select {
	case s.poll.adds <- j:
	case <-s.stopped:
	}
	return nil
}

// RemoveTarget stops probing a dynamic target; its probe under way, if
// any, is not recorded. It reports whether it was probed.
func (s *Scheduler) RemoveTarget(id string) bool {
	s.dynMu.Lock()
	defer s.dynMu.Unlock()
	j, ok := s.dynJobs[id]
	if ok {
		j.removed.Store(true)
		delete(s.dynJobs, id)
	}
	return ok
}

// fnv32 is the FNV-1a hash of s.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
