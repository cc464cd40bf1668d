package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
manager_token = "m"
reporter_token = "r"

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
	deadline := time.Now().Add(3 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/status/report")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), `"checked":"`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never probed its own /health")
		}
		time.Sleep(50 * time.Millisecond)
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
}
