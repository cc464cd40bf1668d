package httpprobe

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/probe/probetest"
	"github.com/overvakt/overvakt/pkg/status"
)

func TestHTTPStatus(t *testing.T) {
	scenarios := []struct {
		name    string
		handler http.HandlerFunc
		node    func(*Node)
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
			handler: func(w http.ResponseWriter, r *http.Request) { probetest.Sleep(r, 250*time.Millisecond) },
			metrics: func(m *config.Metrics) { m.PollDelaySick = 0.2 },
			want:    status.Sick, wantErr: "(sick from 200ms)",
		},
		{
			name:    "no answer within poll_delay_dead is dead",
			handler: func(w http.ResponseWriter, r *http.Request) { probetest.Sleep(r, 5*time.Second) },
			metrics: func(m *config.Metrics) { m.PollDelayDead = 0.3; m.PollDelaySick = 0.2 },
			want:    status.Dead, wantErr: "no answer within 300ms",
		},
		{
			name:    "body matching the pattern is healthy",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("service: OK, all good")) },
			node:    func(n *Node) { n.HealthyMatch = `OK,\s+all` },
			want:    status.Healthy,
		},
		{
			name:    "body not matching the pattern is dead",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("service: degraded")) },
			node:    func(n *Node) { n.HealthyMatch = `^OK$` },
			want:    status.Dead, wantErr: "body does not match /^OK$/",
		},
		{
			name: "pattern is matched anywhere in a large body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(strings.Repeat("é.", 200<<10) + "healthy"))
			},
			node: func(n *Node) { n.HealthyMatch = `healthy` },
			want: status.Healthy,
		},
		{
			name:    "bad status is dead before the body is looked at",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503); w.Write([]byte("OK")) },
			node:    func(n *Node) { n.HealthyMatch = `OK` },
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
				sc.node(keys(&node))
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
		node       Node
		pageURL    string
		wantMethod string
		wantBody   string
		wantHeader map[string]string
		wantHost   string
	}{
		{name: "HEAD by default", wantMethod: "HEAD",
			wantHeader: map[string]string{"User-Agent": "overvakt/1.2.3"}},
		{name: "GET when a body pattern is set", node: Node{HealthyMatch: "."}, wantMethod: "GET"},
		{name: "POST sends the body", node: Node{Method: "post", Body: `{"ping":1}`},
			wantMethod: "POST", wantBody: `{"ping":1}`},
		{name: "PUT sends the body", node: Node{Method: "PUT", Body: "x"}, wantMethod: "PUT", wantBody: "x"},
		{name: "PATCH sends the body", node: Node{Method: "PATCH", Body: "y"}, wantMethod: "PATCH", wantBody: "y"},
		{name: "GET never sends the body", node: Node{Method: "GET", Body: "nope"}, wantMethod: "GET"},
		{name: "explicit method wins over the pattern default",
			node: Node{Method: "PUT", HealthyMatch: "."}, wantMethod: "PUT"},
		{
			name:       "headers and page URL in the User-Agent",
			node:       Node{Headers: map[string]string{"X-Token": "abc", "accept": "text/plain", "Host": "status.internal"}},
			pageURL:    "https://status.example.com/",
			wantMethod: "HEAD",
			wantHeader: map[string]string{"User-Agent": "overvakt/1.2.3 (+https://status.example.com/)",
				"X-Token": "abc", "Accept": "text/plain"},
			wantHost: "status.internal",
		},
		{name: "a configured User-Agent wins", node: Node{Headers: map[string]string{"User-Agent": "mine"}},
			wantMethod: "HEAD", wantHeader: map[string]string{"User-Agent": "mine"}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
			keys := sc.node
			cfg := testConfig(probetest.PollNode(map[string]config.NodeTable{"http": &keys}, srv.URL+"/p"))
			cfg.Branding.PageURL = sc.pageURL
			if rep := firstResult(t, cfg); rep.Status != status.Healthy {
				t.Fatalf("status = %s (%s), want healthy", rep.Status, rep.Error)
			}
			hits := srv.Seen()
			if len(hits) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(hits))
			}
			h := hits[0]
			if h.Method != sc.wantMethod {
				t.Errorf("method = %s, want %s", h.Method, sc.wantMethod)
			}
			if h.Body != sc.wantBody {
				t.Errorf("body = %q, want %q", h.Body, sc.wantBody)
			}
			for k, v := range sc.wantHeader {
				if got := h.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if sc.wantHost != "" && h.Host != sc.wantHost {
				t.Errorf("Host = %q, want %q", h.Host, sc.wantHost)
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
	hits := srv.Seen()
	if len(hits) == 0 || hits[0].User != "probe" || hits[0].Pass != "s3cret" {
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
	r := start(t, cfg, nil)
	snap := probetest.WaitChecked(t, r.Reg, 20*time.Second)
	rep := snap.Services[0].Nodes.At(0).Replicas.At(0)
	if rep.Status != status.Healthy {
		t.Errorf("status = %s (%s), want healthy after the retry", rep.Status, rep.Error)
	}
	if snap.Version != 2 {
		t.Errorf("registry saw %d results, want only the one after the retry", snap.Version-1)
	}
	hits := srv.Seen()
	if len(hits) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(hits))
	}
	if gap := hits[1].At.Sub(hits[0].At); gap < 300*time.Millisecond {
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
	if n := len(srv.Seen()); n != 2 {
		t.Errorf("server saw %d requests, want 2 (one retry)", n)
	}
}

func TestHTTPSickIsNotRetried(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { probetest.Sleep(r, 150*time.Millisecond) })
	cfg := testConfig(pollNode(srv.URL))
	cfg.Metrics.PollDelaySick = 0.1
	rep := firstResult(t, cfg)
	if rep.Status != status.Sick {
		t.Errorf("status = %s, want sick", rep.Status)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(srv.Seen()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestHTTPConnectionRefusedIsDead(t *testing.T) {
	addr := probetest.ClosedPort(t)
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

func TestNewSchedulerRejectsBadHTTPNodes(t *testing.T) {
	scenarios := []struct {
		name, replica, match, wantErr string
	}{
		{"bad body pattern", "http://127.0.0.1/", "(unclosed", `http_body_healthy_match "(unclosed"`},
		{"unparsable URL hides its password", "http://u:hunter2@host:port:x/", "", `"http://u:xxxxx@host:port:x/"`},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			n := pollNode(sc.replica)
			keys(&n).HealthyMatch = sc.match
			cfg := testConfig(n)
			_, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: status.NewRegistry(cfg.StatusSpecs(), time.Now()), Kinds: testKinds})
			if err == nil || !strings.Contains(err.Error(), sc.wantErr) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err = %v, want it to contain %s and no password", err, sc.wantErr)
			}
		})
	}
}

