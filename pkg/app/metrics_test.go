package app_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const metricsToken = "metrics-secret-0123456789"

func metricsConfig(on bool, hook, up, down string) string {
	return fmt.Sprintf(`[server]
manager_token = %q
reporter_token = "reporter-secret-0123456789"
metrics = %v
metrics_token = %q

[metrics]
poll_interval = 1
poll_delay_sick = 1
poll_delay_dead = 2

[notify]
startup_notification = true

[notify.webhook]
hook_url = %q

[[probe.service]]
id = "web"

[[probe.service.node]]
id = "api"
mode = "poll"
replicas = [%q, %q]

[[probe.service.node]]
id = "hosts"
mode = "push"
`, managerToken, on, metricsToken, hook, up, down)
}

// scrape reads /metrics with the token and parses it with Prometheus's
// own parser.
func scrape(t *testing.T, base string) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams, body
}

// value is the value of the series of family name with the given labels
// (a counter, a gauge, or a histogram's count); ok false when absent.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics runs a known scenario and reads it back from /metrics: one
// healthy and one dead replica polled, a push replica with no report yet,
// one accepted and one refused report, the start-up notice sent, the page
// rendered once and then served from memory, batches written to the store.
func TestMetrics(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer target.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	up, down := target.URL+"/up", target.URL+"/down"
	s := serve(t, metricsConfig(true, hook.URL, up, down), nil)

	// The token: none 401, a wrong one 403, Basic auth with it works too.
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong-token-0123456789", http.StatusForbidden},
		{"Bearer " + managerToken, http.StatusForbidden},
		{"Basic " + basic(metricsToken), http.StatusOK},
		{"bearer " + metricsToken, http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("/metrics with %q: %d %s, want %d", tc.auth, resp.StatusCode, body, tc.want)
		}
		if tc.want != http.StatusOK && !strings.HasPrefix(string(body), `{"error":`) {
			t.Errorf("/metrics refused with %q: %s, want a JSON error", tc.auth, body)
		}
	}

	// One report accepted, one refused (no interval).
	for _, body := range []string{`{"replica":"db-1","interval":30,"load":{"cpu":0.2,"ram":0.3}}`, `{"replica":"db-2"}`} {
		req, _ := http.NewRequest("POST", s.url+"/reporter/web/hosts/", strings.NewReader(body))
		req.SetBasicAuth("", "reporter-secret-0123456789")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// The page twice: rendered, then from memory.
	for range 2 {
		resp, err := http.Get(s.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	want := []struct {
		name   string
		labels []string
		min    float64
		max    float64
	}{
		{"overvakt_page_status", nil, 2, 2},
		{"overvakt_service_status", []string{"service", "web"}, 2, 2},
		{"overvakt_node_status", []string{"service", "web", "node", "api"}, 2, 2},
		{"overvakt_replica_status", []string{"node", "api", "replica", up}, 0, 0},
		{"overvakt_replica_status", []string{"node", "api", "replica", down}, 2, 2},
		{"overvakt_replica_status", []string{"node", "hosts", "replica", "db-1"}, 0, 0},
		{"overvakt_probe_duration_seconds", []string{"service", "web", "node", "api"}, 2, 1e9},
		{"overvakt_results_total", []string{"mode", "poll", "status", "dead"}, 1, 1e9},
		{"overvakt_results_total", []string{"mode", "poll", "status", "healthy"}, 1, 1e9},
		{"overvakt_results_total", []string{"mode", "push", "status", "healthy"}, 1, 1},
		{"overvakt_reports_total", []string{"result", "accepted"}, 1, 1},
		{"overvakt_reports_total", []string{"result", "refused"}, 1, 1},
		{"overvakt_notifications_total", []string{"channel", "webhook", "outcome", "sent"}, 1, 1e9},
		{"overvakt_notifications_total", []string{"channel", "webhook", "outcome", "failed"}, 0, 0}, // there from the start
		{"overvakt_notification_queue_messages", []string{"channel", "webhook"}, 0, 0},
		{"overvakt_live_clients", nil, 0, 0},
		{"overvakt_page_renders_total", []string{"doc", "page"}, 1, 1e9},
		{"overvakt_page_cache_hits_total", []string{"doc", "page"}, 1, 1e9},
		{"overvakt_store_write_seconds", nil, 1, 1e9},
		{"overvakt_build_info", nil, 1, 1},
		{"go_goroutines", nil, 1, 1e9},
		{"process_open_fds", nil, 1, 1e9},
	}
	var fams map[string]*dto.MetricFamily
	var body []byte
	var missing []string
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		fams, body = scrape(t, s.url)
		missing = missing[:0]
		for _, w := range want {
			if v, ok := value(fams, w.name, w.labels...); !ok || v < w.min || v > w.max {
				missing = append(missing, fmt.Sprintf("%s%v = %v (present %v), want %v..%v", w.name, w.labels, v, ok, w.min, w.max))
			}
		}
		if len(missing) == 0 || time.Now().After(end) {
			break
		}
	}
	for _, m := range missing {
		t.Error(m)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
	promtoolCheck(t, body)
}

// promtoolCheck runs `promtool check metrics` on a scrape: the names,
// units and help texts follow Prometheus's conventions.
func promtoolCheck(t *testing.T, body []byte) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("OVERVAKT_TEST_REQUIRE_SERVICES") != "" {
			t.Fatal("promtool is not installed (Debian: apt-get install prometheus)")
		}
		t.Log("promtool not installed (Debian: apt-get install prometheus); the metrics are not linted")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsOff: without [server] metrics, /metrics is no route.
func TestMetricsOff(t *testing.T) {
	s := serve(t, metricsConfig(false, "http://127.0.0.1:9/", "http://127.0.0.1:9/up", "http://127.0.0.1:9/down"), nil)
	req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics with metrics off: %d, want 404", resp.StatusCode)
	}
}

// basic is the Basic credentials of token with an empty user.
func basic(token string) string { return base64.StdEncoding.EncodeToString([]byte(":" + token)) }
