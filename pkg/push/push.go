// Package push owns the replicas of push and local nodes: the replicas that
// agents report instead of being probed. It remembers when each one last
// reported and how often it promised to, writes its status into the status
// registry, and marks it dead once it stays silent past interval + the
// node's grace (push_delay_dead or local_delay_dead). It has no HTTP in it:
// pkg/api decodes reports and hands them here.
package push

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// DefaultSweepEvery is how often Run looks for silent replicas: a replica is
// marked dead at most this long after its deadline.
const DefaultSweepEvery = 250 * time.Millisecond

// MaxReplicasPerNode bounds the replicas one push or local node can gather,
// so a misbehaving agent inventing names cannot exhaust memory.
const MaxReplicasPerNode = 10_000

// maxShownLag bounds how far the registry's copy of a replica may trail its
// latest report when the reports in between changed nothing the page shows.
// Every registry write builds a new snapshot, so agents that report many
// times a second would otherwise rebuild it for nothing.
const maxShownLag = time.Second

// Options are what Agents is built from; Registry is required.
type Options struct {
	Registry *status.Registry // built from the config's StatusSpecs
	Metrics  config.Metrics   // push_delay_dead, local_delay_dead, push_system_*_sick_above
	Logger   *slog.Logger     // nil discards
	Now      func() time.Time // nil: time.Now
	// SweepEvery is the period of the silence check; 0 means DefaultSweepEvery.
	SweepEvery time.Duration
	// MaxReplicas per node; 0 means MaxReplicasPerNode.
	MaxReplicas int
}

// Agents is the one owner of push and local replicas. It is safe for
// concurrent use.
type Agents struct {
	reg         *status.Registry
	log         *slog.Logger
	now         func() time.Time
	sweepEvery  time.Duration
	maxReplicas int

	cpuSickAbove, ramSickAbove float64

	// nodes finds any configured node by service id, then node id. Built
	// once: the configured tree never changes while the registry lives.
	nodes map[string]map[string]*Node
	// reported are the push and local nodes, whose replicas the sweep checks.
	reported []*Node

	// mu orders every write of push and local replicas, so a report and the
	// sweep never overwrite each other's verdict.
	mu sync.Mutex
	// dirty are the replicas whose latest report the store has not seen,
	// and flushed those it must forget; both guarded by mu.
	dirty   []*replica
	flushed []store.ReplicaKey
}

// Node is a configured node as reports address it.
type Node struct {
	service, node     int // positions in the registry
	serviceID, nodeID string
	mode              status.Mode
	// grace is push_delay_dead or local_delay_dead: how long past its
	// interval a replica may stay silent before it is dead.
	grace    time.Duration
	graceKey string
	// replicas of a push or local node, by name; guarded by Agents.mu.
	replicas map[string]*replica
}

// Mode is the node's mode.
func (n *Node) Mode() status.Mode { return n.mode }

// Name is "service:node", for messages.
func (n *Node) Name() string { return n.serviceID + ":" + n.nodeID }

// replica is what is remembered of a reporting replica, to notice its
// silence and to skip registry writes that would change nothing visible.
type replica struct {
	node     *Node
	id       string
	interval time.Duration
	deadline time.Time // dead when silent until then
	silent   bool      // marked dead for silence; cleared by the next report
	dirty    bool      // in Agents.dirty
	// latest is the last report (its time is what the sweep checks); shown
	// is the one the registry holds. They differ only in what the page does
	// not show and by less than maxShownLag in time (see Report); pending
	// says they differ.
	latest, shown reading
	pending       bool
}

// reading is one report, as much of it as the registry keeps.
type reading struct {
	status   status.Status
	at       time.Time
	hasLoad  bool // push reports carry the host load
	cpu, ram float64
}

// looksLike reports whether the page would show r and o the same, apart
// from their time: same status and the same load in whole percent.
func (r *reading) looksLike(o *reading) bool {
	if r.status != o.status || r.hasLoad != o.hasLoad {
		return false
	}
	return !r.hasLoad || wholePercent(r.cpu) == wholePercent(o.cpu) && wholePercent(r.ram) == wholePercent(o.ram)
}

