package probe

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// Options configure a Scheduler.
type Options struct {
	Config   *config.Config   // validated
	Registry *status.Registry // built from Config.StatusSpecs()
	Logger   *slog.Logger     // nil discards
	Version  string           // goes into the User-Agent of HTTP probes
	Queues   QueueChecker     // nil when the RabbitMQ plugin is not configured
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
// Each kind (poll, script) has one dispatcher goroutine holding a min-heap of
// due times and a fixed pool of `*_parallelism` workers, so a replica costs a
// small struct, not a goroutine and a timer. A poll retry goes back into the
// heap: waiting for it holds no worker.
type Scheduler struct {
	reg       *status.Registry
	log       *slog.Logger
	queues    QueueChecker
	lanes     []*lane
	transport *http.Transport // nil without HTTP replicas
	running   atomic.Bool
}

// lane is the schedule of one probe kind.
type lane struct {
	kind      string // "poll" or "script"
	interval  time.Duration
	workers   int
	retry     bool // retry a dead attempt once, retryWait later
	retryWait time.Duration
	jobs      []*job
}

// job is one probed replica.
type job struct {
	ref    status.Ref
	name   string // URL without its password, or script-N
	node   *nodeInfo
	target target
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
	queue         *queueCheck // nil without rabbitmq_queue or without a QueueChecker
}

// NewScheduler validates the probe tree against the registry and builds every
// target (parsed URLs, compiled patterns, static request parts) up front.
func NewScheduler(opts Options) (*Scheduler, error) {
	cfg, reg := opts.Config, opts.Registry
	if cfg == nil || reg == nil {
		return nil, errors.New("probe: NewScheduler needs Options.Config and Options.Registry")
	}
	s := &Scheduler{reg: reg, log: opts.Logger, queues: opts.Queues}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	m := &cfg.Metrics
	poll := &lane{kind: "poll", interval: m.PollInterval.Duration(), workers: m.PollParallelism,
		retry: true, retryWait: m.PollRetry.Duration()}
	script := &lane{kind: "script", interval: m.ScriptInterval.Duration(), workers: m.ScriptParallelism}
	b := builder{
		cfg:    cfg,
		rules:  &pollRules{dead: m.PollDelayDead.Duration(), sick: m.PollDelaySick.Duration()},
		dialer: &net.Dialer{KeepAlive: -1},
		ua:     userAgent(opts.Version, cfg.Branding.PageURL),
	}
	var err error
	if b.icmp, err = newICMPSockets(cfg.Plugins.ICMP.Socket); err != nil {
		return nil, fmt.Errorf("%s%w", b.filePrefix(), err)
	}
	snap := reg.Snapshot()
	if len(snap.Services) != len(cfg.Probe.Services) {
		return nil, errRegistryShape
	}
	for si := range cfg.Probe.Services {
		svc := &cfg.Probe.Services[si]
		if len(snap.Services[si].Nodes) != len(svc.Nodes) {
			return nil, errRegistryShape
		}
		for ni := range svc.Nodes {
			n := &svc.Nodes[ni]
			where := fmt.Sprintf("%sprobe.service[%d].node[%d]", b.filePrefix(), si, ni)
			mode, err := status.ParseMode(n.Mode)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			registered := len(snap.Services[si].Nodes[ni].Replicas)
			info := &nodeInfo{service: svc.ID, node: n.ID}
			switch mode {
			case status.ModePoll:
				if registered != len(n.Replicas) {
					return nil, errRegistryShape
				}
				if n.RabbitMQQueue != "" && opts.Queues != nil {
					info.queue = &queueCheck{name: n.RabbitMQQueue,
						nackHealthyBelow: n.RabbitMQQueueNackHealthyBelow, nackDeadAbove: n.RabbitMQQueueNackDeadAbove}
				}
				b.http = nil
				for ri, raw := range n.Replicas {
					t, err := b.pollTarget(n, raw)
					if err != nil {
						return nil, fmt.Errorf("%s.replicas[%d]: %w", where, ri, err)
					}
					poll.jobs = append(poll.jobs, &job{ref: status.Ref{Service: si, Node: ni, Replica: ri},
						name: t.name, node: info, target: t})
				}
			case status.ModeScript:
				if registered != len(n.Scripts) {
					return nil, errRegistryShape
				}
				timeout := min(script.interval, ScriptTimeoutCap)
				for ri, body := range n.Scripts {
					name := "script-" + strconv.Itoa(ri+1)
					t := &scriptTarget{name: name, script: body, timeout: timeout}
					script.jobs = append(script.jobs, &job{ref: status.Ref{Service: si, Node: ni, Replica: ri},
						name: name, node: info, target: t})
				}
			}
		}
	}
	if len(poll.jobs) > 0 {
		if err := poll.check(b.filePrefix()); err != nil {
			return nil, err
		}
		if b.rules.dead <= 0 {
			return nil, fmt.Errorf("%smetrics.poll_delay_dead: %v is not a timeout (want > 0)", b.filePrefix(), m.PollDelayDead)
		}
		s.lanes = append(s.lanes, poll)
	}
	if len(script.jobs) > 0 {
		if err := script.check(b.filePrefix()); err != nil {
			return nil, err
		}
		s.lanes = append(s.lanes, script)
	}
	s.transport = b.transport
	return s, nil
}

var errRegistryShape = errors.New("probe: the registry does not match the config; build it from Config.StatusSpecs()")

func (l *lane) check(prefix string) error {
	if l.interval <= 0 {
		return fmt.Errorf("%smetrics.%s_interval: %v is not an interval (want > 0)", prefix, l.kind, l.interval.Seconds())
	}
	if l.workers < 1 {
		return fmt.Errorf("%smetrics.%s_parallelism: %d (want 1 or more)", prefix, l.kind, l.workers)
	}
	return nil
}

// builder holds what targets share while NewScheduler builds them.
type builder struct {
	cfg       *config.Config
	rules     *pollRules
	dialer    *net.Dialer
	ua        string
	transport *http.Transport // made for the first HTTP replica
	http      *httpNode       // of the node being built, made for its first HTTP replica
	icmp      *icmpSockets    // shared by all ICMP replicas
}

func (b *builder) filePrefix() string {
	if b.cfg.File == "" {
		return ""
	}
	return b.cfg.File + ": "
}

func (b *builder) pollTarget(n *config.Node, raw string) (*pollTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message would repeat the URL, password included
		}
		return nil, fmt.Errorf("%q: %v", config.MaskPassword(raw), err)
	}
	name := config.MaskPassword(raw) // also the registry's replica ID (Config.StatusSpecs)
	t := &pollTarget{name: name, rules: b.rules}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("%q: no host", name)
		}
		if b.http == nil {
			if b.transport == nil {
				b.transport = newTransport()
			}
			if b.http, err = newHTTPNode(b.transport, b.dialer, n, &b.cfg.Metrics, b.ua); err != nil {
				return nil, err
			}
		}
		t.checker = newHTTPTarget(b.http, u, name)
	case "tcp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Hostname() == "" {
			return nil, fmt.Errorf("%q: want tcp://host:port", name)
		}
		t.checker = &tcpTarget{addr: u.Host, dialer: b.dialer, deadline: b.rules.dead}
	case "icmp":
		if u.Hostname() == "" {
			return nil, fmt.Errorf("%q: want icmp://host", name)
		}
		t.checker = &icmpTarget{host: u.Hostname(), sockets: b.icmp, deadline: b.rules.dead}
	default:
		return nil, fmt.Errorf("%q: unknown scheme %q (want http, https, tcp, icmp)", name, u.Scheme)
	}
	return t, nil
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
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
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
	var sc scratch
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
		a := j.target.probe(ctx, &sc)
		sc.trim()
		if ctx.Err() != nil {
			return // shutting down: the attempt was cut short, not failed
		}
		if a.status == status.Dead && l.retry && !j.retrying {
			j.retrying = true
			j.due = time.Since(start) + l.retryWait
			if s.log.Enabled(ctx, slog.LevelDebug) {
				s.log.Debug("probe failed, retrying", "service", j.node.service, "node", j.node.node,
					"replica", j.ref.Replica, "target", j.name, "retry_in", l.retryWait, "error", a.err)
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

// record adds the queue check where the node has one, writes the result into
// the registry and logs changes. It returns false when ctx ended first.
func (s *Scheduler) record(ctx context.Context, l *lane, j *job, a attempt) bool {
	res := status.Result{Status: a.status, Latency: a.latency, Err: a.err}
	if qc := j.node.queue; qc != nil && a.status != status.Dead {
		// A node's replicas have neighbouring phases, so with a half-interval
		// cache the queue is checked about once per node per sweep.
		st, counts, err, answered := qc.get(ctx, s.queues, l.interval/2)
		if ctx.Err() != nil {
			return false
		}
		res.Queue = counts
		switch {
		case !answered:
			// The node's first check is still running: judge by the replica alone.
		case err != nil:
			// An unreachable management API says nothing about the service
			// itself: keep the replica's own status and show why.
			res.Err = joinErr(res.Err, "queue "+qc.name+": "+err.Error())
		case st != status.Healthy:
			res.Status = status.Worst(res.Status, st)
			res.Err = joinErr(res.Err, fmt.Sprintf("queue %s: %s (%d ready, %d unacked)",
				qc.name, st, counts.Ready, counts.Unacked))
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
