package page

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// FeedEntries is the most entries the Atom feed holds.
const FeedEntries = 100

// Feed is the Atom feed (RFC 4287) of announcements, published and
// retracted, incidents with their updates, maintenance windows and
// outages.
type Feed struct {
	Past
	// Base is the page's address ending in "/" (page_url, or the one the
	// request came to): ids and links are made from it, so they stay the
	// same as long as it does.
	Base string
	// Quiet is the feed's time while it has no entry (the server's start).
	Quiet time.Time
}

type atomFeed struct {
	XMLName  xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID       string      `xml:"id"`
	Title    string      `xml:"title"`
	Subtitle string      `xml:"subtitle"`
	Updated  string      `xml:"updated"`
	Links    []atomLink  `xml:"link"`
	Author   atomPerson  `xml:"author"`
	Entries  []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomEntry struct {
	ID        string       `xml:"id"`
	Title     string       `xml:"title"`
	Updated   string       `xml:"updated"`
	Published string       `xml:"published"`
	Link      atomLink     `xml:"link"`
	Category  atomCategory `xml:"category"`
	Content   atomText     `xml:"content"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

// RenderFeed writes the Atom feed: every announcement (a retracted one
// updated when it was taken down), every public incident (updated with
// each update, its whole timeline in its content), the maintenance
// windows (updated when they start and end) and every outage (updated
// when it ended), newest first, at most FeedEntries. An entry's id is
// the address of its record on /history (of maintenance, on the page),
// and never changes.
func (r *Renderer) RenderFeed(w io.Writer, f Feed) error {
	base := f.Base
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	out := atomFeed{
		ID:       base,
		Title:    r.head.Title,
		Subtitle: "Incidents, maintenance, announcements and outages of " + r.head.Company,
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: base + "feed.atom"},
			{Rel: "alternate", Type: "text/html", Href: base + "history"},
		},
		Author: atomPerson{Name: r.head.Company, URI: r.head.WebsiteURL},
	}
	var updated time.Time
	records := Records(f.Past, true)
	if len(records) == 0 {
		updated = f.Quiet
	}
	if len(records) > FeedEntries {
		records = records[:FeedEntries]
	}
	for _, rec := range records {
		if rec.Updated.After(updated) {
			updated = rec.Updated
		}
		e := atomEntry{
			ID:        base + "history#" + rec.ID,
			Title:     rec.Title,
			Updated:   rfc3339(rec.Updated),
			Published: rfc3339(rec.At),
			Link:      atomLink{Rel: "alternate", Type: "text/html", Href: base + "history#" + rec.ID},
			Category:  atomCategory{Term: rec.Kind},
			Content:   atomText{Type: "text"},
		}
		switch rec.Kind {
		case "incident":
			inc := rec.Incident
			e.Title = inc.Title + " — " + phaseWords[inc.Status]
			if inc.Resolved.IsZero() {
				e.Link.Href = base + "#" + rec.ID // still on the page
			}
			e.Content = atomText{Type: "html", Text: r.incidentHTML(*inc, f.Snapshot)}
		case "maintenance":
			w := rec.Window
			e.ID = base + "#" + rec.ID
			e.Link.Href = e.ID
			v := r.window(*w, f.Snapshot, f.Now)
			switch {
			case !rec.Ended.IsZero():
				e.Title = "Maintenance done: " + w.Title
			case v.Active:
				e.Title = "Under maintenance: " + w.Title
			default:
				e.Title = "Scheduled maintenance: " + w.Title
			}
			text := "<p>" + template.HTMLEscapeString(v.When+" · Affects "+v.Affected) + "</p>"
			e.Content = atomText{Type: "html", Text: text + string(v.Text)}
		case "outage":
			e.Content.Text = rec.Subject + " was " + r.outageWhen(rec) + ", " + ZoneName(rec.At.In(r.loc)) + "."
			if rec.Ended.IsZero() {
				e.Content.Text = rec.Subject + " is " + r.outageWhen(rec) + ", " + ZoneName(rec.At.In(r.loc)) + "."
			}
			if rec.Text != "" {
				e.Content.Text += "\n" + rec.Text
			}
		default:
			e.Content.Text = rec.Text
			if rec.Ended.IsZero() {
				// Still on the page.
				e.Link.Href = base + "#" + rec.ID
			} else {
				e.Content.Text += "\n\nRetracted " + rec.Ended.In(r.loc).Format("Mon 2 Jan 2006 15:04 ") + ZoneName(rec.Ended.In(r.loc)) + "."
			}
		}
		out.Entries = append(out.Entries, e)
	}
	out.Updated = rfc3339(updated)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("page: encode the Atom feed: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// incidentHTML is an incident's entry: its impact, what it affects, and
// its updates, newest first, each with its time and zone.
func (r *Renderer) incidentHTML(inc Incident, snap *status.Snapshot) string {
	var b strings.Builder
	b.WriteString("<p>")
	b.WriteString(template.HTMLEscapeString(impactWords[inc.Impact] + " impact"))
	if len(inc.Affected) > 0 {
		b.WriteString(template.HTMLEscapeString(" · Affects " + r.labels(inc.Affected, snap)))
	}
	b.WriteString("</p>")
	for i := len(inc.Updates) - 1; i >= 0; i-- {
		u := inc.Updates[i]
		at := u.At.In(r.loc)
		b.WriteString("<p><strong>")
		b.WriteString(template.HTMLEscapeString(phaseWords[u.Status]))
		b.WriteString("</strong> · ")
		b.WriteString(at.Format("Mon 2 Jan 2006 15:04 ") + template.HTMLEscapeString(ZoneName(at)))
		b.WriteString("</p>")
		b.WriteString(string(r.md.HTML(u.Text)))
	}
	return b.String()
}
