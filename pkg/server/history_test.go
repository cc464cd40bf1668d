package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/history/historytest"
	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// TestPageWithHistory: the page draws the reader's 90 days, and renders
// again when the reader builds a new view (every minute), without asking
// browsers to reload.
func TestPageWithHistory(t *testing.T) {
	s, r := newHistoryServer(t, testConfig(), nil)
	first := do(s, http.MethodGet, "/")
	mustContain(t, first.Body.String(),
		`<i class="d p80" title="Mon 23 Nov · 75% up · down 6 h · GET https://api.example.com/: status 503"></i>`,
		`<i class="n p60 w2" title="3 Nov – 4 Nov · No data"></i>`,
		"<b>90 d 99.71%</b>", "<title>mean response 20 ms</title>",
		`<p class="uptime">Uptime 24 h 100% · 7 d 100% · 30 d 99.09% · 90 d 99.71%</p>`)
	version := jsonField(t, do(s, http.MethodGet, "/status/version").Body.Bytes(), "page_version")

	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := do(s, http.MethodGet, "/")
	if again.Header().Get("ETag") == first.Header().Get("ETag") {
		// Same figures, but the cache must have been rebuilt: compare
		// the doc's key.
		if got, want := s.page.cur.Load().key.histVersion, r.Current().Version; got != want {
			t.Errorf("page built for history version %d, current is %d", got, want)
		}
	}
	if got := jsonField(t, do(s, http.MethodGet, "/status/version").Body.Bytes(), "page_version"); got != version {
		t.Errorf("page_version moved from %s to %s on a new history view; browsers would reload every minute", version, got)
	}
}

// TestCachedPageAllocates nothing: serving the rendered page is a few
// loads and map writes, history or not.
func TestCachedPageAllocates(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	s, _ := newHistoryServer(t, testConfig(), nil)
	for _, enc := range []string{"", "gzip"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		w := &discard{h: http.Header{}}
		s.ServeHTTP(w, req) // renders
		if n := testing.AllocsPerRun(200, func() {
			clear(w.h)
			s.ServeHTTP(w, req)
		}); n != 0 || w.code != http.StatusOK {
			t.Errorf("GET / (%q): %v allocations, status %d; want 0, 200", enc, n, w.code)
		}
	}
}

// TestPastPage: /history lists retracted announcements with their times
// and the outages, by month, newest first, the current month open.
func TestPastPage(t *testing.T) {
	pub := historytest.At(75, 9)
	retracted := page.Announcement{ID: "db", Title: "Database <upgrade>", Text: "Done, see https://blog.example.com/db.",
		Published: pub, Retracted: pub.Add(26 * time.Hour)}
	s, _ := newHistoryServer(t, testConfig(), nil, retracted)
	rec := do(s, http.MethodGet, "/history")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /history: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	mustContain(t, body,
		"<title>History · Acme Status</title>",
		`<link rel="alternate" type="application/atom+xml" title="Acme Status" href="/feed.atom">`,
		`<details open>`+"\n<summary>"+historytest.Now.Format("January 2006")+"</summary>",
		"<summary>November 2026</summary>",
		`<li class="record outage" id="outage-web-api-`+strconv.FormatInt(historytest.At(80, 6).Unix(), 10)+`">`,
		`<strong>Web · API</strong> <time datetime="2026-11-23T06:00:00Z">down from Mon 23 Nov 06:00 to 12:00 (6 h)</time> — <span class="why">GET https://api.example.com/: status 503</span>`,
		`<li class="record announcement" id="announcement-db">`,
		"<h2>Database &lt;upgrade&gt;</h2>",
		"Published Wed 18 Nov 09:00</time> · retracted Thu 19 Nov 11:00",
		`<a href="https://blog.example.com/db" rel="nofollow noopener">`,
	)
	if strings.Index(body, "outage-web-api") > strings.Index(body, "announcement-db") {
		t.Error("the records are not newest first")
	}
	if strings.Count(body, "<details open>") != 1 {
		t.Error("more than the current month is open")
	}
	mustContain(t, do(s, http.MethodGet, "/").Body.String(), `<a href="/history">History</a>`, `Subscribe: <a href="/feed.atom">Atom</a>`)

	// Served from memory with an ETag; a HEAD has no body.
	again := do(s, http.MethodGet, "/history", "If-None-Match", rec.Header().Get("ETag"))
	if again.Code != http.StatusNotModified {
		t.Errorf("unchanged /history: %d, want 304", again.Code)
	}
}

