package status

import (
	"sync"
	"sync/atomic"
	"time"
)

// ServiceSpec, NodeSpec: the configured tree the registry starts from.
type ServiceSpec struct {
	ID, Label string
	Nodes     []NodeSpec
}

type NodeSpec struct {
	ID, Label         string
	Mode              Mode
	Replicas          []string // poll URLs or script names; empty for push/local
	LinkURL           string
	LinkLabel         string
	RevealReplicaName bool
}

// Snapshot is an immutable view of every status at one moment. Readers get it
// through Registry.Snapshot and must not modify it: unchanged subtrees are
// shared between successive snapshots.
type Snapshot struct {
	// Version grows on every change (a new latency counts).
	Version uint64
	// StatusVersion grows only when some status or the set of replicas
	// changes; the page uses it to decide when browsers should reload.
	StatusVersion uint64
	Status        Status
	// Changed is when Status last took its current value.
	Changed time.Time
	Updated time.Time // time of the last change of any kind
	// Unchecked counts replicas that have no result yet; 0 means the first
	// sweep is complete and Status reflects real observations.
	Unchecked int
	Services  []*Service
}

type Service struct {
	ID, Label string
	Status    Status
	Nodes     []*Node
}

type Node struct {
	ID, Label         string
	Mode              Mode
	Status            Status
	LinkURL           string
	LinkLabel         string
	RevealReplicaName bool
	Replicas          []*Replica
}

type Replica struct {
	ID      string // URL, script name or the name a reporter gave
	Status  Status
	Checked time.Time     // zero until the first result arrives
	Latency time.Duration // of the last probe
	Error   string        // why the last probe was not healthy, for operators
	Load    *Load         // push mode only
	Queue   *Queue        // nodes with a RabbitMQ queue check only
}

// Load is what a push reporter sends: fractions from 0 to 1.
type Load struct{ CPU, RAM float64 }

// Queue is the message count of a node's RabbitMQ queue at the last check.
type Queue struct{ Ready, Unacked int }

// Result is one observation of a replica.
type Result struct {
	Status  Status
	Latency time.Duration
	Err     string
	At      time.Time
	Load    *Load
	Queue   *Queue
}

// Ref addresses a configured replica by position; positions of configured
// (poll and script) replicas never change while the registry lives.
type Ref struct{ Service, Node, Replica int }

// Registry owns the mutable state. Writers call Set; every write builds a new
// snapshot that shares all untouched subtrees with the previous one, so an
// update costs O(replicas in node + nodes in service + services), not O(all).
type Registry struct {
	mu   sync.Mutex
	snap atomic.Pointer[Snapshot]
	subs map[chan struct{}]struct{}
}

// NewRegistry builds the tree; every replica starts healthy and unchecked.
func NewRegistry(specs []ServiceSpec, now time.Time) *Registry {
	s := &Snapshot{Version: 1, StatusVersion: 1, Changed: now, Updated: now}
	for _, ss := range specs {
		svc := &Service{ID: ss.ID, Label: ss.Label}
		for _, ns := range ss.Nodes {
			n := &Node{ID: ns.ID, Label: ns.Label, Mode: ns.Mode, LinkURL: ns.LinkURL,
				LinkLabel: ns.LinkLabel, RevealReplicaName: ns.RevealReplicaName}
			for _, id := range ns.Replicas {
				n.Replicas = append(n.Replicas, &Replica{ID: id})
			}
			s.Unchecked += len(ns.Replicas)
			svc.Nodes = append(svc.Nodes, n)
		}
		s.Services = append(s.Services, svc)
	}
	r := &Registry{subs: map[chan struct{}]struct{}{}}
	r.snap.Store(s)
	return r
}

// Snapshot returns the current snapshot without locking.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// Subscribe returns a channel that receives a signal after changes (several
// changes may fold into one signal) and a function that ends the subscription.
func (r *Registry) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.subs, ch)
		r.mu.Unlock()
	}
}

// Set records a result for a configured replica. It reports whether any
// status (replica, node, service or page) changed.
func (r *Registry) Set(ref Ref, res Result) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	oldRep := old.Services[ref.Service].Nodes[ref.Node].Replicas[ref.Replica]
	rep := &Replica{ID: oldRep.ID, Status: res.Status, Checked: res.At,
		Latency: res.Latency, Error: res.Err, Load: res.Load, Queue: res.Queue}
	return r.replaceReplicas(old, ref.Service, ref.Node, res.At, func(reps []*Replica) []*Replica {
		out := make([]*Replica, len(reps))
		copy(out, reps)
		out[ref.Replica] = rep
		return out
	}, oldRep.Status != rep.Status || oldRep.Checked.IsZero(), checkedDelta(oldRep, rep))
}

