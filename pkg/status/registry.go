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
	DependsOn         []string // "service:node" parents
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
	Nodes     List[*Node]
	count     tally // of its nodes by status
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
	// DependsOn are the "service:node" parents whose outage takes this
	// node down with them (config depends_on).
	DependsOn []string
	Replicas  List[*Replica]
	count     tally // of its replicas by status
}

// tally counts items by status, so that the worst needs no walk.
type tally [Dead + 1]int

func (t *tally) worst() Status {
	switch {
	case t[Dead] > 0:
		return Dead
	case t[Sick] > 0:
		return Sick
	}
	return Healthy
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
	Cert    *Cert         // https replicas only: the certificate the last probe saw
}

// Cert is the TLS certificate a replica showed.
type Cert struct {
	NotAfter time.Time // the certificate is not valid after this
}

// DaysLeft is how many whole days the certificate has left at now:
// negative once it has expired (-1 on its first day past NotAfter).
func (c *Cert) DaysLeft(now time.Time) int {
	left := c.NotAfter.Sub(now)
	days := int(left / (24 * time.Hour))
	if left < 0 && left%(24*time.Hour) != 0 {
		days-- // round towards the past: 3 hours after expiry is day -1
	}
	return days
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
	Cert    *Cert
}

// Ref addresses a configured replica by position; positions of configured
// (poll and script) replicas never change while the registry lives.
type Ref struct{ Service, Node, Replica int }

// Registry owns the mutable state. Writers call Set; every write builds a new
// snapshot that shares all untouched subtrees with the previous one: one
// chunk of the node's replicas, one chunk of the service's nodes and the
// list of services are copied, so an update costs about the same in a
// node of 10 replicas as in one of 10,000.
type Registry struct {
	mu       sync.Mutex
	snap     atomic.Pointer[Snapshot]
	subs     map[chan struct{}]struct{}
	recorder Recorder // nil: none
	// index finds the replicas of push and local nodes by id: per
	// {service, node} id, replica id → position. Writers keep it.
	index map[[2]string]map[string]int
	// nodeIndex finds nodes by id: per service id, node id → position.
	nodeIndex map[string]map[string]int
}

// Recorder hears every result and every status change of a node or
// service, in order, with the registry's lock held: it must not block
// (pkg/history queues them for the store).
type Recorder interface {
	// Result is a new result of replica rep of a node whose replicas get
	// their status by mode.
	Result(service, node string, mode Mode, rep *Replica)
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
		nodes := make([]*Node, 0, len(ss.Nodes))
		for _, ns := range ss.Nodes {
			n := newNode(ns, now)
			s.Unchecked += n.Replicas.Len()
			svc.count[n.Status]++
			nodes = append(nodes, n)
		}
		svc.Nodes = ListOf(nodes...)
		s.Services = append(s.Services, svc)
	}
	r := &Registry{subs: map[chan struct{}]struct{}{}, index: map[[2]string]map[string]int{}, nodeIndex: map[string]map[string]int{}}
	r.snap.Store(s)
	return r
}

// newNode is a node of spec whose replicas have no result yet.
func newNode(ns NodeSpec, now time.Time) *Node {
	n := &Node{ID: ns.ID, Label: ns.Label, Mode: ns.Mode, LinkURL: ns.LinkURL,
		LinkLabel: ns.LinkLabel, RevealReplicaName: ns.RevealReplicaName, DependsOn: ns.DependsOn, Changed: now}
	reps := make([]*Replica, len(ns.Replicas))
	for i, id := range ns.Replicas {
		reps[i] = &Replica{ID: id}
	}
	n.Replicas = ListOf(reps...)
	n.count[Healthy] = len(reps)
	return n
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
	oldRep := old.Services[ref.Service].Nodes.At(ref.Node).Replicas.At(ref.Replica)
	rep := replicaOf(oldRep.ID, res)
	return r.replace(old, ref.Service, ref.Node, ref.Replica, oldRep, rep, res.At,
		oldRep.Status != rep.Status || unchecked(oldRep), checkedDelta(oldRep, rep), true, "")
}