// TestFeed: the Atom feed, read by a real feed parser, has every
// announcement (published and retracted) and the outage, newest first,
// with ids that do not change when an announcement is retracted.
func TestFeed(t *testing.T) {
	pub := historytest.At(75, 9)
	retracted := page.Announcement{ID: "db", Title: "Database upgrade", Text: "Done.", Published: pub, Retracted: pub.Add(26 * time.Hour)}
	live := page.Announcement{ID: "maint", Title: "Maintenance on Saturday", Text: "22:00–23:00 UTC.", Published: historytest.At(89, 8)}
	anns := &staticAnnouncements{}
	anns.set(live)
	cfg := testConfig()
	cfg.Branding.PageURL = "https://status.acme.example"
	s, _ := newHistoryServer(t, cfg, anns, retracted)

	rec := do(s, http.MethodGet, "/feed.atom")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/atom+xml" {
		t.Fatalf("GET /feed.atom: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	feed, err := gofeed.NewParser().ParseString(rec.Body.String())
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, rec.Body)
	}
	if feed.FeedType != "atom" || feed.Title != "Acme Status" || feed.FeedLink != "https://status.acme.example/feed.atom" ||
		feed.Link != "https://status.acme.example/history" {
		t.Errorf("feed: type %q title %q self %q link %q", feed.FeedType, feed.Title, feed.FeedLink, feed.Link)
	}
	outageID := "https://status.acme.example/history#outage-web-api-" + strconv.FormatInt(historytest.At(80, 6).Unix(), 10)
	want := []struct {
		id, title, link string
		updated         time.Time
		content         string
	}{
		{"https://status.acme.example/history#announcement-maint", "Maintenance on Saturday",
			"https://status.acme.example/#announcement-maint", live.Published, "22:00–23:00 UTC."},
		{outageID, "Web · API down for 6 h", outageID, historytest.At(80, 12),
			"Web · API was down from Mon 23 Nov 06:00 to 12:00 (6 h), UTC.\nGET https://api.example.com/: status 503"},
		{"https://status.acme.example/history#announcement-db", "Database upgrade",
			"https://status.acme.example/history#announcement-db", retracted.Retracted, "Done.\n\nRetracted Thu 19 Nov 2026 11:00 UTC."},
	}
	if len(feed.Items) != len(want) {
		t.Fatalf("%d entries, want %d:\n%s", len(feed.Items), len(want), rec.Body)
	}
	for i, w := range want {
		it := feed.Items[i]
		if it.GUID != w.id || it.Title != w.title || it.Link != w.link || it.UpdatedParsed == nil || !it.UpdatedParsed.Equal(w.updated) || it.Content != w.content {
			t.Errorf("entry %d: id %q title %q link %q updated %v content %q\nwant %q %q %q %v %q",
				i, it.GUID, it.Title, it.Link, it.UpdatedParsed, it.Content, w.id, w.title, w.link, w.updated, w.content)
		}
	}
	if feed.UpdatedParsed == nil || !feed.UpdatedParsed.Equal(historytest.At(89, 8)) {
		t.Errorf("feed updated %v, want the newest entry's time", feed.UpdatedParsed)
	}
	if again := do(s, http.MethodGet, "/feed.atom", "If-None-Match", rec.Header().Get("ETag")); again.Code != http.StatusNotModified {
		t.Errorf("unchanged feed: %d, want 304", again.Code)
	}

	// Without page_url, links are made from the address asked for.
	s2, _ := newHistoryServer(t, testConfig(), nil)
	body := do(s2, http.MethodGet, "http://status.other.example/feed.atom", "X-Forwarded-Proto", "https").Body.String()
	mustContain(t, body, `<link rel="self" type="application/atom+xml" href="https://status.other.example/feed.atom"></link>`,
		"<id>https://status.other.example/history#outage-web-api-")
	mustContain(t, do(s2, http.MethodGet, "/").Body.String(), `<link rel="alternate" type="application/atom+xml" title="Acme Status" href="/feed.atom">`)
}

