package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

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
