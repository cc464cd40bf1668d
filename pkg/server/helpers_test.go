package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/history/historytest"
	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// testBranding is what the tests' pages show in the header.
func testBranding() config.Branding {
	return config.Branding{
		PageTitle:   "Acme Status",
		CompanyName: "Acme Cloud",
		LogoColor:   "#e8f1ff",
		IconColor:   "#1a7f37",
		WebsiteURL:  "https://www.acme.example/",
		SupportURL:  "https://support.acme.example/",
	}
}

func testConfig() *config.Config {
	c := config.Default()
	c.Branding = testBranding()
	return &c
}

// realisticSpecs is a small page like a real company would run.
func realisticSpecs() []status.ServiceSpec {
	return []status.ServiceSpec{
		{ID: "web", Label: "Website", Nodes: []status.NodeSpec{
			{ID: "site", Label: "Marketing site", Replicas: []string{"https://www.acme.example/", "https://www2.acme.example/"}},
			{ID: "app", Label: "Customer dashboard", RevealReplicaName: true,
				Replicas: []string{"https://app-1.acme.example/health", "https://app-2.acme.example/health"}},
		}},
		{ID: "api", Label: "Public API", Nodes: []status.NodeSpec{
			{ID: "rest", Label: "REST API", Replicas: []string{"https://api-1.acme.example/", "https://api-2.acme.example/", "https://api-3.acme.example/"},
				LinkURL: "https://docs.acme.example/api", LinkLabel: "API docs"},
			{ID: "hooks", Label: "Webhook delivery", Mode: status.ModeScript, Replicas: []string{"script-1"}},
		}},
		{ID: "infra", Label: "Infrastructure", Nodes: []status.NodeSpec{
			{ID: "db", Label: "Database cluster", Mode: status.ModePush},
			{ID: "storage", Label: "Object storage", Replicas: []string{"tcp://s3-1.acme.example:443", "tcp://s3-2.acme.example:443"}},
			{ID: "mail", Label: "Outgoing email", Replicas: []string{"tcp://smtp.acme.example:587"}},
		}},
	}
}

// realisticRegistry has one sick node (a slow API replica) and one dead
// replica (object storage), so the page shows every look.
func realisticRegistry(now time.Time) *status.Registry {
	reg := status.NewRegistry(realisticSpecs(), now)
	ok := func(ms int) status.Result {
		return status.Result{Status: status.Healthy, Latency: time.Duration(ms) * time.Millisecond, At: now}
	}
	reg.Set(status.Ref{Service: 0, Node: 0, Replica: 0}, status.Result{Status: status.Healthy, Latency: 84 * time.Millisecond, At: now,
		Cert: &status.Cert{NotAfter: now.Add(42*24*time.Hour + time.Hour)}})
	reg.Set(status.Ref{Service: 0, Node: 0, Replica: 1}, ok(91))
	reg.Set(status.Ref{Service: 0, Node: 1, Replica: 0}, ok(143))
	reg.Set(status.Ref{Service: 0, Node: 1, Replica: 1}, ok(128))
	reg.Set(status.Ref{Service: 1, Node: 0, Replica: 0}, ok(212))
	// Slow for 8 minutes, and down for 25 (as realisticHistory has it).
	reg.Set(status.Ref{Service: 1, Node: 0, Replica: 1}, status.Result{Status: status.Sick, Latency: 6100 * time.Millisecond, At: now.Add(-8 * time.Minute)})
	reg.Set(status.Ref{Service: 1, Node: 0, Replica: 1}, status.Result{Status: status.Sick, Latency: 6200 * time.Millisecond, At: now})
	reg.Set(status.Ref{Service: 1, Node: 0, Replica: 2}, ok(198))
	reg.Set(status.Ref{Service: 1, Node: 1, Replica: 0}, status.Result{Status: status.Healthy, Latency: 1240 * time.Millisecond, At: now,
		Queue: &status.Queue{Ready: 12, Unacked: 3}})
	reg.Upsert(2, 0, "db-primary", status.Result{Status: status.Healthy, At: now, Load: &status.Load{CPU: 0.42, RAM: 0.61}})
	reg.Upsert(2, 0, "db-replica", status.Result{Status: status.Healthy, At: now, Load: &status.Load{CPU: 0.18, RAM: 0.57}})
	reg.Set(status.Ref{Service: 2, Node: 1, Replica: 0}, ok(23))
	reg.Set(status.Ref{Service: 2, Node: 1, Replica: 1}, status.Result{Status: status.Dead, Latency: 10 * time.Second, Err: "connection refused", At: now.Add(-25 * time.Minute)})
	reg.Set(status.Ref{Service: 2, Node: 1, Replica: 1}, status.Result{Status: status.Dead, Latency: 10 * time.Second, Err: "connection refused", At: now})
	// mail stays unchecked
	return reg
}

