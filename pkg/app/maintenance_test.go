package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// notifications is the notify.webhook channel's far end: an
// http.RoundTripper keeping every payload, so the test runs in a
// synctest bubble.
type notifications struct {
	mu   sync.Mutex
	sent []map[string]any
}

func (n *notifications) RoundTrip(r *http.Request) (*http.Response, error) {
	var p map[string]any
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.sent = append(n.sent, p)
	n.mu.Unlock()
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

func (n *notifications) take() []map[string]any {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.sent
	n.sent = nil
	return out
}

// TestMaintenanceEndToEnd runs the app's notifier and history over a day
// on a fake clock (the bubble's starts at midnight UTC): web:api dies
// inside its maintenance window (02:00 to 03:00) and nothing is sent; it
// is still dead when the window ends, and exactly one notification goes
// out; it recovers at 04:00. The day's uptime leaves the window out.
func TestMaintenanceEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		midnight := time.Now().UTC()
		if midnight.Hour() != 0 || midnight.Minute() != 0 {
			t.Fatalf("the bubble starts at %v, not at midnight", midnight)
		}
		at := func(h, m int) time.Time {
			return midnight.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
		}
		cfg, err := config.Parse("test.toml", []byte(`
[server]
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"

[notify]
startup_notification = false

[notify.webhook]
hook_url = "https://hooks.example.com/alerts"

[[maintenance]]
title = "API upgrade"
affected = ["web:api"]
start = `+at(2, 0).Format(time.RFC3339)+`
end = `+at(3, 0).Format(time.RFC3339)+`

[[probe.service]]
id = "web"
[[probe.service.node]]
id = "api"
mode = "poll"
replicas = ["http://127.0.0.1:9/"]
[[probe.service.node]]
id = "cdn"
mode = "poll"
replicas = ["http://127.0.0.1:9/cdn"]
`), func(string) (string, bool) { return "", false }, kinds.All().Config())
		if err != nil {
			t.Fatal(err)
		}
		sent := &notifications{}
		a, err := New(context.Background(), Options{Config: cfg, Kinds: kinds.All(), Store: memory.New(), HTTP: &http.Client{Transport: sent}})
		if err != nil {
			t.Fatal(err)
		}
		a.rollups.SetClock(time.Now, time.UTC)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { a.Dispatcher.Run(ctx) })
		wg.Go(func() { a.History.Run(ctx) })
		defer func() { cancel(); wg.Wait() }()

		api, cdn := status.Ref{Node: 0}, status.Ref{Node: 1}
		set := func(ref status.Ref, st status.Status) {
			a.Registry.Set(ref, status.Result{Status: st, At: time.Now(), Err: map[bool]string{true: "connection refused"}[st == status.Dead]})
		}
		sleepUntil := func(t time.Time) { time.Sleep(time.Until(t)); synctest.Wait() }

		set(api, status.Healthy)
		set(cdn, status.Healthy)
		sleepUntil(at(2, 10)) // inside the window
		set(api, status.Dead)
		sleepUntil(at(2, 59))
		if got := sent.take(); len(got) != 0 {
			t.Fatalf("notified inside the window: %v", got)
		}
		sleepUntil(at(3, 1)) // the window ended at 03:00; changes coalesce for 2 s
		got := sent.take()
		if len(got) != 1 || got[0]["type"] != "changed" || got[0]["status"] != "dead" {
			t.Fatalf("after the window: %v, want one change to dead", got)
		}
		sleepUntil(at(4, 0))
		if got := sent.take(); len(got) != 0 {
			t.Fatalf("more after the window: %v", got)
		}
		set(api, status.Healthy)
		sleepUntil(at(4, 1))
		if got := sent.take(); len(got) != 1 || got[0]["status"] != "healthy" {
			t.Fatalf("the recovery: %v", got)
		}

		// The next morning the day is summed up.
		sleepUntil(at(24+1, 0))
		if err := a.rollups.Catch(ctx); err != nil {
			t.Fatal(err)
		}
		v, err := a.Views.Build(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		days := v.Nodes[store.Component{Service: "web", Node: "api"}].Days
		day := days[len(days)-2]
		if !day.Start.Equal(midnight) || day.Maintenance != time.Hour || day.Dead != time.Hour ||
			day.Healthy+day.NoData != 22*time.Hour || day.NoData > time.Second {
			t.Fatalf("web:api's day: %+v; want 1 h of maintenance, 1 h down, the rest up", day)
		}
		r := day.Ratio()
		if r.Data != day.Healthy+time.Hour || r.Up != day.Healthy {
			t.Errorf("uptime over the day %+v: the window must count neither as up nor as down", r)
		}
		if p := r.Percent(); p < 95.6 || p > 95.7 {
			t.Errorf("uptime over the day %.3f%%, want 22/23 = 95.65%%", p)
		}
		// The service is as good as cdn while api is under maintenance.
		if u := v.Services["web"].Day; u.Data-u.Up != time.Hour {
			t.Errorf("service web was down %v of the last 24 h, want 1 h (after the window)", u.Data-u.Up)
		}
	})
}
