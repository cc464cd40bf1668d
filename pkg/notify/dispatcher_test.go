package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// fakeClock moves only when told. After registers a waiter that fires
// when Advance passes its time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) advanceTo(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(at) {
			kept = append(kept, w)
		} else {
			w.ch <- at
		}
	}
	c.waiters = kept
}

// waitTimer waits until the dispatcher has set a timer for exactly at:
// proof that it has taken in everything before.
func (c *fakeClock) waitTimer(t *testing.T, at time.Time) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		for _, w := range c.waiters {
			if w.at.Equal(at) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
	}
	t.Fatalf("no timer was set for %v within 5 s", at.Sub(t0))
}

// recorder is a channel that keeps what it is sent.
type recorder struct {
	name string
	got  chan *Message
}

func newRecorder(name string) *recorder { return &recorder{name: name, got: make(chan *Message, 100)} }

func (r *recorder) Name() string { return r.name }
func (r *recorder) Send(_ context.Context, m *Message) error {
	r.got <- m
	return nil
}

func (r *recorder) next(t *testing.T) *Message {
	t.Helper()
	select {
	case m := <-r.got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no message within 5 s", r.name)
		return nil
	}
}

func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-r.got:
		t.Fatalf("%s: unexpected message %s", r.name, describe([]*Message{m}))
	default:
	}
}

func oneReplicaRegistry() *status.Registry {
	return status.NewRegistry([]status.ServiceSpec{{ID: "web", Nodes: []status.NodeSpec{
		{ID: "core", Mode: status.ModePoll, Replicas: []string{"tcp://edge-3.example.net:80", "tcp://edge-4.example.net:80"}},
	}}}, t0)
}

// runDispatcher runs d until the test ends and checks that Run returns.
func runDispatcher(t *testing.T, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10 s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestDispatcherEndToEnd(t *testing.T) {
	reg := oneReplicaRegistry()
	clock := &fakeClock{now: t0}
	cfg := config.Default()
	cfg.Branding.PageTitle = "Acme Status"
	cfg.Notify.StartupNotification = true
	cfg.Notify.ReminderInterval = 60
	cfg.Notify.ReminderBackoffFunction = "linear"
	all, reminders := newRecorder("all"), newRecorder("reminders")
	d := NewDispatcher(DispatcherOptions{
		Config: &cfg, Registry: reg, Clock: clock,
		Channels: []Channel{{Notifier: all}, {Notifier: reminders, RemindersOnly: true}},
	})
	stop := runDispatcher(t, d)

	all.none(t) // the start-up notice waits for the first sweep
	reg.Set(status.Ref{}, status.Result{Status: status.Healthy, At: t0})
	reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Healthy, At: t0})
	if m := all.next(t); m.Kind != Startup || m.Status != status.Healthy || m.PageTitle != "Acme Status" {
		t.Fatalf("first message: %+v, want the startup notice", m)
	}

	reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: t0})
	clock.waitTimer(t, t0.Add(2*time.Second)) // the coalescing window
	clock.advanceTo(t0.Add(2 * time.Second))
	if m := all.next(t); m.Kind != Changed || m.Status != status.Dead ||
		fmt.Sprint(m.Replicas) != "[web:core:tcp://edge-3.example.net:80]" || !m.Time.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("change: %s", describe([]*Message{m}))
	}

	// Linear backoff: 60 s, then 120 s.
	at := t0.Add(2 * time.Second)
	for i, gap := range []time.Duration{60 * time.Second, 120 * time.Second} {
		at = at.Add(gap)
		clock.waitTimer(t, at)
		clock.advanceTo(at)
		for _, r := range []*recorder{all, reminders} {
			if m := r.next(t); m.Kind != Reminder || !m.Time.Equal(at) {
				t.Fatalf("%s: reminder %d: %s, want a reminder at %v", r.name, i+1, describe([]*Message{m}), at.Sub(t0))
			}
		}
	}

	reg.Set(status.Ref{}, status.Result{Status: status.Healthy, At: at})
	clock.waitTimer(t, at.Add(2*time.Second))
	clock.advanceTo(at.Add(2 * time.Second))
	if m := all.next(t); m.Kind != Changed || m.Status != status.Healthy ||
		fmt.Sprint(m.Recovered) != "[web:core:tcp://edge-3.example.net:80]" {
		t.Fatalf("recovery: %s", describe([]*Message{m}))
	}
	stop()
	all.none(t)
	reminders.none(t) // it got the two reminders and nothing else
}

