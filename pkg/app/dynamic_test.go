package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app"
	"github.com/overvakt/overvakt/pkg/app/apptest"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
	"github.com/overvakt/overvakt/pkg/store/sqlite"
)

// dynamicConfig has a [dynamic] table with room for max targets probed
// every interval seconds.
func dynamicConfig(max int, interval float64) string {
	return fmt.Sprintf(`[server]
manager_token = %q
reporter_token = "reporter-secret-0123456789"

[metrics]
poll_interval = 30
poll_parallelism = 64
poll_delay_sick = 2
poll_delay_dead = 5

[dynamic]
service_id = "customers"
service_label = "Customer instances"
interval = %v
max_targets = %d
http_method = "GET"
http_status_healthy_above = 200
http_status_healthy_below = 300
`, managerToken, interval, max)
}

// serving runs the whole app (probes included) on loopback until stop.
type serving struct {
	*app.App
	url  string
	stop func()
}

func serve(t testing.TB, text string, st store.Store) *serving {
	t.Helper()
	if st == nil {
		st = memory.New()
	}
	a, err := app.New(context.Background(), app.Options{Config: apptest.Config(t, text), Kinds: kinds.All(), Store: st})
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
	s := &serving{App: a, url: "http://" + ln.Addr().String()}
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(s.stop)
	return s
}

// call sends one manager request and returns the status and body.
func (s *serving) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("", managerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func monitorPath(target string) string { return "/manager/monitor?url=" + url.QueryEscape(target) }

type monitorJSON struct {
	URL       string          `json:"url"`
	Status    string          `json:"status"`
	Reason    string          `json:"reason"`
	LatencyMS *float64        `json:"latency_ms"`
	Data      json.RawMessage `json:"data"`
}

func TestDynamicTargetsAPI(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer target.Close()
	s := serve(t, dynamicConfig(2, 1), nil)
	up, down := target.URL+"/health", target.URL+"/down"

	code, body := s.call(t, "PUT", monitorPath(up), `{"engine":"search-1","pods":3}`)
	if code != http.StatusCreated || !strings.Contains(body, `"url":"`+up+`"`) || !strings.Contains(body, `"data":{"engine":"search-1","pods":3}`) {
		t.Fatalf("PUT new: %d %s", code, body)
	}
	firstNode := s.Registry.Snapshot().Services[0].Nodes.At(0)
	code, body = s.call(t, "PUT", monitorPath(up), `"replaced"`)
	if code != http.StatusOK || !strings.Contains(body, `"data":"replaced"`) {
		t.Fatalf("PUT again: %d %s", code, body)
	}
	if svc := s.Registry.Snapshot().Services[0]; svc.Nodes.Len() != 1 || svc.Nodes.At(0).ID != firstNode.ID {
		t.Fatalf("PUT again made another node: %d nodes", svc.Nodes.Len())
	}
	if code, body = s.call(t, "PUT", monitorPath(down), `null`); code != http.StatusCreated {
		t.Fatalf("PUT down: %d %s", code, body)
	}
	// Both are probed: healthy, and dead with the probe's reason.
	deadline := time.Now().Add(10 * time.Second)
	var got monitorJSON
	for {
		_, body = s.call(t, "GET", monitorPath(down), "")
		json.Unmarshal([]byte(body), &got)
		if got.Status == "dead" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.Status != "dead" || !strings.Contains(got.Reason, "503") || got.LatencyMS == nil || string(got.Data) != "null" {
		t.Errorf("GET down: %s", body)
	}
	_, body = s.call(t, "GET", "/manager/monitors", "")
	var all []monitorJSON
	if err := json.Unmarshal([]byte(body), &all); err != nil || len(all) != 2 || all[0].URL != up || all[1].URL != down {
		t.Fatalf("GET monitors: %s", body)
	}
	if all[0].Status != "healthy" || string(all[0].Data) != `"replaced"` {
		t.Errorf("the first target: %+v", all[0])
	}
	// The page shows them, labelled by host and path.
	resp, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	host := strings.TrimPrefix(target.URL, "http://")
	for _, want := range []string{"Customer instances", host + "/health", host + "/down"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"over max_targets", "PUT", monitorPath(target.URL + "/third"), `{}`, 409, "max_targets (2) reached"},
		{"not http", "PUT", monitorPath("ftp://files.example.com/"), `{}`, 400, `scheme \"ftp\": only http and https`},
		{"no host", "PUT", monitorPath("https:///health"), `{}`, 400, "no host"},
		{"no url", "PUT", "/manager/monitor", `{}`, 400, "want one url="},
		{"two urls", "GET", "/manager/monitor?url=a&url=b", "", 400, "want one url="},
		{"not JSON", "PUT", monitorPath(up), `{engine`, 400, "not a JSON value"},
		{"data too large", "PUT", monitorPath(up), `"` + strings.Repeat("x", 16<<10) + `"`, 413, "larger than 16384 bytes"},
		{"unknown target", "GET", monitorPath(target.URL + "/nothing"), "", 404, "no target with that url"},
		{"delete unknown", "DELETE", monitorPath(target.URL + "/nothing"), "", 404, "no target with that url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := s.call(t, tc.method, tc.path, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) || !strings.HasPrefix(body, `{"error":`) {
				t.Errorf("%s %s: %d %s, want %d …%s…", tc.method, tc.path, code, body, tc.code, tc.want)
			}
		})
	}
	if _, body = s.call(t, "GET", monitorPath(up), ""); !strings.Contains(body, `"data":"replaced"`) {
		t.Errorf("a refused PUT changed the data: %s", body)
	}

	code, body = s.call(t, "DELETE", monitorPath(down), "")
	if code != 200 || !strings.Contains(body, `"url":"`+down+`"`) || !strings.Contains(body, `"data":null`) {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if svc := s.Registry.Snapshot().Services[0]; svc.Nodes.Len() != 1 {
		t.Errorf("%d nodes after the delete, want 1", svc.Nodes.Len())
	}
	if code, _ = s.call(t, "PUT", monitorPath(target.URL+"/third"), `{}`); code != 201 {
		t.Errorf("PUT after a delete made room: %d", code)
	}

	// Without the manager token: refused as every manager route is.
	req, _ := http.NewRequest("GET", s.url+"/manager/monitors", nil)
	req.SetBasicAuth("", "wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a wrong token: %v %v", resp.StatusCode, err)
	}
}

