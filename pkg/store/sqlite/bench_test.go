package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/sqlite"
)

// BenchmarkWriteResults: results written in the batches the history
// writer makes (one a second; here 5,000 per batch, as 1,000 replicas
// probed every 200 ms would make), each batch one transaction. The
// results/s metric is what the store sustains.
func BenchmarkWriteResults(b *testing.B) {
	for _, batch := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			keys := make([]store.ReplicaKey, 1000)
			for i := range keys {
				keys[i] = store.ReplicaKey{Service: fmt.Sprintf("svc-%02d", i/100), Node: fmt.Sprintf("node-%02d", i/10%10),
					Replica: fmt.Sprintf("https://host-%04d.example.com/health", i)}
			}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			ctx := context.Background()
			b.ResetTimer()
			written := 0
			for n := 0; written < b.N; n++ {
				bt := store.Batch{At: t0.Add(time.Duration(n) * time.Second)}
				for i := range batch {
					st := status.Healthy
					reason := ""
					if i%97 == 0 {
						st, reason = status.Dead, "HEAD https://host.example.com/health: status 503 (want 200..399)"
					}
					bt.Results = append(bt.Results, store.Result{Key: keys[i%len(keys)],
						At: bt.At.Add(time.Duration(i/len(keys)) * time.Millisecond), Status: st,
						Latency: time.Duration(10+i%50) * time.Millisecond, Reason: reason})
				}
				if err := s.Write(ctx, &bt); err != nil {
					b.Fatal(err)
				}
				written += batch
			}
			b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "results/s")
			if st, err := os.Stat(s.Path()); err == nil {
				b.ReportMetric(float64(st.Size())/float64(written), "bytes/result")
			}
		})
	}
}
