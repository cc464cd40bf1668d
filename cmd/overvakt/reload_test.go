package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// binary builds the overvakt command once per test.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the real binary")
	}
	bin := filepath.Join(t.TempDir(), "overvakt")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// running is the real binary serving a config file.
type running struct {
	cmd  *exec.Cmd
	log  *lockedBuffer
	base string
}

func startBinary(t *testing.T, bin, cfg, addr string) *running {
	t.Helper()
	r := &running{cmd: exec.Command(bin, "-c", cfg), log: &lockedBuffer{}, base: "http://" + addr}
	r.cmd.Stderr = r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", r.log.String())
		}
	})
	waitUp(t, r.base)
	return r
}

func (r *running) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(r.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitLog waits until the server's log holds want.
func (r *running) waitLog(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.log.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q", want)
		}
	}
}

func reloadConfig(addr, hook, db, title, extra string) string {
	return fmt.Sprintf(`[server]
log_level = "info"
inet = %q
manager_token = %q
reporter_token = %q
metrics = true

[storage]
path = %q

[branding]
page_title = %q

[metrics]
poll_interval = 1
poll_delay_sick = 1
poll_delay_dead = 2
push_delay_dead = 30

[notify]
startup_notification = true

[notify.webhook]
hook_url = "%s/hook"

[[probe.service]]
id = "agents"

[[probe.service.node]]
id = "hosts"
mode = "push"
reveal_replica_name = true
%s`, addr, managerToken, reporterToken, db, title, hook, extra)
}

// TestReload: SIGHUP and POST /manager/reload apply a valid config without
// losing push replicas or history and without a burst of notifications;
// an invalid one changes nothing, and says why.
func TestReload(t *testing.T) {
	bin := binary(t)
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer up.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	hooks := newHookLog(t)
	addr, dir := freePort(t), t.TempDir()
	cfg, db := filepath.Join(dir, "overvakt.toml"), filepath.Join(dir, "overvakt.db")
	web := fmt.Sprintf("\n[[probe.service]]\nid = \"web\"\n[[probe.service.node]]\nid = \"api\"\nmode = \"poll\"\nreplicas = [%q]\n", up.URL+"/health")
	os.WriteFile(cfg, []byte(reloadConfig(addr, hooks.srv.URL, db, "Before", web)), 0o600)
	r := startBinary(t, bin, cfg, addr)
	c := client{r.base}
	if first := hooks.waitFor(t, 1, 10*time.Second)[0]; first["type"] != "startup" || first["status"] != "healthy" {
		t.Fatalf("first webhook %v, want the start-up notice: healthy", first)
	}
	if code, err := c.report("h1", 60); err != nil || code != 200 {
		t.Fatalf("report: %d %v", code, err)
	}

	// A valid config with one service more, dead, and a new title.
	db2 := fmt.Sprintf("\n[[probe.service]]\nid = \"db\"\n[[probe.service.node]]\nid = \"main\"\nmode = \"poll\"\nreplicas = [%q]\n", down.URL+"/")
	os.WriteFile(cfg, []byte(reloadConfig(addr, hooks.srv.URL, db, "After", web+db2)), 0o600)
	r.cmd.Process.Signal(syscall.SIGHUP)
	r.waitLog(t, `msg=reloaded`)
	if page := r.get(t, "/"); !strings.Contains(page, " After</title>") {
		t.Errorf("the page after the reload is not titled After")
	}
	if reps := c.replicas(t, "agents", "hosts"); reps["h1"] != "healthy" {
		t.Errorf("push replica h1 after the reload: %v", reps)
	}
	// The metrics count on across the reload and show the new service.
	if code, err := c.report("h1", 60); err != nil || code != 200 {
		t.Fatalf("report after the reload: %d %v", code, err)
	}
	metrics := r.get(t, "/metrics")
	for _, want := range []string{`overvakt_reports_total{result="accepted"} 2`, `overvakt_replica_status{node="hosts",replica="h1",service="agents"} 0`,
		`overvakt_node_status{node="main",service="db"}`} {
		if !strings.Contains(metrics, want+"\n") && !strings.Contains(metrics, want+" ") {
			t.Errorf("/metrics after the reload lacks %s", want)
		}
	}
	if report := r.get(t, "/status/report"); strings.Contains(report, `"stale":true`) {
		t.Errorf("statuses were restored as stale instead of taken over:\n%s", report)
	}
	got := hooks.waitFor(t, 2, 10*time.Second)
	time.Sleep(2500 * time.Millisecond) // anything more would have been sent by now
	got = hooks.all()
	if len(got) != 2 || got[1]["type"] != "changed" || got[1]["status"] != "dead" {
		t.Fatalf("webhooks after the reload: %v, want one change: the new service dead", got)
	}
	if rs := got[1]["replicas"].([]any); len(rs) != 1 || !strings.HasPrefix(rs[0].(string), "db:main:") {
		t.Errorf("the change names %v, want db:main only", rs)
	}

	// An invalid config: POST /manager/reload answers every error and
	// nothing changes; SIGHUP logs them and the server goes on.
	os.WriteFile(cfg, []byte(reloadConfig(addr, hooks.srv.URL, db, "Broken", web+"\n[[probe.service]]\nid = \"Bad Id\"\n")), 0o600)
	code, body, err := c.do("POST", "/manager/reload", managerToken, "")
	if err != nil || code != 422 || !strings.Contains(body, `"errors":["`) || !strings.Contains(body, "overvakt.toml:") ||
		!strings.Contains(body, "probe.service[2].id") {
		t.Errorf("POST /manager/reload with a broken file: %d %s %v", code, body, err)
	}
	r.cmd.Process.Signal(syscall.SIGHUP)
	r.waitLog(t, `reload refused: the config has errors`)
	if page := r.get(t, "/"); !strings.Contains(page, " After</title>") {
		t.Errorf("a refused reload changed the page")
	}
	if code, _, err := c.do("POST", "/manager/reload", reporterToken, ""); err != nil || code != 403 {
		t.Errorf("reload with the reporter token: %d %v", code, err)
	}
	// Back to a valid file through the API.
	os.WriteFile(cfg, []byte(reloadConfig(addr, hooks.srv.URL, db, "Again", web+db2)), 0o600)
	if code, body, err := c.do("POST", "/manager/reload", managerToken, ""); err != nil || code != 200 || body != "{\"reloaded\":true}\n" {
		t.Errorf("POST /manager/reload: %d %q %v", code, body, err)
	}
	if page := r.get(t, "/"); !strings.Contains(page, " Again</title>") {
		t.Errorf("the page after the API reload is not titled Again")
	}
	time.Sleep(2500 * time.Millisecond)
	if n := len(hooks.all()); n != 2 {
		t.Errorf("%d webhooks after the second reload, want still 2: %v", n, hooks.all()[2:])
	}
	if err := r.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the server is gone: %v", err)
	}
}

