package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// A queue name with a slash and a space shows that names are path-escaped.
const testQueue = "orders/eu 1"

const defaultPath = "/api/queues/%2F/orders%2Feu%201"

type answer struct {
	code int
	body string
}

func counts(ready, unacked int) answer {
	return answer{http.StatusOK, fmt.Sprintf(`{"messages_ready":%d,"messages_unacknowledged":%d,"name":%q}`, ready, unacked, testQueue)}
}

var (
	notFound     = answer{http.StatusNotFound, `{"error":"Object Not Found","reason":"Not Found"}`}
	unauthorized = answer{http.StatusUnauthorized, `{"error":"not_authorized","reason":"Login failed"}`}
)

// fakeAPI plays a management API on loopback: it checks the request the way
// RabbitMQ would see it and gives the answers in order (the last one repeats).
// Wrong credentials get RabbitMQ's 401 whatever the script says.
func fakeAPI(t *testing.T, wantPath string, answers ...answer) (string, *atomic.Int32) {
	t.Helper()
	hits := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(hits.Add(1))
		if r.Method != http.MethodGet {
			t.Errorf("method = %s, want GET", r.Method)
		}
		if got := r.URL.EscapedPath(); got != wantPath {
			t.Errorf("path = %s, want %s", got, wantPath)
		}
		if got, want := r.URL.RawQuery, "columns=name,messages_ready,messages_unacknowledged"; got != want {
			t.Errorf("query = %q, want %q", got, want)
		}
		w.Header().Set("Content-Type", "application/json")
		a := answers[min(n, len(answers))-1]
		if user, pass, ok := r.BasicAuth(); !ok || user != "watcher" || pass != "s3cret" {
			a = unauthorized
		}
		w.WriteHeader(a.code)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

func testConfig(apiURL string) Plugin {
	return Plugin{
		APIURL:                 apiURL,
		AuthUsername:           "watcher",
		AuthPassword:           "s3cret",
		VirtualHost:            "/",
		QueueReadyHealthyBelow: 10,
		QueueNackHealthyBelow:  5,
		QueueReadyDeadAbove:    100,
		QueueNackDeadAbove:     50,
	}
}

func TestCheckQueue(t *testing.T) {
	retry := func(c *Plugin) { c.QueueLoadedRetryDelay = 0.01 }
	scenarios := []struct {
		name                            string
		edit                            func(*Plugin)
		wantPath                        string // defaultPath when empty
		nackHealthyBelow, nackDeadAbove int
		answers                         []answer
		want                            status.Status
		wantQueue                       status.Queue
		wantHits                        int32
		wantErr                         []string // parts of the message; nil means no error
	}{
		{name: "empty queue is healthy", answers: []answer{counts(0, 0)}, want: status.Healthy, wantHits: 1},
		{name: "just under the healthy limits", answers: []answer{counts(9, 4)},
			want: status.Healthy, wantQueue: status.Queue{Ready: 9, Unacked: 4}, wantHits: 1},
		{name: "ready at the healthy limit is sick", answers: []answer{counts(10, 0)},
			want: status.Sick, wantQueue: status.Queue{Ready: 10}, wantHits: 1},
		{name: "unacked at the healthy limit is sick", answers: []answer{counts(0, 5)},
			want: status.Sick, wantQueue: status.Queue{Unacked: 5}, wantHits: 1},
		{name: "ready at the dead limit is still sick", answers: []answer{counts(100, 0)},
			want: status.Sick, wantQueue: status.Queue{Ready: 100}, wantHits: 1},
		{name: "ready over the dead limit is dead", answers: []answer{counts(101, 0)},
			want: status.Dead, wantQueue: status.Queue{Ready: 101}, wantHits: 1},
		{name: "unacked over the dead limit is dead", answers: []answer{counts(0, 51)},
			want: status.Dead, wantQueue: status.Queue{Unacked: 51}, wantHits: 1},
		{name: "node override raises the unacked healthy limit", nackHealthyBelow: 60, nackDeadAbove: 80,
			answers: []answer{counts(0, 55)}, want: status.Healthy, wantQueue: status.Queue{Unacked: 55}, wantHits: 1},
		{name: "node override lowers the unacked dead limit", nackDeadAbove: 6,
			answers: []answer{counts(0, 7)}, want: status.Dead, wantQueue: status.Queue{Unacked: 7}, wantHits: 1},
		{name: "node overrides leave ready limits alone", nackHealthyBelow: 1000, nackDeadAbove: 1000,
			answers: []answer{counts(101, 0)}, want: status.Dead, wantQueue: status.Queue{Ready: 101}, wantHits: 1},
		{name: "zero limits mean no limit",
			edit: func(c *Plugin) {
				c.QueueReadyHealthyBelow, c.QueueNackHealthyBelow, c.QueueReadyDeadAbove, c.QueueNackDeadAbove = 0, 0, 0, 0
			},
			answers: []answer{counts(1e6, 1e6)}, want: status.Healthy, wantQueue: status.Queue{Ready: 1e6, Unacked: 1e6}, wantHits: 1},
		{name: "brand-new queue without stats counts as empty",
			answers: []answer{{http.StatusOK, `{"name":"orders/eu 1"}`}}, want: status.Healthy, wantHits: 1},
		{name: "other vhost and api_url with a path prefix",
			edit:     func(c *Plugin) { c.VirtualHost = "prod/eu"; c.APIURL += "/rabbit/" },
			wantPath: "/rabbit/api/queues/prod%2Feu/orders%2Feu%201",
			answers:  []answer{counts(1, 1)}, want: status.Healthy, wantQueue: status.Queue{Ready: 1, Unacked: 1}, wantHits: 1},
		{name: "empty vhost means the default vhost",
			edit:    func(c *Plugin) { c.VirtualHost = "" },
			answers: []answer{counts(0, 0)}, want: status.Healthy, wantHits: 1},
		{name: "healthy queue is not re-checked", edit: retry,
			answers: []answer{counts(1, 0), counts(500, 0)}, want: status.Healthy, wantQueue: status.Queue{Ready: 1}, wantHits: 1},
		{name: "re-check of a dead queue that drained is healthy", edit: retry,
			answers: []answer{counts(500, 0), counts(2, 0)}, want: status.Healthy, wantQueue: status.Queue{Ready: 2}, wantHits: 2},
		{name: "re-check of a sick queue that grew is dead", edit: retry,
			answers: []answer{counts(0, 5), counts(0, 60)}, want: status.Dead, wantQueue: status.Queue{Unacked: 60}, wantHits: 2},
		{name: "without retry delay a loaded queue is read once",
			answers: []answer{counts(500, 0), counts(0, 0)}, want: status.Dead, wantQueue: status.Queue{Ready: 500}, wantHits: 1},
		{name: "re-check that fails is an error", edit: retry,
			answers: []answer{counts(500, 0), notFound}, want: status.Sick, wantHits: 2,
			wantErr: []string{"404 Not Found", "Object Not Found"}},
		{name: "missing queue", answers: []answer{notFound}, want: status.Sick, wantHits: 1,
			wantErr: []string{`queue "orders/eu 1"`, "/api/queues/%2F/orders%2Feu%201", "404 Not Found",
				"Object Not Found (Not Found)", "rabbitmq_queue", "virtualhost"}},
		{name: "wrong password", edit: func(c *Plugin) { c.AuthPassword = "wrong" },
			answers: []answer{counts(0, 0)}, want: status.Sick, wantHits: 1,
			wantErr: []string{"401 Unauthorized", "not_authorized (Login failed)", "auth_password"}},
		{name: "password in api_url is masked",
			edit: func(c *Plugin) {
				c.APIURL = strings.Replace(c.APIURL, "http://", "http://watcher:s3cret@", 1)
				c.AuthUsername, c.AuthPassword = "", ""
			},
			answers: []answer{notFound}, want: status.Sick, wantHits: 1,
			wantErr: []string{"http://watcher:xxxxx@127.0.0.1:", "404 Not Found"}},
		{name: "not JSON", answers: []answer{{http.StatusOK, "<html>RabbitMQ Management</html>"}},
			want: status.Sick, wantHits: 1, wantErr: []string{"not a queue object", "/api/queues/%2F/orders%2Feu%201"}},
		{name: "JSON list instead of a queue", answers: []answer{{http.StatusOK, `[]`}},
			want: status.Sick, wantHits: 1, wantErr: []string{"not a queue object"}},
		{name: "JSON object without queue fields", answers: []answer{{http.StatusOK, `{"management_version":"3.10.8"}`}},
			want: status.Sick, wantHits: 1, wantErr: []string{"has no name, messages_ready or messages_unacknowledged"}},
		{name: "server error with a text body", answers: []answer{{http.StatusInternalServerError, "boom\n"}},
			want: status.Sick, wantHits: 1, wantErr: []string{"500 Internal Server Error", `"boom"`}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			wantPath := sc.wantPath
			if wantPath == "" {
				wantPath = defaultPath
			}
			apiURL, hits := fakeAPI(t, wantPath, sc.answers...)
			cfg := testConfig(apiURL)
			if sc.edit != nil {
				sc.edit(&cfg)
			}
			got, q, err := New(&cfg, nil).CheckQueue(context.Background(), testQueue, sc.nackHealthyBelow, sc.nackDeadAbove)
			if sc.wantErr == nil && err != nil {
				t.Fatalf("CheckQueue: unexpected error: %v", err)
			}
			if sc.wantErr != nil {
				if err == nil {
					t.Fatalf("CheckQueue: no error, want one containing %q", sc.wantErr)
				}
				for _, part := range sc.wantErr {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not contain %q", err, part)
					}
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q shows the password", err)
				}
			}
			if got != sc.want || q != sc.wantQueue {
				t.Errorf("CheckQueue = %v %+v, want %v %+v", got, q, sc.want, sc.wantQueue)
			}
			if n := hits.Load(); n != sc.wantHits {
				t.Errorf("API was asked %d times, want %d", n, sc.wantHits)
			}
		})
	}
}

func TestCheckQueueUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	cfg := testConfig("http://" + addr)
	got, _, err := New(&cfg, nil).CheckQueue(context.Background(), testQueue, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "management plugin") {
		t.Fatalf("err = %v, want connection refused with a hint", err)
	}
	if got != status.Sick {
		t.Errorf("status = %v, want sick", got)
	}
}

func TestCheckQueueStopsWaitingOnCancel(t *testing.T) {
	apiURL, hits := fakeAPI(t, defaultPath, counts(500, 0))
	cfg := testConfig(apiURL)
	cfg.QueueLoadedRetryDelay = 30
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := New(&cfg, nil).CheckQueue(ctx, testQueue, 0, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v after the context ended", d)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("API was asked %d times, want 1", n)
	}
}

func TestCheckQueueUsesGivenClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answer only once the client has given up
		fmt.Fprint(w, `{"name":"q","messages_ready":0,"messages_unacknowledged":0}`)
	}))
	defer srv.Close()
	cfg := testConfig(srv.URL)
	_, _, err := New(&cfg, &http.Client{Timeout: 20 * time.Millisecond}).CheckQueue(context.Background(), "q", 0, 0)
	if err == nil || !strings.Contains(err.Error(), "Client.Timeout") {
		t.Fatalf("err = %v, want the client's timeout", err)
	}
}

func BenchmarkCheckQueue(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"messages_ready":3,"messages_unacknowledged":1,"name":"orders"}`)
	}))
	defer srv.Close()
	cfg := testConfig(srv.URL)
	c := New(&cfg, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.CheckQueue(ctx, "orders", 0, 0); err != nil {
			b.Fatal(err)
		}
	}
}
