package server

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/page"
)

// handlePast serves /history from memory, rendered again when the status
// tree, the announcements or the history view changed.
func (s *Server) handlePast(c echo.Context) error {
	d := s.past.cur.Load()
	before := d
	if want := s.pastKey(); d == nil || d.key != want || d.stale(time.Now()) {
		var err error
		if d, err = s.past.rebuild(want); err != nil {
			s.log.Error("rendering /history failed; serving the last good one", "err", err)
			if d == nil {
				return err
			}
		}
	}
	s.past.served(before, d)
	serveDoc(c.Response(), c.Request(), d, hdrNoCache)
	return nil
}

// pastKey is the state /history and the feed show: labels come with the
// status tree, records with the announcements, the incidents, the
// windows and the history view.
func (s *Server) pastKey() docKey {
	snap := s.reg.Snapshot()
	_, annVersion := s.announcements()
	_, histVersion := s.history()
	_, incVersion := s.incidents()
	return docKey{version: snap.StatusVersion, statusVersion: snap.StatusVersion, annVersion: annVersion, histVersion: histVersion,
		incVersion: incVersion, maintVersion: s.maintVersion()}
}

// pastState is what /history and the feed are made of, and until when
// its windows stay as they are.
func (s *Server) pastState() (page.Past, docKey, time.Time) {
	key := s.pastKey()
	anns, _ := s.announcements()
	hist, _ := s.history()
	incs, _ := s.incidents()
	now := s.now()
	windows, until := s.windows(now)
	return page.Past{Snapshot: s.reg.Snapshot(), Announcements: anns, Retracted: s.retracted(), History: hist, Now: now,
		Incidents: public(incs), Windows: windows}, key, until
}

func (s *Server) buildPast(buf *bytes.Buffer, _ docKey) (docKey, time.Time, error) {
	p, key, until := s.pastState()
	return key, until, s.renderer.RenderPast(buf, p)
}

var hdrAtom = []string{"application/atom+xml"}

// handleFeed serves the Atom feed of announcements and outages, built
// once per change (and per address, when page_url is not set and the
// links are made from the request's).
func (s *Server) handleFeed(c echo.Context) error {
	want := s.pastKey()
	want.variant = s.baseURL(c.Request())
	d := s.feed.cur.Load()
	before := d
	if d == nil || d.key != want || d.stale(time.Now()) {
		var err error
		if d, err = s.feed.rebuild(want); err != nil {
			return err
		}
	}
	s.feed.served(before, d)
	c.Response().Header()["Access-Control-Allow-Origin"] = hdrAnyOrigin
	serveDoc(c.Response(), c.Request(), d, hdrNoCache)
	return nil
}

func (s *Server) buildFeed(buf *bytes.Buffer, want docKey) (docKey, time.Time, error) {
	p, key, until := s.pastState()
	key.variant = want.variant
	return key, until, s.renderer.RenderFeed(buf, page.Feed{Past: p, Base: want.variant, Quiet: s.started})
}

// baseURL is the page's address ending in "/": page_url, or else the
// scheme and host the request came to (X-Forwarded-Proto, as a proxy in
// front sets it, else whether it came over TLS).
func (s *Server) baseURL(r *http.Request) string {
	if s.pageURL != "" {
		return s.pageURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if host == "" || strings.ContainsAny(host, "/\\ \"<>") {
		host = "localhost"
	}
	return scheme + "://" + host + "/"
}
