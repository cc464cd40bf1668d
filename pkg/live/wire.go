package live

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// What the feed sends. Every message is one JSON object whose "type" says
// which of these it is. They hold what the public page shows and nothing
// more: labels, ids and statuses, replicas named as the page names them
// (page.ReplicaNames: "replica 1", … unless the node reveals names), no
// URL, error or latency, and only the incidents and announcements the page
// lists.

// snapshotMsg is the first message on every connection, and the one sent
// again when the tree changed in a way events do not tell.
type snapshotMsg struct {
	Type          string            `json:"type"` // "snapshot"
	Page          pageOut           `json:"page"`
	Services      []serviceOut      `json:"services"`
	Announcements []announcementOut `json:"announcements"`
	Incidents     []incidentOut     `json:"incidents"`
}

type pageOut struct {
	Status string `json:"status"`
	Since  string `json:"since,omitempty"` // when it took a status other than healthy
}

type serviceOut struct {
	ID     string    `json:"id"`
	Label  string    `json:"label"`
	Status string    `json:"status"`
	Nodes  []nodeOut `json:"nodes"`
}

type nodeOut struct {
	ID       string       `json:"id"`
	Label    string       `json:"label"`
	Status   string       `json:"status"`
	Since    string       `json:"since,omitempty"`
	Replicas []replicaOut `json:"replicas"`
}

type replicaOut struct {
	Index  int    `json:"index"` // 1-based position in its node
	Name   string `json:"name"`
	Status string `json:"status"`
	NoData bool   `json:"no_data,omitempty"` // never checked: the page shows it grey
	Stale  bool   `json:"stale,omitempty"`   // the last status known before a restart
}

// statusMsg tells what changed between two snapshots of the registry:
// the page's status, services', nodes' (with their replica count, which
// push nodes change) and replicas' by position.
type statusMsg struct {
	Type     string          `json:"type"` // "status"
	Page     *pageOut        `json:"page,omitempty"`
	Services []serviceChange `json:"services,omitempty"`
	Nodes    []nodeChange    `json:"nodes,omitempty"`
	Replicas []replicaChange `json:"replicas,omitempty"`
}

type serviceChange struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type nodeChange struct {
	Service  string `json:"service"`
	ID       string `json:"id"`
	Status   string `json:"status"`
	Since    string `json:"since,omitempty"`
	Replicas int    `json:"replicas"` // how many it has now
}

type replicaChange struct {
	Service string `json:"service"`
	Node    string `json:"node"`
	replicaOut
}

// monitorMsg tells of nodes added to a service or taken out of it, as
// dynamic targets are.
type monitorMsg struct {
	Type    string      `json:"type"` // "monitor"
	Added   []addedNode `json:"added,omitempty"`
	Removed []nodeRef   `json:"removed,omitempty"`
}

type addedNode struct {
	Service string `json:"service"`
	nodeOut
}

type nodeRef struct {
	Service string `json:"service"`
	ID      string `json:"id"`
}

// announcementMsg and incidentMsg carry the whole list the page shows
// after a change: there are at most 100 of each.
type announcementMsg struct {
	Type          string            `json:"type"` // "announcement"
	Announcements []announcementOut `json:"announcements"`
}

type incidentMsg struct {
	Type      string        `json:"type"` // "incident"
	Incidents []incidentOut `json:"incidents"`
}

type announcementOut struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Text      string `json:"text"`
	Published string `json:"published"`
}

// incidentOut is an incident as the MCP server's get_incidents tells it.
type incidentOut struct {
	ID       string         `json:"id"`
	Title    string         `json:"title"`
	Impact   string         `json:"impact"`
	Status   string         `json:"status"`
	Affected []componentOut `json:"affected"`
	Created  string         `json:"created"`
	Updates  []updateOut    `json:"updates"` // oldest first
}

type componentOut struct {
	ID    string `json:"id"`    // "service" or "service:node"
	Label string `json:"label"` // as the page names it
}

type updateOut struct {
	At     string `json:"at"`
	Status string `json:"status"`
	Text   string `json:"text"`
}

// encode marshals a message; the types above always marshal.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("live: " + err.Error())
	}
	return b
}

func word(s status.Status) string { return min(s, status.Dead).String() }

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// since is when a status other than healthy began; "" while healthy.
func since(s status.Status, changed time.Time) string {
	if s == status.Healthy || changed.IsZero() {
		return ""
	}
	return rfc3339(changed)
}

// look is what the page shows of a replica.
type look struct {
	status        status.Status
	noData, stale bool
}

func lookOf(r *status.Replica) look {
	return look{status: min(r.Status, status.Dead), noData: r.Checked.IsZero(), stale: r.Stale}
}

func replica(i int, name string, r *status.Replica) replicaOut {
	l := lookOf(r)
	return replicaOut{Index: i + 1, Name: name, Status: l.status.String(), NoData: l.noData, Stale: l.stale}
}

// hiddenName is the page's name of replica i of a node that hides names.
func hiddenName(i int) string { return "replica " + strconv.Itoa(i+1) }

// node is a whole node as the snapshot and monitor events tell it.
func node(n *status.Node) nodeOut {
	out := nodeOut{ID: n.ID, Label: n.Label, Status: word(n.Status), Since: since(n.Status, n.Changed),
		Replicas: make([]replicaOut, n.Replicas.Len())}
	var names []string
	if n.RevealReplicaName {
		names = page.ReplicaNames(n)
	}
	for i, r := range n.Replicas.All() {
		name := hiddenName(i)
		if names != nil {
			name = names[i]
		}
		out.Replicas[i] = replica(i, name, r)
	}
	return out
}

func snapshotOf(snap *status.Snapshot, anns []announcementOut, incs []incidentOut) snapshotMsg {
	m := snapshotMsg{Type: "snapshot", Page: pageOut{Status: word(snap.Status), Since: since(snap.Status, snap.Changed)},
		Services: make([]serviceOut, len(snap.Services)), Announcements: anns, Incidents: incs}
	for i, svc := range snap.Services {
		s := serviceOut{ID: svc.ID, Label: svc.Label, Status: word(svc.Status), Nodes: make([]nodeOut, svc.Nodes.Len())}
		for j, n := range svc.Nodes.All() {
			s.Nodes[j] = node(n)
		}
		m.Services[i] = s
	}
	return m
}

func announcements(list []store.Announcement) []announcementOut {
	out := make([]announcementOut, len(list))
	for i, a := range list {
		out[i] = announcementOut{ID: a.ID, Title: a.Title, Text: a.Text, Published: rfc3339(a.Published)}
	}
	return out
}

func incidents(list []store.Incident, snap *status.Snapshot) []incidentOut {
	out := make([]incidentOut, len(list))
	for i, inc := range list {
		v := incidentOut{ID: inc.ID, Title: inc.Title, Impact: inc.Impact, Status: inc.Status, Created: rfc3339(inc.Created),
			Affected: make([]componentOut, len(inc.Affected)), Updates: make([]updateOut, len(inc.Updates))}
		for j, c := range inc.Affected {
			id := c.Service
			if c.Node != "" {
				id += ":" + c.Node
			}
			v.Affected[j] = componentOut{ID: id, Label: page.Label(c, snap)}
		}
		for j, u := range inc.Updates {
			v.Updates[j] = updateOut{At: rfc3339(u.At), Status: u.Status, Text: u.Text}
		}
		out[i] = v
	}
	return out
}
