package status

import (
	"slices"
	"strings"
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
	// Unchecked counts replicas that have no result since the start (none
	// at all, or only a stale one from before it); 0 means the first sweep
	// is complete and Status reflects what was observed since.
	Unchecked int
	Services  []*Service
}

type Service struct {
	ID, Label string
	Status    Status
	Changed   time.Time // when Status took its current value
	Fresh     bool      // some node has a result since the start
	Nodes     []*Node
}

type Node struct {
	ID, Label         string
	Mode              Mode
	Status            Status
	Changed           time.Time // when Status took its current value
	Fresh             bool      // some replica has a result since the start
	LinkURL           string
	LinkLabel         string
	RevealReplicaName bool
	Replicas          []*Replica
}

type Replica struct {
	ID      string // URL, script name or the name a reporter gave
	Status  Status
	Checked time.Time // zero until the first result arrives
	// Stale: Status and Checked are the last ones known from before the
	// server started; no result has come since.
	Stale   bool
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
	mu       sync.Mutex
	snap     atomic.Pointer[Snapshot]
	subs     map[chan struct{}]struct{}
	recorder Recorder // nil: none
}

// Recorder hears every result and every status change of a node or
// service, in order, with the registry's lock held: it must not block
// (pkg/history queues them for the store).
type Recorder interface {
	// Result is a new result of replica rep of a node.
	Result(service, node string, rep *Replica)
	// Changed is a node (node set) or service (node "") taking status st at
	// at; reason is why, when it is not healthy. resumed: the status is the
	// one it had, and this is its first result since the start, so from at
	// on there is data again.
	Changed(service, node string, st Status, at time.Time, reason string, resumed bool)
}

// SetRecorder makes r hear every result and change from now on.
func (r *Registry) SetRecorder(rec Recorder) {
	r.mu.Lock()
	r.recorder = rec
	r.mu.Unlock()
}

// NewRegistry builds the tree; every replica starts healthy and unchecked.
func NewRegistry(specs []ServiceSpec, now time.Time) *Registry {
	s := &Snapshot{Version: 1, StatusVersion: 1, Changed: now, Updated: now}
	for _, ss := range specs {
		svc := &Service{ID: ss.ID, Label: ss.Label, Changed: now}
		for _, ns := range ss.Nodes {
			n := &Node{ID: ns.ID, Label: ns.Label, Mode: ns.Mode, LinkURL: ns.LinkURL,
				LinkLabel: ns.LinkLabel, RevealReplicaName: ns.RevealReplicaName, Changed: now}
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
	}, oldRep.Status != rep.Status || unchecked(oldRep), checkedDelta(oldRep, rep), rep, "")
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
	structural := idx < 0 || reps[idx].Status != rep.Status || reps[idx].Stale
	delta := 0
	if idx >= 0 {
		delta = checkedDelta(reps[idx], rep)
	} else if unchecked(rep) {
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
	}, structural, delta, rep, "")
}

// Remove drops a replica of a push or local node by name. It reports whether
// the replica existed.
func (r *Registry) Remove(service, node int, replicaID string, now time.Time) bool {
	return r.RemoveNoted(service, node, replicaID, now, "")
}

