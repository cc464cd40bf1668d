package app

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// TestLiveFeedEndToEnd runs the whole server, probing a real HTTP target:
// a client of /live gets the snapshot, then the target's first result
// (unless the snapshot had it), then its failure as it happens, then an announcement published through
// the manager API. Nothing in the feed names the target's URL (its node
// hides replica names) or says why it failed.
func TestLiveFeedEndToEnd(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusOK)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	defer target.Close()
	cfg, err := config.Parse("live.toml", []byte(`[server]
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"
[metrics]
poll_interval = 1
poll_retry = 0.05
poll_delay_dead = 2
poll_delay_sick = 1
[[probe.service]]
id = "web"
label = "Website"
[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["`+target.URL+`/health"]
`), nil, kinds.All().Config())
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), Options{Config: cfg, Kinds: kinds.All(), Store: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, "ws://"+ln.Addr().String()+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var seen []string
	// await reads until a message of type typ holding every one of
	// wants, within 5 s.
	await := func(typ string, wants ...string) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for {
			_, msg, err := c.Read(rctx)
			if err != nil {
				t.Fatalf("waiting for a %s message with %q: %v; got:\n%s", typ, wants, err, strings.Join(seen, "\n"))
			}
			seen = append(seen, string(msg))
			var m struct{ Type string }
			if err := json.Unmarshal(msg, &m); err != nil {
				t.Fatal(err)
			}
			all := m.Type == typ
			for _, w := range wants {
				all = all && strings.Contains(string(msg), w)
			}
			if all {
				return
			}
		}
	}
	await("snapshot", `"services":[{"id":"web","label":"Website"`, `"name":"replica 1"`)
	if strings.Contains(seen[len(seen)-1], `"no_data":true`) {
		// Connected before the first probe: its result comes as an event.
		await("status", `"replicas":[{"service":"web","node":"api","index":1,"name":"replica 1","status":"healthy"}]`)
	}

	code.Store(http.StatusServiceUnavailable)
	failed := time.Now()
	await("status", `"page":{"status":"dead"`, `"nodes":[{"service":"web","id":"api","status":"dead"`,
		`"replicas":[{"service":"web","node":"api","index":1,"name":"replica 1","status":"dead"}]`)
	t.Logf("the target failed; its event came %v later (poll every 1 s, retried after 0.05 s)", time.Since(failed).Round(time.Millisecond))

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ln.Addr().String()+"/manager/announcement",
		strings.NewReader(`{"title":"Database maintenance","text":"Tonight 22:00-23:00 UTC."}`))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("", "manager-token-0123456789")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /manager/announcement: %d", resp.StatusCode)
	}
	await("announcement", `"title":"Database maintenance","text":"Tonight 22:00-23:00 UTC."`)

	for _, m := range seen {
		for _, secret := range []string{target.URL, "127.0.0.1", "503", "Service Unavailable"} {
			if strings.Contains(m, secret) {
				t.Errorf("the feed tells %q, which the page does not: %s", secret, m)
			}
		}
	}
}
