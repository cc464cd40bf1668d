package probe

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// testConfig is the default config with one service holding nodes, and
// metrics fast enough for tests: one probe per replica unless a test
// shortens poll_interval.
func testConfig(nodes ...config.Node) *config.Config {
	cfg := config.Default()
	cfg.Metrics.PollInterval = 60
	cfg.Metrics.PollRetry = 0.05
	cfg.Metrics.PollDelayDead = 2
	cfg.Metrics.PollDelaySick = 1
	cfg.Metrics.PollParallelism = 8
	cfg.Metrics.ScriptInterval = 60
	cfg.Probe.Services = []config.Service{{ID: "svc", Label: "Service", Nodes: nodes}}
	return &cfg
}

func pollNode(replicas ...string) config.Node {
	return config.Node{ID: "node", Label: "Node", Mode: "poll", Replicas: replicas}
}

// running is a started Scheduler and the registry it writes to.
type running struct {
	reg  *status.Registry
	stop func() // cancels Run and waits for it; safe to call twice
}

// start runs a Scheduler for cfg until the test ends (or stop is called).
func start(t *testing.T, cfg *config.Config, queues QueueChecker, logger *slog.Logger) running {
	t.Helper()
	reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
	s, err := NewScheduler(Options{Config: cfg, Registry: reg, Logger: logger, Version: "1.2.3", Queues: queues})
	if err != nil {
		t.Fatalf("NewScheduler: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan error, 1)
	go func() { finished <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-finished:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Run did not return within 5s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return running{reg: reg, stop: stop}
}

// waitChecked waits until every configured replica has a result and returns
// that snapshot.
func waitChecked(t *testing.T, reg *status.Registry, within time.Duration) *status.Snapshot {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		snap := reg.Snapshot()
		if allChecked(snap) {
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every replica had a result within %s", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allChecked(snap *status.Snapshot) bool {
	for _, svc := range snap.Services {
		for _, n := range svc.Nodes {
			for _, r := range n.Replicas {
				if r.Checked.IsZero() {
					return false
				}
			}
		}
	}
	return true
}

// firstResult runs cfg (one service, one node, one replica) until the replica
// has a result.
func firstResult(t *testing.T, cfg *config.Config) *status.Replica {
	t.Helper()
	r := start(t, cfg, nil, nil)
	snap := waitChecked(t, r.reg, 10*time.Second)
	return snap.Services[0].Nodes[0].Replicas[0]
}

// hit is one request as a test server saw it.
type hit struct {
	at     time.Time
	method string
	path   string
	body   string
	header http.Header
	host   string
	user   string
	pass   string
}

// server is a loopback HTTP server that records what it receives.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newServer(t *testing.T, handler http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		s.mu.Lock()
		s.hits = append(s.hits, hit{at: time.Now(), method: r.Method, path: r.URL.Path, body: string(body),
			header: r.Header.Clone(), host: r.Host, user: user, pass: pass})
		s.mu.Unlock()
		if handler != nil {
			handler(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) seen() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

// sleep waits for d or until the client goes away.
func sleep(r *http.Request, d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}
