package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
)

// oneNode is a registry with one service, one node and two replicas, both
// set to st.
func oneNode(st status.Status, now time.Time) *status.Registry {
	reg := status.NewRegistry([]status.ServiceSpec{{ID: "web", Label: "Website", Nodes: []status.NodeSpec{
		{ID: "site", Label: "Marketing site", Replicas: []string{"https://a.example/", "https://b.example/"}},
	}}}, now)
	for r := range 2 {
		reg.Set(status.Ref{Replica: r}, status.Result{Status: st, Latency: 120 * time.Millisecond, At: now})
	}
	return reg
}

func TestPageShowsStatus(t *testing.T) {
	now := time.Now()
	tests := []struct {
		status             status.Status
		banner, title      string
		favicon, nodeWords string
	}{
		{status.Healthy, "All systems operational", "<title>✓ Acme Status</title>", "favicon-healthy.svg", `<span class="word">Healthy</span>`},
		{status.Sick, "Degraded performance", "<title>! Acme Status</title>", "favicon-sick.svg", `<span class="word">Degraded</span>`},
		{status.Dead, "Major outage", "<title>✕ Acme Status</title>", "favicon-dead.svg", `<span class="word">Down</span>`},
	}
	for _, tc := range tests {
		t.Run(tc.status.String(), func(t *testing.T) {
			s := newTestServer(t, testConfig(), oneNode(tc.status, now), nil)
			rec := do(s, http.MethodGet, "/")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET / = %d", rec.Code)
			}
			body := rec.Body.String()
			mustContain(t, body, tc.banner, tc.title, tc.favicon, tc.nodeWords,
				`<section class="banner `+tc.status.String()+`"`,
				"refreshed <time", "Acme Cloud", `href="https://support.acme.example/"`,
				`id="service-web"`, `href="#service-web"`, "Marketing site",
				"© "+now.Format("2006")+" Acme Cloud", `href="/status/report"`)
			mustNotContain(t, body, `class="announcements"`)
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestPageRealistic(t *testing.T) {
	s := newTestServer(t, testConfig(), realisticRegistry(time.Now()), nil)
	body := do(s, http.MethodGet, "/").Body.String()
	for _, id := range []string{"web", "api", "infra"} {
		mustContain(t, body, `<section class="service" id="service-`+id+`">`)
	}
	mustContain(t, body,
		"class=\"sick\" title=\"Degraded · 6.20 s\">", // word and latency
		"replica 2</button>",                          // names hidden: numbered
		">app-1.acme.example</button>",                // names revealed: the host
		`<button class="dead"`,
		"CPU 42% · memory 61%",                                             // push replica load
		"Queue: 12 ready, 3 unacked",                                       // queue counts
		"Certificate: 42 days left",                                        // https certificate
		`href="https://docs.acme.example/api" rel="noopener">API docs</a>`, // node link
		`<button class="unchecked" title="Not checked since the server started">replica 1 <small>no data yet</small></button>`,
		`<li class="node dead">`, `<li class="node sick">`,
	)
}

func TestPageEscapesLabels(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	cfg := testConfig()
	cfg.Branding.CompanyName = evil
	cfg.Branding.WebsiteURL = `javascript:alert(1)`
	reg := status.NewRegistry([]status.ServiceSpec{{ID: `a"b`, Label: evil, Nodes: []status.NodeSpec{
		{ID: "n", Label: evil, Replicas: []string{`https://x.example/?q=<b>`}, RevealReplicaName: true,
			LinkURL: `javascript:alert(2)`, LinkLabel: evil},
	}}}, time.Now())
	anns := &staticAnnouncements{}
	anns.set(page.Announcement{ID: "1", Title: evil, Text: evil, Published: time.Now()})
	body := do(newTestServer(t, cfg, reg, anns), http.MethodGet, "/").Body.String()
	mustNotContain(t, body, evil, `<b>`, `javascript:alert`)
	mustContain(t, body, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`, `id="service-a&#34;b"`)
}

func TestRevealReplicaName(t *testing.T) {
	for _, reveal := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[reveal], func(t *testing.T) {
			reg := status.NewRegistry([]status.ServiceSpec{{ID: "s", Label: "S", Nodes: []status.NodeSpec{
				{ID: "n", Label: "N", Replicas: []string{"https://secret-host.example/health"}, RevealReplicaName: reveal},
			}}}, time.Now())
			reg.Set(status.Ref{}, status.Result{Status: status.Healthy, Latency: time.Millisecond, At: time.Now()})
			s := newTestServer(t, testConfig(), reg, nil)
			for _, path := range []string{"/", "/status/report"} {
				body := do(s, http.MethodGet, path).Body.String()
				if got := strings.Contains(body, "secret-host.example"); got != reveal {
					t.Errorf("%s shows the replica name: %v, want %v", path, got, reveal)
				}
			}
		})
	}
}

func TestPageETagAndGzip(t *testing.T) {
	s := newTestServer(t, testConfig(), realisticRegistry(time.Now()), nil)
	plain := do(s, http.MethodGet, "/")
	etag := plain.Header().Get("ETag")
	if etag == "" || plain.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, plain.Header().Get("Cache-Control"))
	}

	zipped := do(s, http.MethodGet, "/", "Accept-Encoding", "br, gzip;q=0.8")
	if zipped.Header().Get("Content-Encoding") != "gzip" || zipped.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip headers: %v", zipped.Header())
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Error("gzip body differs from the plain body")
	}
	if zipped.Body.Len() >= plain.Body.Len()/2 {
		t.Errorf("gzip %d bytes for %d plain", zipped.Body.Len(), plain.Body.Len())
	}

	tests := []struct {
		name   string
		header []string
		want   int
	}{
		{"same tag", []string{"If-None-Match", etag}, http.StatusNotModified},
		{"gzip tag", []string{"If-None-Match", zipped.Header().Get("ETag")}, http.StatusNotModified},
		{"in a list", []string{"If-None-Match", `"old", ` + etag}, http.StatusNotModified},
		{"weak", []string{"If-None-Match", "W/" + etag}, http.StatusNotModified},
		{"other tag", []string{"If-None-Match", `"old"`}, http.StatusOK},
		{"gzip refused", []string{"Accept-Encoding", "gzip;q=0"}, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(s, http.MethodGet, "/", tc.header...)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
			if rec.Code == http.StatusNotModified && rec.Body.Len() != 0 {
				t.Error("304 with a body")
			}
			if rec.Header().Get("Content-Encoding") != "" {
				t.Errorf("Content-Encoding %q", rec.Header().Get("Content-Encoding"))
			}
		})
	}
}

func TestPageRerendersOnStatusChange(t *testing.T) {
	now := time.Now()
	reg := oneNode(status.Healthy, now)
	s := newTestServer(t, testConfig(), reg, nil)
	first := do(s, http.MethodGet, "/")

	// A new latency alone: the rendered page may stay a few seconds.
	reg.Set(status.Ref{}, status.Result{Status: status.Healthy, Latency: 999 * time.Millisecond, At: now})
	if got := do(s, http.MethodGet, "/"); got.Header().Get("ETag") != first.Header().Get("ETag") {
		t.Error("a latency change re-rendered at once; want at most every few seconds")
	}
	// A new status: the page changes at once, and so does its version.
	reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: now})
	got := do(s, http.MethodGet, "/", "If-None-Match", first.Header().Get("ETag"))
	if got.Code != http.StatusOK {
		t.Fatalf("after a status change: %d, want 200", got.Code)
	}
	mustContain(t, got.Body.String(), "Major outage", "down since ",
		`data-version="`+jsonField(t, do(s, http.MethodGet, "/status/version").Body.Bytes(), "page_version")+`"`)
}

func TestAnnouncements(t *testing.T) {
	now := time.Now()
	anns := &staticAnnouncements{}
	s := newTestServer(t, testConfig(), oneNode(status.Healthy, now), anns)
	before := jsonField(t, do(s, http.MethodGet, "/status/version").Body.Bytes(), "page_version")
	mustNotContain(t, do(s, http.MethodGet, "/").Body.String(), "announcement")

	anns.set(
		page.Announcement{ID: "old", Title: "Old news", Text: "Fixed.", Published: now.Add(-48 * time.Hour)},
		page.Announcement{ID: "new", Title: "Database upgrade", Text: "Line one\nsee https://blog.example.com/upgrade.", Published: now.Add(-time.Hour)},
	)
	after := jsonField(t, do(s, http.MethodGet, "/status/version").Body.Bytes(), "page_version")
	if after == before {
		t.Error("page_version did not move when announcements changed")
	}
	body := do(s, http.MethodGet, "/").Body.String()
	mustContain(t, body, `id="announcement-new"`, "Line one\nsee ",
		`<a href="https://blog.example.com/upgrade" rel="nofollow noopener">https://blog.example.com/upgrade</a>.`)
	if strings.Index(body, "Database upgrade") > strings.Index(body, "Old news") {
		t.Error("announcements are not newest first")
	}
}

func TestStatusText(t *testing.T) {
	for _, st := range []status.Status{status.Healthy, status.Sick, status.Dead} {
		t.Run(st.String(), func(t *testing.T) {
			rec := do(newTestServer(t, testConfig(), oneNode(st, time.Now()), nil), http.MethodGet, "/status/text")
			if rec.Body.String() != st.String() || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("got %q (%s)", rec.Body.String(), rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestStatusReport(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s := newTestServer(t, testConfig(), realisticRegistry(now), nil)
	rec := do(s, http.MethodGet, "/status/report")
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	var rep struct {
		Status        string `json:"status"`
		Version       uint64 `json:"version"`
		StatusVersion uint64 `json:"status_version"`
		Changed       string `json:"changed"`
		Updated       string `json:"updated"`
		Services      []struct {
			ID, Label, Status string
			Nodes             []struct {
				ID, Label, Mode, Status string
				Replicas                []map[string]any
			}
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("decode: %v\n%s", err, rec.Body)
	}
	if rep.Status != "dead" || rep.Version == 0 || rep.StatusVersion == 0 || rep.Updated != "2025-03-04T05:06:07Z" || rep.Changed == "" {
		t.Errorf("top level: %+v", rep)
	}
	if len(rep.Services) != 3 || rep.Services[1].ID != "api" || rep.Services[1].Status != "sick" {
		t.Fatalf("services: %+v", rep.Services)
	}
	rest := rep.Services[1].Nodes[0]
	if rest.Mode != "poll" || rest.Status != "sick" || len(rest.Replicas) != 3 {
		t.Fatalf("REST node: %+v", rest)
	}
	sick := rest.Replicas[1]
	want := map[string]any{"index": 2.0, "status": "sick", "checked": "2025-03-04T05:06:07Z", "latency_ms": 6200.0}
	for k, v := range want {
		if sick[k] != v {
			t.Errorf("replica %s = %v, want %v", k, sick[k], v)
		}
	}
	for _, k := range []string{"id", "load", "queue", "cert_expires", "cert_days_left"} {
		if _, ok := sick[k]; ok {
			t.Errorf("replica has %q; want it omitted", k)
		}
	}
	app := rep.Services[0].Nodes[1].Replicas[0]
	if app["id"] != "https://app-1.acme.example/health" {
		t.Errorf("revealed replica id = %v", app["id"])
	}
	db := rep.Services[2].Nodes[0]
	if db.Mode != "push" || db.Replicas[0]["load"].(map[string]any)["cpu"] != 0.42 {
		t.Errorf("push node: %+v", db)
	}
	if q := rep.Services[1].Nodes[1].Replicas[0]["queue"].(map[string]any); q["ready"] != 12.0 || q["unacked"] != 3.0 {
		t.Errorf("queue: %v", q)
	}
	if site := rep.Services[0].Nodes[0].Replicas[0]; site["cert_expires"] != "2025-04-15T06:06:07Z" || site["cert_days_left"] != 42.0 {
		t.Errorf("certificate: expires %v, %v days left; want 2025-04-15T06:06:07Z, 42", site["cert_expires"], site["cert_days_left"])
	}
	mail := rep.Services[2].Nodes[2].Replicas[0]
	if v, ok := mail["checked"]; !ok || v != nil {
		t.Errorf("unchecked replica: checked = %v (present %v), want null", v, ok)
	}

	// Cached per snapshot version, with an ETag.
	again := do(s, http.MethodGet, "/status/report", "If-None-Match", rec.Header().Get("ETag"))
	if again.Code != http.StatusNotModified {
		t.Errorf("unchanged report: %d, want 304", again.Code)
	}
}

func TestStatusVersion(t *testing.T) {
	reg := oneNode(status.Sick, time.Now())
	s := newTestServer(t, testConfig(), reg, nil)
	rec := do(s, http.MethodGet, "/status/version")
	var v struct {
		Status      string `json:"status"`
		PageVersion uint64 `json:"page_version"`
		Refreshed   string `json:"refreshed"`
		Updated     string `json:"updated"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	if v.Status != "sick" || v.PageVersion != reg.Snapshot().StatusVersion || len(v.Refreshed) != 8 || v.Updated == "" {
		t.Errorf("got %+v", v)
	}
	if rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
	}
}

func TestBadges(t *testing.T) {
	for _, st := range []status.Status{status.Healthy, status.Sick, status.Dead} {
		s := newTestServer(t, testConfig(), oneNode(st, time.Now()), nil)
		for _, kind := range []string{"color", "icon"} {
			t.Run(kind+"/"+st.String(), func(t *testing.T) {
				rec := do(s, http.MethodGet, "/badge/"+kind)
				if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/svg+xml" ||
					rec.Header().Get("Cache-Control") != "no-cache" {
					t.Fatalf("%d %v", rec.Code, rec.Header())
				}
				mustContain(t, rec.Body.String(), "<svg", "status: "+st.String())
			})
		}
	}
	s := newTestServer(t, testConfig(), oneNode(status.Healthy, time.Now()), nil)
	if rec := do(s, http.MethodGet, "/badge/rainbow"); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("unknown badge: %d %s", rec.Code, rec.Body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := newTestServer(t, testConfig(), oneNode(status.Healthy, time.Now()), nil)
	for _, path := range []string{"/", "/status/text", "/status/report", "/badge/icon", "/assets/page.css", "/nope", "/status/nope"} {
		t.Run(path, func(t *testing.T) {
			h := do(s, http.MethodGet, path).Header()
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP allows unsafe-inline: %q", csp)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
		})
	}
}

func TestCustomHTMLPassesCSP(t *testing.T) {
	cfg := testConfig()
	cfg.Branding.CustomHTML = `<style>body{margin:0}</style><script src="https://stats.example.org/s.js"></script>`
	cfg.Branding.LogoURL = "https://cdn.example.net/logo.png"
	s := newTestServer(t, cfg, oneNode(status.Healthy, time.Now()), nil)
	rec := do(s, http.MethodGet, "/")
	mustContain(t, rec.Body.String(), cfg.Branding.CustomHTML, `src="https://cdn.example.net/logo.png"`, "<style>:root{--logo:#e8f1ff}</style>")
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{
		"'sha256-", // the inline <style> and the brand colours
		"script-src 'self' https://stats.example.org",
		"img-src 'self' data: https://cdn.example.net",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
}

func TestAssetsOverride(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("assets/page.css", "body{color:hotpink}")
	write("assets/images/extra.txt", "only on disk")
	tmpl, err := os.ReadFile("../../res/templates/page.html")
	if err != nil {
		t.Fatal(err)
	}
	write("templates/page.html", strings.Replace(string(tmpl), "<main", "<p>custom template</p><main", 1))

	cfg := testConfig()
	cfg.Assets.Path = dir
	s := newTestServer(t, cfg, oneNode(status.Healthy, time.Now()), nil)

	tests := []struct{ path, want string }{
		{"/assets/page.css", "body{color:hotpink}"},
		{"/assets/images/extra.txt", "only on disk"},
		{"/assets/page.js", "data-tip"},                                         // not overridden: embedded
		{"/", "<p>custom template</p>"},                                         // template override
		{"/", "/assets/page.css?v=" + page.Hash([]byte("body{color:hotpink}"))}, // cache-busting hash of the override
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			mustContain(t, do(s, http.MethodGet, tc.path).Body.String(), tc.want)
		})
	}

	cfg.Assets.Path = filepath.Join(dir, "missing")
	if _, err := New(Options{Config: cfg, Registry: oneNode(status.Healthy, time.Now())}); err == nil {
		t.Error("New accepted a missing assets path")
	}
}

func TestAssetCaching(t *testing.T) {
	s := newTestServer(t, testConfig(), oneNode(status.Healthy, time.Now()), nil)
	rec := do(s, http.MethodGet, "/assets/page.css?v=abc")
	if rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || rec.Header().Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("headers %v", rec.Header())
	}
	if got := do(s, http.MethodGet, "/assets/page.css", "If-None-Match", rec.Header().Get("ETag")); got.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", got.Code)
	}
	for _, path := range []string{"/assets/../server.go", "/assets/nope.css", "/assets/"} {
		if got := do(s, http.MethodGet, path); got.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, got.Code)
		}
	}
}

// TestAssetTypesAndGzip: every asset gets its type, and text ones are sent
// gzipped (made on the first request) when the client takes it, also to
// many clients asking at once.
func TestAssetTypesAndGzip(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"assets/fonts/brand.WOFF2": "wOF2 not really a font",
		"assets/data.unknown-ext":  "?",
		"assets/site.webmanifest":  `{"name":"` + strings.Repeat("Acme Status ", 40) + `"}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig()
	cfg.Assets.Path = dir
	s := newTestServer(t, cfg, oneNode(status.Healthy, time.Now()), nil)

	tests := []struct {
		path, ctype string
		gzipped     bool
	}{
		{"/assets/page.css", "text/css; charset=utf-8", true},
		{"/assets/page.js", "text/javascript; charset=utf-8", true},
		{"/assets/site.webmanifest", "application/manifest+json", true},
		{"/assets/images/logo.svg", "image/svg+xml", false}, // too small to pay
		{"/robots.txt", "text/plain; charset=utf-8", false},
		{"/assets/fonts/brand.WOFF2", "font/woff2", false},
		{"/assets/data.unknown-ext", "application/octet-stream", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			var wg sync.WaitGroup
			recs := make([]*httptest.ResponseRecorder, 8)
			for i := range recs {
				wg.Go(func() { recs[i] = do(s, http.MethodGet, tc.path, "Accept-Encoding", "gzip") })
			}
			wg.Wait()
			plain := do(s, http.MethodGet, tc.path)
			for _, rec := range recs {
				if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != tc.ctype {
					t.Fatalf("%d %q, want 200 %q", rec.Code, rec.Header().Get("Content-Type"), tc.ctype)
				}
				body := rec.Body.Bytes()
				if gz := rec.Header().Get("Content-Encoding") == "gzip"; gz != tc.gzipped {
					t.Fatalf("gzipped: %v, want %v", gz, tc.gzipped)
				} else if gz {
					zr, err := gzip.NewReader(rec.Body)
					if err != nil {
						t.Fatal(err)
					}
					if body, err = io.ReadAll(zr); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(body, plain.Body.Bytes()) {
					t.Fatal("the gzipped body differs from the plain one")
				}
			}
		})
	}
}

func TestHeadAndTrailingSlash(t *testing.T) {
	s := newTestServer(t, testConfig(), realisticRegistry(time.Now()), nil)
	paths := []string{"/", "/status/text", "/status/report", "/status/version", "/badge/color", "/badge/icon",
		"/robots.txt", "/health", "/assets/page.css", "/history", "/feed.atom"}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			get := do(s, http.MethodGet, path)
			if get.Code != http.StatusOK || get.Body.Len() == 0 {
				t.Fatalf("GET: %d, %d bytes", get.Code, get.Body.Len())
			}
			head := do(s, http.MethodHead, path)
			if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Length") != get.Header().Get("Content-Length") {
				t.Errorf("HEAD: %d, %d bytes, Content-Length %q (GET %q)", head.Code, head.Body.Len(),
					head.Header().Get("Content-Length"), get.Header().Get("Content-Length"))
			}
			if path != "/" {
				slash := do(s, http.MethodGet, path+"/")
				if slash.Code != http.StatusOK || slash.Header().Get("Content-Type") != get.Header().Get("Content-Type") {
					t.Errorf("GET %s/: %d", path, slash.Code)
				}
			}
		})
	}
}

func TestErrorPages(t *testing.T) {
	s := newTestServer(t, testConfig(), oneNode(status.Healthy, time.Now()), nil)
	tests := []struct {
		method, path string
		code         int
		ctype, body  string
	}{
		{http.MethodGet, "/nope", 404, "text/html; charset=utf-8", "404 · Page not found"},
		{http.MethodGet, "/status/nope", 404, "application/json; charset=utf-8", `{"error":"not found"}`},
		{http.MethodGet, "/status", 404, "application/json; charset=utf-8", `{"error":"not found"}`},
		{http.MethodPost, "/status/text", 405, "application/json; charset=utf-8", `{"error":"method not allowed"}`},
		{http.MethodPost, "/", 405, "text/html; charset=utf-8", "405 · method not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := do(s, tc.method, tc.path)
			if rec.Code != tc.code || rec.Header().Get("Content-Type") != tc.ctype {
				t.Fatalf("%d %q, want %d %q", rec.Code, rec.Header().Get("Content-Type"), tc.code, tc.ctype)
			}
			mustContain(t, rec.Body.String(), tc.body)
		})
	}
}

func TestRobotsAndHealth(t *testing.T) {
	s := newTestServer(t, testConfig(), oneNode(status.Dead, time.Now()), nil)
	mustContain(t, do(s, http.MethodGet, "/robots.txt").Body.String(), "User-agent: *", "Disallow: /status/", "Disallow: /api/")
	if rec := do(s, http.MethodGet, "/health"); rec.Body.String() != "ok" {
		t.Errorf("/health = %q", rec.Body)
	}
}

func TestServeOverTCPAndShutdown(t *testing.T) {
	s := newTestServer(t, testConfig(), realisticRegistry(time.Now()), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/status/text")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "dead" {
		t.Errorf("over TCP: %q", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

// TestConcurrentRequests runs page and report requests while the registry
// changes, for the race detector and for the one-render-at-a-time rule.
func TestConcurrentRequests(t *testing.T) {
	now := time.Now()
	reg := gridRegistry(10, 5, 2, now)
	s := newTestServer(t, testConfig(), reg, nil)
	stop := make(chan struct{})
	var writers sync.WaitGroup
	writers.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			st := status.Healthy
			if i%10 == 0 {
				st = status.Sick
			}
			reg.Set(status.Ref{Service: i % 10, Node: i % 5, Replica: i % 2}, status.Result{Status: st, Latency: time.Duration(i) * time.Microsecond, At: now})
		}
	})
	var readers sync.WaitGroup
	for range 8 {
		readers.Go(func() {
			for i := range 200 {
				path := "/"
				if i%4 == 0 {
					path = "/status/report"
				}
				if rec := do(s, http.MethodGet, path, "Accept-Encoding", "gzip"); rec.Code != http.StatusOK {
					t.Errorf("%s: %d", path, rec.Code)
					return
				}
			}
		})
	}
	readers.Wait()
	close(stop)
	writers.Wait()

	// After the dust settles the page shows the latest status.
	final := do(s, http.MethodGet, "/").Body.String()
	mustContain(t, final, page.Banner(reg.Snapshot()))
}

// jsonField returns one top-level field of a JSON object as raw text.
func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return strings.Trim(string(m[name]), `"`)
}
