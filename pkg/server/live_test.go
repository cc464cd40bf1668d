package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/overvakt/overvakt/pkg/connlimit"
)

// dialLive opens /live on the server at base (http://…/), trailing slash
// or not; a refusal is returned with its status code.
func dialLive(t *testing.T, base, path string) (*websocket.Conn, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(strings.TrimSuffix(base, "/"), "http")+path, nil)
	if c == nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		return nil, resp.StatusCode
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, msg, err := c.Read(rctx)
	if err != nil || !strings.HasPrefix(string(msg), `{"type":"snapshot"`) {
		t.Fatalf("first message on %s: %s %v; want the snapshot", path, msg, err)
	}
	return c, resp.StatusCode
}

// TestLiveRoute: /live is served beside the page; its connections stay
// open without taking the workers that answer requests, and shows the
// page's replicas as the page names them.
func TestLiveRoute(t *testing.T) {
	cfg := testConfig()
	cfg.Server.Workers = 1
	s := newTestServer(t, cfg, realisticRegistry(time.Now()), nil)
	base := serveOnLoopback(t, s)
	for _, path := range []string{"/live", "/live/", "/live", "/live/"} {
		if _, code := dialLive(t, base, path); code != http.StatusSwitchingProtocols {
			t.Fatalf("%s: %d", path, code)
		}
	}
	// Four live pages open, one worker: requests are still answered.
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/", "/status/text"} {
		resp, err := client.Get(base + strings.TrimPrefix(path, "/"))
		if err != nil {
			t.Fatalf("GET %s with live connections open: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	// A plain GET is told to upgrade.
	resp, err := client.Get(base + "live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET /live: %d, want 426", resp.StatusCode)
	}
}

// TestLiveLeavesHalfTheConnections: behind a listener that caps
// connections, live ones may take half of them, since they are never
// idle and the listener cannot close them to make room.
func TestLiveLeavesHalfTheConnections(t *testing.T) {
	cfg := testConfig()
	s := newTestServer(t, cfg, realisticRegistry(time.Now()), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	capped := connlimit.Wrap(ln, connlimit.Limits{Total: 6, PerIP: -1}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, capped) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	base := "http://" + ln.Addr().String() + "/"
	for i, want := range []int{101, 101, 101, 503} {
		if _, code := dialLive(t, base, "/live"); code != want {
			t.Errorf("live connection %d: %d, want %d", i+1, code, want)
		}
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the page with 3 of 6 connections live: %d", resp.StatusCode)
	}
}
