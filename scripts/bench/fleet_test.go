package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFleetRecordsEveryProbe(t *testing.T) {
	f, err := startFleet(fleetSpec{HTTPReplicas: 10, HTTPListeners: 3, TCPReplicas: 2, Slots: 4, Body: []byte("fine")})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	ports := map[string]bool{}
	for i, u := range f.urls[:10] {
		if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, replicaPathPrefix+strconv.Itoa(i)) {
			t.Fatalf("replica %d URL %q", i, u)
		}
		ports[strings.Split(u, "/")[2]] = true
	}
	if len(ports) != 3 {
		t.Fatalf("HTTP replicas spread over %d ports, want 3", len(ports))
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(method, url string) int {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name     string
		probe    func()
		replica  int
		arrivals int
	}{
		{"HEAD", func() { get("HEAD", f.urls[2]) }, 2, 1},
		{"GET twice", func() { get("GET", f.urls[5]); get("GET", f.urls[5]) }, 5, 2},
		{"more probes than slots keep the first ones", func() {
			for range 6 {
				get("HEAD", f.urls[7])
			}
		}, 7, 4},
		{"TCP connect", func() {
			c, err := net.Dial("tcp", strings.TrimPrefix(f.urls[11], "tcp://"))
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}, 11, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.probe()
			deadline := time.Now().Add(2 * time.Second) // TCP accept is asynchronous
			for len(f.arrivals(tt.replica)) < tt.arrivals && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			a := f.arrivals(tt.replica)
			if len(a) != tt.arrivals {
				t.Fatalf("%d arrivals recorded, want %d", len(a), tt.arrivals)
			}
			for k := 1; k < len(a); k++ {
				if a[k].Before(a[k-1]) {
					t.Fatalf("arrivals out of order: %v", a)
				}
			}
		})
	}
	if code := get("GET", "http://"+strings.Split(f.urls[0], "/")[2]+"/r/99"); code != 404 {
		t.Fatalf("unknown replica answered %d, want 404", code)
	}
	f.setStatus(3, 503)
	before := time.Now()
	if code := get("GET", f.urls[3]); code != 503 {
		t.Fatalf("dead replica answered %d, want 503", code)
	}
	if ff := f.firstFailure(); ff.Before(before.Add(-time.Millisecond)) || ff.After(time.Now()) {
		t.Fatalf("first failure at %v, want just after %v", ff, before)
	}
	if n, _ := f.probed(); n != 5 {
		t.Fatalf("probed() = %d replicas, want 5", n)
	}
}

func TestFleetCloseLeavesNothingRunning(t *testing.T) {
	f, err := startFleet(fleetSpec{HTTPReplicas: 4, HTTPListeners: 2, TCPReplicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.Split(f.urls[0], "/")[2]
	f.close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
		c.Close()
		t.Fatalf("fleet port %s still accepts after close", addr)
	}
}

func TestScheduleOf(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(secs ...float64) []time.Time {
		var out []time.Time
		for _, s := range secs {
			out = append(out, base.Add(time.Duration(s*float64(time.Second))))
		}
		return out
	}
	table := [][]time.Time{
		at(0, 4, 14, 24.5, 34),  // first gap 4 s off by 6; then 10, 10.5, 9.5
		at(1, 11.2, 21.2, 31.2), // first gap 10.2; then 10, 10
		at(2),                   // never probed twice
	}
	s := scheduleOf(func(i int) []time.Time { return table[i] }, len(table), 10*time.Second, base.Add(12*time.Second), base.Add(40*time.Second), 16)
	if s.Missing != 1 {
		t.Fatalf("Missing = %d, want 1", s.Missing)
	}
	if s.FirstGap.N != 2 || s.FirstGap.Max != 6*time.Second || s.FirstGap.P50 != 200*time.Millisecond {
		t.Fatalf("FirstGap = %+v, want N 2, p50 200ms, max 6s", s.FirstGap)
	}
	// steady deviations: 0, 0.5, 0.5, 0, 0 (sorted 0,0,0,0.5,0.5)
	if s.Steady.N != 5 || s.Steady.P50 != 0 || s.Steady.Max != 500*time.Millisecond || s.Steady.P99 != 500*time.Millisecond {
		t.Fatalf("Steady = %+v", s.Steady)
	}
	// A window that closes early drops the later gaps.
	s = scheduleOf(func(i int) []time.Time { return table[i] }, len(table), 10*time.Second, base.Add(12*time.Second), base.Add(22*time.Second), 16)
	if s.Steady.N != 2 {
		t.Fatalf("Steady.N with a short window = %d, want 2", s.Steady.N)
	}
}

func TestParseReplicaPath(t *testing.T) {
	tests := []struct {
		path string
		want int
		ok   bool
	}{
		{"/r/0", 0, true}, {"/r/49999", 49999, true}, {"/r/7/", 7, true},
		{"/r/50000", 0, false}, {"/r/-1", 0, false}, {"/x/1", 0, false}, {"/r/", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := parseReplicaPath(tt.path, 50000)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("parseReplicaPath(%q) = %d, %v; want %d, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}
