package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/overvakt/overvakt/pkg/history/historytest"
	"github.com/overvakt/overvakt/pkg/page"
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
		`<details open>`+"\n<summary>"+time.Now().Format("January 2006")+"</summary>",
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
