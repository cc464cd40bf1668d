package page

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/history/historytest"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

var (
	webAPI = store.Component{Service: "web", Node: "api"}
	webNew = store.Component{Service: "web", Node: "new"}
)

// slowAPI is an incident on web:api with three updates, one of them with
// Markdown and HTML in it.
func slowAPI(now time.Time) Incident {
	return Incident{ID: "inc1", Title: "Slow API", Impact: "major", Affected: []store.Component{webAPI}, Status: "monitoring",
		Created: now.Add(-50 * time.Minute), Updates: []store.IncidentUpdate{
			{At: now.Add(-50 * time.Minute), Status: "investigating", Text: "Answers are *slow*."},
			{At: now.Add(-30 * time.Minute), Status: "identified", Text: "A bad deploy:\n\n- rolled back\n- <script>alert(1)</script> checked\n\nSee https://blog.example.com/x."},
			{At: now.Add(-10 * time.Minute), Status: "monitoring", Text: "Back to normal; watching."},
		}}
}

func render(t *testing.T, v View) string {
	t.Helper()
	r := newRenderer(t, branding())
	r.loc = time.UTC
	if v.Snapshot == nil {
		v.Snapshot = historySnapshot()
	}
	if v.Now.IsZero() {
		v.Now = historytest.Now
	}
	b, err := renderBytes(r, v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// between returns the part of s from the first from to the next to.
func between(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("page lacks %q", from)
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		t.Fatalf("page lacks %q after %q", to, from)
	}
	return s[i : i+j]
}

// TestIncidentOnThePage: an open incident is at the top with its
// timeline newest first, its text as Markdown with HTML shown as text,
// and the node it affects marked.
func TestIncidentOnThePage(t *testing.T) {
	now := historytest.Now
	other := Incident{ID: "inc0", Title: "Older", Impact: "minor", Affected: []store.Component{{Service: "web"}}, Status: "investigating",
		Created: now.Add(-2 * time.Hour), Updates: []store.IncidentUpdate{{At: now.Add(-2 * time.Hour), Status: "investigating", Text: "Hm."}}}
	html := render(t, View{Incidents: []Incident{other, slowAPI(now)},
		Announcements: []Announcement{{ID: "a1", Title: "Plain news", Text: "Hello", Published: now.Add(-3 * time.Hour)}}})

	mustHave(t, html,
		`<article class="incident major" id="incident-inc1">`,
		`<h2>Slow API</h2>`,
		`<span class="impact">Major</span> · Monitoring · since <time datetime="2026-12-02T11:10:00Z">11:10</time> · Affects Web · API`,
		`<em>slow</em>`,
		"<ul>\n<li>rolled back</li>", "&lt;script&gt;alert(1)&lt;/script&gt; checked",
		`<a href="https://blog.example.com/x" rel="nofollow">https://blog.example.com/x</a>`,
		// The whole service for the older one: marked on its heading.
		`<a href="#service-web">Web</a><a class="inc minor" href="#incident-inc0">Minor incident</a>`,
		`id="announcement-a1"`,
	)
	if strings.Contains(html, "<script>alert(1)") {
		t.Error("HTML in an update reached the page")
	}
	// Newest first, incidents before announcements.
	timeline := between(t, html, `id="incident-inc1"`, "</ol>")
	i1, i2, i3 := strings.Index(timeline, "Monitoring</strong>"), strings.Index(timeline, "Identified</strong>"), strings.Index(timeline, "Investigating</strong>")
	if !(i1 > 0 && i1 < i2 && i2 < i3) {
		t.Errorf("timeline not newest first: monitoring %d, identified %d, investigating %d", i1, i2, i3)
	}
	if a, b, c := strings.Index(html, "incident-inc1"), strings.Index(html, "incident-inc0"), strings.Index(html, "announcement-a1"); !(a < b && b < c) {
		t.Errorf("incidents newest first, then announcements: %d %d %d", a, b, c)
	}
	if row := nodeRow(t, html, "API"); !strings.Contains(row, `<a class="inc major" href="#incident-inc1">Major incident</a>`) {
		t.Errorf("the API row is not marked: %s", row)
	}
	if row := nodeRow(t, html, "New"); strings.Contains(row, `class="inc`) {
		t.Errorf("the New row is marked: %s", row)
	}
}

// TestMaintenanceOnThePage: windows ahead are listed as "Scheduled: …",
// a repeating one once; during a window what it covers is "Under
// maintenance" in its own colour, and does not count for the banner.
func TestMaintenanceOnThePage(t *testing.T) {
	now := historytest.Now // Wed 2 Dec 2026, 12:00 UTC
	at := func(day, hour int) time.Time { return time.Date(2026, 12, day, hour, 0, 0, 0, time.UTC) }
	upgrade := Window{ID: "w1", Title: "Database upgrade", Text: "Writes **pause**.", Affected: []store.Component{webNew},
		Start: at(5, 22), End: at(5, 23)}
	weekly := func(day int) Window {
		return Window{ID: "config-0-" + at(day, 4).Format("20060102"), Title: "Weekly restart", Affected: []store.Component{{Service: "web"}},
			Start: at(day, 4), End: at(day, 4).Add(15 * time.Minute)}
	}
	html := render(t, View{Windows: []Window{upgrade, weekly(6), weekly(13)}})
	mustHave(t, html,
		`<h2>Scheduled: <time datetime="2026-12-05T22:00:00Z">Sat 5 Dec, 22:00–23:00 UTC</time> · Database upgrade</h2>`,
		`<p class="meta">Affects Web · New</p><div class="md"><p>Writes <strong>pause</strong>.</p></div>`,
		`Scheduled: <time datetime="2026-12-06T04:00:00Z">Sun 6 Dec, 04:00–04:15 UTC</time> · Weekly restart`,
		"All systems operational",
	)
	if strings.Contains(html, "Sun 13 Dec") {
		t.Error("a repeating window is listed more than once")
	}

	// During the upgrade, with the node it covers dead.
	reg := status.NewRegistry([]status.ServiceSpec{{ID: "web", Label: "Web", Nodes: []status.NodeSpec{
		{ID: "api", Label: "API", Replicas: []string{"a"}}, {ID: "new", Label: "New", Replicas: []string{"b"}}}}}, now)
	reg.Set(status.Ref{Node: 0}, status.Result{Status: status.Healthy, At: now})
	reg.Set(status.Ref{Node: 1}, status.Result{Status: status.Dead, At: now})
	during := upgrade.Start.Add(10 * time.Minute)
	html = render(t, View{Snapshot: reg.Snapshot(), Now: during, Windows: []Window{upgrade}})
	mustHave(t, html,
		`<section class="banner maint" aria-live="polite">`,
		"<h1>Under maintenance</h1>",
		`favicon-maint.svg`,
		`<h2>Under maintenance until 23:00 UTC · Database upgrade</h2>`,
		// The service: its other node is fine.
		`<a href="#service-web">Web</a><span class="word maint"><span aria-hidden="true">`+maintGlyph+` </span>Under maintenance</span>`,
	)
	row := nodeRow(t, html, "New")
	if !strings.Contains(row, `<small class="since">until 23:00</small>`) || !strings.Contains(row, `<span class="word">Under maintenance</span>`) {
		t.Errorf("the node under maintenance: %s", row)
	}
	if !strings.Contains(html, `<li class="node maint">`) || strings.Contains(html, "Partial outage") {
		t.Error("the dead node under maintenance is not shown as such, or counts for the banner")
	}

	// Something else broken still shows.
	reg.Set(status.Ref{Node: 0}, status.Result{Status: status.Sick, At: during})
	html = render(t, View{Snapshot: reg.Snapshot(), Now: during, Windows: []Window{upgrade}})
	mustHave(t, html, "<h1>Degraded performance</h1>", `<li class="node sick">`, `<li class="node maint">`)
}

// TestMaintenanceOnTheBars: a day with maintenance is blue and says so.
func TestMaintenanceOnTheBars(t *testing.T) {
	for _, c := range []struct {
		name string
		day  history.Day
		look string
		text string
	}{
		{"maintenance only", history.Day{Healthy: 23 * time.Hour, Maintenance: time.Hour}, "m", "100% up · maintenance 1 h"},
		{"all day", history.Day{Maintenance: 24 * time.Hour}, "m", "maintenance 1 d"},
		{"down outside it too", history.Day{Healthy: 20 * time.Hour, Dead: 3 * time.Hour, Maintenance: time.Hour}, "d", "86.95% up · maintenance 1 h · down 3 h"},
		{"nothing", history.Day{NoData: 24 * time.Hour}, "n", "No data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			look, text, _ := dayLook(c.day, nil, historytest.Now)
			if look != c.look || text != c.text {
				t.Errorf("got %s %q, want %s %q", look, text, c.look, c.text)
			}
		})
	}
}

