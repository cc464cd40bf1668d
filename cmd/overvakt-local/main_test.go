package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app/apptest"
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/status"
)

const serverConfig = `
[server]
manager_token = "manager-secret-0123"
reporter_token = "reporter-secret-0123"

[metrics]
local_delay_dead = 0.3

[[probe.service]]
id = "lan"
[[probe.service.node]]
id = "web"
mode = "local"
[[probe.service.node]]
id = "jobs"
mode = "local"
[[probe.service.node]]
id = "hosts"
mode = "push"
`

// t0 is the server's clock: it stamps every report with t0, so the test
// knows when the server saw each report, and the silence sweep runs only
// when the test calls it, at the times it chooses.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// startServer runs the reporter API on loopback, on a clock stopped at t0.
func startServer(t *testing.T) *apptest.Server {
	t.Helper()
	return apptest.Start(t, serverConfig, apptest.Options{Now: func() time.Time { return t0 }})
}

func serverReplica(reg *status.Registry, node, id string) *status.Replica {
	snap := reg.Snapshot()
	si, ni, ok := snap.FindNode("lan", node)
	if !ok {
		return nil
	}
	for _, r := range snap.Services[si].Nodes.At(ni).Replicas.All() {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "overvakt-local.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor checks cond after every change of the server's registry until it
// holds. The timeout only ends a test that has already failed: the agent
// probes real targets, which a loaded machine may slow down.
func waitFor(t *testing.T, reg *status.Registry, what string, cond func() bool) {
	t.Helper()
	const timeout = 20 * time.Second
	changed, unsubscribe := reg.Subscribe()
	defer unsubscribe()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// TestAgentDrivesLocalNodes: the agent probes an HTTP service, a closed TCP
// port and two scripts in "its" network, and the server's local nodes show
// what it found; a failure shows up without waiting for the next round,
// and when the agent stops the replicas die after interval +
// local_delay_dead.
func TestAgentDrivesLocalNodes(t *testing.T) {
	srv := startServer(t)
	url, reg := srv.URL, srv.Registry
	var failing atomic.Bool
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer app.Close()
	appURL := app.URL + "/health"
	secretURL := strings.Replace(app.URL, "http://", "http://probe:s3cret@", 1) + "/private"
	tcpURL := "tcp://" + closedPort(t)
	path := writeConfig(t, `
[report]
url = "`+url+`"
interval = 1

[metrics]
poll_retry = 0.05
poll_delay_dead = 0.5
poll_delay_sick = 0.4

[[probe.service]]
id = "lan"

[[probe.service.node]]
id = "web"
mode = "poll"
replicas = ["`+appURL+`", "`+tcpURL+`", "`+secretURL+`"]

[[probe.service.node]]
id = "jobs"
mode = "script"
scripts = ["exit 0", "exit 1"]
`)
	env := map[string]string{"OVERVAKT_TOKEN": "reporter-secret-0123"}
	log := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", path}, func(k string) string { return env[k] }, log) }()
	defer func() {
		cancel()
		<-done
	}()

	want := []struct {
		node, replica string
		status        status.Status
	}{
		{"web", appURL, status.Healthy},
		{"web", tcpURL, status.Dead},
		{"web", app.URL + "/private", status.Healthy}, // the password stays in the private network
		{"jobs", "script-1", status.Healthy},
		{"jobs", "script-2", status.Sick},
	}
	for _, w := range want {
		waitFor(t, reg, w.replica+" to be reported "+w.status.String(), func() bool {
			r := serverReplica(reg, w.node, w.replica)
			return r != nil && r.Status == w.status
		})
	}
	for _, r := range reg.Snapshot().Services[0].Nodes.At(0).Replicas.All() {
		if strings.Contains(r.ID, "s3cret") {
			t.Errorf("replica %q carries the probe's password to the server", r.ID)
		}
	}

	failing.Store(true)
	waitFor(t, reg, "the failing HTTP service to be reported dead", func() bool {
		r := serverReplica(reg, "web", appURL)
		return r.Status == status.Dead
	})
	failing.Store(false)
	waitFor(t, reg, "recovery to be reported", func() bool {
		return serverReplica(reg, "web", appURL).Status == status.Healthy
	})

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit status %d; log:\n%s", code, log)
	}
	done <- 0 // for the deferred receive

	// The server saw every report at t0 and the agent promised one every
	// second: its replicas are dead once the sweep finds them silent for
	// that interval + local_delay_dead (300 ms), and not a moment before.
	deadline := t0.Add(time.Second + 300*time.Millisecond)
	srv.Agents.Sweep(deadline.Add(-time.Nanosecond))
	for _, w := range want {
		if r := serverReplica(reg, w.node, w.replica); strings.Contains(r.Error, "local_delay_dead") {
			t.Errorf("%s marked silent just before interval + local_delay_dead: %q", w.replica, r.Error)
		}
	}
	srv.Agents.Sweep(deadline)
	for _, w := range want {
		r := serverReplica(reg, w.node, w.replica)
		if r.Status != status.Dead || !strings.Contains(r.Error, "local_delay_dead") {
			t.Errorf("%s is %s (%q) at interval + local_delay_dead after its last report, want dead for silence", w.replica, r.Status, r.Error)
		}
	}
}

func TestAgentOnce(t *testing.T) {
	srv := startServer(t)
	url, reg := srv.URL, srv.Registry
	path := writeConfig(t, `
[report]
url = "`+url+`"
token = "reporter-secret-0123"
interval = 5

[[probe.service]]
id = "lan"
[[probe.service.node]]
id = "jobs"
mode = "script"
scripts = ["exit 2"]
`)
	log := &syncBuffer{}
	if code := run(context.Background(), []string{"-c", path, "-once"}, func(string) string { return "" }, log); code != 0 {
		t.Fatalf("exit status %d; log:\n%s", code, log)
	}
	if r := serverReplica(reg, "jobs", "script-1"); r == nil || r.Status != status.Dead {
		t.Fatalf("script-1 on the server = %+v, want dead (exit 2)", r)
	}
}

func TestAgentRefused(t *testing.T) {
	url := startServer(t).URL
	cases := []struct {
		name, token, node, mentions string
	}{
		{"wrong token", "nope", "jobs", "reporter_token"},
		{"unknown node", "reporter-secret-0123", "nope", "unknown node"},
		{"push node on the server", "reporter-secret-0123", "hosts", "push mode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, `
[report]
url = "`+url+`"
token = "`+tc.token+`"
interval = 5

[[probe.service]]
id = "lan"
[[probe.service.node]]
id = "`+tc.node+`"
mode = "script"
scripts = ["exit 0"]
`)
			log := &syncBuffer{}
			if code := run(context.Background(), []string{"-c", path}, func(string) string { return "" }, log); code != 1 {
				t.Fatalf("exit status %d, want 1; log:\n%s", code, log)
			}
			if !strings.Contains(log.String(), tc.mentions) {
				t.Errorf("log does not mention %q:\n%s", tc.mentions, log)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	const head = "[report]\nurl = \"http://127.0.0.1:1\"\ntoken = \"t\"\n"
	const node = "[[probe.service]]\nid = \"lan\"\n[[probe.service.node]]\nid = \"n\"\n"
	cases := []struct {
		name, text, mentions string
	}{
		{"TOML syntax", "[report\n", "overvakt-local.toml"},
		{"unknown key", head + "[metrics]\npoll_dealy_dead = 3\n" + node + "mode = \"script\"\nscripts = [\"true\"]\n", "metrics.poll_dealy_dead: unknown key"},
		{"server-only key", head + node + "mode = \"script\"\nscripts = [\"true\"]\nlink_url = \"https://x\"\n", "link_url: unknown key"},
		{"no url", "[report]\ntoken = \"t\"\n" + node + "mode = \"script\"\nscripts = [\"true\"]\n", "OVERVAKT_URL"},
		{"no token", "[report]\nurl = \"http://127.0.0.1:1\"\n" + node + "mode = \"script\"\nscripts = [\"true\"]\n", "OVERVAKT_TOKEN"},
		{"nothing to probe", head, "nothing to probe"},
		{"no mode", head + node + "replicas = [\"tcp://127.0.0.1:1\"]\n", "mode: required"},
		{"local mode", head + node + "mode = \"local\"\n", `unknown mode "local" (want poll or script)`},
		{"poll without replicas", head + node + "mode = \"poll\"\n", "needs replicas"},
		{"bad replica URL", head + node + "mode = \"poll\"\nreplicas = [\"htp://x\"]\n", `unknown scheme "htp"`},
		{"zero interval", "[report]\nurl = \"http://127.0.0.1:1\"\ntoken = \"t\"\ninterval = 0\n" + node + "mode = \"script\"\nscripts = [\"true\"]\n", "report.interval"},
		{"duplicate node", head + node + "mode = \"script\"\nscripts = [\"true\"]\n[[probe.service.node]]\nid = \"n\"\nmode = \"script\"\nscripts = [\"true\"]\n", "duplicate node id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := &syncBuffer{}
			path := writeConfig(t, tc.text)
			if code := run(context.Background(), []string{"-c", path}, func(string) string { return "" }, log); code != 2 {
				t.Fatalf("exit status %d, want 2; log:\n%s", code, log)
			}
			if !strings.Contains(log.String(), tc.mentions) {
				t.Errorf("message does not mention %q:\n%s", tc.mentions, log)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		log := &syncBuffer{}
		if code := run(context.Background(), []string{"-c", filepath.Join(t.TempDir(), "none.toml")}, func(string) string { return "" }, log); code != 2 {
			t.Fatalf("exit status %d, want 2", code)
		}
		if !strings.Contains(log.String(), "none.toml") {
			t.Errorf("message does not name the file:\n%s", log)
		}
	})
}

func TestPublicName(t *testing.T) {
	cases := map[string]string{
		"http://user:pw@10.0.0.3/health": "http://10.0.0.3/health",
		"tcp://10.0.0.4:5432":            "tcp://10.0.0.4:5432",
		"icmp://10.0.0.5":                "icmp://10.0.0.5",
		"script-1":                       "script-1",
	}
	for in, want := range cases {
		if got := publicName(in); got != want {
			t.Errorf("publicName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSampleConfig keeps the documented sample valid.
func TestSampleConfig(t *testing.T) {
	data, err := os.ReadFile("overvakt-local.toml")
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		return map[string]string{"OVERVAKT_TOKEN": "from-env"}[k], k == "OVERVAKT_TOKEN"
	}
	a, err := config.ParseAgent("overvakt-local.toml", data, env, kinds.All().Config())
	if err != nil {
		t.Fatal(err)
	}
	cfg := a.ProbeConfig()
	entries := 0
	for _, svc := range cfg.Probe.Services {
		for _, n := range svc.Nodes {
			entries += len(n.Replicas) + len(n.Scripts)
		}
	}
	if a.Report.Token != "from-env" || a.Report.URL != "https://status.example.com" || a.Report.Interval != 30 || entries != 4 {
		t.Fatalf("sample read as %+v with %d entries", a.Report, entries)
	}
	reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
	if _, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: reg, Kinds: kinds.All().Probes}); err != nil {
		t.Fatalf("the probe scheduler refuses the sample: %v", err)
	}
}

// TestSameErrorsAsServer: the agent reads its nodes with the server's code,
// so a bad node gets the same message at the same line from both. The two
// heads have the same number of lines; the fixtures follow them.
func TestSameErrorsAsServer(t *testing.T) {
	const serverHead = "[server]\nmanager_token = \"m-0123456789abcdef\"\nreporter_token = \"r-0123456789abcdef\"\n\n\n\n"
	const agentHead = "[report]\nurl = \"http://127.0.0.1:1\"\ntoken = \"t\"\ninterval = 30\n\n\n"
	const node = "[[probe.service]]\nid = \"lan\"\n[[probe.service.node]]\nid = \"n\"\nmode = \"poll\"\n"
	fixtures := []struct{ name, text string }{
		{"DELETE method", node + "replicas = [\"http://10.0.0.3/\"]\nhttp_method = \"DELETE\"\n"},
		{"body with GET", node + "replicas = [\"http://10.0.0.3/\"]\nhttp_method = \"GET\"\nhttp_body = \"{}\"\n"},
		{"invalid header name", node + "replicas = [\"http://10.0.0.3/\"]\nhttp_headers = { \"X Token\" = \"1\" }\n"},
		{"header value with a line break", node + "replicas = [\"http://10.0.0.3/\"]\nhttp_headers = { X-Token = \"a\\nb\" }\n"},
		{"match on HEAD", node + "replicas = [\"http://10.0.0.3/\"]\nhttp_method = \"HEAD\"\nhttp_body_healthy_match = \"ok\"\n"},
		{"bad regular expression", node + "replicas = [\"http://10.0.0.3/\"]\nhttp_body_healthy_match = \"(ok\"\n"},
		{"unknown scheme", node + "replicas = [\"https://10.0.0.3/\", \"htp://x\"]\n"},
		{"tcp without port", node + "replicas = [\"tcp://10.0.0.4\"]\n"},
		{"icmp with port", node + "replicas = [\"icmp://10.0.0.5:80\"]\n"},
		{"duplicate replica", node + "replicas = [\"tcp://10.0.0.4:22\", \"tcp://10.0.0.4:22\"]\n"},
		{"scripts on a poll node", node + "replicas = [\"tcp://10.0.0.4:22\"]\nscripts = [\"true\"]\n"},
		{"empty script", strings.Replace(node, "\"poll\"", "\"script\"", 1) + "scripts = [\" \"]\n"},
		{"wrong type", node + "replicas = \"tcp://10.0.0.4:22\"\n"},
		{"misspelt key", node + "replicas = [\"http://10.0.0.3/\"]\nhttp_metod = \"GET\"\n"},
		{"queue without plugin", node + "replicas = [\"http://10.0.0.3/\"]\nrabbitmq_queue = \"jobs\"\n"},
		{"bad id", strings.Replace(node, "id = \"n\"", "id = \"N 1\"", 1) + "replicas = [\"http://10.0.0.3/\"]\n"},
	}
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			_, err := config.Parse("node.toml", []byte(serverHead+f.text), nil, kinds.All().Config())
			var serverErrs config.Errors
			if !errors.As(err, &serverErrs) {
				t.Fatalf("the server accepts the fixture: %v", err)
			}
			log := &syncBuffer{}
			path := filepath.Join(t.TempDir(), "node.toml")
			if err := os.WriteFile(path, []byte(agentHead+f.text), 0o600); err != nil {
				t.Fatal(err)
			}
			if code := run(context.Background(), []string{"-c", path}, func(string) string { return "" }, log); code != 2 {
				t.Fatalf("the agent exits %d, want 2; log:\n%s", code, log)
			}
			for _, e := range serverErrs {
				e.File = path
				if !strings.Contains(log.String(), e.Error()) {
					t.Errorf("the server says\n  %s\nthe agent does not:\n%s", e.Error(), log)
				}
			}
		})
	}
}
