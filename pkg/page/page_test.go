package page

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/res"
)

func branding() config.Branding {
	return config.Branding{PageTitle: "Acme Status", CompanyName: "Acme Cloud", LogoColor: "#e8f1ff",
		WebsiteURL: "https://www.acme.example/", SupportURL: "https://support.acme.example/"}
}

// grid builds a checked snapshot of services × nodes × replicas with
// revealed replica URLs, the largest the page gets per node.
func grid(services, nodes, replicas int) *status.Snapshot {
	return gridNamed(services, nodes, replicas, func(int) bool { return true })
}

// gridNamed is grid with replica names revealed on the nodes reveal says.
func gridNamed(services, nodes, replicas int, reveal func(node int) bool) *status.Snapshot {
	now := time.Now()
	specs := make([]status.ServiceSpec, services)
	for s := range specs {
		specs[s] = status.ServiceSpec{ID: fmt.Sprintf("service-%d", s), Label: fmt.Sprintf("Service number %d", s+1)}
		for n := range nodes {
			ns := status.NodeSpec{ID: fmt.Sprintf("node-%d", n), Label: fmt.Sprintf("Node %d of service %d", n+1, s+1), RevealReplicaName: reveal(n)}
			for r := range replicas {
				ns.Replicas = append(ns.Replicas, fmt.Sprintf("https://node-%d-%d.service-%d.example.com/health", n, r, s))
			}
			specs[s].Nodes = append(specs[s].Nodes, ns)
		}
	}
	reg := status.NewRegistry(specs, now)
	for s := range services {
		for n := range nodes {
			for r := range replicas {
				reg.Set(status.Ref{Service: s, Node: n, Replica: r},
					status.Result{Status: status.Status((s + n + r) % 7 / 5), Latency: time.Duration(80+n*r) * time.Millisecond, At: now})
			}
		}
	}
	return reg.Snapshot()
}

func newRenderer(t testing.TB, b config.Branding) *Renderer {
	t.Helper()
	r, err := New(b, res.FS())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBudgets holds the page to its size budgets (PAGE.md) with 100
// nodes of two replicas (names hidden, as by default), the subscribe form
// and 90 days of history each: the server down a day, an outage with its
// reason on every fifth node, a slow day on every fourth, response times
// that wander and now and then jump. Bigger pages are measured and
// logged, not held to the budget: names shown on every other node, and on
// every node with a busier history; and the page in a bad hour, with an
// incident of three updates and a window ahead (their size is the
// operator's text, which no budget bounds).
func TestBudgets(t *testing.T) {
	r := newRenderer(t, branding())
	now := time.Now()
	render := func(snap *status.Snapshot, b busy, incidents []Incident, windows []Window) []byte {
		t.Helper()
		html, err := renderBytes(r, View{Snapshot: snap, Now: now, Version: 1, History: syntheticHistory(snap, now, b),
			Incidents: incidents, Windows: windows, MailOn: true})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(html, []byte(`<div class="bar"><i class="d`)) || !bytes.Contains(html, []byte(`<svg><title>mean response`)) {
			t.Fatal("the page has no history to measure")
		}
		return html
	}
	ordinary := busy{serverDown: 1, outageEvery: 5, slowEvery: 4}
	hidden := func(int) bool { return false }
	html := render(gridNamed(10, 10, 2, hidden), ordinary, nil, nil)
	half := render(gridNamed(10, 10, 2, func(n int) bool { return n%2 == 0 }), ordinary, nil, nil)
	worst := render(grid(10, 10, 2), busy{serverDown: 2, outageEvery: 3, slowEvery: 2}, nil, nil)
	inc := slowAPI(now)
	inc.Affected = []store.Component{{Service: "service-0", Node: "node-0"}}
	win := Window{ID: "w", Title: "Database upgrade", Text: "Writes pause for a few minutes.", Affected: []store.Component{{Service: "service-1"}},
		Start: now.Add(48 * time.Hour), End: now.Add(49 * time.Hour)}
	bad := render(gridNamed(10, 10, 2, hidden), ordinary, []Incident{inc}, []Window{win})
	t.Logf("HTML for 100 nodes × 2 replicas with 90 days of history: %d bytes; names shown on every other node: %d bytes; on all, with a busier history: %d bytes; "+
		"with an incident of three updates and a window ahead: %d bytes", len(html), len(half), len(worst), len(bad))
	tests := []struct {
		name  string
		size  int
		limit int
	}{
		{"HTML, 100 nodes", len(html), 60 << 10},
		{"assets/page.css", fileSize(t, "assets/page.css"), 15 << 10},
		{"assets/page.js", fileSize(t, "assets/page.js"), 10 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("%d bytes (limit %d)", tc.size, tc.limit)
			if tc.size >= tc.limit {
				t.Errorf("%d bytes, budget is under %d", tc.size, tc.limit)
			}
		})
	}
}

