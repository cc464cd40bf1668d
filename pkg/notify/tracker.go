package notify

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// outgoing is a message and the audience it goes to.
type outgoing struct {
	msg      *Message
	audience int // index into tracker.auds
}

// listedEntry is a replica a message named, as it was then.
type listedEntry struct {
	node   nodeKey
	id     string
	name   string
	status status.Status
}

// tracker turns the snapshots it is shown into messages. It decides, node
// by node, what counts as a change, when a coalescing window closes, when
// a reminder is due and which alerts wait (maintenance, a parent that is
// down); it never blocks and never reads the clock itself, so tests drive
// it with any times they like. The dispatcher's loop owns it.
type tracker struct {
	rules
	auds   []audience
	listed [][]listedEntry // per audience: the replicas its last message named

	version  uint64                   // of the last snapshot observed
	services []*status.Service        // as of the last update
	tree     [][]*node                // per service, per node, in page order
	nodes    map[nodeKey]*node        // on the page, or gone but not yet announced so
	held     map[store.Component]bool // under maintenance
	again    bool                     // look at every node at the next observe

	windowEnd  time.Time // zero: no change waiting to be announced
	reminderAt time.Time // the earliest of the nodes' reminders; zero: none
	graceAt    time.Time // the earliest end of a hold after a parent recovered
}

func newTracker(r rules, channels []string) *tracker {
	t := &tracker{rules: r, auds: r.audiences(channels), nodes: map[nodeKey]*node{}}
	t.listed = make([][]listedEntry, len(t.auds))
	return t
}

// level is what a change is measured on: sick counts only with notify_sick.
func (t *tracker) level(s status.Status) status.Status {
	if s == status.Sick && !t.notifySick {
		return status.Healthy
	}
	return s
}

// hold replaces the set of services and nodes under maintenance: their
// alerts wait while it lasts, and are sent when it ends if still due.
func (t *tracker) hold(held map[store.Component]bool) {
	if maps.Equal(held, t.held) {
		return
	}
	t.held = held
	t.again = true
}

// isHeld reports whether the node's alerts wait at now: it is under
// maintenance, a parent is down, or a parent recovered so recently that
// the node's own replicas have not all been checked since.
func (t *tracker) isHeld(n *node, now time.Time) bool {
	if t.held[store.Component{Service: n.key.service}] || t.held[store.Component{Service: n.key.service, Node: n.key.node}] {
		return true
	}
	for _, p := range n.parents {
		if p.down() {
			return true
		}
	}
	return !n.graceUntil.IsZero() && now.Before(n.graceUntil) && !n.freshSince(n.graceFrom)
}

// pending: the node's level differs from what was announced, and nothing holds it.
func (t *tracker) pending(n *node, now time.Time) bool {
	return t.level(n.seen()) != n.notified && !t.isHeld(n, now)
}

// observe takes in a snapshot: the results that arrived since the last one
// move the replicas' dead streaks on, and a node whose level now differs
// from the one announced opens a coalescing window.
func (t *tracker) observe(snap *status.Snapshot, now time.Time) {
	if snap.Version == t.version && !t.again {
		return
	}
	t.version = snap.Version
	pending := t.update(snap, now)
	if t.again {
		t.again = false
		for _, n := range t.nodes {
			pending = pending || t.pending(n, now)
		}
	}
	if pending {
		t.open(now)
	}
}

func (t *tracker) open(now time.Time) {
	if t.windowEnd.IsZero() {
		t.windowEnd = now.Add(t.window)
	}
}

