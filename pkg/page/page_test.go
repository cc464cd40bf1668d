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
	"github.com/overvakt/overvakt/res"
)

func branding() config.Branding {
	return config.Branding{PageTitle: "Acme Status", CompanyName: "Acme Cloud", LogoColor: "#e8f1ff",
		WebsiteURL: "https://www.acme.example/", SupportURL: "https://support.acme.example/"}
}

// grid builds a checked snapshot of services × nodes × replicas with
// revealed replica URLs, the largest the page gets per node.
func grid(services, nodes, replicas int) *status.Snapshot {
	now := time.Now()
	specs := make([]status.ServiceSpec, services)
	for s := range specs {
		specs[s] = status.ServiceSpec{ID: fmt.Sprintf("service-%d", s), Label: fmt.Sprintf("Service number %d", s+1)}
		for n := range nodes {
			ns := status.NodeSpec{ID: fmt.Sprintf("node-%d", n), Label: fmt.Sprintf("Node %d of service %d", n+1, s+1), RevealReplicaName: true}
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

// TestBudgets holds the page to its size budgets (PAGE.md).
func TestBudgets(t *testing.T) {
	r := newRenderer(t, branding())
	html, err := renderBytes(r, View{Snapshot: grid(10, 10, 2), Now: time.Now(), Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HTML for 100 nodes × 2 replicas: %d bytes", len(html))
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

func TestAnnouncementsNewestFirst(t *testing.T) {
	r := newRenderer(t, branding())
	now := time.Now()
	anns := []Announcement{
		{ID: "a", Title: "First", Text: "old", Date: now.Add(-2 * time.Hour)},
		{ID: "c", Title: "Third", Text: "newest", Date: now},
		{ID: "b", Title: "Second", Text: "middle", Date: now.Add(-time.Hour)},
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
