package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// The sample config is what a new user runs first; it must pass its own check.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[server]\ninet = \"[::1]:8080\"\nnope = 1\n"), 0o600)
	cases := []struct {
		name     string
		file     string
		code     int
		stdout   string
		inStderr []string
	}{
		{"sample config", "../../overvakt.toml", 0, "ok\n", nil},
		{"bad config", bad, 1, "", []string{bad + ":3:", "nope", "manager_token"}},
		{"missing file", filepath.Join(dir, "none.toml"), 1, "", []string{"none.toml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"check-config", "-c", tc.file}, &out, &errb)
			if code != tc.code || out.String() != tc.stdout {
				t.Fatalf("exit %d, stdout %q (stderr %q); want exit %d, stdout %q", code, out.String(), errb.String(), tc.code, tc.stdout)
			}
			for _, s := range tc.inStderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr %q does not mention %q", errb.String(), s)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"-x"}, {"check-config", "-c", "a", "b"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "overvakt ") {
		t.Errorf("version: exit %d, %q", code, out.String())
	}
}

// The server answers its page within 2 s of starting, probes its own /health
// and stops cleanly when its context ends.
func TestServeStartsAndStops(t *testing.T) {
	addr := freePort(t)
	cfg := filepath.Join(t.TempDir(), "overvakt.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[server]
inet = %q
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"

[metrics]
poll_interval = 1
poll_delay_sick = 1
poll_delay_dead = 2

[[probe.service]]
id = "self"
label = "Self"

[[probe.service.node]]
id = "health"
label = "Health"
mode = "poll"
replicas = ["http://%s/health"]
`, addr, addr)), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs bytes.Buffer
	start := time.Now()
	go func() { done <- run(ctx, []string{"-c", cfg}, io.Discard, &logs) }()

	var page string
	for time.Since(start) < 2*time.Second {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				page = string(b)
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if page == "" {
		cancel()
		t.Fatalf("no page within 2 s; logs:\n%s", logs.String())
	}
	if !strings.Contains(page, "Self") {
		t.Errorf("page does not show the configured service")
	}

	// The self-probe lands within one interval.
	if !waitFirstResult(addr, 10*time.Second) {
		t.Fatal("the server never probed its own /health")
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel; logs:\n%s", code, logs.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop within 5 s of cancel")
	}
	// At the default log level (error) the log still says where the server
	// listens and which file it read, and that it stopped.
	for _, want := range []string{
		`level=INFO msg="listening on http://` + addr + `/" config=` + cfg + " version=dev log_level=error\n",
		`level=INFO msg=stopped config=` + cfg + "\n",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	cases := []struct {
		args   []string
		stdout string // prefix
	}{
		{[]string{"help"}, "usage:\n  overvakt [-c FILE]"},
		{[]string{"version"}, "overvakt dev ("},
		{[]string{"--version"}, "overvakt dev ("},
		{[]string{"-version"}, "overvakt dev ("},
		{[]string{"check-config", "--version"}, "overvakt dev ("},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), tc.stdout) {
				t.Fatalf("exit %d, stdout %q (stderr %q); want 0 and %q…", code, out.String(), errb.String(), tc.stdout)
			}
		})
	}
}

// waitFirstResult polls the server at addr until /status/report shows a
// probe result, and reports whether one came within the time given.
func waitFirstResult(addr string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get("http://" + addr + "/status/report")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), `"checked":"`) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNotifyTest(t *testing.T) {
	var got atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
	}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer failing.Close()

	write := func(hook string) string {
		p := filepath.Join(t.TempDir(), "overvakt.toml")
		os.WriteFile(p, []byte(fmt.Sprintf(`
[server]
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"

[notify.webhook]
hook_url = %q

[[probe.service]]
id = "s"

[[probe.service.node]]
id = "n"
mode = "push"
`, hook)), 0o600)
		return p
	}
	cases := []struct {
		name    string
		args    []string
		code    int
		out     string
		hookHit int32
	}{
		{"working channel", []string{"-c", write(ok.URL + "/hook")}, 0, "webhook: ok\n", 1},
		{"named channel", []string{"-c", write(ok.URL + "/hook"), "--channel", "webhook"}, 0, "webhook: ok\n", 1},
		{"failing channel", []string{"-c", write(failing.URL + "/hook")}, 1, "no such hook", 0},
		{"unknown channel", []string{"-c", write(ok.URL + "/hook"), "--channel", "pigeon"}, 1, "pigeon", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got.Store(0)
			var out bytes.Buffer
			code := run(context.Background(), append([]string{"notify-test"}, tc.args...), &out, &out)
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("exit %d, output %q; want exit %d and %q", code, out.String(), tc.code, tc.out)
			}
			if got.Load() != tc.hookHit {
				t.Errorf("webhook received %d requests, want %d", got.Load(), tc.hookHit)
			}
		})
	}
}

// A target that starts failing reaches the team through the webhook, with
// the replica named and the page status dead.
func TestTargetDeathIsNotified(t *testing.T) {
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer target.Close()
	hooks := make(chan map[string]any, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		hooks <- m
	}))
	defer hook.Close()

	addr := freePort(t)
	cfg := filepath.Join(t.TempDir(), "overvakt.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[server]
inet = %q
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"

[metrics]
poll_interval = 1
poll_retry = 0.1
poll_delay_sick = 1
poll_delay_dead = 2

[notify.webhook]
hook_url = "%s/hook"

[[probe.service]]
id = "web"

[[probe.service.node]]
id = "api"
mode = "poll"
replicas = ["%s/health"]
`, addr, hook.URL, target.URL)), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-c", cfg}, io.Discard, io.Discard) }()

	// A healthy first sweep, so that the failure is a change.
	if !waitFirstResult(addr, 20*time.Second) {
		t.Fatal("no probe result within 20 s of the start")
	}
	failing.Store(true)
	select {
	case m := <-hooks:
		if m["type"] != "changed" || m["status"] != "dead" {
			t.Fatalf("first webhook = %v, want a change to dead", m)
		}
		reps, _ := m["replicas"].([]any)
		if len(reps) != 1 || reps[0] != "web:api:"+target.URL+"/health" {
			t.Errorf("replicas = %v", m["replicas"])
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook within 20 s of the target failing")
	}
	cancel()
	<-done
}
