package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app/apptest"
	"github.com/overvakt/overvakt/pkg/status"
)

const token = "reporter-secret-0123"

const serverConfig = `
[server]
manager_token = "manager-secret-0123"
reporter_token = "reporter-secret-0123"

[metrics]
push_delay_dead = 0.3
push_system_cpu_sick_above = 0.9
push_system_ram_sick_above = 0.9

[[probe.service]]
id = "web"
[[probe.service.node]]
id = "hosts"
mode = "push"
[[probe.service.node]]
id = "gateway"
mode = "local"
`

// t0 is the server's clock: it stamps every report with t0, so the test
// knows when the server saw each report, and the silence sweep runs only
// when the test calls it, at the times it chooses.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// startServer runs the reporter API on a loopback listener (ln, or a new
// one when nil), on a clock stopped at t0.
func startServer(t *testing.T, ln net.Listener) *apptest.Server {
	t.Helper()
	return apptest.Start(t, serverConfig, apptest.Options{Listener: ln, Now: func() time.Time { return t0 }})
}

func hostReplica(reg *status.Registry, id string) *status.Replica {
	for _, r := range reg.Snapshot().Services[0].Nodes.At(0).Replicas.All() {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// fakeProc writes loadavg, stat (4 CPUs) and meminfo into a temporary
// directory used as -proc.
type fakeProc struct{ dir string }

func newFakeProc(t *testing.T, load1 float64, totalKB, availKB int) *fakeProc {
	p := &fakeProc{dir: t.TempDir()}
	stat := "cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu1 1 2 3 4\ncpu2 1 2 3 4\ncpu3 1 2 3 4\nintr 5\n"
	p.write(t, "stat", stat)
	p.set(t, load1, totalKB, availKB)
	return p
}

func (p *fakeProc) set(t *testing.T, load1 float64, totalKB, availKB int) {
	p.write(t, "loadavg", fmt.Sprintf("%.2f 0.50 0.40 2/345 6789\n", load1))
	p.write(t, "meminfo", fmt.Sprintf("MemTotal:       %d kB\nMemFree:         1000 kB\nMemAvailable:   %d kB\nBuffers:          10 kB\n", totalKB, availKB))
}

// write replaces a file atomically, so the agent never reads half of it.
func (p *fakeProc) write(t *testing.T, name, content string) {
	tmp := filepath.Join(p.dir, name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(p.dir, name)); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer collects the agent's log while the test reads it.
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

// agent runs the command in the background; stop cancels it and returns its
// exit status.
type agent struct {
	cancel context.CancelFunc
	done   chan int
	log    *syncBuffer
}

func startAgent(args []string, env map[string]string) *agent {
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{cancel: cancel, done: make(chan int, 1), log: &syncBuffer{}}
	go func() { a.done <- run(ctx, args, func(k string) string { return env[k] }, a.log) }()
	return a
}

func (a *agent) stop(t *testing.T) int {
	t.Helper()
	a.cancel()
	select {
	case code := <-a.done:
		return code
	case <-time.After(5 * time.Second):
		t.Fatalf("agent did not stop; log:\n%s", a.log)
		return -1
	}
}

// waitFor polls cond until it holds. The timeout only ends a test that has
// already failed; it is long because a loaded machine is slow.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	const timeout = 20 * time.Second
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAgentDrivesPushReplica: the agent's reports make the replica appear
// healthy with the host's load, high load makes it sick, silence makes it
// dead after interval + push_delay_dead, and -flush-on-exit removes it.
func TestAgentDrivesPushReplica(t *testing.T) {
	srv := startServer(t, nil)
	url, reg := srv.URL, srv.Registry
	proc := newFakeProc(t, 0.8, 1000, 600) // cpu 0.8/4 = 0.2, ram 0.4
	args := []string{"-url", url, "-token", token, "-service", "web", "-node", "hosts",
		"-replica", "host-1", "-interval", "1", "-proc", proc.dir}
	ag := startAgent(args, nil)

	waitFor(t, "the replica to appear", func() bool { return hostReplica(reg, "host-1") != nil })
	r := hostReplica(reg, "host-1")
	if r.Status != status.Healthy || r.Load == nil || r.Load.CPU != 0.2 || r.Load.RAM != 0.4 {
		t.Fatalf("replica = %+v load %+v, want healthy with cpu 0.2 and ram 0.4", r, r.Load)
	}

	proc.set(t, 3.9, 1000, 600) // cpu 0.975 > 0.9
	waitFor(t, "high CPU load to make it sick", func() bool {
		r := hostReplica(reg, "host-1")
		return r.Status == status.Sick && strings.Contains(r.Error, "CPU")
	})
	proc.set(t, 0.4, 1000, 50) // ram 0.95 > 0.9
	waitFor(t, "high memory use to make it sick", func() bool {
		r := hostReplica(reg, "host-1")
		return r.Status == status.Sick && strings.Contains(r.Error, "RAM")
	})
	proc.set(t, 0.4, 1000, 600)
	waitFor(t, "recovery", func() bool { return hostReplica(reg, "host-1").Status == status.Healthy })

	if code := ag.stop(t); code != 0 {
		t.Fatalf("agent exit status %d, want 0; log:\n%s", code, ag.log)
	}
	// The server saw every report at t0 and the agent promised one every
	// second: the replica is dead once the sweep finds it silent for that
	// interval + push_delay_dead (300 ms), and not a moment before.
	deadline := t0.Add(time.Second + 300*time.Millisecond)
	srv.Agents.Sweep(deadline.Add(-time.Nanosecond))
	if r := hostReplica(reg, "host-1"); r.Status != status.Healthy {
		t.Fatalf("just before interval + push_delay_dead: %s (%q), want still healthy", r.Status, r.Error)
	}
	srv.Agents.Sweep(deadline)
	if r := hostReplica(reg, "host-1"); r.Status != status.Dead || !strings.Contains(r.Error, "push_delay_dead") {
		t.Fatalf("at interval + push_delay_dead: %s (%q), want dead for silence", r.Status, r.Error)
	}

	ag = startAgent(append(args, "-flush-on-exit"), nil)
	waitFor(t, "the agent to bring it back", func() bool { return hostReplica(reg, "host-1").Status == status.Healthy })
	if code := ag.stop(t); code != 0 {
		t.Fatalf("agent exit status %d, want 0; log:\n%s", code, ag.log)
	}
	if r := hostReplica(reg, "host-1"); r != nil {
		t.Fatalf("replica still on the page after -flush-on-exit: %+v", r)
	}
}

func TestAgentFromEnvironment(t *testing.T) {
	srv := startServer(t, nil)
	url, reg := srv.URL, srv.Registry
	proc := newFakeProc(t, 0.4, 1000, 600)
	env := map[string]string{"OVERVAKT_URL": url, "OVERVAKT_TOKEN": token, "OVERVAKT_SERVICE": "web",
		"OVERVAKT_NODE": "hosts", "OVERVAKT_REPLICA": "from-env", "OVERVAKT_INTERVAL": "5", "OVERVAKT_PROC": proc.dir}
	log := &syncBuffer{}
	if code := run(context.Background(), []string{"-once"}, func(k string) string { return env[k] }, log); code != 0 {
		t.Fatalf("exit status %d; log:\n%s", code, log)
	}
	if hostReplica(reg, "from-env") == nil {
		t.Fatal("no replica from-env")
	}
	// A flag beats the environment.
	if code := run(context.Background(), []string{"-once", "-replica", "from-flag"}, func(k string) string { return env[k] }, log); code != 0 {
		t.Fatalf("exit status %d; log:\n%s", code, log)
	}
	if hostReplica(reg, "from-flag") == nil {
		t.Fatal("no replica from-flag")
	}
}

// TestAgentFatalSetup: a wrong setup stops the agent with a message that
// says what to fix.
func TestAgentFatalSetup(t *testing.T) {
	url := startServer(t, nil).URL
	other := httptest.NewServer(http.NotFoundHandler()) // some other web site
	defer other.Close()
	proc := newFakeProc(t, 0.4, 1000, 600)
	base := func(kv ...string) []string {
		m := map[string]string{"-url": url, "-token": token, "-service": "web", "-node": "hosts", "-replica": "h",
			"-interval": "1", "-proc": proc.dir}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		var args []string
		for k, v := range m {
			if v != "" {
				args = append(args, k, v)
			}
		}
		return args
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		mentions string
	}{
		{"wrong token", base("-token", "nope"), 1, "reporter_token"},
		{"unknown service", base("-service", "nope"), 1, "unknown service"},
		{"unknown node", base("-node", "nope"), 1, "unknown node"},
		{"local node", base("-node", "gateway"), 1, "local mode"},
		{"URL of another site", base("-url", other.URL), 1, "status page's address"},
		{"URL without scheme", base("-url", "status.example.com"), 2, "http://"},
		{"no URL", base("-url", ""), 2, "-url is required"},
		{"no token", base("-token", ""), 2, "OVERVAKT_TOKEN"},
		{"no node", base("-node", ""), 2, "-node is required"},
		{"bad interval", base("-interval", "soon"), 2, "-interval"},
		{"zero interval", base("-interval", "0"), 2, "-interval"},
		{"interval under a second", base("-interval", "0.5"), 2, "the server takes 1 to 604800 seconds"},
		{"interval over a week", base("-interval", "604801"), 2, "-interval"},
		{"no proc", base("-proc", filepath.Join(proc.dir, "missing")), 1, "load average"},
		{"extra argument", append(base(), "extra"), 2, "unexpected argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := &syncBuffer{}
			done := make(chan int, 1)
			go func() { done <- run(context.Background(), tc.args, func(string) string { return "" }, log) }()
			select {
			case code := <-done:
				if code != tc.code {
					t.Fatalf("exit status %d, want %d; log:\n%s", code, tc.code, log)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("agent kept running; log:\n%s", log)
			}
			if !strings.Contains(log.String(), tc.mentions) {
				t.Errorf("log does not mention %q:\n%s", tc.mentions, log)
			}
		})
	}
}

// TestAgentRidesOutNetworkErrors: with the server down the agent keeps
// trying, and its reports arrive once the server is up.
func TestAgentRidesOutNetworkErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	proc := newFakeProc(t, 0.4, 1000, 600)
	ag := startAgent([]string{"-url", "http://" + addr, "-token", token, "-service", "web", "-node", "hosts",
		"-replica", "h", "-interval", "1", "-proc", proc.dir}, nil)

	// Two failed reports: the agent went on after the first.
	waitFor(t, "a second failed report", func() bool { return strings.Count(ag.log.String(), "report failed") >= 2 })
	select {
	case code := <-ag.done:
		t.Fatalf("agent exited with %d while the server was down; log:\n%s", code, ag.log)
	default:
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	reg := startServer(t, ln).Registry
	waitFor(t, "reports once the server is up", func() bool { return hostReplica(reg, "h") != nil })
	waitFor(t, "a note that reporting resumed", func() bool { return strings.Contains(ag.log.String(), "reporting again") })
	if code := ag.stop(t); code != 0 {
		t.Fatalf("exit status %d; log:\n%s", code, ag.log)
	}
}

func TestReadLoad(t *testing.T) {
	cases := []struct {
		name             string
		loadavg, meminfo string
		stat             string
		cpu, ram         float64
		wantErr          string
	}{
		{"MemAvailable", "1.00 0.5 0.5 1/1 1\n", "MemTotal: 2000 kB\nMemFree: 100 kB\nMemAvailable: 500 kB\n",
			"cpu 1\ncpu0 1\ncpu1 1\n", 0.5, 0.75, ""},
		{"old kernel without MemAvailable", "2.00 0.5 0.5 1/1 1\n", "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n",
			"cpu 1\ncpu0 1\ncpu1 1\ncpu2 1\ncpu3 1\n", 0.5, 0.6, ""},
		{"no MemTotal", "1.00\n", "MemFree: 100 kB\n", "cpu0 1\n", 0, 0, "MemTotal"},
		{"bad load average", "high\n", "MemTotal: 1000 kB\n", "cpu0 1\n", 0, 0, "load average"},
		{"empty load average", "", "MemTotal: 1000 kB\n", "cpu0 1\n", 0, 0, "empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range map[string]string{"loadavg": tc.loadavg, "meminfo": tc.meminfo, "stat": tc.stat} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cpu, ram, err := readLoad(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || cpu != tc.cpu || ram != tc.ram {
				t.Fatalf("readLoad = %v, %v, %v; want %v, %v", cpu, ram, err, tc.cpu, tc.ram)
			}
		})
	}
	t.Run("this host", func(t *testing.T) {
		if _, err := os.Stat("/proc/loadavg"); err != nil {
			t.Skip("no /proc/loadavg here (not Linux)")
		}
		cpu, ram, err := readLoad("/proc")
		if err != nil || cpu < 0 || ram <= 0 || ram > 1 {
			t.Fatalf("readLoad(/proc) = %v, %v, %v", cpu, ram, err)
		}
	})
}