// update brings the nodes up to date with snap and reports whether one of
// those that changed is now pending. Snapshots share unchanged services and
// nodes with their predecessor, so an update only walks what changed.
func (t *tracker) update(snap *status.Snapshot, now time.Time) bool {
	pending, relink := false, false
	for si, svc := range snap.Services {
		var prev *status.Service
		if si < len(t.services) {
			prev = t.services[si]
		}
		if prev == svc {
			continue
		}
		if si >= len(t.services) {
			t.services = append(t.services, nil)
			t.tree = append(t.tree, nil)
		}
		t.services[si] = svc
		if !t.sameNodes(si, prev, svc) {
			t.reshape(si, svc)
			relink, prev = true, nil
		}
		for c := range svc.Nodes.Chunks() {
			if prev != nil && svc.Nodes.SharesChunk(prev.Nodes, c) {
				continue // no node in it changed
			}
			for ni := c * status.ChunkSize; ni < min((c+1)*status.ChunkSize, svc.Nodes.Len()); ni++ {
				n, sn := t.tree[si][ni], svc.Nodes.At(ni)
				if n.cur == sn {
					continue
				}
				wasDown := n.down()
				n.update(sn)
				pending = t.touched(n, wasDown, now) || pending
			}
		}
	}
	if len(snap.Services) < len(t.services) {
		for si := len(snap.Services); si < len(t.services); si++ {
			for _, n := range t.tree[si] {
				t.gone(n)
			}
		}
		t.services, t.tree = t.services[:len(snap.Services)], t.tree[:len(snap.Services)]
		relink, t.again = true, true
	}
	if relink {
		t.link()
		t.again = true
	}
	return pending
}

// sameNodes reports whether service si still has the nodes it had, as of
// prev (nil: unknown); only chunks that changed since are looked at.
func (t *tracker) sameNodes(si int, prev, svc *status.Service) bool {
	have := t.tree[si]
	if len(have) != svc.Nodes.Len() {
		return false
	}
	for c := range svc.Nodes.Chunks() {
		if prev != nil && svc.Nodes.SharesChunk(prev.Nodes, c) {
			continue
		}
		for i := c * status.ChunkSize; i < min((c+1)*status.ChunkSize, svc.Nodes.Len()); i++ {
			if n := svc.Nodes.At(i); have[i].key.node != n.ID || have[i].key.service != svc.ID {
				return false
			}
		}
	}
	return true
}

// reshape matches the nodes of service si to svc's, keeping what is known
// of those that stay.
func (t *tracker) reshape(si int, svc *status.Service) {
	old := t.tree[si]
	nodes := make([]*node, svc.Nodes.Len())
	kept := make(map[*node]bool, len(nodes))
	for ni, sn := range svc.Nodes.All() {
		k := nodeKey{svc.ID, sn.ID}
		n, ok := t.nodes[k]
		if !ok {
			n = newNode(k, t.rules.of(k))
			t.nodes[k] = n
		}
		n.order = si<<32 | ni
		n.label = labelOf(svc, sn)
		nodes[ni] = n
		kept[n] = true
	}
	t.tree[si] = nodes
	for _, n := range old {
		if !kept[n] {
			t.gone(n)
		}
	}
}

// gone takes a node off the page: it counts as healthy, and is forgotten
// once that is announced (at once, when nothing was).
func (t *tracker) gone(n *node) {
	n.update(nil)
	if n.notified == status.Healthy {
		delete(t.nodes, n.key)
	}
}

func labelOf(svc *status.Service, n *status.Node) string {
	label := svc.Label
	if label == "" {
		label = svc.ID
	}
	if svc.Nodes.Len() == 1 {
		return label
	}
	nl := n.Label
	if nl == "" {
		nl = n.ID
	}
	return label + " · " + nl
}

// link resolves depends_on between the nodes present.
func (t *tracker) link() {
	for _, n := range t.nodes {
		n.parents, n.children = n.parents[:0], n.children[:0]
	}
	for _, n := range t.nodes {
		for _, pk := range n.rules.parents {
			if p, ok := t.nodes[pk]; ok && p != n {
				n.parents = append(n.parents, p)
				p.children = append(p.children, n)
			}
		}
	}
}

// touched looks at a node that has a new value: whether it is pending, and
// when it went up or down, whether its children are.
func (t *tracker) touched(n *node, wasDown bool, now time.Time) bool {
	pending := t.pending(n, now)
	if wasDown == n.down() || len(n.children) == 0 {
		return pending
	}
	for _, c := range n.children {
		if wasDown {
			// The parent is back; the child's own replicas get a probe
			// interval to show whether they are back too.
			c.graceFrom, c.graceUntil = now, now.Add(c.rules.grace)
			if t.graceAt.IsZero() || c.graceUntil.Before(t.graceAt) {
				t.graceAt = c.graceUntil
			}
		}
		pending = t.pending(c, now) || pending
	}
	return pending
}

