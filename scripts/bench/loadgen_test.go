package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		code      int
		keepAlive bool
		wantErr   bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, true, false},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 200, true, false},
		{"connection close", "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 503, false, false},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 200, true, false},
		{"body until close", "HTTP/1.0 200 OK\r\n\r\nall of it", 200, false, false},
		{"304 has no body", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", 304, true, false},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", 0, false, true},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, false, true},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			code, ka, err := readResponse(br)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if code != tt.code || ka != tt.keepAlive {
				t.Fatalf("got %d keepAlive %v, want %d %v", code, ka, tt.code, tt.keepAlive)
			}
			if rest, _ := io.ReadAll(br); len(rest) != 0 {
				t.Fatalf("%d bytes left unread: %q", len(rest), rest)
			}
		})
	}
}

func TestReadResponsePipelined(t *testing.T) {
	one := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(one + one + "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx"))
	for _, want := range []int{200, 200, 404} {
		code, _, err := readResponse(br)
		if err != nil || code != want {
			t.Fatalf("got %d, %v; want %d", code, err, want)
		}
	}
}

// serveLoopback runs h on a loopback port for the test's life.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// loadUntilAnswered runs spec again until some exchange has ended, in an
// answer or an error: a machine busy enough may give a 300 ms run no time
// at all, and such a run says nothing about how answers are counted. A
// generator that never gets an exchange done still fails, after 20 s.
func loadUntilAnswered(t *testing.T, spec loadSpec) *loadResult {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res := runLoad(context.Background(), spec)
		if res.OK+res.Failed > 0 || time.Now().After(deadline) {
			return res
		}
		t.Logf("no exchange ended within %v; running again", spec.Duration)
	}
}

func TestRunLoad(t *testing.T) {
	var served, posted atomic.Int64
	addr := serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		switch r.URL.Path {
		case "/page":
			w.Write([]byte(strings.Repeat("<p>status</p>", 1000))) // chunked: no length set, > 2 KB
		case "/reporter/a/b/":
			body, _ := io.ReadAll(r.Body)
			if r.Header.Get("Authorization") != "Basic OnRva2Vu" || !strings.Contains(string(body), `"replica"`) {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			posted.Add(1)
		case "/close":
			w.Header().Set("Connection", "close")
		default:
			http.NotFound(w, r)
		}
	}))
	tests := []struct {
		name   string
		reqs   [][]byte
		wantOK bool
		code   int
	}{
		{"page, chunked", [][]byte{buildRequest("GET", addr, "/page", nil, nil)}, true, 200},
		{"authenticated posts", [][]byte{
			buildRequest("POST", addr, "/reporter/a/b/", map[string]string{"Authorization": "Basic OnRva2Vu"}, []byte(`{"replica":"h1"}`)),
			buildRequest("POST", addr, "/reporter/a/b/", map[string]string{"Authorization": "Basic OnRva2Vu"}, []byte(`{"replica":"h2"}`)),
		}, true, 200},
		{"server closes each time", [][]byte{buildRequest("GET", addr, "/close", nil, nil)}, true, 200},
		{"not found counts as failed", [][]byte{buildRequest("GET", addr, "/nope", nil, nil)}, false, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := loadUntilAnswered(t, loadSpec{Addr: addr, Requests: tt.reqs, Conns: 4, Duration: 300 * time.Millisecond})
			if res.Statuses[tt.code] == 0 {
				t.Fatalf("no %d answers: %+v (first error %v)", tt.code, res.Statuses, res.FirstErr)
			}
			if tt.wantOK && (res.OK == 0 || res.Failed != 0 || res.rate() <= 0) {
				t.Fatalf("OK %d, Failed %d (first error %v)", res.OK, res.Failed, res.FirstErr)
			}
			if !tt.wantOK && res.OK != 0 {
				t.Fatalf("OK = %d, want 0", res.OK)
			}
			if tt.wantOK && (res.Latency.quantile(50) <= 0 || res.Latency.quantile(99) < res.Latency.quantile(50)) {
				t.Fatalf("latency p50 %v p99 %v", res.Latency.quantile(50), res.Latency.quantile(99))
			}
		})
	}
	if posted.Load() == 0 {
		t.Fatal("no authenticated POST reached the server intact")
	}
}

func TestRunLoadAgainstNothingStopsOnTime(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	res := runLoad(context.Background(), loadSpec{Addr: addr, Requests: [][]byte{buildRequest("GET", addr, "/", nil, nil)}, Conns: 2, Duration: 200 * time.Millisecond})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v against a closed port", took)
	}
	if res.OK != 0 || res.Failed == 0 || res.FirstErr == nil {
		t.Fatalf("want only failures, got %+v", res)
	}
}

func TestWebhookSink(t *testing.T) {
	w, err := startWebhookSink()
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	post := func(body string) {
		resp, err := http.Post(w.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post(`{"type":"startup","status":"healthy"}`)
	w.drain()
	post(`{"type":"reminder","status":"dead"}`)
	post(`{"type":"changed","status":"dead","replicas":["a:b:c"]}`)
	ev, ok := w.await(context.Background(), "changed", "dead", time.Second)
	if !ok || time.Since(ev.At) > time.Second {
		t.Fatalf("await = %+v, %v", ev, ok)
	}
	if _, ok := w.await(context.Background(), "changed", "healthy", 50*time.Millisecond); ok {
		t.Fatal("await found an event that was never sent")
	}
}