// poll_attempts against a real server that fails some of the requests.
func TestHTTPPollAttempts(t *testing.T) {
	scenarios := []struct {
		name     string
		fails    func(n int32) bool // request n, from 1
		want     status.Status
		wantErr  string
		requests int
	}{
		{"1 of 3 failed is healthy", func(n int32) bool { return n == 2 },
			status.Healthy, "1 of 3 attempts failed: HEAD http://", 3},
		{"2 of 3 failed is dead after the retry", func(n int32) bool { return n%3 != 2 },
			status.Dead, "2 of 3 attempts failed: HEAD http://", 6},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if sc.fails(n.Add(1)) {
					w.WriteHeader(503)
				}
			})
			cfg := testConfig(pollNode(srv.URL + "/health"))
			cfg.Metrics.PollAttempts = 3
			rep := firstResult(t, cfg)
			if rep.Status != sc.want || !strings.HasPrefix(rep.Error, sc.wantErr) || !strings.HasSuffix(rep.Error, "/health: status 503 (want 200..399)") {
				t.Errorf("got %s %q, want %s %q…: status 503", rep.Status, rep.Error, sc.want, sc.wantErr)
			}
			if got := len(srv.Seen()); got != sc.requests {
				t.Errorf("server saw %d requests, want %d", got, sc.requests)
			}
		})
	}
}

// A request this server cannot make for want of file descriptors says
// nothing about the target, on either path.
func TestHTTPNoFileDescriptorsIsInconclusive(t *testing.T) {
	srv := newServer(t, nil)
	direct, viaNet, _ := diffTargets(t, diffServer{url: srv.URL + "/health"}, nil, nil)
	for _, tg := range []*httpTarget{direct, viaNet} {
		var a probe.Attempt
		probetest.WithoutFDs(t, func() { a = tg.Probe(t.Context()) })
		if !a.Inconclusive || !strings.HasPrefix(a.Err, "this server has no file descriptors left") || !strings.Contains(a.Err, "too many open files") {
			t.Errorf("direct path %t: got %+v, want an inconclusive attempt blaming the file descriptors", tg.direct.addr != "", a)
		}
	}
}

// A lookup that times out keeps its error under the timeout's words, so
// the scheduler can ask whether the resolver fails for every name.
func TestHTTPLookupTimeoutIsKept(t *testing.T) {
	srv := newServer(t, nil)
	direct, _, _ := diffTargets(t, diffServer{url: srv.URL + "/health"}, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	lookup := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "api.example", IsTimeout: true}}
	a := probe.Result(0, direct.fail(ctx, lookup))
	if !a.LookupFailed || !strings.Contains(a.Err, ": no answer within 2s (lookup api.example: i/o timeout)") {
		t.Errorf("got %+v, want a failed lookup in a timeout", a)
	}
}