func replicaOf(id string, res Result) *Replica {
	return &Replica{ID: id, Status: res.Status, Checked: res.At,
		Latency: res.Latency, Error: res.Err, Load: res.Load, Queue: res.Queue, Cert: res.Cert}
}

// Keep records that a configured replica could not be checked, for a
// reason that is this server's and not the replica's (see probe.Attempt):
// the replica keeps its status, its last result's time and latency, and
// stays unchecked if it was; only its error changes, to say why. It is not
// a result: the recorder hears nothing of it.
func (r *Registry) Keep(ref Ref, reason string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	oldRep := old.Services[ref.Service].Nodes.At(ref.Node).Replicas.At(ref.Replica)
	if oldRep.Error == reason {
		return
	}
	rep := *oldRep
	rep.Error = reason
	r.replace(old, ref.Service, ref.Node, ref.Replica, oldRep, &rep, now, false, 0, false, "")
}

// replicas is the index of a push or local node's replicas, built on first use.
func (r *Registry) replicas(svc *Service, n *Node) map[string]int {
	k := [2]string{svc.ID, n.ID}
	idx, ok := r.index[k]
	if !ok {
		idx = make(map[string]int, n.Replicas.Len())
		for i, rep := range n.Replicas.All() {
			idx[rep.ID] = i
		}
		r.index[k] = idx
	}
	return idx
}

// Upsert records a result for a replica of a push or local node by name,
// adding the replica when it is new. It reports whether any status changed.
func (r *Registry) Upsert(service, node int, replicaID string, res Result) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	svc := old.Services[service]
	n := svc.Nodes.At(node)
	idx := r.replicas(svc, n)
	rep := replicaOf(replicaID, res)
	i, ok := idx[replicaID]
	if !ok {
		idx[replicaID] = n.Replicas.Len()
		delta := 0
		if unchecked(rep) {
			delta = 1
		}
		return r.replace(old, service, node, -1, nil, rep, res.At, true, delta, true, "")
	}
	oldRep := n.Replicas.At(i)
	structural := oldRep.Status != rep.Status || oldRep.Stale
	return r.replace(old, service, node, i, oldRep, rep, res.At, structural, checkedDelta(oldRep, rep), true, "")
}

// AddNode adds a node at the end of service si (a dynamic target), its
// replicas unchecked. It reports false when the service already has a
// node with that id.
func (r *Registry) AddNode(si int, ns NodeSpec, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	oldSvc := old.Services[si]
	idx := r.nodes(oldSvc)
	if _, dup := idx[ns.ID]; dup {
		return false
	}
	n := newNode(ns, now)
	idx[ns.ID] = oldSvc.Nodes.Len()
	svc := *oldSvc
	svc.Nodes = oldSvc.Nodes.Append(n)
	svc.count[n.Status]++
	svc.Status = svc.count.worst()
	if svc.Status != oldSvc.Status {
		svc.Changed = now
	}
	r.publish(old, si, &svc, now, true, n.Replicas.Len())
	return true
}

// RemoveNode drops node id of service si and reports whether it was there.
// The nodes after it move up a place.
func (r *Registry) RemoveNode(si int, id string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	oldSvc := old.Services[si]
	idx := r.nodes(oldSvc)
	ni, ok := idx[id]
	if !ok {
		return false
	}
	n := oldSvc.Nodes.At(ni)
	delete(idx, id)
	for k := ni + 1; k < oldSvc.Nodes.Len(); k++ {
		idx[oldSvc.Nodes.At(k).ID] = k - 1
	}
	delete(r.index, [2]string{oldSvc.ID, id})
	gone := 0
	for _, rep := range n.Replicas.All() {
		if unchecked(rep) {
			gone--
		}
	}
	svc := *oldSvc
	svc.Nodes = oldSvc.Nodes.Delete(ni)
	svc.count[n.Status]--
	svc.Status = svc.count.worst()
	if svc.Status != oldSvc.Status {
		svc.Changed = now
	}
	r.publish(old, si, &svc, now, true, gone)
	return true
}

