// Package probetest runs the probe scheduler in tests, with the kinds a test
// names, and records what loopback HTTP targets see.
package probetest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/status"
)

// Config is the default config with one service "svc" holding nodes, and
// metrics fast enough for tests: one probe per replica unless a test
// shortens poll_interval.
func Config(nodes ...config.Node) *config.Config {
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

// PollNode is a poll node "node" with these replicas; tables are kinds'
// node keys by kind name (nil: every kind's defaults).
func PollNode(tables map[string]config.NodeTable, replicas ...string) config.Node {
	return config.Node{ID: "node", Label: "Node", Mode: "poll", Replicas: replicas, Tables: tables}
}

// ScriptNode is a script node "scripts" running these scripts.
func ScriptNode(scripts ...string) config.Node {
	return config.Node{ID: "scripts", Label: "Scripts", Mode: "script", Scripts: scripts}
}

// Running is a started Scheduler and the registry it writes to.
type Running struct {
	Reg   *status.Registry
	Sched *probe.Scheduler
	Stop  func() // cancels Run and waits for it; safe to call twice
}

// Start runs a Scheduler for cfg with kinds until the test ends (or Stop
// is called). A nil logger discards.
func Start(t testing.TB, cfg *config.Config, kinds []probe.Kind, logger *slog.Logger) *Running {
	t.Helper()
	reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
	s, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: reg, Kinds: kinds, Logger: logger, Version: "1.2.3"})
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
	return &Running{Reg: reg, Sched: s, Stop: stop}
}

// WaitChecked waits until every configured replica has a result and
// returns that snapshot.
func WaitChecked(t testing.TB, reg *status.Registry, within time.Duration) *status.Snapshot {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		snap := reg.Snapshot()
		if snap.Unchecked == 0 {
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every replica had a result within %s", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// FirstResult runs cfg (one service, one node, one replica) until the
// replica has a result, or could not be checked because of this server
// (then it is unchecked, and its Error says "could not check: …").
func FirstResult(t testing.TB, cfg *config.Config, kinds []probe.Kind) *status.Replica {
	t.Helper()
	r := Start(t, cfg, kinds, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep := r.Reg.Snapshot().Services[0].Nodes.At(0).Replicas.At(0)
		if !rep.Checked.IsZero() || strings.HasPrefix(rep.Error, "could not check: ") {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica had no result within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Hit is one request as a test server saw it.
type Hit struct {
	At     time.Time
	Method string
	Path   string
	Body   string
	Header http.Header
	Host   string
	User   string
	Pass   string
}

// Server is a loopback HTTP server that records what it receives.
type Server struct {
	*httptest.Server
	mu   sync.Mutex
	hits []Hit
}

// NewServer starts a recording server; handler (nil: 200 with no body)
// answers after the request is recorded.
func NewServer(t testing.TB, handler http.HandlerFunc) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		s.mu.Lock()
		s.hits = append(s.hits, Hit{At: time.Now(), Method: r.Method, Path: r.URL.Path, Body: string(body),
			Header: r.Header.Clone(), Host: r.Host, User: user, Pass: pass})
		s.mu.Unlock()
		if handler != nil {
			handler(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// Seen returns the requests so far.
func (s *Server) Seen() []Hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Hit(nil), s.hits...)
}

// Sleep waits for d or until the client goes away.
func Sleep(r *http.Request, d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}

// ClosedPort returns a loopback address where nothing listens.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// OpenPort returns a loopback address that accepts connections.
func OpenPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// WithoutFDs runs f while this process can open no more file descriptors,
// as a server that ran out of them: its RLIMIT_NOFILE is lowered to the
// lowest free descriptor for the time f runs.
func WithoutFDs(t testing.TB, f func()) {
	t.Helper()
	probe, err := os.Open(os.DevNull) // takes the lowest free descriptor
	if err != nil {
		t.Fatal(err)
	}
	lowest := uint64(probe.Fd())
	probe.Close()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: lowest, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Fatal(err)
		}
	}()
	f()
}
