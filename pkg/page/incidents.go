package page

import (
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// Incident is an incident told on the page.
type Incident = notice.Incident

// Window is a maintenance window.
type Window = notice.Window

// Ahead is how far ahead the page and the feed show maintenance.
const Ahead = 14 * 24 * time.Hour

// maxWindows bounds the windows listed on the page.
const maxWindows = 10

// What the page says of maintenance: a glyph (text, not emoji) and words.
const (
	maintGlyph  = "⚒\ufe0e"
	maintWord   = "Under maintenance"
	maintBanner = "Under maintenance"
)

var (
	impactWords = map[string]string{"minor": "Minor", "major": "Major", "critical": "Critical"}
	phaseWords  = map[string]string{"investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring", "resolved": "Resolved"}
)

type incidentView struct {
	ID, Title           string
	Impact, ImpactWord  string
	Phase, PhaseWord    string
	Affected            string // "Website · Customer dashboard, Public API"
	Began, BeganISO     string
	Duration            string // resolved ones: how long it lasted
	Updates             []updateView
	Resolved, EndedISO  string
	resolvedAt, created time.Time
}

type updateView struct {
	Phase, PhaseWord string
	When, WhenISO    string
	Text             template.HTML
}

// incRef marks a service or node row with an open incident affecting it.
type incRef struct {
	ID, Impact, Word string
}

type windowView struct {
	ID, Title     string
	Active        bool
	When, WhenISO string // "Sat 5 Dec, 22:00–23:00 UTC"
	Until         string // while active: "23:00 UTC"
	Affected      string
	Text          template.HTML
}

// incident describes an incident with its timeline, newest first.
func (r *Renderer) incident(inc Incident, snap *status.Snapshot, now time.Time) incidentView {
	began := inc.Created.In(r.loc)
	v := incidentView{ID: inc.ID, Title: inc.Title, Impact: inc.Impact, ImpactWord: impactWords[inc.Impact],
		Phase: inc.Status, PhaseWord: phaseWords[inc.Status], Affected: r.labels(inc.Affected, snap),
		Began: r.clock(began, now), BeganISO: began.Format(time.RFC3339), resolvedAt: inc.Resolved, created: inc.Created}
	if !inc.Resolved.IsZero() {
		v.Duration = span(inc.Resolved.Sub(inc.Created))
		v.Resolved = r.clockFrom(inc.Resolved, inc.Created)
		v.EndedISO = inc.Resolved.In(r.loc).Format(time.RFC3339)
	}
	for i := len(inc.Updates) - 1; i >= 0; i-- {
		u := inc.Updates[i]
		at := u.At.In(r.loc)
		v.Updates = append(v.Updates, updateView{Phase: u.Status, PhaseWord: phaseWords[u.Status],
			When: r.clock(at, now), WhenISO: at.Format(time.RFC3339), Text: r.md.HTML(u.Text)})
	}
	return v
}

// labels names components as the page does: "Website" for a service,
// "Website · Customer dashboard" for a node; ids for ones no longer in
// the config.
func (r *Renderer) labels(cs []store.Component, snap *status.Snapshot) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = Label(c, snap)
	}
	return strings.Join(names, ", ")
}

// Label names a service or node as the page does, by its labels ("Web ·
// API"), or by its id ("web:api") when it is no longer in the config.
// Other public views (MCP) name components with it.
func Label(c store.Component, snap *status.Snapshot) string {
	if snap == nil {
		return name(c)
	}
	si, ni, _ := snap.FindNode(c.Service, c.Node)
	switch {
	case si < 0:
		return name(c)
	case c.Node == "":
		return snap.Services[si].Label
	case ni < 0:
		return snap.Services[si].Label + " · " + c.Node
	}
	return snap.Services[si].Label + " · " + snap.Services[si].Nodes.At(ni).Label
}

func name(c store.Component) string {
	if c.Node == "" {
		return c.Service
	}
	return c.Service + ":" + c.Node
}

// window describes a maintenance window: "Sat 5 Dec, 22:00–23:00 UTC",
// with both dates when it ends on another day.
func (r *Renderer) window(w Window, snap *status.Snapshot, now time.Time) windowView {
	start, end := w.Start.In(r.loc), w.End.In(r.loc)
	when := start.Format("Mon 2 Jan, 15:04") + "–"
	if end.YearDay() != start.YearDay() || end.Year() != start.Year() {
		when += end.Format("Mon 2 Jan, ")
	}
	when += end.Format("15:04") + " " + ZoneName(end)
	v := windowView{ID: w.ID, Title: w.Title, When: when, WhenISO: start.Format(time.RFC3339),
		Active: !now.Before(w.Start) && now.Before(w.End), Affected: r.labels(w.Affected, snap)}
	if v.Active {
		v.Until = r.clock(end, now) + " " + ZoneName(end)
	}
	if w.Text != "" {
		v.Text = r.md.HTML(w.Text)
	}
	return v
}

