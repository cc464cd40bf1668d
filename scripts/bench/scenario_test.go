package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/overvakt/overvakt/pkg/config"
)

// The test binary doubles as a fake server so the harness's own flow
// (start, wait, count results, notice a crash, stop) is tested end to end
// without the real one. BENCH_FAKE_SERVER selects the behaviour:
// "ok" (every replica checked), "missing" (the last never is), "crash"
// (like missing, and exit 3 in the middle of the first sweep: on the third
// GET /status/report, after answering the harness's start-up check and its
// first poll for results).
func TestMain(m *testing.M) {
	if mode := os.Getenv("BENCH_FAKE_SERVER"); mode != "" {
		os.Exit(fakeServer(mode))
	}
	os.Exit(m.Run())
}

func fakeServer(mode string) int {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	path := fs.String("c", "", "config")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	var cfg config.Config
	if _, err := toml.DecodeFile(*path, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	type rep struct {
		Status  string  `json:"status"`
		Checked *string `json:"checked"`
	}
	type node struct {
		ID       string `json:"id"`
		Mode     string `json:"mode"`
		Replicas []rep  `json:"replicas"`
	}
	type svc struct {
		ID    string `json:"id"`
		Nodes []node `json:"nodes"`
	}
	now := time.Now().UTC().Format(time.RFC3339)
	var services []svc
	for _, s := range cfg.Probe.Services {
		out := svc{ID: s.ID}
		for _, n := range s.Nodes {
			nd := node{ID: n.ID, Mode: n.Mode}
			for range n.Replicas {
				nd.Replicas = append(nd.Replicas, rep{Status: "healthy", Checked: &now})
			}
			out.Nodes = append(out.Nodes, nd)
		}
		services = append(services, out)
	}
	if mode == "missing" || mode == "crash" {
		last := &services[len(services)-1].Nodes[len(services[len(services)-1].Nodes)-1]
		last.Replicas[len(last.Replicas)-1].Checked = nil
	}
	body, _ := json.Marshal(map[string]any{"status": "healthy", "services": services})
	// The crash is tied to the harness's requests, not to a timer: on a
	// loaded machine a timer races the harness's FirstTimeout, which counts
	// from before this process even started.
	var reports atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/status/report", func(w http.ResponseWriter, r *http.Request) {
		if mode == "crash" && reports.Add(1) == 3 {
			fmt.Fprintln(os.Stderr, "fake crash")
			os.Exit(3)
		}
		w.Write(body)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {})
	if err := http.ListenAndServe(cfg.Server.Inet, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestRunScenarioAgainstFakeServer(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// FirstTimeout is short only where the test waits for it to pass; where
	// it must not pass, it is long enough for any machine.
	tests := []struct {
		mode         string
		firstTimeout time.Duration
		failure      string // "" = the scenario passes
	}{
		{"ok", time.Minute, ""},
		{"missing", 200 * time.Millisecond, "1 of 20 replicas never got a result"},
		{"crash", time.Minute, "server crashed during the first sweep"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Setenv("BENCH_FAKE_SERVER", tt.mode)
			sc := scenario{Name: "fake-" + tt.mode, Services: 2, Nodes: 2, ReplicasPerNode: 4, TCP: 4, Listeners: 3,
				Interval: 1, Retry: 0.25, DelayDead: 1, DelaySick: 0.5, Parallelism: 4,
				ReportEvery: 20 * time.Millisecond, FirstTimeout: tt.firstTimeout}
			e := env{root: t.TempDir(), bin: self, dir: t.TempDir(), conns: 2}
			out := runScenario(context.Background(), e, sc)
			got := strings.Join(out.failures, "; ")
			if tt.failure == "" && got != "" {
				t.Fatalf("want success, got failures: %s", got)
			}
			if tt.failure != "" && !strings.Contains(got, tt.failure) {
				t.Fatalf("failures %q do not mention %q", got, tt.failure)
			}
			if tt.failure == "" {
				var found bool
				for _, r := range out.rows.list {
					found = found || strings.HasPrefix(r.Metric, "start → every replica has a result")
				}
				if !found {
					t.Fatalf("no first-result row in %+v", out.rows.list)
				}
			}
		})
	}
}

// TestServerStartMovesOffATakenPort: the port freeAddr picked can be taken
// by anything on the machine before the server listens on it; the harness
// then starts the server again on another.
func TestServerStartMovesOffATakenPort(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BENCH_FAKE_SERVER", "ok")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	go func() { // hang up at once, so the harness's checks do not wait on it
		for {
			c, err := taken.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	bc := benchConfig{Inet: taken.Addr().String(), ManagerToken: "manager-token-0123456789", ReporterToken: "reporter-token-0123456789",
		Interval: 1, Retry: 0.25, DelayDead: 1, DelaySick: 0.5, Parallelism: 1,
		Services: 1, Nodes: 1, ReplicasPerNode: 1, HTTPURLs: []string{"http://127.0.0.1:1/"}}
	srv, err := startWithConfig(context.Background(), env{root: t.TempDir(), bin: self, dir: t.TempDir()}, "taken", &bc)
	if err != nil {
		t.Fatalf("start with a taken port: %v", err)
	}
	defer srv.stop()
	if bc.Inet == taken.Addr().String() || srv.addr != bc.Inet {
		t.Errorf("server at %s, config at %s; want both on a port other than the taken %s", srv.addr, bc.Inet, taken.Addr())
	}
}
