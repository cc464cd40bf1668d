package probe

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

func TestHTTPStatus(t *testing.T) {
	scenarios := []struct {
		name    string
		handler http.HandlerFunc
		node    func(*config.Node)
		metrics func(*config.Metrics)
		want    status.Status
		wantErr string // substring; "" means no error
	}{
		{name: "200 is healthy", handler: func(w http.ResponseWriter, r *http.Request) {}, want: status.Healthy},
		{name: "500 is dead", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) },
			want: status.Dead, wantErr: ": status 500 (want 200..399)"},
		{name: "404 is dead", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) },
			want: status.Dead, wantErr: "HEAD http://"},
		{
			name:    "answer after poll_delay_sick is sick",
			handler: func(w http.ResponseWriter, r *http.Request) { sleep(r, 250*time.Millisecond) },
			metrics: func(m *config.Metrics) { m.PollDelaySick = 0.2 },
			want:    status.Sick, wantErr: "(sick from 200ms)",
		},
		{
			name:    "no answer within poll_delay_dead is dead",
			handler: func(w http.ResponseWriter, r *http.Request) { sleep(r, 5*time.Second) },
			metrics: func(m *config.Metrics) { m.PollDelayDead = 0.3; m.PollDelaySick = 0.2 },
			want:    status.Dead, wantErr: "no answer within 300ms",
		},
		{
			name:    "body matching the pattern is healthy",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("service: OK, all good")) },
			node:    func(n *config.Node) { n.HTTPBodyHealthyMatch = `OK,\s+all` },
			want:    status.Healthy,
		},
		{
			name:    "body not matching the pattern is dead",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("service: degraded")) },
			node:    func(n *config.Node) { n.HTTPBodyHealthyMatch = `^OK$` },
			want:    status.Dead, wantErr: "body does not match /^OK$/",
		},
		{
			name: "pattern is matched anywhere in a large body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(strings.Repeat("é.", 200<<10) + "healthy"))
			},
			node: func(n *config.Node) { n.HTTPBodyHealthyMatch = `healthy` },
			want: status.Healthy,
		},
		{
			name:    "bad status is dead before the body is looked at",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503); w.Write([]byte("OK")) },
			node:    func(n *config.Node) { n.HTTPBodyHealthyMatch = `OK` },
			want:    status.Dead, wantErr: "GET http://",
		},
		{
			name:    "status bounds come from the config",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
			metrics: func(m *config.Metrics) { m.PollHTTPStatusHealthyAbove = 200; m.PollHTTPStatusHealthyBelow = 204 },
			want:    status.Dead, wantErr: "status 204 (want 200..203)",
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			srv := newServer(t, sc.handler)
			node := pollNode(srv.URL + "/health")
			if sc.node != nil {
				sc.node(&node)
			}
			cfg := testConfig(node)
			if sc.metrics != nil {
				sc.metrics(&cfg.Metrics)
			}
			rep := firstResult(t, cfg)
			if rep.Status != sc.want {
				t.Errorf("status = %s (%q), want %s", rep.Status, rep.Error, sc.want)
			}
			if sc.wantErr == "" && rep.Error != "" {
				t.Errorf("error = %q, want none", rep.Error)
			}
			if !strings.Contains(rep.Error, sc.wantErr) {
				t.Errorf("error = %q, want it to contain %q", rep.Error, sc.wantErr)
			}
			if rep.Latency <= 0 {
				t.Errorf("latency = %v, want > 0", rep.Latency)
			}
		})
	}
}

func TestHTTPRequest(t *testing.T) {
	scenarios := []struct {
		name       string
		node       config.Node
		pageURL    string
		wantMethod string
		wantBody   string
		wantHeader map[string]string
		wantHost   string
	}{
		{name: "HEAD by default", wantMethod: "HEAD",
			wantHeader: map[string]string{"User-Agent": "overvakt/1.2.3"}},
		{name: "GET when a body pattern is set", node: config.Node{HTTPBodyHealthyMatch: "."}, wantMethod: "GET"},
		{name: "POST sends the body", node: config.Node{HTTPMethod: "post", HTTPBody: `{"ping":1}`},
			wantMethod: "POST", wantBody: `{"ping":1}`},
		{name: "PUT sends the body", node: config.Node{HTTPMethod: "PUT", HTTPBody: "x"}, wantMethod: "PUT", wantBody: "x"},
		{name: "PATCH sends the body", node: config.Node{HTTPMethod: "PATCH", HTTPBody: "y"}, wantMethod: "PATCH", wantBody: "y"},
		{name: "GET never sends the body", node: config.Node{HTTPMethod: "GET", HTTPBody: "nope"}, wantMethod: "GET"},
		{name: "explicit method wins over the pattern default",
			node: config.Node{HTTPMethod: "PUT", HTTPBodyHealthyMatch: "."}, wantMethod: "PUT"},
		{
			name:       "headers and page URL in the User-Agent",
			node:       config.Node{HTTPHeaders: map[string]string{"X-Token": "abc", "accept": "text/plain", "Host": "status.internal"}},
			pageURL:    "https://status.example.com/",
			wantMethod: "HEAD",
			wantHeader: map[string]string{"User-Agent": "overvakt/1.2.3 (+https://status.example.com/)",
				"X-Token": "abc", "Accept": "text/plain"},
			wantHost: "status.internal",
		},
		{name: "a configured User-Agent wins", node: config.Node{HTTPHeaders: map[string]string{"User-Agent": "mine"}},
			wantMethod: "HEAD", wantHeader: map[string]string{"User-Agent": "mine"}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
			node := sc.node
			node.ID, node.Mode, node.Replicas = "node", "poll", []string{srv.URL + "/p"}
			cfg := testConfig(node)
			cfg.Branding.PageURL = sc.pageURL
			if rep := firstResult(t, cfg); rep.Status != status.Healthy {
				t.Fatalf("status = %s (%s), want healthy", rep.Status, rep.Error)
			}
			hits := srv.seen()
			if len(hits) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(hits))
			}
			h := hits[0]
			if h.method != sc.wantMethod {
				t.Errorf("method = %s, want %s", h.method, sc.wantMethod)
			}
			if h.body != sc.wantBody {
				t.Errorf("body = %q, want %q", h.body, sc.wantBody)
			}
			for k, v := range sc.wantHeader {
				if got := h.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if sc.wantHost != "" && h.host != sc.wantHost {
				t.Errorf("Host = %q, want %q", h.host, sc.wantHost)
			}
		})
	}
}

