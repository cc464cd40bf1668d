package page

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/status"
)

// Past is what /history and the Atom feed show: announcements taken down,
// incidents and outages (and in the feed, maintenance), over the current
// status tree (for labels, and for which nodes show replica names and so
// the reasons of their outages).
type Past struct {
	Snapshot *status.Snapshot
	// Announcements still published, and Retracted ones, in any order.
	Announcements, Retracted []Announcement
	// Incidents: public ones, open and resolved, in any order.
	Incidents []Incident
	// Windows of maintenance around Now, in any order: the feed has those
	// Listed, and those that ended within FeedWindowsPast and do not repeat.
	Windows []Window
	History *history.View // nil: no outages known
	Now     time.Time
}

// FeedWindowsPast is how long the feed keeps a window that ended.
const FeedWindowsPast = 30 * 24 * time.Hour

// Record is one event of the past: an announcement, an incident, an
// outage or (in the feed) a maintenance window.
type Record struct {
	Kind     string    // "announcement", "incident", "outage" or "maintenance"
	ID       string    // unique and stable: "announcement-<id>", "incident-<id>", "outage-<service>-<node>-<unix seconds>", "maintenance-<id>"
	At       time.Time // when it began: published, or down from
	Updated  time.Time // its last change: retracted, recovered, or At
	Title    string    // "Database maintenance", "Web · API down"
	Subject  string    // outages: "Web · API"
	Text     string    // the announcement's text, or the outage's reason where the node shows it
	Ended    time.Time // retracted, or recovered; zero while it lasts
	Service  string    // outages: the service's and node's ids
	Node     string
	Duration time.Duration // outages and incidents: how long (so far)
	Incident *Incident     // incidents
	Window   *Window       // maintenance
}

