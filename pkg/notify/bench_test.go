package notify

import (
	"fmt"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// BenchmarkObserve: what the dispatcher spends on one probe result in a
// registry of 10,000 replicas (100 services × 10 nodes × 10 replicas), 1%
// of them dead (and, with alert_after 3, confirmed so).
func BenchmarkObserve(b *testing.B) {
	for _, alertAfter := range []int{1, 3} {
		b.Run(fmt.Sprintf("alert_after=%d", alertAfter), func(b *testing.B) {
			benchmarkObserve(b, alertAfter)
		})
	}
}

func benchmarkObserve(b *testing.B, alertAfter int) {
	var specs []status.ServiceSpec
	for s := 0; s < 100; s++ {
		ss := status.ServiceSpec{ID: fmt.Sprintf("s%d", s)}
		for n := 0; n < 10; n++ {
			ss.Nodes = append(ss.Nodes, status.NodeSpec{ID: fmt.Sprintf("n%d", n), Replicas: []string{
				"https://a/", "https://b/", "https://c/", "https://d/", "https://e/",
				"https://f/", "https://g/", "https://h/", "https://i/", "https://j/"}})
		}
		specs = append(specs, ss)
	}
	reg := status.NewRegistry(specs, t0)
	c := config.Default()
	c.Notify.AlertAfter = alertAfter
	tr := newTracker(rulesFrom(&c, 2*time.Second, nil), nil)
	for range alertAfter {
		for s := 0; s < 100; s++ {
			reg.Set(status.Ref{Service: s}, status.Result{Status: status.Dead, At: t0})
		}
		tr.observe(reg.Snapshot(), t0)
	}
	if tr.status(0, t0) != status.Dead {
		b.Fatalf("page seen as %v after %d dead results, want dead", tr.status(0, t0), alertAfter)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reg.Set(status.Ref{Service: i % 100, Node: (i / 100) % 10, Replica: 1 + i%9},
			status.Result{Status: status.Healthy, Latency: time.Duration(i), At: t0})
		tr.observe(reg.Snapshot(), t0)
	}
}

// BenchmarkObserveStatusChange: the notifier's share of one status change
// on one of 10,000 push replicas of a node, or on one node of a service of
// 10,000 (dynamic targets), with alert_after 1 and 3.
func BenchmarkObserveStatusChange(b *testing.B) {
	const n = 10000
	for _, alertAfter := range []int{1, 3} {
		b.Run(fmt.Sprintf("push replica of 10000/alert_after=%d", alertAfter), func(b *testing.B) {
			reg := status.NewRegistry([]status.ServiceSpec{{ID: "s", Nodes: []status.NodeSpec{{ID: "hosts", Mode: status.ModePush}}}}, t0)
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprintf("host-%05d", i)
				reg.Upsert(0, 0, names[i], status.Result{Status: status.Healthy, At: t0})
			}
			c := config.Default()
			c.Notify.AlertAfter = alertAfter
			tr := newTracker(rulesFrom(&c, 2*time.Second, nil), nil)
			tr.observe(reg.Snapshot(), t0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st := status.Healthy
				if i%2 == 0 {
					st = status.Dead
				}
				reg.Upsert(0, 0, names[(i/2*7919)%n], status.Result{Status: st, At: t0})
				tr.observe(reg.Snapshot(), t0)
			}
		})
		b.Run(fmt.Sprintf("node of 10000/alert_after=%d", alertAfter), func(b *testing.B) {
			spec := status.ServiceSpec{ID: "dynamic"}
			for i := range n {
				spec.Nodes = append(spec.Nodes, status.NodeSpec{ID: fmt.Sprintf("n%d", i), Mode: status.ModePoll, Replicas: []string{"https://x/"}})
			}
			reg := status.NewRegistry([]status.ServiceSpec{spec}, t0)
			c := config.Default()
			c.Notify.AlertAfter = alertAfter
			tr := newTracker(rulesFrom(&c, 2*time.Second, nil), nil)
			tr.observe(reg.Snapshot(), t0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st := status.Healthy
				if i%2 == 0 {
					st = status.Dead
				}
				reg.Set(status.Ref{Node: (i / 2 * 7919) % n}, status.Result{Status: st, At: t0})
				tr.observe(reg.Snapshot(), t0)
			}
		})
	}
}
