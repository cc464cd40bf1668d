package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// apiPrefixes are answered with JSON errors; everything else gets a small
// HTML page.
var apiPrefixes = [...]string{"/status/", "/badge/", "/reporter/", "/manager/", "/api/"}

func isAPI(p string) bool {
	for _, pre := range apiPrefixes {
		if strings.HasPrefix(p+"/", pre) {
			return true
		}
	}
	return false
}

// handleError answers every error a handler returned or the router raised
// (404, 405): {"error":"…"} for API paths, an HTML page otherwise.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal server error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		switch m := he.Message.(type) {
		case string:
			msg = m
		case error:
			msg = m.Error()
		default:
			msg = fmt.Sprint(m)
		}
		if code == http.StatusNotFound && msg == http.StatusText(code) {
			msg = "not found"
		}
		if code == http.StatusMethodNotAllowed && msg == http.StatusText(code) {
			msg = "method not allowed"
		}
	}
	r := c.Request()
	if isAPIPath(r.URL.Path) {
		// The reporter and manager APIs say more, as docs/protocol.md shows.
		switch code {
		case http.StatusNotFound:
			msg = "no such route: " + r.Method + " " + r.URL.Path + " (see docs/protocol.md)"
		case http.StatusMethodNotAllowed:
			msg = "method " + r.Method + " is not allowed on " + r.URL.Path + " (allowed: " + allowed(c) + ")"
		}
	}
	if code >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}

	h := c.Response().Header()
	h["Cache-Control"] = hdrNoCache
	var body []byte
	if isAPI(r.URL.Path) {
		h["Content-Type"] = hdrJSON
		body, _ = json.Marshal(map[string]string{"error": msg}) // a string map always encodes
		body = append(body, '\n')
	} else if code == http.StatusNotFound {
		h["Content-Type"] = hdrHTML
		body = s.notFoundHTML.body
	} else {
		h["Content-Type"] = hdrHTML
		if d, rerr := s.errorDoc(code, msg); rerr == nil {
			body = d.body
		} else {
			s.log.Error("rendering the error page failed", "err", rerr)
			h["Content-Type"] = hdrText
			body = []byte(msg)
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Response().WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = c.Response().Write(body)
	}
}

// errorDoc renders templates/error.html.
func (s *Server) errorDoc(code int, msg string) (*doc, error) {
	var buf bytes.Buffer
	if err := s.renderer.RenderError(&buf, code, msg); err != nil {
		return nil, err
	}
	return &doc{body: buf.Bytes()}, nil
}

// allowed lists the methods the router found for the path, without the
// OPTIONS it adds to every one.
func allowed(c echo.Context) string {
	var out []string
	for _, m := range strings.Split(c.Response().Header().Get(echo.HeaderAllow), ",") {
		if m = strings.TrimSpace(m); m != "" && m != http.MethodOptions {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	list := strings.Join(out, ", ")
	c.Response().Header().Set(echo.HeaderAllow, list)
	return list
}