// Records lists the past newest first: retracted announcements, resolved
// incidents and the outages of nodes still in the tree; for the feed
// (feed set) also the announcements still up, open incidents and
// maintenance windows. Outages of nodes since removed are left out: their
// labels are gone, and whether they showed names is unknown.
func Records(p Past, feed bool) []Record {
	var out []Record
	for i := range p.Incidents {
		inc := &p.Incidents[i]
		if inc.Draft || !feed && inc.Resolved.IsZero() {
			continue
		}
		rec := Record{Kind: "incident", ID: "incident-" + inc.ID, At: inc.Created, Updated: inc.Created, Title: inc.Title,
			Ended: inc.Resolved, Incident: inc}
		if n := len(inc.Updates); n > 0 {
			rec.Updated = inc.Updates[n-1].At
		}
		end := inc.Resolved
		if end.IsZero() {
			end = p.Now
		}
		rec.Duration = end.Sub(inc.Created)
		out = append(out, rec)
	}
	if feed {
		listed := Listed(p.Windows, p.Now)
		for _, w := range p.Windows {
			if _, repeating := seriesOf(w.ID); !w.End.After(p.Now) && w.End.After(p.Now.Add(-FeedWindowsPast)) && !repeating {
				listed = append(listed, w)
			}
		}
		for i := range listed {
			w := &listed[i]
			// Dated when it was announced: when it was scheduled, or for
			// the config's, when it came within Ahead.
			rec := Record{Kind: "maintenance", ID: "maintenance-" + w.ID, At: w.Created, Title: w.Title, Window: w}
			if rec.At.IsZero() || rec.At.After(w.Start) {
				rec.At = w.Start.Add(-Ahead)
			}
			rec.Updated = rec.At
			switch {
			case !w.End.After(p.Now):
				rec.Updated, rec.Ended = w.End, w.End
			case !w.Start.After(p.Now):
				rec.Updated = w.Start
			}
			out = append(out, rec)
		}
	}
	add := func(a Announcement) {
		rec := Record{Kind: "announcement", ID: "announcement-" + a.ID, At: a.Published, Updated: a.Published,
			Title: a.Title, Text: a.Text, Ended: a.Retracted}
		if !a.Retracted.IsZero() {
			rec.Updated = a.Retracted
		}
		out = append(out, rec)
	}
	for _, a := range p.Retracted {
		add(a)
	}
	if feed {
		for _, a := range p.Announcements {
			add(a)
		}
	}
	if p.History != nil && p.Snapshot != nil {
		for _, o := range p.History.Outages {
			si, ni, ok := p.Snapshot.FindNode(o.Of.Service, o.Of.Node)
			if !ok {
				continue
			}
			svc := p.Snapshot.Services[si]
			n := svc.Nodes.At(ni)
			rec := Record{Kind: "outage", ID: "outage-" + o.Of.Service + "-" + o.Of.Node + "-" + strconv.FormatInt(o.From.Unix(), 10),
				At: o.From, Updated: o.From, Subject: svc.Label + " · " + n.Label, Ended: o.To,
				Service: o.Of.Service, Node: o.Of.Node}
			end := o.To
			if end.IsZero() {
				end = p.History.At
			} else {
				rec.Updated = o.To
			}
			rec.Duration = end.Sub(o.From)
			rec.Title = rec.Subject + " down"
			if !o.To.IsZero() {
				rec.Title += " for " + span(rec.Duration)
			}
			if n.RevealReplicaName {
				rec.Text = o.Reason
			}
			out = append(out, rec)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out
}

// The /history template's data.
type pastView struct {
	Head   *head
	Zone   string
	Year   int
	Months []monthView
}

type monthView struct {
	Name    string // "November 2026"
	Open    bool   // the current month
	Records []recordView
}

type recordView struct {
	Kind, ID, Title string
	When, WhenISO   string        // outages: "down from … to … (6 h)"; announcements: "published …"
	Text            template.HTML // escaped, with links
	Ended           string        // announcements: "retracted …"
	Ongoing         bool
	Incident        *incidentView // incidents, with their timeline
}

// RenderPast writes the /history page: past announcements and outages by
// month, newest first, the current month open.
func (r *Renderer) RenderPast(w io.Writer, p Past) error {
	if r.past == nil {
		return fmt.Errorf("page: no templates/history.html")
	}
	now := p.Now.In(r.loc)
	v := pastView{Head: &r.head, Zone: ZoneName(now), Year: now.Year()}
	thisMonth := now.Format("January 2006")
	v.Months = append(v.Months, monthView{Name: thisMonth, Open: true})
	for _, rec := range Records(p, false) {
		at := rec.At.In(r.loc)
		month := at.Format("January 2006")
		if last := &v.Months[len(v.Months)-1]; last.Name != month {
			v.Months = append(v.Months, monthView{Name: month})
		}
		title := rec.Title
		if rec.Kind == "outage" {
			title = rec.Subject
		}
		rv := recordView{Kind: rec.Kind, ID: rec.ID, Title: title, WhenISO: at.Format(time.RFC3339)}
		switch rec.Kind {
		case "incident":
			iv := r.incident(*rec.Incident, p.Snapshot, p.Now)
			rv.Incident = &iv
			rv.When = "From " + at.Format("Mon 2 Jan 15:04") + " to " + iv.Resolved + " (" + iv.Duration + ")"
		case "outage":
			rv.When, rv.Ongoing = r.outageWhen(rec), rec.Ended.IsZero()
			rv.Text = template.HTML(template.HTMLEscapeString(rec.Text)) // a probe's words: no links
		default:
			rv.Text = Linkify(rec.Text)
			rv.When = "Published " + at.Format("Mon 2 Jan 15:04")
			if !rec.Ended.IsZero() {
				rv.Ended = "retracted " + r.clockFrom(rec.Ended, rec.At)
			}
		}
		last := &v.Months[len(v.Months)-1]
		last.Records = append(last.Records, rv)
	}
	if err := r.past.Execute(w, v); err != nil {
		return fmt.Errorf("page: render templates/history.html: %w", err)
	}
	return nil
}

// outageWhen says when an outage was: "down from Tue 24 Nov 06:00 to 12:00
// (6 h)", "down since Tue 24 Nov 06:00 (38 min so far)".
func (r *Renderer) outageWhen(rec Record) string {
	from := rec.At.In(r.loc).Format("Mon 2 Jan 15:04")
	if rec.Ended.IsZero() {
		return "down since " + from + " (" + Ago(rec.Duration) + " so far)"
	}
	return "down from " + from + " to " + r.clockFrom(rec.Ended, rec.At) + " (" + span(rec.Duration) + ")"
}

// clockFrom is t as a time of day when it falls on the same day as from,
// else with its date.
func (r *Renderer) clockFrom(t, from time.Time) string {
	t, from = t.In(r.loc), from.In(r.loc)
	if t.YearDay() == from.YearDay() && t.Year() == from.Year() {
		return t.Format("15:04")
	}
	if t.Year() == from.Year() {
		return t.Format("Mon 2 Jan 15:04")
	}
	return t.Format("Mon 2 Jan 2006 15:04")
}
