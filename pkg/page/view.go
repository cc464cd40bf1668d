package page

import (
	"html/template"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// What the page says for each status: glyph, word and banner sentence.
var (
	glyphs  = [...]string{status.Healthy: "✓", status.Sick: "!", status.Dead: "✕"}
	words   = [...]string{status.Healthy: "Healthy", status.Sick: "Degraded", status.Dead: "Down"}
	banners = [...]string{
		status.Healthy: "All systems report as healthy",
		status.Sick:    "Minor service slowdown ongoing",
		status.Dead:    "Partial service outage ongoing",
	}
)

// Glyph returns the status glyph the page and tab title use.
func Glyph(s status.Status) string { return glyphs[clamp(s)] }

// Word returns the status word shown next to nodes and services.
func Word(s status.Status) string { return words[clamp(s)] }

// Banner returns the page banner sentence for a page status.
func Banner(s status.Status) string { return banners[clamp(s)] }

func clamp(s status.Status) status.Status { return min(s, status.Dead) }

// The template's data. Strings are plain; html/template escapes them.
type pageView struct {
	Head                          *head
	Status, Glyph, Banner         string
	Refreshed, RefreshedISO, Zone string
	Version                       uint64
	Year                          int
	Announcements                 []announcementView
	Services                      []serviceView
}

type announcementView struct {
	ID, Title     string
	Date, DateISO string
	Text          template.HTML // escaped, with links
}

type serviceView struct {
	ID, Label, Status, Glyph, Word string
	Nodes                          []nodeView
}

type nodeView struct {
	Label, Status, Glyph, Word string
	LinkURL, LinkLabel         string
	Pills                      []pillView
}

type pillView struct {
	N     int
	Class string // status name, or "unchecked"
	Glyph string // empty for healthy: a plain number reads as fine
	Tip   string
}

func (r *Renderer) view(v View) *pageView {
	snap := v.Snapshot
	refreshed := snap.Updated
	if refreshed.IsZero() {
		refreshed = v.Now
	}
	refreshed = refreshed.In(r.loc)
	pv := &pageView{
		Head:         &r.head,
		Status:       clamp(snap.Status).String(),
		Glyph:        Glyph(snap.Status),
		Banner:       Banner(snap.Status),
		Refreshed:    refreshed.Format(time.TimeOnly),
		RefreshedISO: refreshed.Format(time.RFC3339),
		Zone:         ZoneName(refreshed),
		Version:      v.Version,
		Year:         v.Now.In(r.loc).Year(),
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

	pv.Services = make([]serviceView, len(snap.Services))
	var tip strings.Builder
	for i, svc := range snap.Services {
		sv := serviceView{ID: svc.ID, Label: svc.Label, Status: clamp(svc.Status).String(),
			Glyph: Glyph(svc.Status), Word: Word(svc.Status), Nodes: make([]nodeView, len(svc.Nodes))}
		for j, n := range svc.Nodes {
			nv := nodeView{Label: n.Label, Status: clamp(n.Status).String(), Glyph: Glyph(n.Status),
				Word: Word(n.Status), LinkURL: n.LinkURL, LinkLabel: n.LinkLabel}
			if nv.LinkURL != "" && nv.LinkLabel == "" {
				nv.LinkLabel = "Details"
			}
			nv.Pills = make([]pillView, len(n.Replicas))
			for k, rep := range n.Replicas {
				nv.Pills[k] = r.pill(&tip, n, k, rep)
			}
			sv.Nodes[j] = nv
		}
		pv.Services[i] = sv
	}
	return pv
}

// pill describes replica k of node n; its tooltip reads like:
//
//	Replica 1: https://api.example.com/health
//	Healthy · 123 ms · poll
//	Checked 10:42:13
func (r *Renderer) pill(tip *strings.Builder, n *status.Node, k int, rep *status.Replica) pillView {
	p := pillView{N: k + 1, Class: clamp(rep.Status).String()}
	tip.Reset()
	tip.WriteString("Replica ")
	tip.WriteString(strconv.Itoa(k + 1))
	if n.RevealReplicaName {
		tip.WriteString(": ")
		tip.WriteString(rep.ID)
	}
	tip.WriteByte('\n')
	if rep.Checked.IsZero() {
		p.Class = "unchecked"
		tip.WriteString("Not checked yet · ")
		tip.WriteString(n.Mode.String())
		p.Tip = tip.String()
		return p
	}
	if rep.Status != status.Healthy {
		p.Glyph = Glyph(rep.Status)
	}
	tip.WriteString(Word(rep.Status))
	if rep.Latency > 0 {
		tip.WriteString(" · ")
		tip.WriteString(Latency(rep.Latency))
	}
	tip.WriteString(" · ")
	tip.WriteString(n.Mode.String())
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
	tip.WriteString("\nChecked ")
	tip.WriteString(rep.Checked.In(r.loc).Format(time.TimeOnly))
	p.Tip = tip.String()
	return p
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