// next is when due should be called again; zero when nothing is planned.
func (t *tracker) next() time.Time {
	out := t.windowEnd
	for _, at := range []time.Time{t.reminderAt, t.graceAt} {
		if !at.IsZero() && (out.IsZero() || at.Before(out)) {
			out = at
		}
	}
	return out
}

// due returns the messages whose time has come at now.
func (t *tracker) due(now time.Time) []outgoing {
	if !t.graceAt.IsZero() && !now.Before(t.graceAt) {
		t.endGraces(now)
	}
	var out []outgoing
	if !t.windowEnd.IsZero() && !now.Before(t.windowEnd) {
		t.windowEnd = time.Time{}
		out = append(out, t.announce(now)...)
	}
	if !t.reminderAt.IsZero() && !now.Before(t.reminderAt) {
		out = append(out, t.remind(now)...)
	}
	return out
}

// endGraces ends the holds after a parent's recovery that are over, and
// opens a window when a node they held is pending.
func (t *tracker) endGraces(now time.Time) {
	t.graceAt = time.Time{}
	for _, n := range t.nodes {
		if n.graceUntil.IsZero() {
			continue
		}
		if now.Before(n.graceUntil) {
			if t.graceAt.IsZero() || n.graceUntil.Before(t.graceAt) {
				t.graceAt = n.graceUntil
			}
			continue
		}
		n.graceFrom, n.graceUntil = time.Time{}, time.Time{}
		if t.pending(n, now) {
			t.open(now)
		}
	}
}

// inPageOrder lists nodes as the page does; nodes gone from it come last.
func inPageOrder(nodes []*node) []*node {
	slices.SortFunc(nodes, func(a, b *node) int {
		if (a.cur == nil) != (b.cur == nil) {
			if a.cur == nil {
				return 1
			}
			return -1
		}
		return a.order - b.order
	})
	return nodes
}

