package reporter

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
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

[[probe.service]]
id = "hosts"
[[probe.service.node]]
id = "push"
mode = "push"
[[probe.service.node]]
id = "local"
mode = "local"
`

// startServer runs the real reporter API on loopback.
func startServer(t *testing.T) (string, *status.Registry) {
	t.Helper()
	s := apptest.Start(t, serverConfig, apptest.Options{})
	return s.URL, s.Registry
}

func replica(reg *status.Registry, node, id string) *status.Replica {
	snap := reg.Snapshot()
	si, ni, _ := snap.FindNode("hosts", node)
	for _, r := range snap.Services[si].Nodes.At(ni).Replicas.All() {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func TestAgainstServer(t *testing.T) {
	url, reg := startServer(t)
	ctx := context.Background()
	c, err := New(Options{URL: url, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReportLoad(ctx, "hosts", "push", Load{Replica: "host-1", Interval: 30 * time.Second, CPU: 0.95, RAM: 0.2}); err != nil {
		t.Fatal(err)
	}
	if r := replica(reg, "push", "host-1"); r == nil || r.Status != status.Sick || r.Load.CPU != 0.95 {
		t.Fatalf("push replica = %+v, want sick with cpu 0.95", r)
	}
	if err := c.ReportHealth(ctx, "hosts", "local", Health{Replica: "10.0.0.3", Interval: 2500 * time.Millisecond, Health: status.Dead}); err != nil {
		t.Fatal(err)
	}
	if r := replica(reg, "local", "10.0.0.3"); r == nil || r.Status != status.Dead {
		t.Fatalf("local replica = %+v, want dead", r)
	}
	if err := c.Flush(ctx, "hosts", "push", "host-1"); err != nil {
		t.Fatal(err)
	}
	if r := replica(reg, "push", "host-1"); r != nil {
		t.Fatalf("flushed replica still there: %+v", r)
	}

	refusals := []struct {
		name     string
		client   Options
		send     func(c *Client) error
		code     int
		mentions string
	}{
		{"wrong token", Options{URL: url, Token: "nope"},
			func(c *Client) error {
				return c.ReportLoad(ctx, "hosts", "push", Load{Replica: "h", Interval: time.Second})
			},
			403, "reporter_token"},
		{"unknown node", Options{URL: url, Token: token},
			func(c *Client) error {
				return c.ReportLoad(ctx, "hosts", "gone", Load{Replica: "h", Interval: time.Second})
			},
			404, `unknown node "gone"`},
		{"wrong mode", Options{URL: url, Token: token},
			func(c *Client) error {
				return c.ReportHealth(ctx, "hosts", "push", Health{Replica: "h", Interval: time.Second, Health: status.Sick})
			},
			412, "push mode"},
		{"flush of an unknown replica", Options{URL: url, Token: token},
			func(c *Client) error { return c.Flush(ctx, "hosts", "push", "ghost") },
			404, "ghost"},
		{"URL of another site", Options{URL: url + "/elsewhere", Token: token},
			func(c *Client) error {
				return c.ReportLoad(ctx, "hosts", "push", Load{Replica: "h", Interval: time.Second})
			},
			404, "status page's address"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.client)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.send(c)
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != tc.code || !IsFatal(err) {
				t.Fatalf("err = %v, want a fatal *Error with status %d", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("error %q does not mention %q", err, tc.mentions)
			}
		})
	}
}

// capture is a loopback server that records requests and answers with the
// given codes in turn (200 once they run out).
type capture struct {
	mu    sync.Mutex
	reqs  []captured
	codes []int
}

type captured struct {
	method, path, auth, ctype, body string
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{r.Method, r.URL.RawPath, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
	if r.URL.RawPath == "" {
		c.reqs[len(c.reqs)-1].path = r.URL.Path
	}
	code := 200
	if len(c.codes) > 0 {
		code, c.codes = c.codes[0], c.codes[1:]
	}
	c.mu.Unlock()
	if code != 200 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"error":"try later"}`)
	}
}

func (c *capture) requests() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.reqs...)
}

