package history

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// failingStore fails every Write while full is set, as a full disk would.
type failingStore struct {
	*memory.Store
	full atomic.Bool
}

var errDiskFull = errors.New("database or disk is full")

func (s *failingStore) Write(ctx context.Context, b *store.Batch) error {
	if s.full.Load() {
		return errDiskFull
	}
	return s.Store.Write(ctx, b)
}

// pushSource hands out one dirty replica per call.
type pushSource struct{ n atomic.Int32 }

func (p *pushSource) TakeDirty() ([]store.PushReplica, []store.ReplicaKey) {
	i := p.n.Add(1)
	return []store.PushReplica{{Key: store.ReplicaKey{Service: "agents", Node: "hosts", Replica: "h" + string(rune('0'+i))},
		Interval: time.Minute, LastReport: time.Unix(int64(i), 0)}}, nil
}

func TestWriterKeepsResultsWhileTheStoreFails(t *testing.T) {
	st := &failingStore{Store: memory.New()}
	ctx := context.Background()
	run, err := st.StartRun(ctx, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var health Health
	w := NewWriter(WriterOptions{Store: st, Run: run, Push: &pushSource{}, Health: &health})
	result := func(i int) {
		w.Result("web", "api", status.ModePoll, &status.Replica{ID: "r1", Status: status.Dead, Error: "refused", Checked: time.Unix(int64(i), 0)})
	}
	result(1)
	w.Changed("web", "api", status.Dead, time.Unix(1, 0), "refused", false)
	w.Flush(ctx)
	if health.Problem() != "" || w.Written() != 1 {
		t.Fatalf("after a good flush: problem %q, written %d", health.Problem(), w.Written())
	}

	st.full.Store(true)
	result(2)
	w.Flush(ctx)
	result(3)
	w.Flush(ctx)
	if p := health.Problem(); p != "store: "+errDiskFull.Error() {
		t.Fatalf("while the disk is full: problem %q", p)
	}

	st.full.Store(false)
	w.Flush(ctx)
	if p := health.Problem(); p != "" {
		t.Fatalf("after the disk has room again: problem %q", p)
	}
	rs, _ := st.Results(ctx, store.Component{Service: "web", Node: "api"}, time.Unix(0, 0), time.Unix(10, 0))
	if len(rs) != 3 || rs[0].Reason != "refused" {
		t.Fatalf("results %v, want all three, none lost", rs)
	}
	if cs, _ := st.LastChanges(ctx); len(cs) != 1 {
		t.Fatalf("changes %v", cs)
	}
	if ps, _ := st.PushReplicas(ctx); len(ps) != 4 {
		t.Fatalf("push replicas %v, want the four handed out (two while failing)", ps)
	}
	if runs, _ := st.Runs(ctx, time.Unix(0, 0), time.Now().Add(time.Hour)); runs[0].Alive.IsZero() {
		t.Fatal("the run's sign of life did not move")
	}
}

func TestWriterDropsTheOldestBeyondTheCap(t *testing.T) {
	w := NewWriter(WriterOptions{Store: memory.New()})
	w.max = 1000
	for i := range 1010 {
		w.Result("s", "n", status.ModePoll, &status.Replica{ID: "r", Checked: time.Unix(int64(i), 0)})
	}
	if w.dropped != 10 || len(w.pending.Results) != 1000 || !w.pending.Results[0].At.Equal(time.Unix(10, 0)) {
		t.Fatalf("dropped %d, kept %d from %v", w.dropped, len(w.pending.Results), w.pending.Results[0].At)
	}
}
