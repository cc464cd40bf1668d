package push

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// TestRunMarksSilentReplicasDead runs the sweep on its own ticker, in a
// synctest bubble: a silent replica is dead at the first sweep at or after
// interval + push_delay_dead, not a moment before, and Run ends with its
// context. (The API and agent tests call Sweep themselves on a fake clock.)
func TestRunMarksSilentReplicasDead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := status.NewRegistry([]status.ServiceSpec{{ID: "web", Nodes: []status.NodeSpec{
			{ID: "hosts", Mode: status.ModePush},
		}}}, time.Now())
		m := config.Default().Metrics
		m.PushDelayDead = 0.3
		a, err := New(Options{Registry: reg, Metrics: m, SweepEvery: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		n, err := a.Node("web", "hosts")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := a.Report(n, []byte("host-1"), Report{Interval: 210 * time.Millisecond, HasLoad: true, CPU: 0.1, RAM: 0.1}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()

		replica := func() *status.Replica {
			synctest.Wait()
			return reg.Snapshot().Services[0].Nodes.At(0).Replicas.At(0)
		}
		// Silent from start: the deadline is 210 + 300 ms; sweeps run every
		// 20 ms, so the one at 520 ms finds it.
		dead := start.Add(520 * time.Millisecond)
		time.Sleep(time.Until(dead) - time.Nanosecond)
		if r := replica(); r.Status != status.Healthy {
			t.Fatalf("before the first sweep past the deadline: %s (%q), want healthy", r.Status, r.Error)
		}
		time.Sleep(time.Nanosecond)
		if r := replica(); r.Status != status.Dead || !r.Checked.Equal(dead) || !strings.Contains(r.Error, "push_delay_dead") {
			t.Fatalf("at the first sweep past the deadline: %s at %v (%q), want dead for silence at 520ms",
				r.Status, r.Checked.Sub(start), r.Error)
		}

		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}