func TestHTTPRedirectIsNotFollowed(t *testing.T) {
	scenarios := []struct {
		name    string
		below   int
		want    status.Status
		wantErr string
	}{
		{name: "302 within 200..399 is healthy", below: 400, want: status.Healthy},
		{name: "302 outside 200..299 is dead", below: 300, want: status.Dead, wantErr: "status 302 (want 200..299)"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var followed atomic.Int32
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					followed.Add(1)
					return
				}
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			})
			cfg := testConfig(pollNode(srv.URL + "/start"))
			cfg.Metrics.PollHTTPStatusHealthyBelow = sc.below
			rep := firstResult(t, cfg)
			if rep.Status != sc.want || !strings.Contains(rep.Error, sc.wantErr) {
				t.Errorf("got %s %q, want %s with %q", rep.Status, rep.Error, sc.want, sc.wantErr)
			}
			time.Sleep(50 * time.Millisecond)
			if n := followed.Load(); n != 0 {
				t.Errorf("the redirect was followed %d times", n)
			}
		})
	}
}

func TestHTTPURLPasswordIsUsedButNeverShown(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	replica := strings.Replace(srv.URL, "http://", "http://probe:s3cret@", 1) + "/x"
	cfg := testConfig(pollNode(replica))
	rep := firstResult(t, cfg)
	if rep.Status != status.Dead {
		t.Fatalf("status = %s, want dead", rep.Status)
	}
	if strings.Contains(rep.Error, "s3cret") {
		t.Errorf("error shows the password: %q", rep.Error)
	}
	if !strings.Contains(rep.Error, "probe:xxxxx@") {
		t.Errorf("error = %q, want the URL with its password masked", rep.Error)
	}
	hits := srv.seen()
	if len(hits) == 0 || hits[0].user != "probe" || hits[0].pass != "s3cret" {
		t.Errorf("server did not get basic auth from the URL: %+v", hits)
	}
}

func TestHTTPRetry(t *testing.T) {
	var n atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(500)
		}
	})
	cfg := testConfig(pollNode(srv.URL))
	cfg.Metrics.PollRetry = 0.3
	r := start(t, cfg, nil, nil)
	snap := waitChecked(t, r.reg, 5*time.Second)
	rep := snap.Services[0].Nodes[0].Replicas[0]
	if rep.Status != status.Healthy {
		t.Errorf("status = %s (%s), want healthy after the retry", rep.Status, rep.Error)
	}
	if snap.Version != 2 {
		t.Errorf("registry saw %d results, want only the one after the retry", snap.Version-1)
	}
	hits := srv.seen()
	if len(hits) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(hits))
	}
	if gap := hits[1].at.Sub(hits[0].at); gap < 300*time.Millisecond {
		t.Errorf("retry came %v after the failure, want >= poll_retry (300ms)", gap)
	}
}

func TestHTTPFailingTwiceIsDead(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
	cfg := testConfig(pollNode(srv.URL))
	rep := firstResult(t, cfg)
	if rep.Status != status.Dead {
		t.Errorf("status = %s, want dead", rep.Status)
	}
	if n := len(srv.seen()); n != 2 {
		t.Errorf("server saw %d requests, want 2 (one retry)", n)
	}
}

func TestHTTPSickIsNotRetried(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { sleep(r, 150*time.Millisecond) })
	cfg := testConfig(pollNode(srv.URL))
	cfg.Metrics.PollDelaySick = 0.1
	rep := firstResult(t, cfg)
	if rep.Status != status.Sick {
		t.Errorf("status = %s, want sick", rep.Status)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(srv.seen()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestHTTPConnectionRefusedIsDead(t *testing.T) {
	addr := closedPort(t)
	rep := firstResult(t, testConfig(pollNode("http://"+addr+"/")))
	if rep.Status != status.Dead || !strings.Contains(rep.Error, "connection refused") {
		t.Errorf("got %s %q, want dead with connection refused", rep.Status, rep.Error)
	}
	if want := "HEAD http://" + addr + "/: dial tcp " + addr; !strings.HasPrefix(rep.Error, want) {
		t.Errorf("error = %q, want it to start with %q", rep.Error, want)
	}
}

func TestHTTPSVerifiesCertificates(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rep := firstResult(t, testConfig(pollNode(srv.URL)))
	if rep.Status != status.Dead || !strings.Contains(rep.Error, "certificate") {
		t.Errorf("got %s %q, want dead: the test server's certificate is not trusted", rep.Status, rep.Error)
	}
}
