package server

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/page"
)

// handlePage serves the page from memory. A re-render happens when the
// status, the announcements or the history (once a minute) changed, or
// when latencies changed and the rendered page is older than
// latencyRefresh.
func (s *Server) handlePage(c echo.Context) error {
	snap := s.reg.Snapshot()
	_, annVersion := s.announcements()
	_, histVersion := s.history()
	want := docKey{version: snap.Version, statusVersion: snap.StatusVersion, annVersion: annVersion, histVersion: histVersion}
	d := s.page.cur.Load()
	if d == nil || d.key != want && (!d.key.sameStatus(want) || time.Since(d.built) >= latencyRefresh) {
		var err error
		if d, err = s.page.fresh(want); err != nil {
			s.log.Error("rendering the status page failed; serving the last good one", "err", err)
			if d == nil {
				return err
			}
		}
	}
	serveDoc(c.Response(), c.Request(), d, hdrNoCache)
	return nil
}

// buildPage renders the page for the current state.
func (s *Server) buildPage(buf *bytes.Buffer, _ docKey) (docKey, error) {
	snap := s.reg.Snapshot()
	anns, annVersion := s.announcements()
	hist, histVersion := s.history()
	key := docKey{version: snap.Version, statusVersion: snap.StatusVersion, annVersion: annVersion, histVersion: histVersion}
	err := s.renderer.Render(buf, page.View{
		Snapshot:      snap,
		Announcements: anns,
		Now:           time.Now(),
		Version:       pageVersion(key),
		History:       hist,
	})
	return key, err
}

// pageVersion changes whenever a browser showing the page should reload:
// both counters only grow, so their sum changes when either does. A new
// history view (every minute) does not make browsers reload: the bars
// move by a minute.
func pageVersion(k docKey) uint64 { return k.statusVersion + k.annVersion }

// handleVersion is what the page's script polls:
// {"status":"sick","page_version":12,"refreshed":"10:42:13","updated":"2025-…"}.
func (s *Server) handleVersion(c echo.Context) error {
	snap := s.reg.Snapshot()
	_, annVersion := s.announcements()
	updated := snap.Updated.In(time.Local)

	b := make([]byte, 0, 128)
	b = append(b, `{"status":"`...)
	b = append(b, snap.Status.String()...)
	b = append(b, `","page_version":`...)
	b = strconv.AppendUint(b, pageVersion(docKey{statusVersion: snap.StatusVersion, annVersion: annVersion}), 10)
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