// TestGracefulStop: SIGTERM while requests are under way and a webhook
// hangs: the server exits 0 within 10 s and every report it acknowledged
// is in the store.
func TestGracefulStop(t *testing.T) {
	bin := binary(t)
	hang := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	defer close(hang) // before Close, which waits for the handlers
	addr, dir := freePort(t), t.TempDir()
	cfg, db := filepath.Join(dir, "overvakt.toml"), filepath.Join(dir, "overvakt.db")
	os.WriteFile(cfg, []byte(reloadConfig(addr, hook.URL, db, "Stopping", "")), 0o600)
	r := startBinary(t, bin, cfg, addr)
	c := client{r.base}

	// Reports keep coming from four agents until the server stops taking them.
	var mu sync.Mutex
	acked := 0
	var lastAck time.Time
	ctx, stopReporting := context.WithCancel(context.Background())
	defer stopReporting()
	var wg sync.WaitGroup
	for a := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				code, err := c.report(fmt.Sprintf("a%d-%d", a, i%50), 60)
				if err != nil || code != 200 {
					return
				}
				mu.Lock()
				acked++
				lastAck = time.Now()
				mu.Unlock()
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	began := time.Now()
	r.cmd.Process.Signal(syscall.SIGTERM)
	err := r.cmd.Wait()
	took := time.Since(began)
	stopReporting()
	wg.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) || err != nil {
		t.Fatalf("the server exited with %v, want 0\n%s", err, r.log.String())
	}
	if took > 10*time.Second {
		t.Errorf("the server took %v to stop, want at most 10 s", took)
	}
	if !strings.Contains(r.log.String(), `msg=stopped`) {
		t.Errorf("no stop line in the log")
	}

	store, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// Reports land in the store through the history writer's batches,
	// one a second; the last report of each replica must be there, which
	// only the flush at the stop can have written for those of the last
	// second.
	var replicas int
	var last int64
	if err := store.QueryRow(`SELECT COUNT(*), MAX(last_report_ms) FROM push_replicas`).Scan(&replicas, &last); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reports acknowledged, the last at %s; %d replicas in the store, the last report of %s; stopped in %v",
		acked, lastAck.Format("15:04:05.000"), replicas, time.UnixMilli(last).Format("15:04:05.000"), took)
	if replicas != 200 || time.UnixMilli(last).Add(50*time.Millisecond).Before(lastAck) {
		t.Errorf("%d replicas with the last report of %s in the store, want 200 and the last acknowledged one (%s): the last batch was not written",
			replicas, time.UnixMilli(last).Format("15:04:05.000"), lastAck.Format("15:04:05.000"))
	}
}
