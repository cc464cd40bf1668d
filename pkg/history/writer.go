// Package history records what the server observes and reads it back for
// the page: every result and every status change go to the store in
// batches (Writer), hours and days are summed up (Rollup), old rows are
// pruned, and View is what the page and the history API show.
package history

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// FlushEvery is the longest a result waits in memory before it is written.
const FlushEvery = time.Second

// MaxPending bounds the results and changes held while the store cannot
// write (a full disk): beyond it the oldest are dropped, and counted.
const MaxPending = 1 << 20

// PushSource is the owner of push and local replicas: each flush takes the
// replicas it changed since the last one.
type PushSource interface {
	TakeDirty() (changed []store.PushReplica, flushed []store.ReplicaKey)
}

// Writer hears the registry (it is its status.Recorder) and writes what it
// hears, with the push owner's changes, in one batch at most FlushEvery
// apart. Probes and reports never wait on it: the registry hands it a
// result under its lock and it only appends to a slice.
type Writer struct {
	st      store.Store
	run     int64
	push    PushSource // may be nil
	log     *slog.Logger
	now     func() time.Time
	every   time.Duration
	health  *Health
	onWrite func(took time.Duration, err error)

	max     int // MaxPending; smaller in tests
	mu      sync.Mutex
	pending store.Batch // results and changes heard since the last flush
	dropped int64       // results and changes dropped while over MaxPending

	written atomic.Int64 // results written, for tests and logs
}

// WriterOptions configure a Writer.
type WriterOptions struct {
	Store  store.Store
	Run    int64      // the run whose sign of life every batch moves on
	Push   PushSource // nil: no push and local replicas
	Logger *slog.Logger
	Now    func() time.Time // nil: time.Now
	Every  time.Duration    // 0: FlushEvery
	Health *Health          // told when writing fails and recovers; nil: none
	// OnWrite hears how long each batch took to write, or why it failed
	// (the metrics); nil: nobody.
	OnWrite func(took time.Duration, err error)
}

// NewWriter builds a writer; give it to Registry.SetRecorder and Run it.
func NewWriter(o WriterOptions) *Writer {
	w := &Writer{st: o.Store, run: o.Run, push: o.Push, log: o.Logger, now: o.Now, every: o.Every, health: o.Health, onWrite: o.OnWrite, max: MaxPending}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.every <= 0 {
		w.every = FlushEvery
	}
	if w.health == nil {
		w.health = &Health{}
	}
	return w
}

var _ status.Recorder = (*Writer)(nil)

// Result queues a result; the registry calls it with its lock held.
func (w *Writer) Result(service, node string, _ status.Mode, rep *status.Replica) {
	r := store.Result{Key: store.ReplicaKey{Service: service, Node: node, Replica: rep.ID},
		At: rep.Checked, Status: rep.Status, Latency: rep.Latency}
	if rep.Status != status.Healthy {
		r.Reason = rep.Error
	}
	w.mu.Lock()
	if len(w.pending.Results)+len(w.pending.Changes) >= w.max {
		w.pending.Results = w.pending.Results[1:]
		w.dropped++
	}
	w.pending.Results = append(w.pending.Results, r)
	w.mu.Unlock()
}

// Changed queues a status change of a node or service.
func (w *Writer) Changed(service, node string, st status.Status, at time.Time, reason string, resumed bool) {
	w.mu.Lock()
	w.pending.Changes = append(w.pending.Changes, store.Change{Of: store.Component{Service: service, Node: node},
		At: at, Status: st, Reason: reason, Resumed: resumed})
	w.mu.Unlock()
}

// Run flushes every FlushEvery until ctx ends, then once more with what is
// left, so a clean stop loses nothing.
func (w *Writer) Run(ctx context.Context) error {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The last flush must outlive ctx.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			w.Flush(fctx)
			cancel()
			return nil
		case <-t.C:
			w.Flush(ctx)
		}
	}
}

// Flush writes what is pending now. When the store fails the batch is kept
// (up to MaxPending) for the next flush, and the failure is logged once
// and shown as the server's health.
func (w *Writer) Flush(ctx context.Context) {
	w.mu.Lock()
	b := w.pending
	w.pending = store.Batch{}
	dropped := w.dropped
	w.dropped = 0
	w.mu.Unlock()
	if w.push != nil {
		changed, flushed := w.push.TakeDirty()
		b.PushReplicas = append(b.PushReplicas, changed...)
		b.Flushed = append(b.Flushed, flushed...)
	}
	b.Run, b.At = w.run, w.now()
	if dropped > 0 {
		w.log.Error("history: results dropped while the store could not keep up", "dropped", dropped)
	}
	start := time.Now()
	err := w.st.Write(ctx, &b)
	if w.onWrite != nil && !(err != nil && ctx.Err() != nil) {
		w.onWrite(time.Since(start), err)
	}
	if err != nil {
		if ctx.Err() != nil && b.Empty() {
			return
		}
		if w.health.fail(err) {
			w.log.Error("STORE WRITE FAILED: results, status changes and agent reports are kept in memory and written when it works again; probing, notifying and the page go on",
				"err", err, "pending", len(b.Results)+len(b.Changes))
		}
		w.requeue(&b)
		return
	}
	if w.health.ok() {
		w.log.Warn("store writes work again", "written", len(b.Results)+len(b.Changes))
	}
	w.written.Add(int64(len(b.Results)))
}

// requeue puts a batch that failed back in front of what came since.
func (w *Writer) requeue(b *store.Batch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending.Results = append(b.Results, w.pending.Results...)
	w.pending.Changes = append(b.Changes, w.pending.Changes...)
	w.pending.PushReplicas = append(b.PushReplicas, w.pending.PushReplicas...)
	w.pending.Flushed = append(b.Flushed, w.pending.Flushed...)
	if over := len(w.pending.Results) - w.max; over > 0 {
		w.pending.Results = w.pending.Results[over:]
		w.dropped += int64(over)
	}
}

// Written is how many results have reached the store.
func (w *Writer) Written() int64 { return w.written.Load() }

// Health is whether the store works, for /health.
type Health struct {
	failing atomic.Pointer[string] // the last error while failing; nil when fine
}

// Problem says what is wrong with the store, or "" when nothing is.
func (h *Health) Problem() string {
	if p := h.failing.Load(); p != nil {
		return *p
	}
	return ""
}

// fail records err and reports whether it is a new failure.
func (h *Health) fail(err error) bool {
	msg := "store: " + err.Error()
	return h.failing.Swap(&msg) == nil
}

// ok records success and reports whether the store was failing.
func (h *Health) ok() bool { return h.failing.Swap(nil) != nil }