// TestSubscribeForm: with e-mail on, the footer has a plain form posting
// to /subscribe, with the services to choose from; without, only Atom.
func TestSubscribeForm(t *testing.T) {
	html := render(t, View{MailOn: true})
	mustHave(t, html,
		`<form class="subscribe" method="post" action="/subscribe">`,
		`<input id="email" type="email" name="email" required autocomplete="email"`,
		`<select name="component" aria-label="About"><option value="">all services</option><option value="web">Web</option></select>`,
		`Subscribe: <a href="/feed.atom">Atom</a>`,
	)
	html = render(t, View{})
	if strings.Contains(html, "<form") || !strings.Contains(html, `Subscribe: <a href="/feed.atom">Atom</a>`) {
		t.Error("without e-mail the page must offer the feed alone")
	}
}

// TestIncidentsInThePast: /history has resolved incidents with their
// whole timeline and how long they lasted; open ones stay on the page.
func TestIncidentsInThePast(t *testing.T) {
	now := historytest.Now
	done := slowAPI(now)
	done.ID, done.Status, done.Resolved = "inc9", "resolved", now.Add(-5*time.Minute)
	done.Updates = append(done.Updates, store.IncidentUpdate{At: done.Resolved, Status: "resolved", Text: "Fixed."})
	r := newRenderer(t, branding())
	r.loc = time.UTC
	var buf bytes.Buffer
	if err := r.RenderPast(&buf, Past{Snapshot: historySnapshot(), Incidents: []Incident{slowAPI(now), done}, Now: now}); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	mustHave(t, html,
		`<li class="record incident" id="incident-inc9">`,
		`<time datetime="2026-12-02T11:10:00Z">From Wed 2 Dec 11:10 to 11:55 (45 min)</time> · Major · Affected Web · API`,
		`<strong>Resolved</strong>`, `<strong>Investigating</strong>`, "<em>slow</em>",
	)
	if strings.Contains(html, `id="incident-inc1"`) {
		t.Error("an open incident is in /history")
	}
}

