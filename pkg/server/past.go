package server

import (
	"bytes"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/page"
)

// handlePast serves /history from memory, rendered again when the status
// tree, the announcements or the history view changed.
func (s *Server) handlePast(c echo.Context) error {
	d := s.past.cur.Load()
	if want := s.pastKey(); d == nil || d.key != want {
		var err error
		if d, err = s.past.rebuild(want); err != nil {
			s.log.Error("rendering /history failed; serving the last good one", "err", err)
			if d == nil {
				return err
			}
		}
	}
	serveDoc(c.Response(), c.Request(), d, hdrNoCache)
	return nil
}

// pastKey is the state /history and the feed show: labels come with the
// status tree, records with the announcements and the history view.
func (s *Server) pastKey() docKey {
	snap := s.reg.Snapshot()
	_, annVersion := s.announcements()
	_, histVersion := s.history()
	return docKey{version: snap.StatusVersion, statusVersion: snap.StatusVersion, annVersion: annVersion, histVersion: histVersion}
}

// pastState is what /history and the feed are made of.
func (s *Server) pastState() (page.Past, docKey) {
	key := s.pastKey()
	anns, _ := s.announcements()
	hist, _ := s.history()
	return page.Past{Snapshot: s.reg.Snapshot(), Announcements: anns, Retracted: s.retracted(), History: hist, Now: time.Now()}, key
}

func (s *Server) buildPast(buf *bytes.Buffer) (docKey, error) {
	p, key := s.pastState()
	return key, s.renderer.RenderPast(buf, p)
}