// RemoveNoted is Remove that leaves a note in the history: the recorder
// hears a last result of the replica, with its status and note as the
// reason, and note is the reason of the node's and service's changes
// the removal causes. An empty note is Remove.
func (r *Registry) RemoveNoted(service, node int, replicaID string, now time.Time, note string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	svc := old.Services[service]
	reps := svc.Nodes[node].Replicas
	idx := indexOf(reps, replicaID)
	if idx < 0 {
		return false
	}
	delta := 0
	if unchecked(reps[idx]) {
		delta = -1
	}
	if note != "" && r.recorder != nil {
		last := *reps[idx]
		last.Checked, last.Error, last.Latency, last.Stale = now, note, 0, false
		r.recorder.Result(svc.ID, svc.Nodes[node].ID, &last)
	}
	r.replaceReplicas(old, service, node, now, func(reps []*Replica) []*Replica {
		out := make([]*Replica, 0, len(reps)-1)
		out = append(out, reps[:idx]...)
		return append(out, reps[idx+1:]...)
	}, true, delta, nil, note)
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

// unchecked: no result since the start.
func unchecked(r *Replica) bool { return r.Checked.IsZero() || r.Stale }

// checkedDelta is how replacing old by new changes Snapshot.Unchecked.
func checkedDelta(old, new *Replica) int {
	switch {
	case unchecked(old) && !unchecked(new):
		return -1
	case !unchecked(old) && unchecked(new):
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
// snapshot. result is the new replica when the edit is a result (the
// recorder hears it), nil otherwise. reason, when set, is the reason of
// the changes recorded instead of the replicas' own. Caller holds r.mu.
func (r *Registry) replaceReplicas(old *Snapshot, si, ni int, now time.Time, edit func([]*Replica) []*Replica, structural bool, uncheckedDelta int, result *Replica, reason string) bool {
	oldSvc := old.Services[si]
	oldNode := oldSvc.Nodes[ni]

	node := *oldNode
	node.Replicas = edit(oldNode.Replicas)
	node.Status = Healthy
	for _, rep := range node.Replicas {
		node.Status = Worst(node.Status, rep.Status)
	}
	if node.Status != oldNode.Status {
		node.Changed = now
	}
	node.Fresh = oldNode.Fresh || result != nil

	svc := *oldSvc
	svc.Nodes = make([]*Node, len(oldSvc.Nodes))
	copy(svc.Nodes, oldSvc.Nodes)
	svc.Nodes[ni] = &node
	svc.Status = Healthy
	for _, n := range svc.Nodes {
		svc.Status = Worst(svc.Status, n.Status)
	}
	if svc.Status != oldSvc.Status {
		svc.Changed = now
	}
	svc.Fresh = oldSvc.Fresh || node.Fresh
	if rec := r.recorder; rec != nil {
		if result != nil {
			rec.Result(svc.ID, node.ID, result)
		}
		nodeReason, svcReason := reason, reason
		if reason == "" {
			nodeReason, svcReason = Reason(&node), serviceReason(&svc)
		}
		if node.Status != oldNode.Status || node.Fresh != oldNode.Fresh {
			rec.Changed(svc.ID, node.ID, node.Status, now, nodeReason, node.Status == oldNode.Status)
		}
		if svc.Status != oldSvc.Status || svc.Fresh != oldSvc.Fresh {
			rec.Changed(svc.ID, "", svc.Status, now, svcReason, svc.Status == oldSvc.Status)
		}
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

// Reason is why a node is not healthy: the error of its first replica in
// the node's status ("" when it is healthy).
func Reason(n *Node) string {
	if n.Status == Healthy {
		return ""
	}
	for _, r := range n.Replicas {
		if r.Status == n.Status {
			return r.Error
		}
	}
	return ""
}

// serviceReason is why a service is not healthy: its first node in the
// service's status, and that node's reason.
func serviceReason(s *Service) string {
	if s.Status == Healthy {
		return ""
	}
	for _, n := range s.Nodes {
		if n.Status == s.Status {
			if why := Reason(n); why != "" {
				return n.Label + ": " + why
			}
			return n.Label
		}
	}
	return ""
}

// Restored is what a registry remembers from before the server started.
type Restored struct {
	// Results are the last known results, by service, node and replica id.
	// Replicas of push and local nodes that are not in the tree yet are
	// added; results of replicas no longer configured are ignored.
	Results map[[3]string]Result
	// Changed is when each node ({service, node}) and service ({service,
	// ""}) took its last known status.
	Changed map[[2]string]time.Time
}

// Restore shows the last known statuses, marked Stale, until fresh results
// replace them. The recorder hears nothing of it. Call it before anything
// writes to the registry.
func (r *Registry) Restore(rs Restored) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	s := &Snapshot{Version: old.Version + 1, StatusVersion: old.StatusVersion + 1, Changed: old.Changed, Updated: old.Updated}
	for _, oldSvc := range old.Services {
		svc := *oldSvc
		svc.Nodes = make([]*Node, len(oldSvc.Nodes))
		svc.Status = Healthy
		for ni, oldNode := range oldSvc.Nodes {
			n := *oldNode
			n.Replicas = make([]*Replica, 0, len(oldNode.Replicas))
			seen := map[string]bool{}
			for _, rep := range oldNode.Replicas {
				seen[rep.ID] = true
				if res, ok := rs.Results[[3]string{svc.ID, n.ID, rep.ID}]; ok {
					rep = restored(rep.ID, res)
				}
				n.Replicas = append(n.Replicas, rep)
			}
			if n.Mode == ModePush || n.Mode == ModeLocal {
				var extra []*Replica
				for k, res := range rs.Results {
					if k[0] == svc.ID && k[1] == n.ID && !seen[k[2]] {
						extra = append(extra, restored(k[2], res))
					}
				}
				slices.SortFunc(extra, func(a, b *Replica) int { return strings.Compare(a.ID, b.ID) })
				n.Replicas = append(n.Replicas, extra...)
			}
			n.Status = Healthy
			for _, rep := range n.Replicas {
				n.Status = Worst(n.Status, rep.Status)
				if unchecked(rep) {
					s.Unchecked++
				}
			}
			if at, ok := rs.Changed[[2]string{svc.ID, n.ID}]; ok {
				n.Changed = at
			}
			svc.Nodes[ni] = &n
			svc.Status = Worst(svc.Status, n.Status)
		}
		if at, ok := rs.Changed[[2]string{svc.ID, ""}]; ok {
			svc.Changed = at
		}
		s.Services = append(s.Services, &svc)
		s.Status = Worst(s.Status, svc.Status)
	}
	// The page took its status when the first service still in it did, or,
	// healthy, when the last one recovered.
	var changed time.Time
	for _, svc := range s.Services {
		switch {
		case svc.Status != s.Status:
		case changed.IsZero():
			changed = svc.Changed
		case s.Status == Healthy && svc.Changed.After(changed), s.Status != Healthy && svc.Changed.Before(changed):
			changed = svc.Changed
		}
	}
	if !changed.IsZero() {
		s.Changed = changed
	}
	r.snap.Store(s)
	for ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func restored(id string, res Result) *Replica {
	return &Replica{ID: id, Status: res.Status, Checked: res.At, Latency: res.Latency, Error: res.Err,
		Load: res.Load, Queue: res.Queue, Stale: true}
}
