package page

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// FeedEntries is the most entries the Atom feed holds.
const FeedEntries = 100

// Feed is the Atom feed (RFC 4287) of announcements, published and
// retracted, and outages.
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
// updated when it was taken down) and every outage (updated when it
// ended), newest first, at most FeedEntries. An entry's id is the
// address of its record on /history, and never changes.
func (r *Renderer) RenderFeed(w io.Writer, f Feed) error {
	base := f.Base
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	out := atomFeed{
		ID:       base,
		Title:    r.head.Title,
		Subtitle: "Announcements and outages of " + r.head.Company,
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: base + "feed.atom"},
			{Rel: "alternate", Type: "text/html", Href: base + "history"},
		},
		Author: atomPerson{Name: r.head.Company, URI: r.head.WebsiteURL},
	}
	updated := f.Quiet
	records := Records(f.Past, true)
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
