package notify

import (
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// node is one node of the page as notifications see it, and what was last
// announced of it. The tracker owns every node.
//
// A replica counts as dead only once alertAfter of its own results in a
// row said dead; until then it counts as sick. A dead result of a push or
// local replica counts at once: those die of silence, after their timeout
// already waited.
type node struct {
	key   nodeKey
	label string // as headlines name it: "Web" or "Web · API"
	rules *nodeRules
	cur   *status.Node // as of the last update; nil: gone from the page
	order int          // place on the page, for messages in page order

	// streaks counts the dead results in a row of each replica whose
	// latest result was dead, up to alertAfter; confirmed counts those
	// that reached it. Nil when alertAfter is 1: then every dead result
	// counts at once and nothing needs remembering.
	streaks   map[string]int
	confirmed int

	parents  []*node // depends_on, those on the page
	children []*node

	// What people were told.
	notified   status.Status // level last announced
	reminderAt time.Time     // zero: no reminder planned
	backoff    int           // N of the next reminder gap, 1…limit
	reminders  int           // sent since the outage was announced

	// After a parent recovered, the node's alerts wait until each of its
	// replicas has a result taken since graceFrom, or until graceUntil.
	graceFrom, graceUntil time.Time
}

func newNode(k nodeKey, r *nodeRules) *node {
	n := &node{key: k, rules: r, backoff: 1}
	if r.alertAfter > 1 {
		n.streaks = map[string]int{}
	}
	return n
}

// seen is the node's status as notifications see it: the worst of its
// replicas, a dead one counting as sick until it is confirmed.
func (n *node) seen() status.Status {
	switch {
	case n.cur == nil:
		return status.Healthy
	case n.cur.Status != status.Dead || n.streaks == nil || n.confirmed > 0:
		return n.cur.Status
	default:
		return status.Sick
	}
}

// down: the node's own status is dead, confirmed or not; its children's
// alerts wait meanwhile.
func (n *node) down() bool { return n.cur != nil && n.cur.Status == status.Dead }

// seenReplica is a replica's status as notifications see it.
func (n *node) seenReplica(r *status.Replica) status.Status {
	if r.Status == status.Dead && n.streaks != nil && n.streaks[r.ID] < n.rules.alertAfter {
		return status.Sick
	}
	return r.Status
}

// setStreak sets a replica's streak (0 forgets it), keeping confirmed.
func (n *node) setStreak(id string, v int) {
	was := n.streaks[id]
	if v == 0 {
		delete(n.streaks, id)
	} else {
		n.streaks[id] = v
	}
	limit := n.rules.alertAfter
	switch {
	case was < limit && v >= limit:
		n.confirmed++
	case was >= limit && v < limit:
		n.confirmed--
	}
}

// update takes in the node's new value: every replica whose pointer
// differs from the one with its id before has had a result since. Chunks
// of replicas the two values share are skipped, so a result on a node of
// 10,000 replicas looks at one chunk.
func (n *node) update(now *status.Node) {
	before := n.cur
	n.cur = now
	if n.streaks == nil || now == before {
		return
	}
	var prev, reps status.List[*status.Replica]
	if before != nil {
		prev = before.Replicas
	}
	if now != nil {
		reps = now.Replicas
	}
	silenceKills := now != nil && (now.Mode == status.ModePush || now.Mode == status.ModeLocal)
	if prev.Len() == reps.Len() {
		same := true
		for c := range reps.Chunks() {
			if reps.SharesChunk(prev, c) {
				continue
			}
			for i := c * status.ChunkSize; i < min((c+1)*status.ChunkSize, reps.Len()); i++ {
				r, was := reps.At(i), prev.At(i)
				if r.ID != was.ID {
					same = false
					break
				}
				if r != was {
					n.count(r, was, silenceKills)
				}
			}
		}
		if same {
			return
		}
	}
	// Push replicas came or went: match them by id.
	prevByID := make(map[string]*status.Replica, prev.Len())
	for _, p := range prev.All() {
		prevByID[p.ID] = p
	}
	for _, r := range reps.All() {
		if was := prevByID[r.ID]; r != was {
			n.count(r, was, silenceKills)
		}
	}
	n.dropGone(prev, reps)
}

// count records one new result of replica r; was is its previous value
// (nil when it is new).
func (n *node) count(r, was *status.Replica, silenceKills bool) {
	if r.Status != status.Dead {
		// Only a replica last seen dead has a streak to end.
		if was == nil || was.Status == status.Dead {
			n.setStreak(r.ID, 0)
		}
		return
	}
	if silenceKills {
		n.setStreak(r.ID, n.rules.alertAfter)
		return
	}
	n.setStreak(r.ID, min(n.streaks[r.ID]+1, n.rules.alertAfter))
}

// dropGone forgets the streaks of replicas in prev that are not in now.
func (n *node) dropGone(prev, now status.List[*status.Replica]) {
	var present map[string]struct{}
	for _, p := range prev.All() {
		if p.Status != status.Dead { // only dead replicas have a streak
			continue
		}
		if present == nil {
			present = make(map[string]struct{}, now.Len())
			for _, r := range now.All() {
				present[r.ID] = struct{}{}
			}
		}
		if _, ok := present[p.ID]; !ok {
			n.setStreak(p.ID, 0)
		}
	}
}

// freshSince reports whether every replica has a result taken at t or later.
func (n *node) freshSince(t time.Time) bool {
	if n.cur == nil {
		return true
	}
	for _, r := range n.cur.Replicas.All() {
		if r.Stale || r.Checked.Before(t) {
			return false
		}
	}
	return true
}

// affected is a replica that messages name: dead, or sick with notify_sick.
type affected struct {
	node   *node
	id     string        // as the registry knows it
	name   string        // service:node:replica, password masked
	status status.Status // as notifications see it
	reason string
}

// affectedReplicas appends the replicas of the node that messages name now.
func (n *node) affectedReplicas(out []affected, includeSick bool) []affected {
	if n.cur == nil || n.cur.Status == status.Healthy || n.cur.Status == status.Sick && !includeSick {
		return out
	}
	for _, r := range n.cur.Replicas.All() {
		st := n.seenReplica(r)
		if st == status.Dead || includeSick && st == status.Sick {
			out = append(out, affected{node: n, id: r.ID, name: n.key.String() + ":" + config.MaskPassword(r.ID),
				status: st, reason: r.Error})
		}
	}
	return out
}

// replica finds a replica of the node by id.
func (n *node) replica(id string) *status.Replica {
	if n.cur == nil {
		return nil
	}
	for _, r := range n.cur.Replicas.All() {
		if r.ID == id {
			return r
		}
	}
	return nil
}
