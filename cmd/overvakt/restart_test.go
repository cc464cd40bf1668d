package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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

	"github.com/overvakt/overvakt/pkg/store/sqlite"
)

// hookLog records every webhook a server sends.
type hookLog struct {
	mu  sync.Mutex
	got []map[string]any
	srv *httptest.Server
}

func newHookLog(t *testing.T) *hookLog {
	h := &hookLog{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		h.mu.Lock()
		h.got = append(h.got, m)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookLog) all() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.got...)
}

func (h *hookLog) waitFor(t *testing.T, n int, within time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(h.all()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks within %v, want %d: %v", len(h.all()), within, n, h.all())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h.all()
}

// restartConfig has a poll node whose target is dead, a push node with
// fast agents, the webhook and a start-up notice.
func restartConfig(addr, hook, target, db string) string {
	return fmt.Sprintf(`[server]
log_level = "info"
inet = %q
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"

[storage]
path = %q

[metrics]
poll_interval = 1
poll_retry = 0.1
poll_delay_sick = 1
poll_delay_dead = 2
push_delay_dead = 1

[notify]
startup_notification = true

[notify.webhook]
hook_url = "%s/hook"

[[probe.service]]
id = "web"

[[probe.service.node]]
id = "api"
mode = "poll"
replicas = ["%s/health"]

[[probe.service]]
id = "agents"

[[probe.service.node]]
id = "hosts"
mode = "push"
reveal_replica_name = true
`, addr, db, hook, target)
}

// client talks to a server's APIs.
type client struct{ base string }

func (c client) do(method, path, token, body string) (int, string, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

const (
	managerToken  = "manager-token-0123456789"
	reporterToken = "reporter-token-0123456789"
)

func (c client) report(host string, interval float64) (int, error) {
	code, _, err := c.do("POST", "/reporter/agents/hosts/", reporterToken,
		fmt.Sprintf(`{"replica":%q,"interval":%v,"load":{"cpu":0.2,"ram":0.3}}`, host, interval))
	return code, err
}

// replicas reads /status/report: the replicas of a node by id, with their
// status.
func (c client) replicas(t *testing.T, service, node string) map[string]string {
	t.Helper()
	resp, err := http.Get(c.base + "/status/report")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Services []struct {
			ID    string `json:"id"`
			Nodes []struct {
				ID       string `json:"id"`
				Replicas []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"replicas"`
			} `json:"nodes"`
		} `json:"services"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range rep.Services {
		for _, n := range s.Nodes {
			if s.ID == service && n.ID == node {
				for _, r := range n.Replicas {
					out[r.ID] = r.Status
				}
			}
		}
	}
	return out
}

func waitUp(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not answer within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRestartKeepsState stops the server (as SIGTERM does) and starts it
// again on the same file: announcements, the silence, push replicas,
// incidents with their updates, maintenance windows and webhook
// subscribers are back, and what was already notified is not notified
// again.
func TestRestartKeepsState(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer target.Close()
	hooks := newHookLog(t)
	addr := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "overvakt.toml")
	os.WriteFile(cfg, []byte(restartConfig(addr, hooks.srv.URL, target.URL, filepath.Join(dir, "state", "overvakt.db"))), 0o600)
	c := client{"http://" + addr}

	start := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		var logs bytes.Buffer
		go func() { done <- run(ctx, []string{"-c", cfg}, io.Discard, &logs) }()
		waitUp(t, c.base)
		return func() {
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("server exited %d:\n%s", code, logs.String())
			}
		}
	}

	stop := start()
	for _, h := range []string{"h1", "h2"} {
		if code, err := c.report(h, 30); err != nil || code != 200 {
			t.Fatalf("report %s: %d %v", h, code, err)
		}
	}
	code, body, _ := c.do("POST", "/manager/announcement", managerToken, `{"title":"Planned work","text":"Tonight."}`)
	if code != 200 {
		t.Fatalf("announce: %d %s", code, body)
	}
	code, body, _ = c.do("POST", "/manager/announcement", managerToken, `{"title":"Old news","text":"Done."}`)
	var old struct{ ID string }
	json.Unmarshal([]byte(body), &old)
	if code, _, _ := c.do("DELETE", "/manager/announcement/"+old.ID, managerToken, ""); code != 200 {
		t.Fatalf("retract: %d", code)
	}
	if code, _, _ := c.do("PUT", "/manager/prober/alerts/ignored", managerToken, `{"reminders_seconds":3600}`); code != 200 {
		t.Fatalf("silence: %d", code)
	}
	// An incident with two updates, a window and a webhook subscriber
	// (made last: it is told of nothing before the restart).
	code, body, _ = c.do("POST", "/manager/incident", managerToken, `{"title":"API down","impact":"major","affected":["web:api"],"text":"Looking."}`)
	var inc struct{ ID string }
	if json.Unmarshal([]byte(body), &inc); code != 200 {
		t.Fatalf("open an incident: %d %s", code, body)
	}
	if code, body, _ := c.do("POST", "/manager/incident/"+inc.ID+"/update", managerToken, `{"status":"identified","text":"Found it."}`); code != 200 {
		t.Fatalf("update: %d %s", code, body)
	}
	from := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	until := time.Now().Add(25 * time.Hour).UTC().Format(time.RFC3339)
	code, body, _ = c.do("POST", "/manager/maintenance", managerToken, `{"title":"Upgrade","affected":["web"],"start":"`+from+`","end":"`+until+`"}`)
	var win struct{ ID string }
	if json.Unmarshal([]byte(body), &win); code != 200 {
		t.Fatalf("schedule: %d %s", code, body)
	}
	if code, body, _ := c.do("POST", "/manager/subscribers", managerToken, `{"url":"http://127.0.0.1:9/status"}`); code != 200 {
		t.Fatalf("webhook subscriber: %d %s", code, body)
	}
	first := hooks.waitFor(t, 1, 10*time.Second)
	if first[0]["type"] != "startup" || first[0]["status"] != "dead" {
		t.Fatalf("first webhook %v, want the start-up notice: dead", first[0])
	}
	stop()

	stop = start()
	defer stop()
	_, body, _ = c.do("GET", "/manager/announcements", managerToken, "")
	if !strings.Contains(body, "Planned work") || strings.Contains(body, "Old news") {
		t.Errorf("announcements after the restart: %s", body)
	}
	_, body, _ = c.do("GET", "/manager/prober/alerts/ignored", managerToken, "")
	var silence struct {
		RemindersSeconds *int64 `json:"reminders_seconds"`
	}
	json.Unmarshal([]byte(body), &silence)
	if s := silence.RemindersSeconds; s == nil || *s < 3500 || *s > 3600 {
		t.Errorf("silence after the restart: %s, want about 3600 s left", body)
	}
	_, body, _ = c.do("GET", "/manager/incident/"+inc.ID, managerToken, "")
	if !strings.Contains(body, `"text":"Looking."`) || !strings.Contains(body, `"status":"identified","text":"Found it."`) {
		t.Errorf("the incident after the restart: %s", body)
	}
	if _, body, _ = c.do("GET", "/manager/maintenance", managerToken, ""); !strings.Contains(body, `"id":"`+win.ID+`"`) {
		t.Errorf("windows after the restart: %s", body)
	}
	if _, body, _ = c.do("GET", "/manager/subscribers", managerToken, ""); !strings.Contains(body, "http://127.0.0.1:9/status") {
		t.Errorf("webhook subscribers after the restart: %s", body)
	}
	if _, body, _ = c.do("GET", "/", "", ""); !strings.Contains(body, `id="incident-`+inc.ID+`"`) || !strings.Contains(body, "Found it.") {
		t.Error("the page does not show the incident after the restart")
	}
	reps := c.replicas(t, "agents", "hosts")
	if reps["h1"] != "healthy" || reps["h2"] != "healthy" {
		t.Errorf("push replicas after the restart: %v, want h1 and h2 as last reported", reps)
	}
	// The outage was announced before the restart: nothing more is said.
	time.Sleep(3 * time.Second)
	if got := hooks.all(); len(got) != 1 {
		t.Errorf("webhooks after the restart: %v, want none beyond the first start-up notice", got[1:])
	}
}

// TestKill9KeepsAcknowledgedWrites kills the real binary with SIGKILL while
// agents report and operators publish announcements and silences, and
// starts it again: every write the API acknowledged is there, push
// replicas are back with their deadlines, and the outage announced before
// the kill is never announced again.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin := filepath.Join(t.TempDir(), "overvakt")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer target.Close()
	hooks := newHookLog(t)
	addr := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "overvakt.toml")
	os.WriteFile(cfg, []byte(restartConfig(addr, hooks.srv.URL, target.URL, filepath.Join(dir, "overvakt.db"))), 0o600)
	c := client{"http://" + addr}

	var logs []*lockedBuffer
	defer func() {
		if t.Failed() {
			for i, l := range logs {
				t.Logf("server log %d:\n%s", i+1, l)
			}
		}
	}()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "-c", cfg)
		log := &lockedBuffer{}
		logs = append(logs, log)
		cmd.Stderr = log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitUp(t, c.base)
		return cmd
	}

	cmd := start()
	hooks.waitFor(t, 1, 10*time.Second) // the start-up notice: dead
	time.Sleep(300 * time.Millisecond)  // what it says is committed right after it is queued

	// Writers, each remembering what the server acknowledged.
	var mu sync.Mutex
	var announced []string
	var silenced int64 // the last silence acknowledged, in seconds
	reported := map[string]time.Time{}
	ctx, stopWriting := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			title := fmt.Sprintf("Notice %d", i)
			code, _, err := c.do("POST", "/manager/announcement", managerToken, fmt.Sprintf(`{"title":%q,"text":"x"}`, title))
			if err == nil && code == 200 {
				mu.Lock()
				announced = append(announced, title)
				mu.Unlock()
			}
			if i >= 90 {
				return // under the cap of 100
			}
		}
	})
	wg.Go(func() {
		for s := int64(1000); ctx.Err() == nil; s++ {
			code, _, err := c.do("PUT", "/manager/prober/alerts/ignored", managerToken, fmt.Sprintf(`{"reminders_seconds":%d}`, s))
			if err == nil && code == 200 {
				mu.Lock()
				silenced = s
				mu.Unlock()
			}
		}
	})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				host := fmt.Sprintf("host-%d-%d", w, i%10)
				if code, err := c.report(host, 3); err == nil && code == 200 {
					mu.Lock()
					reported[host] = time.Now()
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed := time.Now()
	stopWriting()
	wg.Wait()
	if len(announced) == 0 || silenced == 0 || len(reported) == 0 {
		t.Fatalf("nothing was written before the kill: %d announcements, silence %d, %d hosts", len(announced), silenced, len(reported))
	}

	start()
	_, body, _ := c.do("GET", "/manager/announcements", managerToken, "")
	for _, title := range announced {
		if !strings.Contains(body, `"`+title+`"`) {
			t.Errorf("acknowledged announcement %q is gone after kill -9", title)
		}
	}
	_, body, _ = c.do("GET", "/manager/prober/alerts/ignored", managerToken, "")
	var silence struct {
		RemindersSeconds *int64 `json:"reminders_seconds"`
	}
	json.Unmarshal([]byte(body), &silence)
	if s := silence.RemindersSeconds; s == nil || *s < silenced-10 || *s > silenced+1 {
		t.Errorf("silence after kill -9: %s, want about %d s left (the last acknowledged)", body, silenced)
	}
	reps := c.replicas(t, "agents", "hosts")
	for host := range reported {
		if reps[host] == "" {
			t.Errorf("push replica %s is gone after kill -9", host)
		}
	}
	// Nobody reports any more: each host turns dead at its deadline (the
	// last report + 3 s + push_delay_dead 1 s), not before.
	if elapsed := time.Since(killed); elapsed < 2*time.Second {
		time.Sleep(2*time.Second - elapsed)
	}
	for host, st := range c.replicas(t, "agents", "hosts") {
		if st != "healthy" {
			t.Errorf("%s is %s 2 s after the kill, before its deadline", host, st)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		dead := 0
		reps := c.replicas(t, "agents", "hosts")
		for _, st := range reps {
			if st == "dead" {
				dead++
			}
		}
		if dead == len(reps) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d silent hosts dead 10 s after their deadline: %v", dead, len(reps), reps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The page was dead before the kill and still is: not one more webhook.
	time.Sleep(time.Second)
	if got := hooks.all(); len(got) != 1 {
		t.Errorf("%d webhooks, want only the start-up notice before the kill: %v", len(got), got)
	}
}

// TestBackupWhileServing copies the store of a running server.
func TestBackupWhileServing(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	hooks := newHookLog(t)
	addr := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "overvakt.toml")
	os.WriteFile(cfg, []byte(restartConfig(addr, hooks.srv.URL, target.URL, filepath.Join(dir, "not-this.db"))), 0o600)
	db := filepath.Join(dir, "kept", "overvakt.db")
	c := client{"http://" + addr}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", cfg, "-storage", db}, io.Discard, io.Discard) }()
	defer func() { cancel(); <-done }()
	waitUp(t, c.base)
	if code, body, _ := c.do("POST", "/manager/announcement", managerToken, `{"title":"Kept","text":"in the copy"}`); code != 200 {
		t.Fatalf("announce: %d %s", code, body)
	}

	out := filepath.Join(dir, "copy.db")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"backup", "-c", cfg, "-storage", db, out}, &stdout, &stderr); code != 0 {
		t.Fatalf("backup exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "ok: "+db+" copied to "+out) {
		t.Errorf("backup said %q", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "not-this.db")); err == nil {
		t.Error("the server used [storage] path, not -storage")
	}
	if code := run(context.Background(), []string{"backup", "-c", cfg, "-storage", db, out}, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "exists") {
		t.Errorf("a backup over an existing file: exit %d, %q", code, stderr.String())
	}
	copied, err := sqlite.Open(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	if list, _ := copied.ListAnnouncements(context.Background()); len(list) != 1 || list[0].Title != "Kept" {
		t.Errorf("the copy holds %v", list)
	}
}
