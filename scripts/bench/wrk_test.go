package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

const wrkSample = `Running 10s test @ http://127.0.0.1:40123/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.31ms    1.20ms  31.06ms   85.12%
    Req/Sec    14.12k     1.02k   16.80k    70.50%
  Latency Distribution
     50%    2.05ms
     75%    2.71ms
     90%    3.55ms
     99%  812.00us
  281234 requests in 10.01s, 2.91GB read
  Socket errors: connect 0, read 3, write 0, timeout 0
  Non-2xx or 3xx responses: 12
Requests/sec:  28096.30
Transfer/sec:    297.45MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    wrkResult
		wantErr bool
	}{
		{
			name: "latency output",
			in:   wrkSample,
			want: wrkResult{Rate: 28096.30, P50: 2050 * time.Microsecond, P99: 812 * time.Microsecond, Non2xx: 12,
				Errors: "connect 0, read 3, write 0, timeout 0"},
		},
		{name: "without --latency", in: "Requests/sec:  100.00\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseWrkDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "812.00us", want: 812 * time.Microsecond},
		{in: "1.50ms", want: 1500 * time.Microsecond},
		{in: "2.00s", want: 2 * time.Second},
		{in: "1.50m", want: 90 * time.Second},
		{in: "12", bad: true},
		{in: "xms", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseWrkDuration(tt.in)
			if (err != nil) != tt.bad {
				t.Fatalf("err = %v, want error %v", err, tt.bad)
			}
			if !tt.bad && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRunWrkAgainstLoopback(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("OVERVAKT_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("wrk is not installed (apt-get install wrk) and OVERVAKT_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("wrk is not installed (apt-get install wrk); the harness then reports its figures as n/a")
	}
	var gzipAsked atomic.Int64
	addr := serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") == "gzip" {
			gzipAsked.Add(1)
		}
		w.Write([]byte("hello"))
	}))
	res, ok, err := runWrk(context.Background(), "http://"+addr+"/", map[string]string{"Accept-Encoding": "gzip"}, 4, time.Second)
	if !ok || err != nil {
		t.Fatalf("runWrk: ok %v, err %v", ok, err)
	}
	if res.Rate <= 0 || res.P50 <= 0 || res.P99 < res.P50 || gzipAsked.Load() == 0 {
		t.Fatalf("implausible wrk result %+v (gzip asked %d times)", res, gzipAsked.Load())
	}
}