// Upsert records a result for a replica of a push or local node by name,
// adding the replica when it is new. It reports whether any status changed.
func (r *Registry) Upsert(service, node int, replicaID string, res Result) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	reps := old.Services[service].Nodes[node].Replicas
	rep := &Replica{ID: replicaID, Status: res.Status, Checked: res.At,
		Latency: res.Latency, Error: res.Err, Load: res.Load, Queue: res.Queue}
	idx := indexOf(reps, replicaID)
	structural := idx < 0 || reps[idx].Status != rep.Status
	delta := 0
	if idx >= 0 {
		delta = checkedDelta(reps[idx], rep)
	} else if rep.Checked.IsZero() {
		delta = 1
	}
	return r.replaceReplicas(old, service, node, res.At, func(reps []*Replica) []*Replica {
		if idx < 0 {
			out := make([]*Replica, len(reps), len(reps)+1)
			copy(out, reps)
			return append(out, rep)
		}
		out := make([]*Replica, len(reps))
		copy(out, reps)
		out[idx] = rep
		return out
	}, structural, delta)
}

// Remove drops a replica of a push or local node by name. It reports whether
// the replica existed.
func (r *Registry) Remove(service, node int, replicaID string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	reps := old.Services[service].Nodes[node].Replicas
	idx := indexOf(reps, replicaID)
	if idx < 0 {
		return false
	}
	delta := 0
	if reps[idx].Checked.IsZero() {
		delta = -1
	}
	r.replaceReplicas(old, service, node, now, func(reps []*Replica) []*Replica {
		out := make([]*Replica, 0, len(reps)-1)
		out = append(out, reps[:idx]...)
		return append(out, reps[idx+1:]...)
	}, true, delta)
	return true
}

// FindNode returns the positions of a service and node by id.
func (s *Snapshot) FindNode(serviceID, nodeID string) (service, node int, ok bool) {
	for si, svc := range s.Services {
		if svc.ID != serviceID {
			continue
		}
		for ni, n := range svc.Nodes {
			if n.ID == nodeID {
				return si, ni, true
			}
		}
		return si, -1, false
	}
	return -1, -1, false
}

// checkedDelta is how replacing old by new changes Snapshot.Unchecked.
func checkedDelta(old, new *Replica) int {
	switch {
	case old.Checked.IsZero() && !new.Checked.IsZero():
		return -1
	case !old.Checked.IsZero() && new.Checked.IsZero():
		return 1
	}
	return 0
}

func indexOf(reps []*Replica, id string) int {
	for i, r := range reps {
		if r.ID == id {
			return i
		}
	}
	return -1
}

// replaceReplicas rebuilds the path from the root to one node with a new
// replica list, recomputes the aggregates on that path and publishes the new
// snapshot. Caller holds r.mu.
func (r *Registry) replaceReplicas(old *Snapshot, si, ni int, now time.Time, edit func([]*Replica) []*Replica, structural bool, uncheckedDelta int) bool {
	oldSvc := old.Services[si]
	oldNode := oldSvc.Nodes[ni]

	node := *oldNode
	node.Replicas = edit(oldNode.Replicas)
	node.Status = Healthy
	for _, rep := range node.Replicas {
		node.Status = Worst(node.Status, rep.Status)
	}

	svc := *oldSvc
	svc.Nodes = make([]*Node, len(oldSvc.Nodes))
	copy(svc.Nodes, oldSvc.Nodes)
	svc.Nodes[ni] = &node
	svc.Status = Healthy
	for _, n := range svc.Nodes {
		svc.Status = Worst(svc.Status, n.Status)
	}

	snap := &Snapshot{Version: old.Version + 1, StatusVersion: old.StatusVersion,
		Changed: old.Changed, Updated: now, Unchecked: old.Unchecked + uncheckedDelta}
	snap.Services = make([]*Service, len(old.Services))
	copy(snap.Services, old.Services)
	snap.Services[si] = &svc
	for _, s := range snap.Services {
		snap.Status = Worst(snap.Status, s.Status)
	}
	if snap.Status != old.Status {
		snap.Changed = now
	}
	if structural {
		snap.StatusVersion++
	}
	r.snap.Store(snap)
	for ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return structural
}