// Without a first result within one poll_interval, the start-up notice goes
// out anyway, with the status as it stands.
func TestStartupNoticeDoesNotWaitForever(t *testing.T) {
	reg := oneReplicaRegistry()
	clock := &fakeClock{now: t0}
	cfg := config.Default()
	cfg.Notify.StartupNotification = true
	rec := newRecorder("all")
	stop := runDispatcher(t, NewDispatcher(DispatcherOptions{Config: &cfg, Registry: reg, Clock: clock,
		Channels: []Channel{{Notifier: rec}}}))
	wait := cfg.Metrics.PollInterval.Duration()
	clock.waitTimer(t, t0.Add(wait))
	clock.advanceTo(t0.Add(wait))
	if m := rec.next(t); m.Kind != Startup {
		t.Fatalf("message %s, want the start-up notice after poll_interval", m.Kind)
	}
	stop()
	rec.none(t)
}

func TestNoStartupNotificationUnlessAsked(t *testing.T) {
	reg := oneReplicaRegistry()
	clock := &fakeClock{now: t0}
	cfg := config.Default()
	rec := newRecorder("all")
	stop := runDispatcher(t, NewDispatcher(DispatcherOptions{Config: &cfg, Registry: reg, Clock: clock,
		Channels: []Channel{{Notifier: rec}}}))
	reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: t0})
	clock.waitTimer(t, t0.Add(2*time.Second))
	clock.advanceTo(t0.Add(2 * time.Second))
	if m := rec.next(t); m.Kind != Changed {
		t.Fatalf("first message is %s, want the change (no startup notice)", m.Kind)
	}
	stop()
	rec.none(t)
}

// hanging never answers until its context ends.
type hanging struct{ calls atomic.Int32 }

func (h *hanging) Name() string { return "hanging" }
func (h *hanging) Send(ctx context.Context, _ *Message) error {
	h.calls.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

// failing always fails, as a provider answering 500 would.
type failing struct {
	mu    sync.Mutex
	calls map[sent]int
}

type sent struct {
	kind   Kind
	status status.Status
}

func (f *failing) Name() string { return "failing" }
func (f *failing) Send(_ context.Context, m *Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[sent{m.Kind, m.Status}]++
	return errors.New("provider answered 500 Internal Server Error")
}

func (f *failing) count(k Kind, s status.Status) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[sent{k, s}]
}