// Listed picks the windows the page and the feed show from ws: those open
// at now and those starting within Ahead, a repeating one from the config
// only once (its next time), by start, at most maxWindows.
func Listed(ws []Window, now time.Time) []Window {
	var out []Window
	seen := map[string]bool{}
	for _, w := range ws {
		if !w.End.After(now) || w.Start.After(now.Add(Ahead)) {
			continue
		}
		if series, ok := seriesOf(w.ID); ok {
			if seen[series] {
				continue
			}
			seen[series] = true
		}
		out = append(out, w)
	}
	slices.SortStableFunc(out, func(a, b Window) int { return a.Start.Compare(b.Start) })
	if len(out) > maxWindows {
		out = out[:maxWindows]
	}
	return out
}

// seriesOf returns the series of a window of the config ("config-<i>-<start>"),
// which repeats under one title.
func seriesOf(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, "config-")
	if !ok {
		return "", false
	}
	i, _, ok := strings.Cut(rest, "-")
	return "config-" + i, ok
}

// look is how a service or node shows while windows are open: its own
// status, or maintenance.
type look struct {
	st    status.Status
	maint bool
}

// looks works out the page's view of what is under maintenance: nodes
// covered by an open window show "Under maintenance", and count for
// nothing else; a service is as bad as its other nodes, or under
// maintenance when they are fine (as notifications see it).
type looks struct {
	nodes    map[store.Component]look
	services []look
	page     look
	any      bool // some window is open
}

func lookAt(snap *status.Snapshot, open []Window) looks {
	l := looks{page: look{st: status.Healthy}, services: make([]look, len(snap.Services))}
	if len(open) == 0 {
		for i, svc := range snap.Services {
			l.services[i] = look{st: clamp(svc.Status)}
		}
		l.page.st = clamp(snap.Status)
		return l
	}
	l.any = true
	l.nodes = map[store.Component]look{}
	covered := func(c store.Component) bool {
		for _, w := range open {
			if w.Affects(c) {
				return true
			}
		}
		return false
	}
	anyMaint := false
	for i, svc := range snap.Services {
		worst, maint := status.Healthy, false
		for _, n := range svc.Nodes.All() {
			c := store.Component{Service: svc.ID, Node: n.ID}
			if covered(c) {
				l.nodes[c] = look{maint: true}
				maint = true
				continue
			}
			worst = status.Worst(worst, clamp(n.Status))
		}
		if svc.Nodes.Len() == 0 {
			worst = clamp(svc.Status)
		}
		l.services[i] = look{st: worst, maint: maint && worst == status.Healthy || covered(store.Component{Service: svc.ID})}
		anyMaint = anyMaint || maint
		l.page.st = status.Worst(l.page.st, worst)
	}
	l.page.maint = anyMaint && l.page.st == status.Healthy
	return l
}

// banner is Banner with nodes under maintenance left out.
func (l looks) banner(snap *status.Snapshot) string {
	if !l.any {
		return Banner(snap)
	}
	switch {
	case l.page.maint:
		return maintBanner
	case l.page.st == status.Healthy:
		return bannerOperational
	case l.page.st == status.Sick:
		return bannerDegraded
	}
	for _, svc := range snap.Services {
		whole, some := true, false
		for _, n := range svc.Nodes.All() {
			if l.nodes[store.Component{Service: svc.ID, Node: n.ID}].maint {
				continue
			}
			some = true
			whole = whole && n.Status >= status.Dead
		}
		if some && whole {
			return bannerMajor
		}
	}
	return bannerPartial
}

// marks maps each service ("web") and node ("web:api") to the open
// incidents naming it.
func marks(open []Incident) map[store.Component][]incRef {
	out := map[store.Component][]incRef{}
	for _, inc := range open {
		ref := incRef{ID: inc.ID, Impact: inc.Impact, Word: impactWords[inc.Impact] + " incident"}
		for _, c := range inc.Affected {
			out[c] = append(out[c], ref)
		}
	}
	return out
}