// announce closes a coalescing window: every audience hears of the nodes
// it follows whose level changed.
func (t *tracker) announce(now time.Time) []outgoing {
	var changed []*node
	for _, n := range t.nodes {
		if t.pending(n, now) {
			changed = append(changed, n)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	inPageOrder(changed)
	var out []outgoing
	for ai, aud := range t.auds {
		var nodes []NodeChange
		for _, n := range changed {
			if aud.hears[n.rules.route] {
				nodes = append(nodes, NodeChange{Service: n.key.service, Node: n.key.node, Label: n.label,
					Old: n.notified, New: t.level(n.seen())})
			}
		}
		if len(nodes) == 0 {
			continue
		}
		m := t.message(Changed, ai, t.heard(ai, now), now)
		m.Nodes = nodes
		out = append(out, outgoing{m, ai})
	}
	for _, n := range changed {
		n.notified = t.level(n.seen())
		n.backoff, n.reminders, n.reminderAt = 1, 0, time.Time{}
		if n.notified == status.Dead && n.rules.interval > 0 {
			n.reminderAt = now.Add(n.rules.gap(1))
		}
		if n.cur == nil {
			delete(t.nodes, n.key)
		}
	}
	t.planReminders()
	return out
}

// heard lists, in page order, the nodes audience ai follows whose alerts
// are not held.
func (t *tracker) heard(ai int, now time.Time) []*node {
	var out []*node
	for _, n := range t.nodes {
		if t.auds[ai].hears[n.rules.route] && !t.isHeld(n, now) {
			out = append(out, n)
		}
	}
	return inPageOrder(out)
}

// remind sends the reminders due at now, together with those due within
// the coalescing window, so that nodes that went down together are
// reminded of together.
func (t *tracker) remind(now time.Time) []outgoing {
	horizon := now.Add(t.window)
	var due []*node
	for _, n := range t.nodes {
		if !n.reminderAt.IsZero() && !n.reminderAt.After(horizon) {
			due = append(due, n)
		}
	}
	inPageOrder(due)
	var sent []*node
	var out []outgoing
	if t.windowEnd.IsZero() && !t.silenced(now) {
		// A change about to be announced or a silence skips the
		// reminders; so does a hold. They keep their pace.
		for _, n := range due {
			if !t.isHeld(n, now) {
				sent = append(sent, n)
			}
		}
		for ai, aud := range t.auds {
			var nodes []*node
			escalation := 0
			for _, n := range sent {
				if aud.hears[n.rules.route] {
					nodes = append(nodes, n)
					escalation = max(escalation, n.reminders+1)
				}
			}
			if len(nodes) == 0 {
				continue
			}
			m := t.message(Reminder, ai, nodes, now)
			for _, n := range nodes {
				m.Nodes = append(m.Nodes, NodeChange{Service: n.key.service, Node: n.key.node, Label: n.label,
					Old: n.notified, New: n.notified})
			}
			if t.escalate {
				m.Escalation = escalation
			}
			out = append(out, outgoing{m, ai})
		}
	}
	for _, n := range due {
		if slices.Contains(sent, n) {
			n.reminders++
			if n.backoff < n.rules.limit {
				n.backoff++
			}
		}
		n.reminderAt = now.Add(n.rules.gap(n.backoff))
	}
	t.planReminders()
	return out
}

// planReminders finds the earliest reminder of any node.
func (t *tracker) planReminders() {
	t.reminderAt = time.Time{}
	for _, n := range t.nodes {
		if !n.reminderAt.IsZero() && (t.reminderAt.IsZero() || n.reminderAt.Before(t.reminderAt)) {
			t.reminderAt = n.reminderAt
		}
	}
}

// startup is the messages sent once at boot, one per audience. They
// announce the status as a change would: what they say is not said again
// as a change, and reminders follow for what is dead.
func (t *tracker) startup(now time.Time) []outgoing {
	var out []outgoing
	for ai := range t.auds {
		out = append(out, outgoing{t.message(Startup, ai, t.heard(ai, now), now), ai})
	}
	for _, n := range t.nodes {
		if t.isHeld(n, now) {
			continue // not announced; alerted when the hold ends, if due
		}
		lvl := t.level(n.seen())
		if lvl != n.notified {
			n.backoff, n.reminders, n.reminderAt = 1, 0, time.Time{}
			if lvl == status.Dead && n.rules.interval > 0 {
				n.reminderAt = now.Add(n.rules.gap(1))
			}
		}
		n.notified = lvl
	}
	t.planReminders()
	t.windowEnd = time.Time{} // a change waiting is what the notice just said
	return out
}

// status is what audience ai is told the page's status is: the worst of
// the nodes it follows whose alerts are not held.
func (t *tracker) status(ai int, now time.Time) status.Status {
	st := status.Healthy
	for _, n := range t.nodes {
		if t.auds[ai].hears[n.rules.route] && !t.isHeld(n, now) {
			st = status.Worst(st, n.seen())
		}
	}
	return st
}

// message builds a message for audience ai about the nodes in scope: the
// replicas they hold that messages name, those named last time that are
// not named any more, and every replica whose status differs from the one
// last named.
func (t *tracker) message(kind Kind, ai int, scope []*node, now time.Time) *Message {
	m := &Message{Kind: kind, Status: t.status(ai, now), Time: now, PageTitle: t.title, PageURL: t.url}
	var named []affected
	inScope := make(map[nodeKey]*node, len(scope))
	for _, n := range scope {
		inScope[n.key] = n
		named = n.affectedReplicas(named, t.notifySick)
	}
	// The dead first, then the sick, so that a capped list shows the worst.
	slices.SortStableFunc(named, func(a, b affected) int { return int(b.status) - int(a.status) })

	before := map[string]listedEntry{}
	var kept []listedEntry // entries of nodes out of scope stay as they are
	for _, e := range t.listed[ai] {
		if _, ok := inScope[e.node]; ok {
			before[e.name] = e
		} else if _, known := t.nodes[e.node]; known {
			kept = append(kept, e)
		}
	}
	names := make([]string, len(named))
	var changes []Change
	namedNow := make(map[string]struct{}, len(named))
	for i, a := range named {
		names[i] = a.name
		namedNow[a.name] = struct{}{}
		old := status.Healthy
		if e, ok := before[a.name]; ok {
			old = e.status
		}
		if old != a.status {
			changes = append(changes, Change{Replica: a.name, Old: old, New: a.status, Reason: a.reason})
		}
		kept = append(kept, listedEntry{node: a.node.key, id: a.id, name: a.name, status: a.status})
	}
	var recovered []string
	for _, e := range t.listed[ai] {
		if _, ok := before[e.name]; !ok {
			continue
		}
		if _, still := namedNow[e.name]; still {
			continue
		}
		recovered = append(recovered, e.name)
		c := Change{Replica: e.name, Old: e.status, Gone: true}
		if r := inScope[e.node].replica(e.id); r != nil {
			c.New, c.Gone, c.Reason = inScope[e.node].seenReplica(r), false, r.Error
		}
		changes = append(changes, c)
	}
	t.listed[ai] = kept
	m.Replicas, m.More = capped(names)
	m.Recovered, m.RecoveredMore = capped(recovered)
	m.Changes, m.ChangesMore = cappedChanges(changes)
	return m
}

// capped splits a list at MaxListed and says how many were left out.
func capped(names []string) (listed []string, more int) {
	if len(names) <= MaxListed {
		return names, 0
	}
	return names[:MaxListed:MaxListed], len(names) - MaxListed
}

func cappedChanges(cs []Change) ([]Change, int) {
	if len(cs) <= MaxListed {
		return cs, 0
	}
	return cs[:MaxListed:MaxListed], len(cs) - MaxListed
}

// kept is what the tracker keeps across a restart: what was last
// announced of each node and when its next reminder is due, and what each
// audience was last told.
type kept struct {
	Nodes  map[string]keptNode     `json:"nodes,omitempty"`
	Listed map[string][]keptListed `json:"listed,omitempty"` // by audience: its channels, comma separated
}

type keptNode struct {
	Notified   status.Status `json:"notified"`
	ReminderAt time.Time     `json:"reminder_at,omitzero"`
	Backoff    int           `json:"backoff"`
	Reminders  int           `json:"reminders,omitempty"`
}

type keptListed struct {
	Node   string        `json:"node"`
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	Status status.Status `json:"status"`
}

func (a audience) key() string { return strings.Join(a.channels, ",") }

func (t *tracker) marshal() []byte {
	k := kept{Nodes: map[string]keptNode{}, Listed: map[string][]keptListed{}}
	for key, n := range t.nodes {
		if n.notified != status.Healthy {
			k.Nodes[key.String()] = keptNode{Notified: n.notified, ReminderAt: n.reminderAt, Backoff: n.backoff, Reminders: n.reminders}
		}
	}
	for ai, aud := range t.auds {
		for _, e := range t.listed[ai] {
			k.Listed[aud.key()] = append(k.Listed[aud.key()], keptListed{Node: e.node.String(), ID: e.id, Name: e.name, Status: e.status})
		}
	}
	b, _ := json.Marshal(k)
	return b
}

// unmarshal takes back what marshal kept. A reminder that fell due while
// the server was down goes out at the first chance.
func (t *tracker) unmarshal(b []byte) error {
	var k kept
	if err := json.Unmarshal(b, &k); err != nil {
		return err
	}
	for key, kn := range k.Nodes {
		nk := parseNodeKey(key)
		n, ok := t.nodes[nk]
		if !ok {
			n = newNode(nk, t.rules.of(nk))
			t.nodes[nk] = n
		}
		n.notified, n.reminderAt, n.backoff, n.reminders = kn.Notified, kn.ReminderAt, max(kn.Backoff, 1), kn.Reminders
		if n.notified != status.Dead || n.rules.interval <= 0 {
			n.reminderAt = time.Time{}
		}
	}
	for ai, aud := range t.auds {
		t.listed[ai] = nil
		for _, e := range k.Listed[aud.key()] {
			t.listed[ai] = append(t.listed[ai], listedEntry{node: parseNodeKey(e.Node), id: e.ID, name: e.Name, status: e.Status})
		}
	}
	t.planReminders()
	t.link()
	t.again = true // compare every node with what was announced
	return nil
}
