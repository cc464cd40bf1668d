package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
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
