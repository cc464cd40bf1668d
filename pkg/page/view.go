package page

import (
	"html/template"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// What the page says for each status: glyph and word.
var (
	glyphs = [...]string{status.Healthy: "✓", status.Sick: "!", status.Dead: "✕"}
	words  = [...]string{status.Healthy: "Healthy", status.Sick: "Degraded", status.Dead: "Down"}
)

// What a broken node's line says before the time it broke.
var sinceWords = [...]string{status.Sick: "degraded since", status.Dead: "down since"}

// The banner's sentences, in words a visitor understands.
const (
	bannerOperational = "All systems operational"
	bannerDegraded    = "Degraded performance"
	bannerPartial     = "Partial outage"
	bannerMajor       = "Major outage"
)

// Glyph returns the status glyph the page and tab title use.
func Glyph(s status.Status) string { return glyphs[clamp(s)] }

// Word returns the status word shown next to nodes and services.
func Word(s status.Status) string { return words[clamp(s)] }

// Banner returns the banner's sentence for a snapshot: "All systems
// operational", "Degraded performance" (something is sick), "Partial
// outage" (something is dead) or "Major outage" (every node of some
// service is dead: the whole service is down).
func Banner(snap *status.Snapshot) string {
	switch clamp(snap.Status) {
	case status.Healthy:
		return bannerOperational
	case status.Sick:
		return bannerDegraded
	}
	for _, svc := range snap.Services {
		if svc.Nodes.Len() == 0 {
			continue
		}
		whole := true
		for _, n := range svc.Nodes.All() {
			whole = whole && n.Status >= status.Dead
		}
		if whole {
			return bannerMajor
		}
	}
	return bannerPartial
}

// Ago says how long something has lasted: "<1 min", "38 min", "2 h 5
// min", "3 d 4 h". page.js counts on in the same words.
func Ago(d time.Duration) string {
	m := int64(d / time.Minute)
	switch {
	case m < 1:
		return "<1 min"
	case m < 60:
		return strconv.FormatInt(m, 10) + " min"
	case m < 24*60:
		s := strconv.FormatInt(m/60, 10) + " h"
		if m%60 != 0 {
			s += " " + strconv.FormatInt(m%60, 10) + " min"
		}
		return s
	}
	s := strconv.FormatInt(m/(24*60), 10) + " d"
	if h := m % (24 * 60) / 60; h != 0 {
		s += " " + strconv.FormatInt(h, 10) + " h"
	}
	return s
}

func clamp(s status.Status) status.Status { return min(s, status.Dead) }

// The template's data. Strings are plain; html/template escapes them.
type pageView struct {
	Head                          *head
	Status, Glyph, Banner         string
	Since                         *sinceView // nil while healthy
	Refreshed, RefreshedISO, Zone string
	Version                       uint64
	Year                          int
	Announcements                 []announcementView
	Incidents                     []incidentView
	Windows                       []windowView
	Services                      []serviceView
	MailOn                        bool
	Choices                       []choice // services to subscribe to
}

// choice is a service a visitor may subscribe to alone.
type choice struct{ ID, Label string }

// sinceView is "since 14:02 (38 min)": when a broken status began and
// for how long it has lasted, in whole minutes (page.js counts on).
type sinceView struct {
	What         string // "since", "down since", "degraded since"
	At, ISO, For string
	Minutes      int64
}

type announcementView struct {
	ID, Title     string
	Date, DateISO string
	Text          template.HTML // escaped, with links
}

type serviceView struct {
	ID, Label, Status, Glyph, Word string
	Uptime                         string // "" without history
	Marks                          []incRef
	Nodes                          []nodeView
	MoreNodes                      string // the nodes left out: "9,900 more nodes, all healthy"
}

type nodeView struct {
	Label, Status, Glyph, Word string
	Since                      *sinceView // nil while healthy
	Because                    string     // the parent (depends_on) that is down while this node is dead: "Database"
	Until                      string     // under maintenance: when it ends
	Marks                      []incRef
	LinkURL, LinkLabel         string
	Pills                      []pillView
	MorePills                  string       // the replicas left out: "and 9,952 more: 2 dead, 9,950 healthy"
	History                    *nodeHistory // nil without history
}

type pillView struct {
	Name   string
	Class  string // "" (healthy), sick, dead or unchecked; " stale" added when the status is from before a restart
	Glyph  string // empty for healthy
	Tip    string
	NoData bool // never checked
}

func (r *Renderer) view(v View) *pageView {
	snap := v.Snapshot
	refreshed := snap.Updated
	if refreshed.IsZero() {
		refreshed = v.Now
	}
	refreshed = refreshed.In(r.loc)
	var open []Window
	for _, w := range v.Windows {
		if !v.Now.Before(w.Start) && v.Now.Before(w.End) {
			open = append(open, w)
		}
	}
	looks := lookAt(snap, open)
	pv := &pageView{
		Head:         &r.head,
		Status:       looks.page.st.String(),
		Glyph:        Glyph(looks.page.st),
		Banner:       looks.banner(snap),
		Refreshed:    refreshed.Format(time.TimeOnly),
		RefreshedISO: refreshed.Format(time.RFC3339),
		Zone:         ZoneName(refreshed),
		Version:      v.Version,
		Year:         v.Now.In(r.loc).Year(),
		MailOn:       v.MailOn,
	}
	if looks.page.maint {
		pv.Status, pv.Glyph = "maint", maintGlyph
	}
	if looks.page.st == clamp(snap.Status) {
		pv.Since = r.since("since", snap.Status, snap.Changed, v.Now)
	}
	incs := slices.Clone(v.Incidents)
	slices.SortStableFunc(incs, func(a, b Incident) int { return b.Created.Compare(a.Created) })
	for _, inc := range incs {
		pv.Incidents = append(pv.Incidents, r.incident(inc, snap, v.Now))
	}
	for _, w := range Listed(v.Windows, v.Now) {
		pv.Windows = append(pv.Windows, r.window(w, snap, v.Now))
	}
	marked := marks(incs)
	if v.MailOn {
		for _, svc := range snap.Services {
			pv.Choices = append(pv.Choices, choice{ID: svc.ID, Label: svc.Label})
		}
	}

	anns := make([]Announcement, len(v.Announcements))
	copy(anns, v.Announcements)
	sort.SliceStable(anns, func(i, j int) bool { return anns[i].Published.After(anns[j].Published) })
	for _, a := range anns {
		d := a.Published.In(r.loc)
		pv.Announcements = append(pv.Announcements, announcementView{
			ID: a.ID, Title: a.Title,
			Date: d.Format("Mon 2 Jan 2006, 15:04"), DateISO: d.Format(time.RFC3339),
			Text: Linkify(a.Text),
		})
	}

	hist := v.History
	pv.Services = make([]serviceView, len(snap.Services))
	var tip strings.Builder
	for i, svc := range snap.Services {
		sl := looks.services[i]
		sv := serviceView{ID: svc.ID, Label: svc.Label, Status: sl.st.String(),
			Glyph: Glyph(sl.st), Word: Word(sl.st), Nodes: make([]nodeView, min(svc.Nodes.Len(), maxNodes)),
			Marks: marked[store.Component{Service: svc.ID}]}
		if sl.maint {
			sv.Status, sv.Glyph, sv.Word = "maint", maintGlyph, maintWord
		}
		if hist != nil {
			if u, ok := hist.Services[svc.ID]; ok {
				sv.Uptime = uptimeLine(u, true)
			}
		}
		shownNodes, moreNodes := shown(svc.Nodes, func(n *status.Node) status.Status { return n.Status }, maxNodes)
		sv.Nodes = sv.Nodes[:len(shownNodes)]
		sv.MoreNodes = moreText(moreNodes, "node")
		for j, ni := range shownNodes {
			n := svc.Nodes.At(ni)
			nv := nodeView{Label: n.Label, Status: clamp(n.Status).String(), Glyph: Glyph(n.Status),
				Word: Word(n.Status), Since: r.since(sinceWords[clamp(n.Status)], n.Status, n.Changed, v.Now), LinkURL: n.LinkURL, LinkLabel: n.LinkLabel}
			if nv.LinkURL != "" && nv.LinkLabel == "" {
				nv.LinkLabel = "Details"
			}
			if n.Status == status.Dead {
				nv.Because = downParent(snap, n)
			}
			c := store.Component{Service: svc.ID, Node: n.ID}
			nv.Marks = marked[c]
			if looks.nodes[c].maint {
				nv.Status, nv.Glyph, nv.Word, nv.Since = "maint", maintGlyph, maintWord, nil
				nv.Until = r.until(open, c, v.Now)
			}
			shownReps, moreReps := shown(n.Replicas, func(r *status.Replica) status.Status { return r.Status }, maxPills)
			nv.Pills = make([]pillView, len(shownReps))
			for k, name := range replicaNames(n, shownReps) {
				nv.Pills[k] = r.pill(&tip, name, n.Replicas.At(shownReps[k]), v.Now)
			}
			nv.MorePills = moreText(moreReps, "")
			if hist != nil {
				nv.History = r.nodeHistory(hist, svc.ID, n, v.Now, looks.nodes[c].maint)
			}
			sv.Nodes[j] = nv
		}
		pv.Services[i] = sv
	}
	return pv
}

// until says when the last open window covering c ends: "until 23:00".
func (r *Renderer) until(open []Window, c store.Component, now time.Time) string {
	var end time.Time
	for _, w := range open {
		if w.Affects(c) && w.End.After(end) {
			end = w.End
		}
	}
	return "until " + r.clock(end, now)
}

// since describes how long a broken status has lasted; nil while healthy
// or when it is not known when it began.
func (r *Renderer) since(what string, st status.Status, changed, now time.Time) *sinceView {
	if st == status.Healthy || changed.IsZero() {
		return nil
	}
	at := changed.In(r.loc)
	d := max(now.Sub(changed), 0)
	return &sinceView{What: what, At: r.clock(at, now), ISO: at.Format(time.RFC3339), For: Ago(d), Minutes: int64(d / time.Minute)}
}

// clock is a time of day, with its date when it is not today: "14:02",
// "Tue 24 Nov 14:02", "Tue 24 Nov 2025 14:02".
func (r *Renderer) clock(t, now time.Time) string {
	t, now = t.In(r.loc), now.In(r.loc)
	switch {
	case t.YearDay() == now.YearDay() && t.Year() == now.Year():
		return t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("Mon 2 Jan 15:04")
	}
	return t.Format("Mon 2 Jan 2006 15:04")
}

// pill describes a replica. Its name is the replica's host (or its whole
// id: a push host, a script) where the node reveals names, else "replica
// N". Its tooltip reads like:
//
//	Degraded · 6.20 s
//	CPU 42% · memory 61%
//	Checked 10:42:13
//
// (the last line only for results older than freshFor).
// A replica never checked is grey and says "no data yet"; one whose
// status is the last known from before a restart says "as of" when.
func (r *Renderer) pill(tip *strings.Builder, name string, rep *status.Replica, now time.Time) pillView {
	p := pillView{Name: name}
	if rep.Status != status.Healthy {
		p.Class = clamp(rep.Status).String()
	}
	tip.Reset()
	if rep.Checked.IsZero() {
		p.Class, p.NoData = "unchecked", true
		p.Tip = "Not checked since the server started"
		return p
	}
	if rep.Status != status.Healthy {
		p.Glyph = Glyph(rep.Status)
	}
	tip.WriteString(Word(rep.Status))
	if rep.Stale {
		p.Class = strings.TrimSpace(p.Class + " stale")
		tip.WriteString(" as of ")
		tip.WriteString(r.clock(rep.Checked, now))
		tip.WriteString("\nLast known before a restart; no result since")
		p.Tip = tip.String()
		return p
	}
	if rep.Latency > 0 {
		tip.WriteString(" · ")
		tip.WriteString(Latency(rep.Latency))
	}
	if l := rep.Load; l != nil {
		tip.WriteString("\nCPU ")
		tip.WriteString(percent(l.CPU))
		tip.WriteString(" · memory ")
		tip.WriteString(percent(l.RAM))
	}
	if q := rep.Queue; q != nil {
		tip.WriteString("\nQueue: ")
		tip.WriteString(strconv.Itoa(q.Ready))
		tip.WriteString(" ready, ")
		tip.WriteString(strconv.Itoa(q.Unacked))
		tip.WriteString(" unacked")
	}
	if c := rep.Cert; c != nil {
		tip.WriteString("\nCertificate: " + certLeft(c.DaysLeft(rep.Checked)))
	}
	if now.Sub(rep.Checked) >= freshFor {
		tip.WriteString("\nChecked ")
		tip.WriteString(rep.Checked.In(r.loc).Format(time.TimeOnly))
	}
	p.Tip = tip.String()
	return p
}

// freshFor is how old a result may be for its pill not to say when it
// came: younger ones are as fresh as the page's "refreshed" time says.
const freshFor = time.Minute

// ReplicaNames names a node's replicas as the page does. Other public
// views (MCP) name them with it, so they never show more of a replica than
// the page.
func ReplicaNames(n *status.Node) []string {
	all := make([]int, n.Replicas.Len())
	for i := range all {
		all[i] = i
	}
	return replicaNames(n, all)
}

// replicaNames names a node's replicas on the page: by host where the node
// reveals names (host:port, or the whole id, where hosts repeat), else
// "replica 1", "replica 2", ….
func replicaNames(n *status.Node, which []int) []string {
	names := make([]string, len(which))
	for k, i := range which {
		rep := n.Replicas.At(i)
		if !n.RevealReplicaName {
			names[k] = "replica " + strconv.Itoa(i+1)
			continue
		}
		names[k] = rep.ID
		if u, err := url.Parse(rep.ID); err == nil && u.Hostname() != "" {
			names[k] = u.Hostname()
		}
	}
	if !n.RevealReplicaName {
		return names
	}
	for _, part := range []func(*url.URL) string{func(u *url.URL) string { return u.Host }, (*url.URL).String} {
		if !repeats(names) {
			break
		}
		for k, i := range which {
			if u, err := url.Parse(n.Replicas.At(i).ID); err == nil && u.Hostname() != "" {
				names[k] = part(u)
			}
		}
	}
	return names
}

func repeats(names []string) bool {
	seen := make(map[string]bool, len(names))
	for _, s := range names {
		if seen[s] {
			return true
		}
		seen[s] = true
	}
	return false
}

// certLeft says how long a certificate had left, in whole days as
// status.Cert.DaysLeft counts them: "42 days left", "expired 2 days ago".
func certLeft(days int) string {
	switch {
	case days == 1:
		return "1 day left"
	case days >= 0:
		return strconv.Itoa(days) + " days left"
	case days == -1:
		return "expired less than a day ago"
	case days == -2:
		return "expired 1 day ago"
	}
	return "expired " + strconv.Itoa(-days-1) + " days ago"
}

// Latency formats a probe duration for people: "87 ms", "1.24 s".
func Latency(d time.Duration) string {
	if d < time.Second {
		ms := d.Milliseconds()
		if ms == 0 {
			return "<1 ms"
		}
		return strconv.FormatInt(ms, 10) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

func percent(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 0, 64) + "%"
}

// ZoneName names the zone of t the way people read it: "CEST", "UTC",
// or "UTC+05:30" where the zone has no abbreviation.
func ZoneName(t time.Time) string {
	name, _ := t.Zone()
	if name != "" && name[0] != '+' && name[0] != '-' {
		return name
	}
	return "UTC" + t.Format("-07:00")
}

// downParent names the first parent of n (depends_on) that is dead, as
// the page labels it: "Database", or "Database · primary" in a service of
// several nodes; "" when none is.
func downParent(snap *status.Snapshot, n *status.Node) string {
	for _, p := range n.DependsOn {
		svcID, nodeID, _ := strings.Cut(p, ":")
		si, ni, ok := snap.FindNode(svcID, nodeID)
		if !ok {
			continue
		}
		svc := snap.Services[si]
		if parent := svc.Nodes.At(ni); parent.Status == status.Dead {
			if svc.Nodes.Len() == 1 {
				return svc.Label
			}
			return svc.Label + " · " + parent.Label
		}
	}
	return ""
}

// A node shows at most maxPills replicas and a service at most maxNodes
// nodes: a page of 10,000 push hosts or dynamic targets would be
// megabytes, and nobody reads 10,000 pills. The rest are counted.
const (
	maxPills = 48
	maxNodes = 100
)

// shown picks which items of l the page shows, in their order: all when
// they fit in max; else every one that is not healthy (up to max), then
// healthy ones in order. more counts the others by status.
func shown[T any](l status.List[T], statusOf func(T) status.Status, max int) (which []int, more [status.Dead + 1]int) {
	if l.Len() <= max {
		which = make([]int, l.Len())
		for i := range which {
			which[i] = i
		}
		return which, more
	}
	pick := make([]bool, l.Len())
	n := 0
	for i, v := range l.All() {
		if n < max && statusOf(v) != status.Healthy {
			pick[i] = true
			n++
		}
	}
	for i := range pick {
		if n == max {
			break
		}
		if !pick[i] && statusOf(l.At(i)) == status.Healthy {
			pick[i] = true
			n++
		}
	}
	which = make([]int, 0, max)
	for i, v := range l.All() {
		if pick[i] {
			which = append(which, i)
		} else {
			more[statusOf(v)]++
		}
	}
	return which, more
}

// moreText counts what was left out: "and 9,950 more, all healthy" or "and 120 more:
// 118 healthy, 2 dead"; noun ("node") follows the count when given.
func moreText(more [status.Dead + 1]int, noun string) string {
	total := more[status.Healthy] + more[status.Sick] + more[status.Dead]
	if total == 0 {
		return ""
	}
	head := "and " + thousands(total) + " more"
	if noun != "" {
		head = thousands(total) + " more " + noun
		if total != 1 {
			head += "s"
		}
	}
	var parts []string
	for _, st := range []status.Status{status.Dead, status.Sick, status.Healthy} {
		if more[st] > 0 {
			parts = append(parts, thousands(more[st])+" "+st.String())
		}
	}
	if len(parts) == 1 {
		return head + ", all " + st1(parts[0])
	}
	return head + ": " + strings.Join(parts, ", ")
}

// st1 is the status word of "12 healthy".
func st1(part string) string {
	_, word, _ := strings.Cut(part, " ")
	return word
}

// thousands writes n with commas: 10,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
