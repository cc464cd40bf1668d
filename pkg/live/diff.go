package live

import (
	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
)

// differ turns successive registry snapshots into events. Snapshots share
// every unchanged service, node chunk and replica chunk with the one
// before, so a step looks only at what changed: one result on a node of
// 10,000 replicas compares one chunk of 64. The hub's owner goroutine
// owns it.
type differ struct {
	snap *status.Snapshot // as of the last step
	// named keeps the page's names of the replicas of nodes that reveal
	// them, since naming looks at every replica of the node (hosts that
	// repeat are told apart). They are named again only when the node's
	// replicas come or go.
	named map[nodeRef]*names
}

type names struct {
	reps  status.List[*status.Replica] // the replicas named
	names []string
}

func newDiffer(snap *status.Snapshot) *differ {
	return &differ{snap: snap, named: map[nodeRef]*names{}}
}

// step moves on to snap and returns what changed; resync reports a change
// events do not tell (services came or went), after which clients need a
// new snapshot.
func (d *differ) step(snap *status.Snapshot) (st *statusMsg, mon *monitorMsg, resync bool) {
	old := d.snap
	d.snap = snap
	if snap == old {
		return nil, nil, false
	}
	if len(snap.Services) != len(old.Services) {
		d.named = map[nodeRef]*names{}
		return nil, nil, true
	}
	st, mon = &statusMsg{Type: "status"}, &monitorMsg{Type: "monitor"}
	if p := (pageOut{Status: word(snap.Status), Since: since(snap.Status, snap.Changed)}); p != (pageOut{Status: word(old.Status), Since: since(old.Status, old.Changed)}) {
		st.Page = &p
	}
	for si, svc := range snap.Services {
		was := old.Services[si]
		if svc == was {
			continue
		}
		if svc.ID != was.ID {
			d.named = map[nodeRef]*names{}
			return nil, nil, true
		}
		if word(svc.Status) != word(was.Status) {
			st.Services = append(st.Services, serviceChange{ID: svc.ID, Status: word(svc.Status)})
		}
		if sameNodes(was.Nodes, svc.Nodes) {
			for c := range svc.Nodes.Chunks() {
				if svc.Nodes.SharesChunk(was.Nodes, c) {
					continue
				}
				for i := c * status.ChunkSize; i < min((c+1)*status.ChunkSize, svc.Nodes.Len()); i++ {
					if n, o := svc.Nodes.At(i), was.Nodes.At(i); n != o {
						d.node(st, svc.ID, o, n)
					}
				}
			}
			continue
		}
		d.reshaped(st, mon, svc, was)
	}
	if st.Page == nil && st.Services == nil && st.Nodes == nil && st.Replicas == nil {
		st = nil
	}
	if mon.Added == nil && mon.Removed == nil {
		mon = nil
	}
	return st, mon, false
}

// sameNodes reports whether two lists of nodes hold the same nodes, by id,
// in the same places; only chunks that changed are looked at.
func sameNodes(a, b status.List[*status.Node]) bool {
	if a.Len() != b.Len() {
		return false
	}
	for c := range b.Chunks() {
		if b.SharesChunk(a, c) {
			continue
		}
		for i := c * status.ChunkSize; i < min((c+1)*status.ChunkSize, b.Len()); i++ {
			if a.At(i).ID != b.At(i).ID {
				return false
			}
		}
	}
	return true
}

// reshaped compares a service whose nodes came, went or moved: by id. It
// walks the service's nodes (not their replicas), as the registry did to
// add or remove one.
func (d *differ) reshaped(st *statusMsg, mon *monitorMsg, svc, was *status.Service) {
	before := make(map[string]*status.Node, was.Nodes.Len())
	for _, n := range was.Nodes.All() {
		before[n.ID] = n
	}
	for _, n := range svc.Nodes.All() {
		o, ok := before[n.ID]
		switch {
		case !ok:
			mon.Added = append(mon.Added, addedNode{Service: svc.ID, nodeOut: node(n)})
		case o != n:
			d.node(st, svc.ID, o, n)
		}
		delete(before, n.ID)
	}
	// What is left is gone, told in the order the page had it.
	for _, n := range was.Nodes.All() {
		if _, gone := before[n.ID]; gone {
			ref := nodeRef{Service: svc.ID, ID: n.ID}
			mon.Removed = append(mon.Removed, ref)
			delete(d.named, ref)
		}
	}
}

// node adds what changed between two values of a node: its status and
// replica count, and each replica whose status or name changed, by
// position. Chunks of replicas the two share are skipped.
func (d *differ) node(st *statusMsg, service string, was, n *status.Node) {
	if word(n.Status) != word(was.Status) || since(n.Status, n.Changed) != since(was.Status, was.Changed) || n.Replicas.Len() != was.Replicas.Len() {
		st.Nodes = append(st.Nodes, nodeChange{Service: service, ID: n.ID, Status: word(n.Status),
			Since: since(n.Status, n.Changed), Replicas: n.Replicas.Len()})
	}
	var before, after []string // names, where the node reveals them
	renamed := false
	if n.RevealReplicaName {
		ref := nodeRef{Service: service, ID: n.ID}
		before, _ = d.names(ref, was)
		after, renamed = d.names(ref, n)
	}
	name := func(names []string, i int) string {
		if names == nil {
			return hiddenName(i)
		}
		return names[i]
	}
	for c := range n.Replicas.Chunks() {
		if !renamed && n.Replicas.SharesChunk(was.Replicas, c) {
			continue
		}
		for i := c * status.ChunkSize; i < min((c+1)*status.ChunkSize, n.Replicas.Len()); i++ {
			r := n.Replicas.At(i)
			if i < was.Replicas.Len() {
				p := was.Replicas.At(i)
				if p == r && !renamed || lookOf(p) == lookOf(r) && name(before, i) == name(after, i) {
					continue
				}
			}
			st.Replicas = append(st.Replicas, replicaChange{Service: service, Node: n.ID, replicaOut: replica(i, name(after, i), r)})
		}
	}
}

// names returns the page's names of n's replicas, and whether they were
// made anew, which walks every replica of the node: only when replicas
// came or went since the last time, or the first time.
func (d *differ) names(ref nodeRef, n *status.Node) ([]string, bool) {
	kept := d.named[ref]
	if kept != nil && sameReplicas(kept.reps, n.Replicas) {
		kept.reps = n.Replicas
		return kept.names, false
	}
	kept = &names{reps: n.Replicas, names: page.ReplicaNames(n)}
	d.named[ref] = kept
	return kept.names, true
}

// sameReplicas reports whether two lists hold replicas of the same ids in
// the same places; only chunks that changed are looked at.
func sameReplicas(a, b status.List[*status.Replica]) bool {
	if a.Len() != b.Len() {
		return false
	}
	for c := range b.Chunks() {
		if b.SharesChunk(a, c) {
			continue
		}
		for i := c * status.ChunkSize; i < min((c+1)*status.ChunkSize, b.Len()); i++ {
			if a.At(i).ID != b.At(i).ID {
				return false
			}
		}
	}
	return true
}