// TestFeedOfIncidents: the feed has incidents (their timeline in the
// content) and maintenance windows, each with a stable id.
func TestFeedOfIncidents(t *testing.T) {
	now := historytest.Now
	r := newRenderer(t, branding())
	r.loc = time.UTC
	made := now.Add(-24 * time.Hour)
	ws := []Window{
		{ID: "w1", Title: "Database upgrade", Affected: []store.Component{webNew}, Start: now.Add(48 * time.Hour), End: now.Add(49 * time.Hour), Created: made},
		{ID: "w0", Title: "Network", Affected: []store.Component{webAPI}, Start: now.Add(-72 * time.Hour), End: now.Add(-71 * time.Hour), Created: made.Add(-96 * time.Hour)},
		{ID: "w-old", Title: "Long ago", Affected: []store.Component{webAPI}, Start: now.Add(-40 * 24 * time.Hour), End: now.Add(-40*24*time.Hour + time.Hour)},
	}
	var buf bytes.Buffer
	if err := r.RenderFeed(&buf, Feed{Past: Past{Snapshot: historySnapshot(), Incidents: []Incident{slowAPI(now)}, Windows: ws, Now: now},
		Base: "https://status.example.com/", Quiet: now}); err != nil {
		t.Fatal(err)
	}
	feed, err := gofeed.NewParser().ParseString(buf.String())
	if err != nil {
		t.Fatalf("the feed does not parse: %v\n%s", err, buf.String())
	}
	byID := map[string]*gofeed.Item{}
	for _, it := range feed.Items {
		byID[it.GUID] = it
	}
	inc := byID["https://status.example.com/history#incident-inc1"]
	if inc == nil || inc.Title != "Slow API — Monitoring" || inc.Link != "https://status.example.com/#incident-inc1" ||
		inc.UpdatedParsed == nil || !inc.UpdatedParsed.Equal(now.Add(-10*time.Minute)) {
		t.Fatalf("incident entry %+v", inc)
	}
	for _, want := range []string{"Major impact · Affects Web · API", "<strong>Monitoring</strong> · Wed 2 Dec 2026 11:50 UTC", "<em>slow</em>",
		"&lt;script&gt;"} {
		if !strings.Contains(inc.Content, want) {
			t.Errorf("incident content lacks %q:\n%s", want, inc.Content)
		}
	}
	up := byID["https://status.example.com/#maintenance-w1"]
	if up == nil || up.Title != "Scheduled maintenance: Database upgrade" || !up.PublishedParsed.Equal(made) ||
		!strings.Contains(up.Content, "Fri 4 Dec, 12:00–13:00 UTC · Affects Web · New") {
		t.Fatalf("upcoming window entry %+v", up)
	}
	past := byID["https://status.example.com/#maintenance-w0"]
	if past == nil || past.Title != "Maintenance done: Network" || !past.UpdatedParsed.Equal(ws[1].End) {
		t.Fatalf("past window entry %+v", past)
	}
	if byID["https://status.example.com/#maintenance-w-old"] != nil {
		t.Error("a window that ended 40 days ago is in the feed")
	}
}