// wholePercent rounds a load fraction the way the page prints it
// (strconv.FormatFloat(f*100, 'f', 0, 64) rounds half to even).
func wholePercent(f float64) float64 { return math.RoundToEven(f * 100) }

// New indexes the registry's nodes.
func New(opts Options) (*Agents, error) {
	if opts.Registry == nil {
		return nil, errors.New("push: Options.Registry is required")
	}
	a := &Agents{
		reg:          opts.Registry,
		log:          opts.Logger,
		now:          opts.Now,
		sweepEvery:   opts.SweepEvery,
		maxReplicas:  opts.MaxReplicas,
		cpuSickAbove: opts.Metrics.PushSystemCPUSickAbove,
		ramSickAbove: opts.Metrics.PushSystemRAMSickAbove,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.sweepEvery <= 0 {
		a.sweepEvery = DefaultSweepEvery
	}
	if a.maxReplicas <= 0 {
		a.maxReplicas = MaxReplicasPerNode
	}
	a.nodes, a.reported = buildNodes(opts.Registry.Snapshot(), opts.Metrics)
	return a, nil
}

// buildNodes indexes the configured nodes by id and lists the push and local
// ones, which the sweep walks.
func buildNodes(snap *status.Snapshot, m config.Metrics) (map[string]map[string]*Node, []*Node) {
	nodes := make(map[string]map[string]*Node, len(snap.Services))
	var reported []*Node
	for si, svc := range snap.Services {
		byID := make(map[string]*Node, svc.Nodes.Len())
		for ni, n := range svc.Nodes.All() {
			nd := &Node{service: si, node: ni, serviceID: svc.ID, nodeID: n.ID, mode: n.Mode}
			switch n.Mode {
			case status.ModePush:
				nd.grace, nd.graceKey = m.PushDelayDead.Duration(), "push_delay_dead"
				nd.replicas = map[string]*replica{}
				reported = append(reported, nd)
			case status.ModeLocal:
				nd.grace, nd.graceKey = m.LocalDelayDead.Duration(), "local_delay_dead"
				nd.replicas = map[string]*replica{}
				reported = append(reported, nd)
			}
			byID[n.ID] = nd
		}
		nodes[svc.ID] = byID
	}
	return nodes, reported
}

// Problem is a report or flush that cannot be taken; Kind says which kind
// of refusal it is and Msg explains it to the agent.
type Problem struct {
	Kind ProblemKind
	Msg  string
}

func (p *Problem) Error() string { return p.Msg }

// ProblemKind sorts refusals, so the API can answer with the right status.
type ProblemKind int

const (
	NotFound        ProblemKind = iota + 1 // no such service, node or replica
	WrongMode                              // the node does not take this report or flush
	TooManyReplicas                        // a new replica would pass MaxReplicas
)

// Node finds a configured node by ids.
func (a *Agents) Node(serviceID, nodeID string) (*Node, error) {
	svc, ok := a.nodes[serviceID]
	if !ok {
		return nil, &Problem{NotFound, "unknown service " + strconv.Quote(serviceID) + ": no [[probe.service]] with this id in the server config"}
	}
	n, ok := svc[nodeID]
	if !ok {
		return nil, &Problem{NotFound, "unknown node " + strconv.Quote(nodeID) + " in service " + strconv.Quote(serviceID) + ": no [[probe.service.node]] with this id in the server config"}
	}
	return n, nil
}

// Report is one agent report: a push report with the host's load, or a
// local report with the replica's own health.
type Report struct {
	Interval time.Duration // between two reports, as the agent promises
	HasLoad  bool          // a push report; else Health is set
	CPU, RAM float64       // load fractions of a push report
	Health   status.Status // of a local report
}

// Report takes a report of replica name of node n. name may alias a
// request buffer: it is copied only when the replica is new. It refuses a
// report of the wrong mode for the node, and a new replica beyond the cap.
//
// The report reaches the registry at once unless the page would show the
// registry's copy the same and that copy is less than maxShownLag old: then
// only the silence clock moves, and the sweep stores the report later if no
// newer one does.
func (a *Agents) Report(n *Node, name []byte, r Report) error {
	// As in Vigil, a body with "load" is a push report even if it also has
	// "health".
	if r.HasLoad && n.mode != status.ModePush || !r.HasLoad && n.mode != status.ModeLocal {
		return &Problem{WrongMode, modeMismatch(n, r.HasLoad)}
	}
	rd := reading{at: a.now(), hasLoad: r.HasLoad, cpu: r.CPU, ram: r.RAM, status: r.Health}
	if r.HasLoad {
		rd.status = a.loadStatus(r.CPU, r.RAM)
	}

	a.mu.Lock()
	rp := n.replicas[string(name)]
	fresh := rp == nil
	if fresh && len(n.replicas) >= a.maxReplicas {
		a.mu.Unlock()
		return &Problem{TooManyReplicas, "node " + strconv.Quote(n.Name()) + " already has " + strconv.Itoa(a.maxReplicas) +
			" replicas; flush the ones that are gone (DELETE /reporter/{service}/{node}/{replica}/)"}
	}
	if fresh {
		rp = &replica{node: n, id: string(name)}
		n.replicas[rp.id] = rp
	}
	rp.interval, rp.latest = r.Interval, rd
	rp.deadline = rd.at.Add(r.Interval + n.grace)
	a.markDirty(rp)
	// A replica marked silent is written even when it reports itself dead:
	// the registry holds the sweep's verdict and time, not this report.
	if fresh || rp.silent || !rd.looksLike(&rp.shown) || rd.at.Sub(rp.shown.at) >= maxShownLag {
		a.show(n, rp, rd)
	} else {
		rp.pending = true
	}
	rp.silent = false
	a.mu.Unlock()
	if fresh {
		a.log.Info("replica appeared", "service", n.serviceID, "node", n.nodeID, "replica", rp.id,
			"mode", n.mode.String(), "interval", r.Interval)
	}
	return nil
}

func modeMismatch(n *Node, push bool) string {
	where := "node " + strconv.Quote(n.Name()) + " is in " + n.mode.String() + " mode"
	switch {
	case n.mode == status.ModePoll || n.mode == status.ModeScript:
		return where + ": the server probes it itself and takes no reports (use a node with mode \"push\" or \"local\")"
	case push:
		return where + ` but this is a push report (it has "load"); local nodes take "health" reports`
	default:
		return where + ` but this is a local report (it has "health"); push nodes take "load" reports`
	}
}

// loadStatus applies the push rule: sick above either threshold.
func (a *Agents) loadStatus(cpu, ram float64) status.Status {
	if cpu > a.cpuSickAbove || ram > a.ramSickAbove {
		return status.Sick
	}
	return status.Healthy
}

// result turns a reading into what the registry stores, with the reason
// for a status other than healthy. It is built only for the readings that
// reach the registry, which keeps message building off the skipped ones.
func (a *Agents) result(rd *reading) status.Result {
	res := status.Result{Status: rd.status, At: rd.at}
	switch {
	case rd.hasLoad:
		res.Load = &status.Load{CPU: rd.cpu, RAM: rd.ram}
		switch {
		case rd.cpu > a.cpuSickAbove:
			res.Err = "CPU load " + percent(rd.cpu) + " is above push_system_cpu_sick_above (" + percent(a.cpuSickAbove) + ")"
		case rd.ram > a.ramSickAbove:
			res.Err = "RAM use " + percent(rd.ram) + " is above push_system_ram_sick_above (" + percent(a.ramSickAbove) + ")"
		}
	case rd.status == status.Sick:
		res.Err = "the replica reports itself sick"
	case rd.status == status.Dead:
		res.Err = "the replica reports itself dead"
	}
	return res
}

// percent writes a fraction as a percentage with at most one decimal.
func percent(f float64) string { return strconv.FormatFloat(math.Round(f*1000)/10, 'f', -1, 64) + "%" }

// show writes a reading of rp to the registry. Caller holds a.mu.
func (a *Agents) show(n *Node, rp *replica, rd reading) {
	a.reg.Upsert(n.service, n.node, rp.id, a.result(&rd))
	rp.shown, rp.pending = rd, false
}

// Flushed says what a flush removed.
type Flushed struct {
	// Dead: the replica was dead, so the flush may hide an outage.
	Dead bool
	// Note says so, naming the replica, who flushed it and its last
	// report; "" when it was not dead. The history keeps it.
	Note string
}

// Flush forgets replica name of node n and removes it from the page. by
// says who asked ("reporter token "hosts" from 192.0.2.7"). Flushing a
// dead replica makes an outage disappear, so it is logged as a warning
// and noted in the history (status.Registry.RemoveNoted).
func (a *Agents) Flush(n *Node, name, by string) (Flushed, error) {
	if n.replicas == nil {
		return Flushed{}, &Problem{WrongMode, "node " + strconv.Quote(n.Name()) + " is in " + n.mode.String() +
			" mode: only replicas of push and local nodes can be flushed"}
	}
	var f Flushed
	var last time.Time
	a.mu.Lock()
	rp, ok := n.replicas[name]
	if ok {
		delete(n.replicas, name)
		last = rp.latest.at
		if f.Dead = rp.shown.status == status.Dead; f.Dead {
			f.Note = "dead replica " + n.Name() + ":" + name + " flushed by " + by +
				" (last report " + last.UTC().Format(time.RFC3339) + "); it no longer counts"
		}
		a.reg.RemoveNoted(n.service, n.node, name, a.now(), f.Note)
		rp.dirty = false // a later TakeDirty must not store it again
		a.flushed = append(a.flushed, store.ReplicaKey{Service: n.serviceID, Node: n.nodeID, Replica: name})
	}
	a.mu.Unlock()
	if !ok {
		return Flushed{}, &Problem{NotFound, "no replica " + strconv.Quote(name) + " in node " + strconv.Quote(n.Name()) +
			" (never reported, or already flushed)"}
	}
	if f.Dead {
		a.log.Warn("dead replica flushed", "service", n.serviceID, "node", n.nodeID, "replica", name,
			"by", by, "last_report", last)
	} else {
		a.log.Info("replica flushed", "service", n.serviceID, "node", n.nodeID, "replica", name, "by", by)
	}
	return f, nil
}

// Run marks replicas dead once they stay silent past their deadline, until
// ctx ends. It returns ctx.Err().
func (a *Agents) Run(ctx context.Context) error {
	t := time.NewTicker(a.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			a.Sweep(a.now())
		}
	}
}

