package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// desk is an IncidentSource for tests.
type desk struct {
	mu      sync.Mutex
	list    []page.Incident
	version uint64
}

func (d *desk) Incidents() ([]page.Incident, uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.list, d.version
}

func (d *desk) set(list ...page.Incident) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = list
	d.version++
}

// schedule is a MaintenanceSource of fixed windows.
type schedule []page.Window

func (s schedule) Windows(from, to time.Time) []page.Window {
	var out []page.Window
	for _, w := range s {
		if w.Start.Before(to) && w.End.After(from) {
			out = append(out, w)
		}
	}
	return out
}

func (s schedule) NextChange(t time.Time) time.Time {
	var next time.Time
	for _, w := range s {
		for _, b := range []time.Time{w.Start, w.End} {
			if b.After(t) && (next.IsZero() || b.Before(next)) {
				next = b
			}
		}
	}
	return next
}

func (s schedule) Version() uint64 { return 1 }

func incidentServer(t *testing.T, d *desk, ws schedule) *Server {
	t.Helper()
	reg := status.NewRegistry([]status.ServiceSpec{{ID: "web", Label: "Web", Nodes: []status.NodeSpec{
		{ID: "api", Label: "API", Replicas: []string{"https://api.example.com/"}}}}}, time.Now())
	reg.Set(status.Ref{}, status.Result{Status: status.Healthy, At: time.Now()})
	s, err := New(Options{Config: testConfig(), Registry: reg, Incidents: d, Maintenance: ws, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func anIncident(id, status string, resolved time.Time) page.Incident {
	now := time.Now()
	return page.Incident{ID: id, Title: "Slow API " + id, Impact: "major", Status: status, Resolved: resolved, Created: now.Add(-time.Hour),
		Affected: []store.Component{{Service: "web", Node: "api"}},
		Updates:  []store.IncidentUpdate{{At: now.Add(-time.Hour), Status: "investigating", Text: "Looking."}, {At: now, Status: status, Text: "Update of " + id}}}
}

// TestIncidentsRerender: the page, /history and the feed follow the
// incidents as they change, and browsers are told to reload; drafts
// show nowhere.
func TestIncidentsRerender(t *testing.T) {
	d := &desk{}
	s := incidentServer(t, d, nil)
	before := jsonField(t, do(s, http.MethodGet, "/status/version").Body.Bytes(), "page_version")
	draft := anIncident("d", "investigating", time.Time{})
	draft.Draft = true
	d.set(anIncident("a", "identified", time.Time{}), draft)

	body := do(s, http.MethodGet, "/").Body.String()
	mustContain(t, body, `id="incident-a"`, "Update of a")
	mustNotContain(t, body, `id="incident-d"`)
	if after := jsonField(t, do(s, http.MethodGet, "/status/version").Body.Bytes(), "page_version"); after == before {
		t.Error("page_version did not move with a new incident: browsers would not reload")
	}

	d.set(anIncident("a", "resolved", time.Now()), draft)
	mustNotContain(t, do(s, http.MethodGet, "/").Body.String(), `id="incident-a"`)
	past := do(s, http.MethodGet, "/history").Body.String()
	mustContain(t, past, `id="incident-a"`, "Update of a")
	mustNotContain(t, past, `incident-d`)
	feed := do(s, http.MethodGet, "/feed.atom").Body.String()
	mustContain(t, feed, "history#incident-a", "Slow API a — Resolved")
	mustNotContain(t, feed, "incident-d")
}

// TestWindowEdges: the page changes by itself when a window starts and
// ends, and browsers are told to reload then.
func TestWindowEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now().Add(time.Hour)
		ws := schedule{{ID: "w", Title: "Upgrade", Affected: []store.Component{{Service: "web"}}, Start: start, End: start.Add(time.Hour)}}
		s := incidentServer(t, &desk{}, ws)
		version := func() string {
			return jsonField(t, do(s, http.MethodGet, "/status/version").Body.Bytes(), "page_version")
		}

		v0 := version()
		mustContain(t, do(s, http.MethodGet, "/").Body.String(), "Scheduled: ", "All systems operational")
		time.Sleep(time.Until(start))
		v1 := version()
		during := do(s, http.MethodGet, "/").Body.String()
		mustContain(t, during, "<h1>Under maintenance</h1>", `<li class="node maint">`)
		time.Sleep(time.Hour)
		v2 := version()
		after := do(s, http.MethodGet, "/").Body.String()
		mustContain(t, after, "All systems operational")
		mustNotContain(t, after, "Upgrade")
		if v0 == v1 || v1 == v2 {
			t.Errorf("page_version %s, %s, %s: want a new one at each edge", v0, v1, v2)
		}
	})
}

// TestCachedPageWithIncidentsAllocates nothing, as without them.
func TestCachedPageWithIncidentsAllocates(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	d := &desk{}
	d.set(anIncident("a", "identified", time.Time{}))
	start := time.Now().Add(-time.Minute)
	s := incidentServer(t, d, schedule{{ID: "w", Title: "Upgrade", Affected: []store.Component{{Service: "web"}}, Start: start, End: start.Add(time.Hour)}})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &discard{h: http.Header{}}
	s.ServeHTTP(w, req)
	if n := testing.AllocsPerRun(200, func() {
		clear(w.h)
		s.ServeHTTP(w, req)
	}); n != 0 || w.code != http.StatusOK {
		t.Errorf("GET /: %v allocations, status %d; want 0, 200", n, w.code)
	}
}

func TestClientOf(t *testing.T) {
	for _, c := range []struct {
		name, remote, realIP, forwarded, want string
	}{
		{"direct IPv4", "198.51.100.7:5000", "", "", "198.51.100.7"},
		{"direct, a header it does not trust", "198.51.100.7:5000", "203.0.113.1", "", "198.51.100.7"},
		{"direct IPv6, by /64", "[2001:db8:1:2:3:4:5:6]:443", "", "", "2001:db8:1:2::/64"},
		{"IPv4 mapped", "[::ffff:198.51.100.7]:80", "", "", "198.51.100.7"},
		{"a proxy here: X-Real-IP", "127.0.0.1:40000", "203.0.113.1", "10.0.0.1, 203.0.113.2", "203.0.113.1"},
		{"a proxy here: the last X-Forwarded-For", "[::1]:40000", "", "10.0.0.1, 203.0.113.2", "203.0.113.2"},
		{"a proxy here, saying nothing", "127.0.0.1:40000", "", "", "127.0.0.1"},
		{"a proxy here, saying nonsense", "127.0.0.1:40000", "bogus", "", "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/subscribe", nil)
			r.RemoteAddr = c.remote
			if c.realIP != "" {
				r.Header.Set("X-Real-IP", c.realIP)
			}
			if c.forwarded != "" {
				r.Header.Set("X-Forwarded-For", c.forwarded)
			}
			if got := clientOf(r); got != c.want {
				t.Errorf("clientOf = %q, want %q", got, c.want)
			}
		})
	}
}

// TestSubscribePagesCSP: the page lets its form post to this server and
// nowhere else.
func TestSubscribePagesCSP(t *testing.T) {
	s := incidentServer(t, &desk{}, nil)
	csp := do(s, http.MethodGet, "/").Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("policy %q", csp)
	}
}
