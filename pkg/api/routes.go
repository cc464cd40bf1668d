package api

import (
	"net/http"
	"net/url"
	"strings"
)

// ServeHTTP routes a request under /reporter/ or /manager/. Routing is done
// here rather than by the mounting router so that every route takes an
// optional trailing slash, percent-encoded replica names work, and every
// miss gets the same JSON error shape.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var seg [5]string
	n, ok := splitPath(r.URL, &seg)
	if !ok || n < 2 {
		notFound(w, r)
		return
	}
	switch seg[0] {
	case "reporter":
		a.routeReporter(w, r, seg[1:n])
	case "manager":
		a.routeManager(w, r, seg[1:n])
	default:
		notFound(w, r)
	}
}

func (a *API) routeReporter(w http.ResponseWriter, r *http.Request, seg []string) {
	switch len(seg) {
	case 2:
		if allow(w, r, http.MethodPost) {
			a.report(w, r, seg[0], seg[1])
		}
	case 3:
		if allow(w, r, http.MethodDelete) {
			a.flush(w, r, seg[0], seg[1], seg[2])
		}
	default:
		notFound(w, r)
	}
}

func (a *API) routeManager(w http.ResponseWriter, r *http.Request, seg []string) {
	switch {
	case len(seg) == 1 && seg[0] == "announcements":
		if allow(w, r, http.MethodGet) && a.managerAuth.check(w, r) {
			a.listAnnouncements(w)
		}
	case len(seg) == 1 && seg[0] == "announcement":
		if allow(w, r, http.MethodPost) && a.managerAuth.check(w, r) {
			a.addAnnouncement(w, r)
		}
	case len(seg) == 2 && seg[0] == "announcement":
		if allow(w, r, http.MethodDelete) && a.managerAuth.check(w, r) {
			a.deleteAnnouncement(w, seg[1])
		}
	case len(seg) == 2 && seg[0] == "prober" && seg[1] == "alerts":
		if allow(w, r, http.MethodGet) && a.managerAuth.check(w, r) {
			a.alerts(w)
		}
	case len(seg) == 3 && seg[0] == "prober" && seg[1] == "alerts" && seg[2] == "ignored":
		if allow(w, r, http.MethodGet, http.MethodPut) && a.managerAuth.check(w, r) {
			if r.Method == http.MethodGet {
				a.getIgnored(w)
			} else {
				a.putIgnored(w, r)
			}
		}
	default:
		notFound(w, r)
	}
}

// allow answers 405 unless the request uses one of the methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	list := strings.Join(methods, ", ")
	w.Header().Set("Allow", list)
	writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path+" (allowed: "+list+")")
	return false
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path+" (see docs/protocol.md)")
}

// splitPath cuts the request path into its segments, without the leading
// slash and one optional trailing slash. It fails on an empty segment or more
// segments than seg holds. Segments are unescaped, so an encoded "/" (%2F)
// stays inside its segment.
func splitPath(u *url.URL, seg *[5]string) (int, bool) {
	path, escaped := u.Path, false
	if u.RawPath != "" {
		path, escaped = u.RawPath, true
	}
	path, ok := strings.CutPrefix(path, "/")
	if !ok {
		return 0, false
	}
	path = strings.TrimSuffix(path, "/")
	n := 0
	for path != "" || n == 0 {
		if n == len(seg) {
			return 0, false
		}
		s, rest, _ := strings.Cut(path, "/")
		if s == "" {
			return 0, false
		}
		if escaped {
			var err error
			if s, err = url.PathUnescape(s); err != nil {
				return 0, false
			}
		}
		seg[n] = s
		n++
		path = rest
	}
	return n, true
}
