package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store/sqlite"
)

// bigConfig has a push node for 10,000 hosts and a [dynamic] service.
const bigConfig = `[server]
manager_token = "manager-secret-0123456789"
reporter_token = "reporter-secret-0123456789"
workers = 8

[metrics]
poll_interval = 3600
push_delay_dead = 3600

[dynamic]
service_id = "customers"
max_targets = 10000
interval = 3600

[[probe.service]]
id = "agents"

[[probe.service.node]]
id = "hosts"
mode = "push"
`

// bigApp serves bigConfig with a SQLite store, 10,000 push hosts and
// 10,000 dynamic targets, all healthy. The targets' URLs are never
// reached: their first probe is an hour away once the test has set them.
func bigApp(b *testing.B) (*serving, []string, []string) {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "overvakt.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	s := serve(b, bigConfig, st)
	b.Cleanup(s.stop)
	hosts := make([]string, 10000)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("host-%05d", i)
		s.Registry.Upsert(0, 0, hosts[i], status.Result{Status: status.Healthy, At: time.Now()})
	}
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%05d", i)
		s.Registry.AddNode(1, status.NodeSpec{ID: ids[i], Mode: status.ModePoll, Replicas: []string{"https://x/"}}, time.Now())
		s.Registry.SetByID(1, ids[i], 0, status.Result{Status: status.Healthy, At: time.Now()})
	}
	time.Sleep(2 * time.Second) // the notifier and the history writer settle
	return s, hosts, ids
}

// cpu is the process's user and system CPU time so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStatusChange is the CPU the whole server spends on one status
// change (healthy ↔ dead) of one of 10,000 push replicas of a node, or of
// one of 10,000 dynamic targets: the registry, the history writer, the
// notifier and everything else that runs, measured as the process's CPU
// time (getrusage) over the changes, once the background work they caused
// has finished.
func BenchmarkStatusChange(b *testing.B) {
	s, hosts, ids := bigApp(b)
	for _, tc := range []struct {
		name   string
		change func(i int, st status.Status)
	}{
		{"push replica of 10000", func(i int, st status.Status) {
			s.Registry.Upsert(0, 0, hosts[(i*7919)%len(hosts)], status.Result{Status: st, At: time.Now()})
		}},
		{"dynamic target of 10000", func(i int, st status.Status) {
			s.Registry.SetByID(1, ids[(i*7919)%len(ids)], 0, status.Result{Status: st, At: time.Now()})
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			before := cpu()
			for i := 0; i < b.N; i++ {
				tc.change(i/2, []status.Status{status.Dead, status.Healthy}[i%2])
			}
			b.StopTimer()
			time.Sleep(1500 * time.Millisecond) // the writer's batch and the notifier's window
			used := cpu() - before
			idle := idleCPU(1500 * time.Millisecond)
			b.ReportMetric(float64((used-idle).Microseconds())/float64(b.N), "cpu-µs/change")
			b.StartTimer()
		})
	}
}

// idleCPU is what the process spends over d doing nothing in particular.
func idleCPU(d time.Duration) time.Duration {
	before := cpu()
	time.Sleep(d)
	return cpu() - before
}

// BenchmarkPageWhileFlapping serves the page to 8 clients at once while
// 10,000 dynamic targets flap, 5,000 changes a second in all, and reports
// the 99th percentile of the page's latency.
func BenchmarkPageWhileFlapping(b *testing.B) {
	s, _, ids := bigApp(b)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond) // 50 changes a tick
		defer tick.Stop()
		for i := 0; ; {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for range 50 {
				st := []status.Status{status.Dead, status.Healthy}[(i/len(ids))%2]
				s.Registry.SetByID(1, ids[(i*7919)%len(ids)], 0, status.Result{Status: st, At: time.Now()})
				i++
			}
		}
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4) // 8 clients on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req, _ := http.NewRequest("GET", s.url+"/", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	stop()
	wg.Wait()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	}
}