func fileSize(t *testing.T, name string) int {
	b, err := fs.ReadFile(res.FS(), name)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func TestLinkify(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a <b> & c", "a &lt;b&gt; &amp; c"},
		{"see https://x.example/a?b=1&c=2.", `see <a href="https://x.example/a?b=1&amp;c=2" rel="nofollow noopener">https://x.example/a?b=1&amp;c=2</a>.`},
		{"(http://x.example)", `(<a href="http://x.example" rel="nofollow noopener">http://x.example</a>)`},
		{"line\nbreak", "line\nbreak"},
		{`https://x.example/"onmouseover="alert(1)`, `<a href="https://x.example/" rel="nofollow noopener">https://x.example/</a>&#34;onmouseover=&#34;alert(1)`},
		{"javascript:alert(1) http://", "javascript:alert(1) http://"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := string(Linkify(tc.in)); got != tc.want {
				t.Errorf("Linkify(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLatencyAndZone(t *testing.T) {
	for d, want := range map[time.Duration]string{
		300 * time.Microsecond:  "<1 ms",
		87 * time.Millisecond:   "87 ms",
		1240 * time.Millisecond: "1.24 s",
	} {
		if got := Latency(d); got != want {
			t.Errorf("Latency(%v) = %q, want %q", d, got, want)
		}
	}
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{time.UTC, "UTC"},
		{time.FixedZone("", 5*3600+1800), "UTC+05:30"},
		{time.FixedZone("CEST", 2*3600), "CEST"},
	} {
		if got := ZoneName(time.Date(2025, 6, 1, 0, 0, 0, 0, tc.loc)); got != tc.want {
			t.Errorf("ZoneName = %q, want %q", got, tc.want)
		}
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	b := branding()
	b.LogoURL = "https://cdn.example.net/logo.svg"
	b.IconURL = "/favicon.ico"
	b.LogoColor = "red;}body{display:none" // not a colour: dropped
	b.CustomHTML = "<script>console.log(1)</script>\n<link rel=\"stylesheet\" href=\"//fonts.example.com/a.css\">" +
		"<style>.x{}</style><img src=\"http://img.example.com/a.png\"><script src=\"/local.js\"></script>"
	r := newRenderer(t, b)
	csp := r.ContentSecurityPolicy()
	for _, want := range []string{
		"script-src 'self' " + hashSource("console.log(1)"),
		"style-src 'self' https://fonts.example.com " + hashSource(".x{}"),
		"img-src 'self' data: https://cdn.example.net http://img.example.com",
		"default-src 'none'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q\nlacks %q", csp, want)
		}
	}
	html, err := renderBytes(r, View{Snapshot: grid(1, 1, 1), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(html, []byte("display:none")) || bytes.Contains(html, []byte("--logo")) {
		t.Error("an invalid logo_color reached the page")
	}
}

// TestCustomHTMLPolicy: the policy follows custom_html the way a browser
// reads it.
func TestCustomHTMLPolicy(t *testing.T) {
	tests := []struct {
		name, html string
		want, not  []string
	}{
		{"commented out", `<!-- <script src="https://hidden.example/x.js"></script> --><script src="https://shown.example/y.js"></script>`,
			[]string{"script-src 'self' https://shown.example;"}, []string{"hidden.example"}},
		{"empty comments", `<!--><!---><img src="https://after.example/a.png">`,
			[]string{"img-src 'self' data: https://after.example;"}, nil},
		{"case and newlines", "<SCRIPT>a\r\nb\rc</SCRIPT >",
			[]string{"script-src 'self' " + hashSource("a\nb\nc") + ";"}, nil},
		{"end tag look-alike", `<script>x = "</scripty>"</script>`,
			[]string{hashSource(`x = "</scripty>"`)}, nil},
		{"markup in a script", `<script>document.write('<img src="https://no.example/">')</script>`,
			[]string{"img-src 'self' data:;"}, []string{"no.example"}},
		{"text elements", `<title><img src="https://no.example/"></title><textarea><link rel=stylesheet href="https://no.example/"></textarea>`,
			nil, []string{"no.example"}},
		{"escaped attribute", `<img src="https://img.example/a?x=1&amp;y=2">`,
			[]string{"img-src 'self' data: https://img.example;"}, nil},
		{"unquoted and upper case", `<IMG SRC=https://caps.example/a.png alt=logo>`,
			[]string{"https://caps.example"}, nil},
		{"first attribute wins", `<img src="https://first.example/" src="https://second.example/">`,
			[]string{"https://first.example"}, []string{"second.example"}},
		{"slash between attributes", `<img/src="https://slash.example/"/>`,
			[]string{"https://slash.example"}, nil},
		{"fonts and icons", `<link rel="preload" as="font" href="https://fonts.example/a.woff2"><link rel="Shortcut Icon" href="https://icons.example/f.ico">`,
			[]string{"font-src 'self' data: https://fonts.example;", "img-src 'self' data: https://icons.example;"}, nil},
		{"cut-off tag", `<img src="https://cut.example/`,
			nil, []string{"cut.example"}},
		{"stray less-than", `1 < 2 <img src="https://after.example/">`,
			[]string{"https://after.example"}, nil},
		{"doctype and end tags", `<!DOCTYPE html></div x="<img src='https://no.example/'>"><img src="https://yes.example/">`,
			[]string{"img-src 'self' data: https://yes.example;"}, []string{"no.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := branding()
			b.LogoColor = ""
			b.CustomHTML = tc.html
			csp := newRenderer(t, b).ContentSecurityPolicy()
			for _, w := range tc.want {
				if !strings.Contains(csp, w) {
					t.Errorf("CSP %q\nlacks %q", csp, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(csp, n) {
					t.Errorf("CSP %q\nholds %q", csp, n)
				}
			}
		})
	}
}

// TestBrandColors: only plain colours reach the page's style.
func TestBrandColors(t *testing.T) {
	tests := []struct {
		color string
		ok    bool
	}{
		{"#fff", true},
		{"#1972f5", true},
		{"#1972f5cc", true},
		{"#ff", false},
		{"#1972f5ccc", false},
		{"#ggg", false},
		{"rgb(25, 114, 245)", true},
		{"rgba(25 114 245 / 50%)", true},
		{"hsl(215deg 92% 53%)", true},
		{"hsl()", false},
		{"rgb(1)2)", false},
		{"rgb(1", false},
		{"RGB(1,2,3)", false},
		{"url(x)", false},
		{"rebeccapurple", true},
		{"re", false},
		{"red;}body{display:none", false},
		{"red\n", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.color, func(t *testing.T) {
			b := branding()
			b.LogoColor = tc.color
			html, err := renderBytes(newRenderer(t, b), View{Snapshot: grid(1, 1, 1), Now: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Contains(html, []byte("--logo:"+tc.color+"}")); got != tc.ok {
				t.Errorf("colour on the page: %v, want %v", got, tc.ok)
			}
		})
	}
}

func TestAnnouncementsNewestFirst(t *testing.T) {
	r := newRenderer(t, branding())
	now := time.Now()
	anns := []Announcement{
		{ID: "a", Title: "First", Text: "old", Published: now.Add(-2 * time.Hour)},
		{ID: "c", Title: "Third", Text: "newest", Published: now},
		{ID: "b", Title: "Second", Text: "middle", Published: now.Add(-time.Hour)},
	}
	html, err := renderBytes(r, View{Snapshot: grid(1, 1, 1), Announcements: anns, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	if !(strings.Index(s, "Third") < strings.Index(s, "Second") && strings.Index(s, "Second") < strings.Index(s, "First")) {
		t.Error("announcements are not newest first")
	}
	if anns[0].ID != "a" {
		t.Error("Render reordered the caller's slice")
	}
}

func TestOverlay(t *testing.T) {
	base := fstest.MapFS{"assets/a.css": {Data: []byte("base a")}, "assets/b.css": {Data: []byte("base b")}}
	top := fstest.MapFS{"assets/a.css": {Data: []byte("top a")}}
	o := Overlay(top, base)
	for name, want := range map[string]string{"assets/a.css": "top a", "assets/b.css": "base b"} {
		got, err := fs.ReadFile(o, name)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := fs.ReadFile(o, "assets/c.css"); err == nil {
		t.Error("a missing file opened")
	}
}

func TestMissingTemplate(t *testing.T) {
	_, err := New(branding(), fstest.MapFS{})
	if err == nil || !strings.Contains(err.Error(), "templates/page.html") {
		t.Errorf("err = %v, want one naming templates/page.html", err)
	}
}

func BenchmarkRender(b *testing.B) {
	r := newRenderer(b, branding())
	v := View{Snapshot: grid(100, 10, 2), Now: time.Now(), Version: 1}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := r.Render(&buf, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}

func renderBytes(r *Renderer, v View) ([]byte, error) {
	var buf bytes.Buffer
	err := r.Render(&buf, v)
	return buf.Bytes(), err
}

// TestBannerWords: the banner says how bad it is in a visitor's words, and
// since when, on the banner and on each broken node.
func TestBannerWords(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 14, 2, 0, 0, time.UTC)
	specs := []status.ServiceSpec{
		{ID: "web", Label: "Web", Nodes: []status.NodeSpec{{ID: "a", Label: "A", Replicas: []string{"x", "y"}}, {ID: "b", Label: "B", Replicas: []string{"z"}}}},
		{ID: "api", Label: "API", Nodes: []status.NodeSpec{{ID: "c", Label: "C", Replicas: []string{"w"}}}},
	}
	set := func(reg *status.Registry, ref status.Ref, st status.Status) {
		reg.Set(ref, status.Result{Status: st, At: t0})
	}
	tests := []struct {
		name  string
		edit  func(*status.Registry)
		want  string
		since []string
	}{
		{"healthy", func(*status.Registry) {}, "All systems operational", nil},
		{"sick", func(reg *status.Registry) { set(reg, status.Ref{Service: 0, Node: 1}, status.Sick) },
			"Degraded performance", []string{"since <time", "degraded since <time"}},
		{"one replica dead", func(reg *status.Registry) { set(reg, status.Ref{Service: 0, Node: 0, Replica: 1}, status.Dead) },
			"Partial outage", []string{"down since <time"}},
		{"a whole service dead", func(reg *status.Registry) {
			set(reg, status.Ref{Service: 0, Node: 0, Replica: 0}, status.Dead)
			set(reg, status.Ref{Service: 0, Node: 1}, status.Dead)
		}, "Major outage", []string{"down since <time"}},
		{"a one-node service dead", func(reg *status.Registry) { set(reg, status.Ref{Service: 1}, status.Dead) },
			"Major outage", nil},
	}
	r := newRenderer(t, branding())
	r.loc = time.UTC
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := status.NewRegistry(specs, t0.Add(-time.Hour))
			tc.edit(reg)
			snap := reg.Snapshot()
			if got := Banner(snap); got != tc.want {
				t.Errorf("Banner = %q, want %q", got, tc.want)
			}
			html, err := renderBytes(r, View{Snapshot: snap, Now: t0.Add(38*time.Minute + 20*time.Second)})
			if err != nil {
				t.Fatal(err)
			}
			s := string(html)
			if !strings.Contains(s, "<h1>"+tc.want+"</h1>") {
				t.Errorf("page lacks banner %q", tc.want)
			}
			for _, w := range tc.since {
				if !strings.Contains(s, w+` datetime="2026-11-24T14:02:00Z">14:02</time> (<span data-min="38">38 min</span>)`) {
					t.Errorf("page lacks %q at 14:02 for 38 min", w)
				}
			}
			if tc.want == "All systems operational" && strings.Contains(s, "since <time") {
				t.Error("a healthy page says since when")
			}
		})
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		20 * time.Second:                "<1 min",
		38 * time.Minute:                "38 min",
		2 * time.Hour:                   "2 h",
		2*time.Hour + 5*time.Minute:     "2 h 5 min",
		3*24*time.Hour + 4*time.Hour:    "3 d 4 h",
		3*24*time.Hour + 59*time.Second: "3 d",
	} {
		if got := Ago(d); got != want {
			t.Errorf("Ago(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestPills: a pill says what it is, and what is known of it.
func TestPills(t *testing.T) {
	now := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	specs := []status.ServiceSpec{{ID: "s", Label: "S", Nodes: []status.NodeSpec{
		{ID: "hosts", Label: "Hosts", RevealReplicaName: true,
			Replicas: []string{"https://api-1.example.com/health", "tcp://db.example.com:5432", "tcp://db.example.com:6432", "check-queue.sh"}},
		{ID: "hidden", Label: "Hidden", Replicas: []string{"https://secret.example.com/", "https://secret-2.example.com/", "https://secret-3.example.com/"}},
	}}}
	reg := status.NewRegistry(specs, now.Add(-time.Hour))
	reg.Restore(status.Restored{Results: map[[3]string]status.Result{
		{"s", "hidden", "https://secret-2.example.com/"}: {Status: status.Dead, At: time.Date(2026, 11, 24, 13, 58, 0, 0, time.UTC)},
	}})
	reg.Set(status.Ref{Node: 0, Replica: 0}, status.Result{Status: status.Healthy, Latency: 87 * time.Millisecond, At: now})
	reg.Set(status.Ref{Node: 0, Replica: 3}, status.Result{Status: status.Sick, At: now.Add(-5 * time.Minute)})
	reg.Set(status.Ref{Node: 1, Replica: 0}, status.Result{Status: status.Healthy, Latency: 87 * time.Millisecond, At: now})
	r := newRenderer(t, branding())
	r.loc = time.UTC
	html, err := renderBytes(r, View{Snapshot: reg.Snapshot(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	for _, want := range []string{
		`<button title="Healthy · 87 ms">api-1.example.com</button>`, // checked just now: no time said
		`>db.example.com:5432 <small>no data yet</small></button>`,   // hosts repeat: with the port
		`>db.example.com:6432 <small>no data yet</small></button>`,
		`<button class="unchecked" title="Not checked since the server started">`,
		`<button class="sick" title="Degraded` + "\n" + `Checked 14:55:00"><span aria-hidden="true">!</span>check-queue.sh</button>`, // a script: its name; checked a while ago: when
		`>replica 1</button>`,
		`<button class="dead stale" title="Down as of 13:58` + "\n" + `Last known before a restart; no result since"><span aria-hidden="true">✕</span>replica 2</button>`,
		`>replica 3 <small>no data yet</small></button>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(s, "secret") {
		t.Error("the page names a replica of a node that hides names")
	}
}

func TestDeadNodeNamesItsDeadParent(t *testing.T) {
	now := time.Now()
	reg := status.NewRegistry([]status.ServiceSpec{
		{ID: "db", Label: "Database", Nodes: []status.NodeSpec{{ID: "main", Label: "Main", Replicas: []string{"tcp://db:5432"}}}},
		{ID: "web", Label: "Web", Nodes: []status.NodeSpec{
			{ID: "api", Label: "API", Replicas: []string{"https://api/"}, DependsOn: []string{"db:main"}},
			{ID: "www", Label: "Site", Replicas: []string{"https://www/"}, DependsOn: []string{"db:main"}},
		}},
	}, now)
	set := func(s, n int, st status.Status) {
		reg.Set(status.Ref{Service: s, Node: n}, status.Result{Status: st, At: now})
	}
	r := newRenderer(t, branding())
	render := func() string {
		html, err := renderBytes(r, View{Snapshot: reg.Snapshot(), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return string(html)
	}
	set(0, 0, status.Healthy)
	set(1, 0, status.Dead)
	set(1, 1, status.Healthy)
	if s := render(); strings.Contains(s, "because") {
		t.Error("a dead node blames its parent, which is healthy")
	}
	set(0, 0, status.Dead)
	s := render()
	if n := strings.Count(s, "because Database is down"); n != 1 {
		t.Errorf("%d nodes say \"because Database is down\", want 1 (API; Site is healthy)", n)
	}
	api := s[strings.Index(s, ">API"):]
	if i := strings.Index(api, "because Database is down"); i < 0 || i > strings.Index(api, "</li>") {
		t.Error("the reason is not on API's row")
	}
}

// A node of 10,000 push hosts and a service of 500 nodes: the page shows
// what is broken and counts the rest, and stays small.
func TestBigNodesAndServicesAreSummed(t *testing.T) {
	now := time.Now()
	var nodes []status.NodeSpec
	for i := range 500 {
		nodes = append(nodes, status.NodeSpec{ID: fmt.Sprintf("t%d", i), Label: fmt.Sprintf("target-%d", i), Replicas: []string{"https://x/"}})
	}
	reg := status.NewRegistry([]status.ServiceSpec{
		{ID: "hosts", Label: "Hosts", Nodes: []status.NodeSpec{{ID: "all", Label: "All", Mode: status.ModePush, RevealReplicaName: true}}},
		{ID: "dynamic", Label: "Customers", Nodes: nodes},
	}, now)
	for i := range 10000 {
		st := status.Healthy
		if i == 7777 || i == 9999 {
			st = status.Dead
		}
		reg.Upsert(0, 0, fmt.Sprintf("host-%05d", i), status.Result{Status: st, At: now})
	}
	for i := range 500 {
		st := status.Healthy
		if i == 450 {
			st = status.Sick
		}
		reg.Set(status.Ref{Service: 1, Node: i}, status.Result{Status: st, At: now})
	}
	r := newRenderer(t, branding())
	html, err := renderBytes(r, View{Snapshot: reg.Snapshot(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	for _, want := range []string{
		">host-07777</button>", ">host-09999</button>", // the dead are shown
		">host-00000</button>", // then the healthy in order
		`<span class="more">and 9,952 more, all healthy</span>`,
		">target-450<", // the sick node is shown
		`<li class="more">400 more nodes, all healthy</li>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(s, "<button"); n != 48+100 {
		t.Errorf("%d pills, want 48 for the big node and 100 for the nodes shown", n)
	}
	if strings.Contains(s, ">host-00046</button>") {
		t.Error("more than 46 healthy hosts shown besides the 2 dead")
	}
	if len(html) > 200<<10 {
		t.Errorf("page of %d KB", len(html)>>10)
	}
	if got := moreText([status.Dead + 1]int{status.Healthy: 118, status.Dead: 2}, ""); got != "and 120 more: 2 dead, 118 healthy" {
		t.Errorf("moreText = %q", got)
	}
}