// gridSpecs builds services × nodes × replicas, all poll replicas.
func gridSpecs(services, nodes, replicas int) []status.ServiceSpec {
	specs := make([]status.ServiceSpec, services)
	for s := range specs {
		specs[s] = status.ServiceSpec{ID: fmt.Sprintf("svc-%d", s), Label: fmt.Sprintf("Service number %d", s+1)}
		for n := range nodes {
			ns := status.NodeSpec{ID: fmt.Sprintf("node-%d", n), Label: fmt.Sprintf("Node %d of service %d", n+1, s+1),
				RevealReplicaName: n%2 == 0}
			for r := range replicas {
				ns.Replicas = append(ns.Replicas, fmt.Sprintf("https://node-%d-%d.svc-%d.example.com/health", n, r, s))
			}
			specs[s].Nodes = append(specs[s].Nodes, ns)
		}
	}
	return specs
}

// gridRegistry fills a grid with checked replicas, a few of them sick.
func gridRegistry(services, nodes, replicas int, now time.Time) *status.Registry {
	reg := status.NewRegistry(gridSpecs(services, nodes, replicas), now)
	i := 0
	for s := range services {
		for n := range nodes {
			for r := range replicas {
				st := status.Healthy
				if i%97 == 13 {
					st = status.Sick
				}
				reg.Set(status.Ref{Service: s, Node: n, Replica: r},
					status.Result{Status: st, Latency: time.Duration(50+i%400) * time.Millisecond, At: now})
				i++
			}
		}
	}
	return reg
}

func newTestServer(t testing.TB, cfg *config.Config, reg *status.Registry, anns AnnouncementSource) *Server {
	t.Helper()
	s, err := New(Options{Config: cfg, Registry: reg, Announcements: anns, Version: "test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// do sends one request to the handler and returns the recorded response.
func do(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q", w)
		}
	}
}

func mustNotContain(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("body contains %q", w)
		}
	}
}

// staticAnnouncements is an AnnouncementSource for tests.
type staticAnnouncements struct {
	mu      sync.Mutex
	list    []page.Announcement
	version uint64
}

func (a *staticAnnouncements) Announcements() ([]page.Announcement, uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.list, a.version
}

func (a *staticAnnouncements) set(list ...page.Announcement) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.list = list
	a.version++
}

// historyStore is historytest's 90 days in a memory store, summed up as
// the server would have, shared by the tests (they only read it).
var historyStore = sync.OnceValues(func() (*memory.Store, error) {
	st := memory.New()
	var tb onceTB
	historytest.Write(&tb, st)
	if tb.err != nil {
		return nil, tb.err
	}
	return st, historyRollups(st).Catch(context.Background())
})

// onceTB lets historytest.Write run outside a test: it records the
// first failure.
type onceTB struct {
	testing.TB
	err error
}

func (o *onceTB) Helper() {}
func (o *onceTB) Fatal(args ...any) {
	if o.err == nil {
		o.err = fmt.Errorf("%v", fmt.Sprint(args...))
	}
}

func historyRollups(st store.Store) *history.Rollups {
	ru := history.NewRollups(st, config.Default().Storage, historytest.Tree, nil)
	ru.SetClock(func() time.Time { return historytest.Now }, time.UTC)
	return ru
}

// historyReader is a reader of historytest's 90 days with its first view
// built, as the server runs it.
func historyReader(t testing.TB) *history.Reader {
	t.Helper()
	st, err := historyStore()
	if err != nil {
		t.Fatal(err)
	}
	r := history.NewReader(st, historyRollups(st), historytest.Tree, nil)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// historyRegistry is historytest's tree (web: api, which shows its
// replica names, and new), checked healthy at its Now.
func historyRegistry() *status.Registry {
	reg := status.NewRegistry([]status.ServiceSpec{{ID: "web", Label: "Web", Nodes: []status.NodeSpec{
		{ID: "api", Label: "API", Replicas: []string{"https://api.example.com/"}, RevealReplicaName: true},
		{ID: "new", Label: "New", Replicas: []string{"https://new.example.com/"}},
	}}}, historytest.At(62, 0))
	for n := range 2 {
		reg.Set(status.Ref{Node: n}, status.Result{Status: status.Healthy, Latency: 20 * time.Millisecond, At: historytest.Now})
	}
	return reg
}

// staticRetracted is a RetractedSource for tests.
type staticRetracted []page.Announcement

func (r staticRetracted) Retracted() []page.Announcement { return r }

// newHistoryServer serves historyRegistry with historytest's 90 days and
// the retracted announcements given.
func newHistoryServer(t testing.TB, cfg *config.Config, anns AnnouncementSource, retracted ...page.Announcement) (*Server, *history.Reader) {
	t.Helper()
	r := historyReader(t)
	s, err := New(Options{Config: cfg, Registry: historyRegistry(), Announcements: anns, Version: "test",
		History: r, Retracted: staticRetracted(retracted), Now: func() time.Time { return historytest.Now }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, r
}
