package server

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/page"
)

// handlePage serves the page from memory.
func (s *Server) handlePage(c echo.Context) error {
	before := s.page.cur.Load()
	d, err := s.currentPage()
	if d == nil {
		return err
	}
	s.page.served(before, d)
	serveDoc(c.Response(), c.Request(), d, hdrNoCache)
	return nil
}

// pageKey is the state the page shows, but for the window edges passed,
// which the doc's until tells.
func (s *Server) pageKey() docKey {
	snap := s.reg.Snapshot()
	_, annVersion := s.announcements()
	_, histVersion := s.history()
	_, incVersion := s.incidents()
	return docKey{version: snap.Version, statusVersion: snap.StatusVersion, annVersion: annVersion, histVersion: histVersion,
		incVersion: incVersion, maintVersion: s.maintVersion(), edges: s.edges.Load()}
}

// currentPage returns the page for the current state, rendered again
// when the status, the announcements, the incidents, the windows or the
// history (once a minute) changed, when a window started or ended, or
// when latencies changed and the rendered page is older than
// latencyRefresh. On a failed render it returns the last good page, if
// any, and the error.
func (s *Server) currentPage() (*doc, error) {
	d := s.page.cur.Load()
	if d != nil && d.stale(time.Now()) {
		s.edges.Add(1)
	}
	want := s.pageKey()
	if d == nil || d.key != want && (!d.key.sameStatus(want) || time.Since(d.built) >= latencyRefresh) {
		var err error
		if d, err = s.page.fresh(want); err != nil {
			s.log.Error("rendering the status page failed; serving the last good one", "err", err)
			return d, err
		}
	}
	return d, nil
}

// buildPage renders the page for the current state.
func (s *Server) buildPage(buf *bytes.Buffer, _ docKey) (docKey, time.Time, error) {
	snap := s.reg.Snapshot()
	anns, _ := s.announcements()
	hist, _ := s.history()
	incs, _ := s.incidents()
	key := s.pageKey()
	now := s.now()
	windows, until := s.windows(now)
	err := s.renderer.Render(buf, page.View{
		Snapshot:      snap,
		Announcements: anns,
		Now:           now,
		Version:       pageVersion(key),
		History:       hist,
		Incidents:     open(incs),
		Windows:       windows,
		MailOn:        s.mailOn(),
	})
	return key, until, err
}

// pageVersion changes whenever a browser showing the page should reload:
// the counters only grow, so their sum changes when any does. A new
// history view (every minute) does not make browsers reload: the bars
// move by a minute.
func pageVersion(k docKey) uint64 {
	return k.statusVersion + k.annVersion + k.incVersion + k.maintVersion + k.edges
}

// handleVersion is what the page's script polls:
// {"status":"sick","page_version":12,"refreshed":"10:42:13","updated":"2025-…"}.
// page_version is the one of the page served now, rendered again first
// when it is out of date.
func (s *Server) handleVersion(c echo.Context) error {
	snap := s.reg.Snapshot()
	updated := snap.Updated.In(time.Local)
	key := docKey{statusVersion: snap.StatusVersion}
	if d, _ := s.currentPage(); d != nil {
		key = d.key
	}

	b := make([]byte, 0, 128)
	b = append(b, `{"status":"`...)
	b = append(b, snap.Status.String()...)
	b = append(b, `","page_version":`...)
	b = strconv.AppendUint(b, pageVersion(key), 10)
	b = append(b, `,"refreshed":"`...)
	b = updated.AppendFormat(b, time.TimeOnly)
	b = append(b, `","updated":"`...)
	b = updated.AppendFormat(b, time.RFC3339)
	b = append(b, "\"}\n"...)
	return writeSmall(c, hdrJSON, b)
}

// handleText answers healthy, sick or dead.
func (s *Server) handleText(c echo.Context) error {
	return writeSmall(c, hdrText, statusWords[min(int(s.reg.Snapshot().Status), len(statusWords)-1)])
}

var statusWords = [...][]byte{[]byte("healthy"), []byte("sick"), []byte("dead")}

// handleHealth tells that the process answers (liveness): "ok", or
// "degraded: …" when a part of it fails (the store cannot write) while
// probing, notifying and the page go on. Either way the answer is 200: the
// server is alive and should not be restarted for it.
func (s *Server) handleHealth(c echo.Context) error {
	if s.health != nil {
		if p := s.health.Problem(); p != "" {
			return writeSmall(c, hdrText, []byte("degraded: "+p))
		}
	}
	return writeSmall(c, hdrText, []byte("ok"))
}

// writeSmall sends a short uncached body.
func writeSmall(c echo.Context, contentType []string, body []byte) error {
	h := c.Response().Header()
	h["Content-Type"] = contentType
	h["Cache-Control"] = hdrNoCache
	h["Access-Control-Allow-Origin"] = hdrAnyOrigin
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err := c.Response().Write(body)
	return err
}