// SetByID records a result for replica ri of node id of service si: the
// way to reach the nodes of a service whose nodes come and go (dynamic
// targets), whose positions change. It reports false when the node is
// gone.
func (r *Registry) SetByID(si int, id string, ri int, res Result) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	ni, ok := r.nodes(old.Services[si])[id]
	if !ok {
		return false
	}
	oldRep := old.Services[si].Nodes.At(ni).Replicas.At(ri)
	rep := replicaOf(oldRep.ID, res)
	r.replace(old, si, ni, ri, oldRep, rep, res.At, oldRep.Status != rep.Status || unchecked(oldRep), checkedDelta(oldRep, rep), true, "")
	return true
}

// KeepByID is Keep for a node found by id (see SetByID).
func (r *Registry) KeepByID(si int, id string, ri int, reason string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	ni, ok := r.nodes(old.Services[si])[id]
	if !ok {
		return
	}
	oldRep := old.Services[si].Nodes.At(ni).Replicas.At(ri)
	if oldRep.Error == reason {
		return
	}
	rep := *oldRep
	rep.Error = reason
	r.replace(old, si, ni, ri, oldRep, &rep, now, false, 0, false, "")
}

// nodes is the index of a service's nodes by id, built on first use.
// Caller holds r.mu.
func (r *Registry) nodes(svc *Service) map[string]int {
	idx, ok := r.nodeIndex[svc.ID]
	if !ok {
		idx = make(map[string]int, svc.Nodes.Len())
		for i, n := range svc.Nodes.All() {
			idx[n.ID] = i
		}
		r.nodeIndex[svc.ID] = idx
	}
	return idx
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
	n := svc.Nodes.At(node)
	idx := r.replicas(svc, n)
	i, ok := idx[replicaID]
	if !ok {
		return false
	}
	oldRep := n.Replicas.At(i)
	delta := 0
	if unchecked(oldRep) {
		delta = -1
	}
	// Those after it move up a place.
	delete(idx, replicaID)
	for k := i + 1; k < n.Replicas.Len(); k++ {
		idx[n.Replicas.At(k).ID] = k - 1
	}
	if note != "" && r.recorder != nil {
		last := *oldRep
		last.Checked, last.Error, last.Latency, last.Stale = now, note, 0, false
		r.recorder.Result(svc.ID, n.ID, n.Mode, &last)
	}
	r.replace(old, service, node, i, oldRep, nil, now, true, delta, false, note)
	return true
}