// syncBuffer is a log sink safe for the dispatcher's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBadChannelsDelayNobody(t *testing.T) {
	reg := oneReplicaRegistry()
	cfg := config.Default()
	hang, fail, work := &hanging{}, &failing{calls: map[sent]int{}}, newRecorder("working")
	var logs syncBuffer
	const window = 20 * time.Millisecond
	d := NewDispatcher(DispatcherOptions{
		Config: &cfg, Registry: reg,
		Channels:       []Channel{{Notifier: hang}, {Notifier: fail}, {Notifier: work}},
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
		CoalesceWindow: window,
		SendTimeout:    time.Hour, // the hanging channel hangs for the whole test
		Retry:          RetryPolicy{Attempts: 3, Initial: 10 * time.Millisecond},
		DrainTimeout:   300 * time.Millisecond,
	})
	stop := runDispatcher(t, d)

	// Probes keep writing results the whole time, as fast as they can.
	probesDone := make(chan struct{})
	var slowest atomic.Int64
	var writes atomic.Int64
	quit := make(chan struct{})
	go func() {
		defer close(probesDone)
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			start := time.Now()
			reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Healthy, Latency: time.Duration(i), At: time.Now()})
			if took := time.Since(start).Nanoseconds(); took > slowest.Load() {
				slowest.Store(took)
			}
			writes.Add(1)
		}
	}()

	for _, st := range []status.Status{status.Dead, status.Healthy, status.Dead} {
		start := time.Now()
		reg.Set(status.Ref{}, status.Result{Status: st, At: start})
		m := work.next(t)
		if took := time.Since(start); took > window+2*time.Second {
			t.Errorf("working channel got the %s change after %v, want about %v", st, took, window)
		}
		if m.Kind != Changed || m.Status != st {
			t.Fatalf("working channel got %s %s, want changed %s", m.Kind, m.Status, st)
		}
	}

	// The failing channel is tried three times for each message.
	deadline := time.Now().Add(5 * time.Second)
	for fail.count(Changed, status.Dead) < 6 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := fail.count(Changed, status.Dead); n != 6 {
		t.Errorf("failing channel tried %d times for the two dead changes, want 3 each", n)
	}
	if n := fail.count(Changed, status.Healthy); n != 3 {
		t.Errorf("failing channel tried %d times for the recovery, want 3", n)
	}
	if hang.calls.Load() == 0 {
		t.Error("the hanging channel was never called")
	}

	close(quit)
	<-probesDone
	// A write that waited on a channel would wait for an hour; the bound
	// leaves room for a busy machine's scheduling.
	if s := time.Duration(slowest.Load()); s > time.Second {
		t.Errorf("slowest registry write took %v while channels hung and failed", s)
	}
	if writes.Load() < 1000 {
		t.Errorf("only %d registry writes went through", writes.Load())
	}

	start := time.Now()
	stop()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("shutdown took %v with a hanging channel, want about the drain time", took)
	}
	log := logs.String()
	for _, want := range []string{
		`msg="notification failed, will retry" channel=failing kind=changed attempt=1`,
		`msg="notification failed, giving up" channel=failing kind=changed attempts=3 error="provider answered 500 Internal Server Error"`,
		`channel=hanging`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestFullQueueDropsOldest(t *testing.T) {
	var logs syncBuffer
	o := newOutbox(Channel{Notifier: newRecorder("slow")}, 2, time.Second, RetryPolicy{}.withDefaults(),
		slog.New(slog.NewTextHandler(&logs, nil)))
	for i := range 5 {
		o.push(&Message{Kind: Reminder, Time: t0.Add(time.Duration(i) * time.Second)})
	}
	var kept []time.Duration
	for m := o.pop(); m != nil; m = o.pop() {
		kept = append(kept, m.Time.Sub(t0))
	}
	if fmt.Sprint(kept) != "[3s 4s]" {
		t.Errorf("kept %v, want the two newest", kept)
	}
	if n := strings.Count(logs.String(), "oldest message dropped"); n != 3 {
		t.Errorf("%d drops logged, want 3:\n%s", n, logs.String())
	}
}

func TestRetryBackoff(t *testing.T) {
	p := RetryPolicy{Attempts: 5, Initial: time.Second, Max: 5 * time.Second}
	var got []time.Duration
	for a := 1; a < 5; a++ {
		got = append(got, p.wait(a))
	}
	if fmt.Sprint(got) != "[1s 2s 4s 5s]" {
		t.Errorf("waits %v, want 1s 2s 4s 5s", got)
	}
}

func TestRunTwice(t *testing.T) {
	d := NewDispatcher(DispatcherOptions{Registry: oneReplicaRegistry()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Run(ctx); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if err := d.Run(ctx); err == nil {
		t.Fatal("second Run should fail")
	}
}
