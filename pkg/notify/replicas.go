package notify

import (
	"maps"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/store"

	"github.com/overvakt/overvakt/pkg/status"
)

// affected is a replica that messages name: dead, or sick with notify_sick.
type affected struct {
	name   string        // service:node:replica, password masked
	status status.Status // as notifications see it
}

// replicaKey names a replica across snapshots: services and nodes keep their
// positions while the registry lives, and replica ids are unique in a node.
type replicaKey struct {
	service, node int
	replica       string
}

// pageView is the page as notifications see it. A replica counts as dead
// only once alert_after of its own results in a row said dead; until then
// it counts as sick. A dead result of a push or local replica counts at
// once: those die of silence, after their timeout already waited. Snapshots share unchanged services and
// nodes with their predecessor, so an update only walks what changed.
type pageView struct {
	alertAfter  int
	includeSick bool

	services []*status.Service // as of the last update
	views    []serviceView     // per service, in page order
	// tally counts the services per view status, so that status (the
	// worst of views) needs no walk over every service.
	tally  [status.Dead + 1]int
	status status.Status

	// held are the services and nodes under maintenance: their replicas
	// are not named and their status does not count while it lasts.
	held  map[store.Component]bool
	again bool // held changed: look at every service in the next update

	// streaks counts the dead results in a row of each replica whose latest
	// result was dead, up to alertAfter. Nil when alertAfter is 1: then
	// every dead result counts at once and nothing needs remembering.
	streaks map[replicaKey]int
}

// serviceView is one service as notifications see it.
type serviceView struct {
	status   status.Status
	affected []affected // in page order
}

func newPageView(alertAfter int, includeSick bool) pageView {
	v := pageView{alertAfter: alertAfter, includeSick: includeSick}
	if alertAfter > 1 {
		v.streaks = map[replicaKey]int{}
	}
	return v
}

// hold replaces the set of services and nodes under maintenance; the next
// update then looks at every service again.
func (v *pageView) hold(held map[store.Component]bool) {
	if maps.Equal(held, v.held) {
		return
	}
	v.held = held
	v.again = true
}

func (v *pageView) isHeld(service, node string) bool {
	return v.held[store.Component{Service: service, Node: node}] || v.held[store.Component{Service: service}]
}

// update brings the view up to date with snap.
func (v *pageView) update(snap *status.Snapshot) {
	if len(v.services) != len(snap.Services) {
		v.services = make([]*status.Service, len(snap.Services))
		v.views = make([]serviceView, len(snap.Services))
		v.tally = [status.Dead + 1]int{status.Healthy: len(snap.Services)}
		clear(v.streaks)
	}
	for i, svc := range snap.Services {
		old := v.services[i]
		if old != svc {
			v.countResults(i, old, svc)
			v.services[i] = svc
		}
		if old != svc || v.again {
			v.tally[v.views[i].status]--
			v.views[i] = v.serviceView(i, svc, v.views[i].affected[:0])
			v.tally[v.views[i].status]++
		}
	}
	v.again = false
	switch {
	case v.tally[status.Dead] > 0:
		v.status = status.Dead
	case v.tally[status.Sick] > 0:
		v.status = status.Sick
	default:
		v.status = status.Healthy
	}
}

// countResults updates the streaks of the replicas of svc that have a new
// result since old (nil: none seen yet).
func (v *pageView) countResults(si int, old, svc *status.Service) {
	if v.streaks == nil {
		return
	}
	for ni, n := range svc.Nodes {
		var before *status.Node
		if old != nil && ni < len(old.Nodes) {
			before = old.Nodes[ni]
		}
		if n != before {
			v.countNode(si, ni, before, n)
		}
	}
}