func TestWireFormat(t *testing.T) {
	cp := &capture{}
	ts := httptest.NewServer(cp)
	defer ts.Close()
	c, err := New(Options{URL: ts.URL + "/status/", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = c.ReportLoad(ctx, "web", "hosts", Load{Replica: "host-1", Interval: 30 * time.Second, CPU: 0.5, RAM: 0.25})
	_ = c.ReportHealth(ctx, "svc a", "n/1", Health{Replica: "10.0.0.3", Interval: 1500 * time.Millisecond, Health: status.Sick})
	_ = c.Flush(ctx, "web", "hosts", "rack 1/host%2")

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+token))
	want := []captured{
		{"POST", "/status/reporter/web/hosts/", auth, "application/json", `{"replica":"host-1","interval":30,"load":{"cpu":0.5,"ram":0.25}}`},
		{"POST", "/status/reporter/svc%20a/n%2F1/", auth, "application/json", `{"replica":"10.0.0.3","interval":1.5,"health":"sick"}`},
		{"DELETE", "/status/reporter/web/hosts/rack%201%2Fhost%252/", auth, "", ""},
	}
	got := cp.requests()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestRetries(t *testing.T) {
	load := Load{Replica: "h", Interval: time.Second}
	t.Run("server errors are retried", func(t *testing.T) {
		cp := &capture{codes: []int{503, 500}}
		ts := httptest.NewServer(cp)
		defer ts.Close()
		c, _ := New(Options{URL: ts.URL, Token: token, RetryDelay: time.Millisecond})
		if err := c.ReportLoad(context.Background(), "s", "n", load); err != nil {
			t.Fatalf("err = %v, want success on the third attempt", err)
		}
		if n := len(cp.requests()); n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}
	})
	t.Run("retries run out", func(t *testing.T) {
		cp := &capture{codes: []int{503, 503, 503, 503}}
		ts := httptest.NewServer(cp)
		defer ts.Close()
		c, _ := New(Options{URL: ts.URL, Token: token, RetryDelay: time.Millisecond, Retries: 1})
		err := c.ReportLoad(context.Background(), "s", "n", load)
		if err == nil || IsFatal(err) || !strings.Contains(err.Error(), "try later") {
			t.Fatalf("err = %v, want the non-fatal 503", err)
		}
		if n := len(cp.requests()); n != 2 {
			t.Fatalf("%d attempts, want 2", n)
		}
	})
	t.Run("refusals are not retried", func(t *testing.T) {
		cp := &capture{codes: []int{400}}
		ts := httptest.NewServer(cp)
		defer ts.Close()
		c, _ := New(Options{URL: ts.URL, Token: token, RetryDelay: time.Millisecond})
		if err := c.ReportLoad(context.Background(), "s", "n", load); !IsFatal(err) {
			t.Fatalf("err = %v, want fatal", err)
		}
		if n := len(cp.requests()); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
	})
	t.Run("connection refused is retried and not fatal", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, _ := New(Options{URL: "http://" + addr, Token: token, RetryDelay: time.Millisecond})
		err = c.ReportLoad(context.Background(), "s", "n", load)
		if err == nil || IsFatal(err) || !strings.Contains(err.Error(), addr) {
			t.Fatalf("err = %v, want a network error naming %s", err, addr)
		}
	})
	t.Run("a hanging server times out", func(t *testing.T) {
		var hits atomic.Int32
		release := make(chan struct{})
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer ts.Close()
		defer close(release)
		c, _ := New(Options{URL: ts.URL, Token: token, Timeout: 50 * time.Millisecond, RetryDelay: time.Millisecond, Retries: 1})
		start := time.Now()
		err := c.ReportLoad(context.Background(), "s", "n", load)
		if err == nil || IsFatal(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a timeout", err)
		}
		if hits.Load() != 2 || time.Since(start) > 2*time.Second {
			t.Fatalf("%d attempts in %v, want 2 quick ones", hits.Load(), time.Since(start))
		}
	})
	t.Run("cancel stops the retries", func(t *testing.T) {
		cp := &capture{codes: []int{503, 503, 503}}
		ts := httptest.NewServer(cp)
		defer ts.Close()
		c, _ := New(Options{URL: ts.URL, Token: token, RetryDelay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := c.ReportLoad(ctx, "s", "n", load); err == nil {
			t.Fatal("want an error")
		}
		if n := len(cp.requests()); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
	})
}

func TestRedirectIsAnError(t *testing.T) {
	ts := httptest.NewServer(http.RedirectHandler("https://status.example.com/reporter/s/n/", http.StatusMovedPermanently))
	defer ts.Close()
	c, _ := New(Options{URL: ts.URL, Token: token})
	err := c.ReportLoad(context.Background(), "s", "n", Load{Replica: "h", Interval: time.Second})
	if !IsFatal(err) || !strings.Contains(err.Error(), "https://status.example.com/") {
		t.Fatalf("err = %v, want a fatal error naming the redirect target", err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	cases := []struct {
		name, url, token, mentions string
	}{
		{"no URL", "", token, "no server URL"},
		{"no scheme", "status.example.com", token, "http://"},
		{"other scheme", "ftp://status.example.com", token, "http://"},
		{"no host", "http:///x", token, "no host"},
		{"query", "http://status.example.com/?a=1", token, "query"},
		{"user info", "http://u:p@status.example.com", token, "user info"},
		{"no token", "http://status.example.com", "", "no token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{URL: tc.url, Token: tc.token})
			if err == nil || !strings.Contains(err.Error(), tc.mentions) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.mentions)
			}
		})
	}
	c, _ := New(Options{URL: "http://127.0.0.1:1", Token: token})
	for _, err := range []error{
		c.ReportLoad(context.Background(), "s", "n", Load{Interval: time.Second}),
		c.ReportLoad(context.Background(), "s", "n", Load{Replica: "h"}),
		c.ReportLoad(context.Background(), "s", "n", Load{Replica: "h", Interval: time.Second, CPU: -1}),
		c.ReportHealth(context.Background(), "s", "n", Health{Replica: "h", Interval: time.Second, Health: 9}),
		c.Flush(context.Background(), "s", "n", ""),
	} {
		var e *Error
		if err == nil || errors.As(err, &e) {
			t.Errorf("err = %v, want a local check failure before any request", err)
		}
	}
}