// Sweep marks dead every replica silent for its interval plus the node's
// grace (now - last >= interval + grace), and writes to the registry the
// reports Report held back once they are due. Run calls it; tests on a fake
// clock call it themselves.
func (a *Agents) Sweep(now time.Time) {
	// Log after unlocking: reports wait on a.mu, and a large autoscaling
	// group going away at once would otherwise queue them behind log output.
	type silent struct {
		service, node, replica string
		last                   time.Time
		interval               time.Duration
	}
	var gone []silent
	a.mu.Lock()
	for _, n := range a.reported {
		for _, rp := range n.replicas {
			if rp.silent {
				continue
			}
			last := rp.latest.at
			if now.Before(rp.deadline) {
				// The registry ends up showing the latest report even
				// when no report follows the held-back one.
				if rp.pending && now.Sub(rp.shown.at) >= maxShownLag {
					a.show(n, rp, rp.latest)
				}
				continue
			}
			rp.silent, rp.pending = true, false
			rp.shown = reading{status: status.Dead, at: now}
			a.markDirty(rp)
			msg := "no report for " + now.Sub(last).Round(time.Millisecond).String() +
				"; dead after the interval of " + rp.interval.String() + " + " + n.graceKey + " " + n.grace.String() +
				" (last report " + last.Format(time.RFC3339) + ")"
			a.reg.Upsert(n.service, n.node, rp.id, status.Result{Status: status.Dead, At: now, Err: msg})
			gone = append(gone, silent{n.serviceID, n.nodeID, rp.id, last, rp.interval})
		}
	}
	a.mu.Unlock()
	for _, g := range gone {
		a.log.Warn("replica silent, marked dead", "service", g.service, "node", g.node,
			"replica", g.replica, "last_report", g.last, "interval", g.interval)
	}
}