func TestDynamicTargetsOffWithoutTheTable(t *testing.T) {
	s := apptest.Start(t, "[server]\nmanager_token = \""+managerToken+"\"\nreporter_token = \"reporter-secret-0123456789\"\n", apptest.Options{})
	for _, method := range []string{"PUT", "GET", "DELETE"} {
		req, _ := http.NewRequest(method, s.URL+monitorPath("https://example.com/"), strings.NewReader("{}"))
		req.SetBasicAuth("", managerToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.Contains(string(b), "no [dynamic] table") {
			t.Errorf("%s without [dynamic]: %d %s", method, resp.StatusCode, b)
		}
	}
}

// A restart keeps every target, its data and its history.
func TestDynamicTargetsSurviveARestart(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	path := filepath.Join(t.TempDir(), "overvakt.db")
	open := func() store.Store {
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	s := serve(t, dynamicConfig(10, 1), st)
	for i := range 3 {
		if code, body := s.call(t, "PUT", monitorPath(fmt.Sprintf("%s/t%d", target.URL, i)), fmt.Sprintf(`{"n":%d}`, i)); code != 201 {
			t.Fatalf("PUT: %d %s", code, body)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); s.Registry.Snapshot().Unchecked > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the targets were not probed within 10 s")
		}
	}
	time.Sleep(1500 * time.Millisecond) // a history batch is written every second
	s.stop()
	st.Close()

	st = open()
	defer st.Close()
	s = serve(t, dynamicConfig(10, 1), st)
	_, body := s.call(t, "GET", "/manager/monitors", "")
	var all []monitorJSON
	json.Unmarshal([]byte(body), &all)
	if len(all) != 3 || string(all[2].Data) != `{"n":2}` || all[1].URL != target.URL+"/t1" {
		t.Fatalf("after the restart: %s", body)
	}
	if all[0].Status == "unchecked" {
		t.Errorf("a target's last result was not restored: %+v", all[0])
	}
	node := s.Registry.Snapshot().Services[0].Nodes.At(0)
	resp, err := http.Get(s.url + "/api/v1/history/customers/" + node.ID + "?range=24h")
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(hist), `"healthy_seconds"`) {
		t.Errorf("history of a target after the restart: %d %s", resp.StatusCode, hist)
	}
}

// 1,000 targets are registered over the API in under 2 s and all probed
// within one interval.
func TestThousandDynamicTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("registers 1,000 targets")
	}
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer target.Close()
	const interval = 5 * time.Second
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "overvakt.db")) // as a server keeps them
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := serve(t, dynamicConfig(1000, interval.Seconds()), st)
	began := time.Now()
	for i := range 1000 {
		if code, body := s.call(t, "PUT", monitorPath(fmt.Sprintf("%s/pod-%d", target.URL, i)), `{}`); code != 201 {
			_, list := s.call(t, "GET", "/manager/monitors", "")
			t.Fatalf("PUT %d: %d %s (%d listed: %.300s)", i, code, body, strings.Count(list, "\"url\""), list)
		}
	}
	took := time.Since(began)
	t.Logf("1,000 targets registered in %v", took)
	if !raceEnabled && took > 2*time.Second {
		t.Errorf("1,000 targets took %v to register, want under 2 s", took)
	}
	for s.Registry.Snapshot().Unchecked > 0 {
		if time.Since(began) > took+interval {
			t.Fatalf("%d targets not probed one interval after the last came", s.Registry.Snapshot().Unchecked)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("all probed %v after the first came (%d requests)", time.Since(began), hits.Load())
	if svc := s.Registry.Snapshot().Services[0]; svc.Nodes.Len() != 1000 || svc.Status != 0 {
		t.Errorf("%d nodes, service %v", svc.Nodes.Len(), svc.Status)
	}
}