// FindNode returns the positions of a service and node by id.
func (s *Snapshot) FindNode(serviceID, nodeID string) (service, node int, ok bool) {
	for si, svc := range s.Services {
		if svc.ID != serviceID {
			continue
		}
		for ni, n := range svc.Nodes.All() {
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

// replace publishes a snapshot in which replica i of node ni of service si
// is rep instead of was: i is -1 and was nil when rep is added, rep is nil
// when was is dropped. It updates the aggregates on the path from the root
// to the node and tells the recorder (result: rep is a new result; note,
// when set, is the reason of the changes it causes instead of the
// replicas' own) and the subscribers. Caller holds r.mu.
func (r *Registry) replace(old *Snapshot, si, ni, i int, was, rep *Replica, now time.Time, structural bool, uncheckedDelta int, result bool, note string) bool {
	oldSvc := old.Services[si]
	oldNode := oldSvc.Nodes.At(ni)

	node := *oldNode
	switch {
	case was == nil:
		node.Replicas = oldNode.Replicas.Append(rep)
	case rep == nil:
		node.Replicas = oldNode.Replicas.Delete(i)
	default:
		node.Replicas = oldNode.Replicas.With(i, rep)
	}
	if was != nil {
		node.count[was.Status]--
	}
	if rep != nil {
		node.count[rep.Status]++
	}
	node.Status = node.count.worst()
	if node.Status != oldNode.Status {
		node.Changed = now
	}
	node.Fresh = oldNode.Fresh || result

	svc := *oldSvc
	svc.Nodes = oldSvc.Nodes.With(ni, &node)
	svc.count[oldNode.Status]--
	svc.count[node.Status]++
	svc.Status = svc.count.worst()
	if svc.Status != oldSvc.Status {
		svc.Changed = now
	}
	svc.Fresh = oldSvc.Fresh || node.Fresh
	if rec := r.recorder; rec != nil {
		if result {
			rec.Result(svc.ID, node.ID, node.Mode, rep)
		}
		nodeReason, svcReason := note, note
		if note == "" {
			nodeReason, svcReason = reasonOf(&node, rep), serviceReason(&svc, &node, rep)
		}
		if node.Status != oldNode.Status || node.Fresh != oldNode.Fresh {
			rec.Changed(svc.ID, node.ID, node.Status, now, nodeReason, node.Status == oldNode.Status)
		}
		if svc.Status != oldSvc.Status || svc.Fresh != oldSvc.Fresh {
			rec.Changed(svc.ID, "", svc.Status, now, svcReason, svc.Status == oldSvc.Status)
		}
	}
	r.publish(old, si, &svc, now, structural, uncheckedDelta)
	return structural
}

// publish stores a snapshot with service si replaced and tells the
// subscribers. Caller holds r.mu.
func (r *Registry) publish(old *Snapshot, si int, svc *Service, now time.Time, structural bool, uncheckedDelta int) {
	snap := &Snapshot{Version: old.Version + 1, StatusVersion: old.StatusVersion,
		Changed: old.Changed, Updated: now, Unchecked: old.Unchecked + uncheckedDelta}
	snap.Services = make([]*Service, len(old.Services))
	copy(snap.Services, old.Services)
	snap.Services[si] = svc
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
}

// Reason is why a node is not healthy: the error of its first replica in
// the node's status ("" when it is healthy).
func Reason(n *Node) string { return reasonOf(n, nil) }

// reasonOf is Reason, looking first at hint (the replica that just
// changed, nil for none): when it is in the node's status its error is
// the reason, without a walk over every replica.
func reasonOf(n *Node, hint *Replica) string {
	if n.Status == Healthy {
		return ""
	}
	if hint != nil && hint.Status == n.Status {
		return hint.Error
	}
	for _, r := range n.Replicas.All() {
		if r.Status == n.Status {
			return r.Error
		}
	}
	return ""
}

// serviceReason is why a service is not healthy: the node that just
// changed when it is in the service's status, else its first node in that
// status; and that node's reason.
func serviceReason(s *Service, changed *Node, hint *Replica) string {
	if s.Status == Healthy {
		return ""
	}
	n := changed
	if n.Status != s.Status {
		n = nil
		for _, c := range s.Nodes.All() {
			if c.Status == s.Status {
				n, hint = c, nil
				break
			}
		}
	}
	if n == nil {
		return ""
	}
	if why := reasonOf(n, hint); why != "" {
		return n.Label + ": " + why
	}
	return n.Label
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
		svc.count = tally{}
		nodes := make([]*Node, 0, oldSvc.Nodes.Len())
		for _, oldNode := range oldSvc.Nodes.All() {
			n := *oldNode
			reps := make([]*Replica, 0, oldNode.Replicas.Len())
			seen := map[string]bool{}
			for _, rep := range oldNode.Replicas.All() {
				seen[rep.ID] = true
				if res, ok := rs.Results[[3]string{svc.ID, n.ID, rep.ID}]; ok {
					rep = restored(rep.ID, res)
				}
				reps = append(reps, rep)
			}
			if n.Mode == ModePush || n.Mode == ModeLocal {
				var extra []*Replica
				for k, res := range rs.Results {
					if k[0] == svc.ID && k[1] == n.ID && !seen[k[2]] {
						extra = append(extra, restored(k[2], res))
					}
				}
				slices.SortFunc(extra, func(a, b *Replica) int { return strings.Compare(a.ID, b.ID) })
				reps = append(reps, extra...)
				delete(r.index, [2]string{svc.ID, n.ID})
			}
			n.Replicas = ListOf(reps...)
			n.count = tally{}
			for _, rep := range reps {
				n.count[rep.Status]++
				if unchecked(rep) {
					s.Unchecked++
				}
			}
			n.Status = n.count.worst()
			if at, ok := rs.Changed[[2]string{svc.ID, n.ID}]; ok {
				n.Changed = at
			}
			svc.count[n.Status]++
			nodes = append(nodes, &n)
		}
		svc.Nodes = ListOf(nodes...)
		svc.Status = svc.count.worst()
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
		Load: res.Load, Queue: res.Queue, Cert: res.Cert, Stale: true}
}

// Adopt takes over the statuses of old, a snapshot of the registry this
// one replaces (a reload of the config): every replica of a node that is
// in both, by service, node and replica id, keeps its value as it was —
// not stale — and every such node and service the time it took its
// status; push and local nodes keep all their replicas. Nodes that are
// new start unchecked. The recorder hears nothing of it. Call it before
// anything writes to the registry.
func (r *Registry) Adopt(old *Snapshot) {
	if old == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.snap.Load()
	oldNodes := map[[2]string]*Node{}
	oldServices := map[string]*Service{}
	for _, svc := range old.Services {
		oldServices[svc.ID] = svc
		for _, n := range svc.Nodes.All() {
			oldNodes[[2]string{svc.ID, n.ID}] = n
		}
	}
	s := &Snapshot{Version: cur.Version + 1, StatusVersion: cur.StatusVersion + 1, Changed: old.Changed, Updated: old.Updated}
	for _, curSvc := range cur.Services {
		svc := *curSvc
		svc.count = tally{}
		nodes := make([]*Node, 0, curSvc.Nodes.Len())
		for _, curNode := range curSvc.Nodes.All() {
			n := *curNode
			was, ok := oldNodes[[2]string{svc.ID, n.ID}]
			if ok {
				reps := make([]*Replica, 0, curNode.Replicas.Len())
				if n.Mode == ModePush || n.Mode == ModeLocal {
					reps = was.Replicas.Items()
				} else {
					byID := make(map[string]*Replica, was.Replicas.Len())
					for _, rep := range was.Replicas.All() {
						byID[rep.ID] = rep
					}
					for _, rep := range curNode.Replicas.All() {
						if o, ok := byID[rep.ID]; ok {
							rep = o
						}
						reps = append(reps, rep)
					}
				}
				n.Replicas = ListOf(reps...)
				n.Changed, n.Fresh = was.Changed, was.Fresh
				delete(r.index, [2]string{svc.ID, n.ID})
			}
			n.count = tally{}
			for _, rep := range n.Replicas.All() {
				n.count[rep.Status]++
				if unchecked(rep) {
					s.Unchecked++
				}
			}
			if st := n.count.worst(); st != n.Status {
				n.Status = st
				if !ok {
					n.Changed = s.Updated
				}
			}
			svc.count[n.Status]++
			nodes = append(nodes, &n)
		}
		svc.Nodes = ListOf(nodes...)
		svc.Status = svc.count.worst()
		if o, ok := oldServices[svc.ID]; ok && o.Status == svc.Status {
			svc.Changed, svc.Fresh = o.Changed, o.Fresh
		}
		s.Services = append(s.Services, &svc)
		s.Status = Worst(s.Status, svc.Status)
	}
	if s.Status != old.Status {
		s.Changed = s.Updated
	}
	r.snap.Store(s)
	for ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