// markDirty queues rp for the next TakeDirty. Caller holds a.mu.
func (a *Agents) markDirty(rp *replica) {
	if !rp.dirty {
		rp.dirty = true
		a.dirty = append(a.dirty, rp)
	}
}

// TakeDirty returns the replicas whose state changed since the last call,
// as the store keeps them, and those flushed; pkg/history's writer calls
// it before each write.
func (a *Agents) TakeDirty() ([]store.PushReplica, []store.ReplicaKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []store.PushReplica
	for _, rp := range a.dirty {
		if !rp.dirty {
			continue // flushed since
		}
		rp.dirty = false
		out = append(out, a.saved(rp))
	}
	clear(a.dirty)
	a.dirty = a.dirty[:0]
	flushed := a.flushed
	a.flushed = nil
	return out, flushed
}

// saved is rp as the store keeps it: its last report, and dead when the
// sweep found it silent.
func (a *Agents) saved(rp *replica) store.PushReplica {
	n := rp.node
	p := store.PushReplica{Key: store.ReplicaKey{Service: n.serviceID, Node: n.nodeID, Replica: rp.id},
		Interval: rp.interval, LastReport: rp.latest.at, Status: rp.latest.status,
		HasLoad: rp.latest.hasLoad, CPU: rp.latest.cpu, RAM: rp.latest.ram}
	if rp.silent {
		p.Status = status.Dead
	}
	return p
}