// TestHistoryAPI: one node's history as JSON over each range, and every
// error as JSON.
func TestHistoryAPI(t *testing.T) {
	s, _ := newHistoryServer(t, testConfig(), nil)
	type bucket struct {
		Start         string   `json:"start"`
		Healthy       float64  `json:"healthy_seconds"`
		Sick          float64  `json:"sick_seconds"`
		Dead          float64  `json:"dead_seconds"`
		NoData        float64  `json:"no_data_seconds"`
		MeanLatencyMS *float64 `json:"mean_latency_ms"`
	}
	type answer struct {
		Service, Node, Range, From, To string
		UptimePercent                  *float64 `json:"uptime_percent"`
		Buckets                        []bucket
	}
	get := func(t *testing.T, path string) answer {
		t.Helper()
		rec := do(s, http.MethodGet, path)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" ||
			rec.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("GET %s: %d %v\n%s", path, rec.Code, rec.Header(), rec.Body)
		}
		var a answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("decode %s: %v", rec.Body, err)
		}
		return a
	}
	t.Run("24h by default", func(t *testing.T) {
		a := get(t, "/api/v1/history/web/api")
		if a.Service != "web" || a.Node != "api" || a.Range != "24h" || len(a.Buckets) != 24 || a.UptimePercent == nil || *a.UptimePercent != 100 {
			t.Fatalf("%+v", a)
		}
		b := a.Buckets[len(a.Buckets)-2] // 11:00–12:00 today
		if b.Start != "2026-12-02T11:00:00Z" || b.Healthy != 3600 || b.Dead != 0 || b.NoData != 0 || b.MeanLatencyMS == nil || *b.MeanLatencyMS != 20 {
			t.Errorf("bucket %+v", b)
		}
	})
	t.Run("7d", func(t *testing.T) {
		if a := get(t, "/api/v1/history/web/api?range=7d"); len(a.Buckets) != 168 {
			t.Errorf("%d buckets, want 168 hours", len(a.Buckets))
		}
	})
	t.Run("90d", func(t *testing.T) {
		a := get(t, "/api/v1/history/web/api/?range=90d")
		if len(a.Buckets) != 90 || a.From != "2026-09-04T00:00:00Z" || a.UptimePercent == nil || *a.UptimePercent != 99.7142 {
			t.Fatalf("%d buckets from %s, uptime %v", len(a.Buckets), a.From, a.UptimePercent)
		}
		outage, down := a.Buckets[80], a.Buckets[60]
		if outage.Dead != 6*3600 || outage.Healthy != 18*3600 || outage.MeanLatencyMS != nil {
			t.Errorf("day 80: %+v", outage)
		}
		if down.NoData != 24*3600 || down.Healthy != 0 {
			t.Errorf("day 60 (server down): %+v", down)
		}
	})
	t.Run("a node without data yet", func(t *testing.T) {
		a := get(t, "/api/v1/history/web/new?range=90d")
		if a.Buckets[0].NoData != 24*3600 || a.UptimePercent == nil || *a.UptimePercent != 100 {
			t.Errorf("web:new over 90 days: first day %+v, uptime %v", a.Buckets[0], a.UptimePercent)
		}
	})

	none := newTestServer(t, testConfig(), historyRegistry(), nil)
	for _, tc := range []struct {
		name string
		s    *Server
		path string
		code int
		msg  string
	}{
		{"unknown range", s, "/api/v1/history/web/api?range=1y", 400, `unknown range \"1y\"; want 24h, 7d, 30d, 90d`},
		{"empty range", s, "/api/v1/history/web/api?range=", 200, ""},
		{"unknown node", s, "/api/v1/history/web/nope", 404, `no node \"nope\" in service \"web\"`},
		{"unknown service", s, "/api/v1/history/nope/api", 404, `no node \"api\" in service \"nope\"`},
		{"no node in the path", s, "/api/v1/history/web", 404, "not found"},
		{"no history kept", none, "/api/v1/history/web/api", 404, "this server keeps no history"},
		{"POST", s, "/api/v1/history/web/api", 405, "method not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodGet
			if tc.name == "POST" {
				method = http.MethodPost
			}
			rec := do(tc.s, method, tc.path)
			if rec.Code != tc.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if tc.code != 200 {
				if rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
					t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
				}
				mustContain(t, rec.Body.String(), `{"error":"`+tc.msg)
			}
		})
	}
}

// TestUptimeBadge: a node's uptime over a range as a badge, coloured by
// the figure, cached like the status badges; errors as JSON.
func TestUptimeBadge(t *testing.T) {
	s, _ := newHistoryServer(t, testConfig(), nil)
	for _, tc := range []struct {
		path, value, color string
	}{
		{"/badge/uptime/web/api", "99.09%", "#9a6700"}, // 30 days by default
		{"/badge/uptime/web/api?range=24h", "100%", "#1a7f37"},
		{"/badge/uptime/web/api?range=90d", "99.71%", "#9a6700"},
		{"/badge/uptime/web/new?range=90d", "100%", "#1a7f37"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := do(s, http.MethodGet, tc.path)
			h := rec.Header()
			if rec.Code != http.StatusOK || h.Get("Content-Type") != "image/svg+xml" || h.Get("Cache-Control") != "no-cache" ||
				h.Get("Access-Control-Allow-Origin") != "*" || h.Get("ETag") == "" {
				t.Fatalf("%d %v", rec.Code, h)
			}
			mustContain(t, rec.Body.String(), `<svg xmlns="http://www.w3.org/2000/svg"`, `aria-label="uptime: `+tc.value+`"`,
				`fill="`+tc.color+`"`, `>uptime</text>`, `>`+tc.value+`</text>`)
			if again := do(s, http.MethodGet, tc.path, "If-None-Match", h.Get("ETag")); again.Code != http.StatusNotModified {
				t.Errorf("revalidation: %d, want 304", again.Code)
			}
		})
	}
	// Before the first view: no data, in grey.
	r := history.NewReader(memory.New(), historyRollups(memory.New()), historytest.Tree, nil)
	early, err := New(Options{Config: testConfig(), Registry: historyRegistry(), History: r})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, do(early, http.MethodGet, "/badge/uptime/web/api").Body.String(), `aria-label="uptime: no data"`, `fill="#59636e"`)

	for path, want := range map[string]string{
		"/badge/uptime/web/api?range=week": `{"error":"unknown range \"week\"`,
		"/badge/uptime/web/nope":           `{"error":"no node \"nope\" in service \"web\""}`,
	} {
		rec := do(s, http.MethodGet, path)
		if rec.Code/100 != 4 || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		mustContain(t, rec.Body.String(), want)
	}
}