// countNode counts the new results of node n against before (nil: none
// seen yet). Every result makes a new *Replica, so a replica whose pointer
// differs from the one with its id before has had a result since.
func (v *pageView) countNode(si, ni int, before, n *status.Node) {
	var prev []*status.Replica
	if before != nil {
		prev = before.Replicas
	}
	silenceKills := n.Mode == status.ModePush || n.Mode == status.ModeLocal
	moved := len(prev) != len(n.Replicas) // push replicas came or went
	var prevByID map[string]*status.Replica
	for i, r := range n.Replicas {
		var was *status.Replica
		switch {
		case i < len(prev) && prev[i].ID == r.ID:
			was = prev[i]
		case len(prev) > 0:
			moved = true
			if prevByID == nil {
				prevByID = make(map[string]*status.Replica, len(prev))
				for _, p := range prev {
					prevByID[p.ID] = p
				}
			}
			was = prevByID[r.ID]
		}
		if r != was {
			v.count(replicaKey{si, ni, r.ID}, r.Status, was, silenceKills)
		}
	}
	if moved {
		v.dropGone(si, ni, prev, n.Replicas)
	}
}

// count records one new result of a replica; was is its previous value
// (nil when it is new).
func (v *pageView) count(k replicaKey, st status.Status, was *status.Replica, silenceKills bool) {
	if st != status.Dead {
		// Only a replica last seen dead has a streak to end.
		if was == nil || was.Status == status.Dead {
			delete(v.streaks, k)
		}
		return
	}
	if silenceKills {
		v.streaks[k] = v.alertAfter
		return
	}
	v.streaks[k] = min(v.streaks[k]+1, v.alertAfter)
}

// dropGone forgets the streaks of replicas in prev that are not in now.
func (v *pageView) dropGone(si, ni int, prev, now []*status.Replica) {
	var present map[string]struct{}
	for _, p := range prev {
		if p.Status != status.Dead { // only dead replicas have a streak
			continue
		}
		if present == nil {
			present = make(map[string]struct{}, len(now))
			for _, r := range now {
				present[r.ID] = struct{}{}
			}
		}
		if _, ok := present[p.ID]; !ok {
			delete(v.streaks, replicaKey{si, ni, p.ID})
		}
	}
}

// seen is a replica's status as notifications see it: a dead replica not
// yet confirmed counts as sick.
func (v *pageView) seen(si, ni int, r *status.Replica) status.Status {
	if r.Status == status.Dead && v.streaks != nil && v.streaks[replicaKey{si, ni, r.ID}] < v.alertAfter {
		return status.Sick
	}
	return r.Status
}

func (v *pageView) counts(st status.Status) bool {
	return st == status.Dead || v.includeSick && st == status.Sick
}

func (v *pageView) serviceView(si int, svc *status.Service, out []affected) serviceView {
	sv := serviceView{status: status.Healthy, affected: out}
	if svc.Status == status.Healthy {
		return sv
	}
	for ni, n := range svc.Nodes {
		switch {
		case n.Status == status.Healthy:
			continue
		case v.isHeld(svc.ID, n.ID):
			continue // under maintenance: alerted when it ends, if still broken
		case n.Status == status.Sick && !v.includeSick:
			// No dead replica in it, and sick ones are not named.
			sv.status = status.Worst(sv.status, status.Sick)
			continue
		}
		for _, r := range n.Replicas {
			st := v.seen(si, ni, r)
			sv.status = status.Worst(sv.status, st)
			if v.counts(st) {
				sv.affected = append(sv.affected, affected{name: svc.ID + ":" + n.ID + ":" + config.MaskPassword(r.ID), status: st})
			}
		}
	}
	return sv
}

// names lists the affected replicas: the dead ones first, then the sick
// ones, each in page order, so a capped list shows the worst first.
func (v *pageView) names() []string {
	var out []string
	for _, want := range []status.Status{status.Dead, status.Sick} {
		for _, sv := range v.views {
			for _, a := range sv.affected {
				if a.status == want {
					out = append(out, a.name)
				}
			}
		}
	}
	return out
}

// capped splits a list at MaxListed and says how many were left out.
func capped(names []string) (listed []string, more int) {
	if len(names) <= MaxListed {
		return names, 0
	}
	return names[:MaxListed:MaxListed], len(names) - MaxListed
}