// Restore takes back the replicas the store kept, before any report. Each
// keeps its deadline, counted in report intervals: a replica is dead when
// it misses a report it could have delivered, and reports due while the
// server was down could not be, so its deadline is its first report slot
// at or after start, plus the node's grace. After a short restart that is
// the deadline it had; a host that died before or while the server was
// down turns dead at it. Replicas of nodes that are gone, or are no longer
// push or local, are forgotten. It returns the results the registry should
// show until fresh reports come.
func (a *Agents) Restore(saved []store.PushReplica, start time.Time) map[[3]string]status.Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	shown := map[[3]string]status.Result{}
	for _, p := range saved {
		n, err := a.Node(p.Key.Service, p.Key.Node)
		if err != nil || n.replicas == nil || p.HasLoad != (n.mode == status.ModePush) || p.Interval <= 0 {
			a.flushed = append(a.flushed, p.Key)
			continue
		}
		rp := &replica{node: n, id: p.Key.Replica, interval: p.Interval}
		rp.latest = reading{status: p.Status, at: p.LastReport, hasLoad: p.HasLoad, cpu: p.CPU, ram: p.RAM}
		if p.HasLoad {
			rp.latest.status = a.loadStatus(p.CPU, p.RAM)
		}
		rp.deadline = firstSlot(p.LastReport, p.Interval, start).Add(n.grace)
		if p.Status == status.Dead && !start.Before(p.LastReport.Add(p.Interval+n.grace)) {
			// It was found silent before the stop and stays dead until it
			// reports again.
			rp.silent = true
		}
		rp.shown = rp.latest
		res := a.result(&rp.latest)
		if rp.silent {
			rp.shown = reading{status: status.Dead, at: p.LastReport}
			res = status.Result{Status: status.Dead, At: p.LastReport, Err: "no report since " + p.LastReport.Format(time.RFC3339)}
		}
		n.replicas[rp.id] = rp
		shown[[3]string{n.serviceID, n.nodeID, rp.id}] = res
	}
	return shown
}

// firstSlot is the first report time last + k·interval (k ≥ 1) that is not
// before start.
func firstSlot(last time.Time, interval time.Duration, start time.Time) time.Time {
	next := last.Add(interval)
	if next.Before(start) {
		k := (start.Sub(last) + interval - 1) / interval
		next = last.Add(k * interval)
	}
	return next
}
