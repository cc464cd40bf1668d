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
	"testing/synctest"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// The dispatcher tests run in testing/synctest bubbles: coalescing,
// reminders, retries and the send and drain timeouts all run on the
// bubble's fake clock, which moves only when every goroutine in the bubble
// is blocked. Times are exact, and no test waits on the machine.

// sleepUntil advances the bubble's clock to at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

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

// next returns the message the channel got by now: once every goroutine in
// the bubble is blocked, a message due now has been sent.
func (r *recorder) next(t *testing.T) *Message {
	t.Helper()
	synctest.Wait()
	select {
	case m := <-r.got:
		return m
	default:
		t.Fatalf("%s: no message at %v", r.name, time.Now())
		return nil
	}
}

// await waits for the next message, however long it takes on the fake clock.
func (r *recorder) await(t *testing.T) *Message {
	t.Helper()
	select {
	case m := <-r.got:
		return m
	case <-time.After(time.Hour):
		t.Fatalf("%s: no message within an hour", r.name)
		return nil
	}
}

func (r *recorder) none(t *testing.T) {
	t.Helper()
	synctest.Wait()
	select {
	case m := <-r.got:
		t.Fatalf("%s: unexpected message %s", r.name, describe([]*Message{m}))
	default:
	}
}

func oneReplicaRegistry() *status.Registry {
	return status.NewRegistry([]status.ServiceSpec{{ID: "web", Nodes: []status.NodeSpec{
		{ID: "core", Mode: status.ModePoll, Replicas: []string{"tcp://edge-3.example.net:80", "tcp://edge-4.example.net:80"}},
	}}}, time.Now())
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
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		reg := oneReplicaRegistry()
		cfg := config.Default()
		cfg.Branding.PageTitle = "Acme Status"
		cfg.Notify.StartupNotification = true
		cfg.Notify.ReminderInterval = 60
		cfg.Notify.ReminderBackoffFunction = "linear"
		all, reminders := newRecorder("all"), newRecorder("reminders")
		d := NewDispatcher(DispatcherOptions{
			Config: &cfg, Registry: reg,
			Channels: []Channel{{Notifier: all}, {Notifier: reminders, RemindersOnly: true}},
		})
		stop := runDispatcher(t, d)

		all.none(t) // the start-up notice waits for the first sweep
		reg.Set(status.Ref{}, status.Result{Status: status.Healthy, At: start})
		reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Healthy, At: start})
		if m := all.next(t); m.Kind != Startup || m.Status != status.Healthy || m.PageTitle != "Acme Status" || !m.Time.Equal(start) {
			t.Fatalf("first message: %+v, want the startup notice at once", m)
		}

		// The change goes out exactly when the coalescing window closes.
		reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: start})
		at := start.Add(2 * time.Second)
		sleepUntil(at.Add(-time.Nanosecond))
		all.none(t)
		sleepUntil(at)
		if m := all.next(t); m.Kind != Changed || m.Status != status.Dead ||
			fmt.Sprint(m.Replicas) != "[web:core:tcp://edge-3.example.net:80]" || !m.Time.Equal(at) {
			t.Fatalf("change: %s", describe([]*Message{m}))
		}

		// Linear backoff: 60 s, then 120 s.
		for i, gap := range []time.Duration{60 * time.Second, 120 * time.Second} {
			at = at.Add(gap)
			sleepUntil(at.Add(-time.Nanosecond))
			all.none(t)
			reminders.none(t)
			sleepUntil(at)
			for _, r := range []*recorder{all, reminders} {
				if m := r.next(t); m.Kind != Reminder || !m.Time.Equal(at) {
					t.Fatalf("%s: reminder %d: %v, want a reminder at %v", r.name, i+1, describe([]*Message{m}), at.Sub(start))
				}
			}
		}

		reg.Set(status.Ref{}, status.Result{Status: status.Healthy, At: at})
		time.Sleep(2 * time.Second)
		if m := all.next(t); m.Kind != Changed || m.Status != status.Healthy ||
			fmt.Sprint(m.Recovered) != "[web:core:tcp://edge-3.example.net:80]" || !m.Time.Equal(at.Add(2*time.Second)) {
			t.Fatalf("recovery: %s", describe([]*Message{m}))
		}
		stop()
		all.none(t)
		reminders.none(t) // it got the two reminders and nothing else
	})
}

// Without a first result within one poll_interval, the start-up notice goes
// out anyway, with the status as it stands.
func TestStartupNoticeDoesNotWaitForever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		reg := oneReplicaRegistry()
		cfg := config.Default()
		cfg.Notify.StartupNotification = true
		rec := newRecorder("all")
		stop := runDispatcher(t, NewDispatcher(DispatcherOptions{Config: &cfg, Registry: reg,
			Channels: []Channel{{Notifier: rec}}}))
		wait := cfg.Metrics.PollInterval.Duration()
		sleepUntil(start.Add(wait - time.Nanosecond))
		rec.none(t)
		sleepUntil(start.Add(wait))
		if m := rec.next(t); m.Kind != Startup || !m.Time.Equal(start.Add(wait)) {
			t.Fatalf("message %s at %v, want the start-up notice after poll_interval (%v)", m.Kind, m.Time.Sub(start), wait)
		}
		stop()
		rec.none(t)
	})
}

func TestNoStartupNotificationUnlessAsked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		reg := oneReplicaRegistry()
		cfg := config.Default()
		rec := newRecorder("all")
		stop := runDispatcher(t, NewDispatcher(DispatcherOptions{Config: &cfg, Registry: reg,
			Channels: []Channel{{Notifier: rec}}}))
		reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: start})
		rec.none(t)
		time.Sleep(2 * time.Second)
		if m := rec.next(t); m.Kind != Changed {
			t.Fatalf("first message is %s, want the change (no startup notice)", m.Kind)
		}
		stop()
		rec.none(t)
	})
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
	synctest.Test(t, func(t *testing.T) {
		reg := oneReplicaRegistry()
		cfg := config.Default()
		hang, fail, work := &hanging{}, &failing{calls: map[sent]int{}}, newRecorder("working")
		var logs syncBuffer
		const (
			window = 20 * time.Millisecond
			drain  = 300 * time.Millisecond
		)
		d := NewDispatcher(DispatcherOptions{
			Config: &cfg, Registry: reg,
			Channels:       []Channel{{Notifier: hang}, {Notifier: fail}, {Notifier: work}},
			Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
			CoalesceWindow: window,
			SendTimeout:    time.Hour, // the hanging channel hangs for the whole test
			Retry:          RetryPolicy{Attempts: 3, Initial: 10 * time.Millisecond},
			DrainTimeout:   drain,
		})
		stop := runDispatcher(t, d)

		// Probes keep writing results the whole time: a burst of 100 every
		// millisecond. In the bubble a write takes no time on the clock
		// unless it waits on something, such as a channel that hangs.
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
				case <-time.After(time.Millisecond):
				}
				for range 100 {
					start := time.Now()
					reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Healthy, Latency: time.Duration(i), At: time.Now()})
					if took := time.Since(start).Nanoseconds(); took > slowest.Load() {
						slowest.Store(took)
					}
					writes.Add(1)
				}
			}
		}()

		for _, st := range []status.Status{status.Dead, status.Healthy, status.Dead} {
			start := time.Now()
			reg.Set(status.Ref{}, status.Result{Status: st, At: start})
			m := work.await(t)
			if took := time.Since(start); took != window {
				t.Errorf("working channel got the %s change after %v, want exactly the window, %v", st, took, window)
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
		// A write that waited on a channel would wait for an hour.
		if s := time.Duration(slowest.Load()); s != 0 {
			t.Errorf("slowest registry write took %v while channels hung and failed, want no time at all", s)
		}
		if writes.Load() < 1000 {
			t.Errorf("only %d registry writes went through", writes.Load())
		}

		start := time.Now()
		stop()
		if took := time.Since(start); took != drain {
			t.Errorf("shutdown took %v with a hanging channel, want the drain time, %v", took, drain)
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
	})
}

// A channel that fell behind gets what is still true: changes are never
// dropped for reminders, and reminders of an ended state are not sent late.
func TestQueueKeepsChangesAndDropsEndedReminders(t *testing.T) {
	node := func(svc string) []NodeChange { return []NodeChange{{Service: svc, Node: "n"}} }
	msg := func(kind Kind, at int, svc string) *Message {
		return &Message{Kind: kind, Time: t0.Add(time.Duration(at) * time.Second), Nodes: node(svc)}
	}
	tests := []struct {
		name     string
		limit    int
		push     []*Message
		want     string // what is left, in order: kind@second
		drops    int    // "queue full" warnings
		discards int    // reminders left out as ended or repeated
	}{
		{"a newer reminder of the same node replaces the older", 16,
			[]*Message{msg(Reminder, 0, "db"), msg(Reminder, 1, "db"), msg(Reminder, 2, "db")},
			"reminder@2", 0, 2},
		{"reminders of other nodes stay", 16,
			[]*Message{msg(Reminder, 0, "db"), msg(Reminder, 1, "web")},
			"reminder@0 reminder@1", 0, 0},
		{"a change of the node drops its queued reminders", 16,
			[]*Message{msg(Changed, 0, "db"), msg(Reminder, 60, "db"), msg(Reminder, 61, "web"), msg(Changed, 90, "db")},
			"changed@0 reminder@61 changed@90", 0, 1},
		{"a full queue drops a reminder, not a change", 2,
			[]*Message{msg(Changed, 0, "db"), msg(Reminder, 1, "web"), msg(Changed, 2, "cache")},
			"changed@0 changed@2", 1, 0},
		{"a reminder finding the queue full of changes is dropped", 2,
			[]*Message{msg(Changed, 0, "db"), msg(Changed, 1, "web"), msg(Reminder, 2, "cache")},
			"changed@0 changed@1", 1, 0},
		{"a change finding the queue full of changes drops the oldest", 2,
			[]*Message{msg(Changed, 0, "db"), msg(Changed, 1, "web"), msg(Changed, 2, "cache")},
			"changed@1 changed@2", 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			o := newOutbox(Channel{Notifier: newRecorder("slow")}, tc.limit, time.Second, RetryPolicy{}.withDefaults(),
				slog.New(slog.NewTextHandler(&logs, nil)))
			counted := map[Outcome]int{}
			o.count = func(channel string, outcome Outcome) { counted[outcome]++ }
			for _, m := range tc.push {
				o.push(m)
			}
			var kept []string
			for m := o.pop(); m != nil; m = o.pop() {
				kept = append(kept, fmt.Sprintf("%s@%d", m.Kind, int(m.Time.Sub(t0).Seconds())))
			}
			if got := strings.Join(kept, " "); got != tc.want {
				t.Errorf("kept %s, want %s", got, tc.want)
			}
			if n := strings.Count(logs.String(), "queue full"); n != tc.drops {
				t.Errorf("%d drops logged, want %d:\n%s", n, tc.drops, logs.String())
			}
			if counted[Dropped] != tc.drops || counted[Discarded] != tc.discards {
				t.Errorf("counted %v, want %d dropped and %d discarded", counted, tc.drops, tc.discards)
			}
		})
	}
}

// A reminder being retried stops when a change ends what it reminds of.
func TestRetriedReminderStopsWhenItsStateEnds(t *testing.T) {
	fails := &failing{calls: map[sent]int{}}
	o := newOutbox(Channel{Notifier: fails}, 16, time.Second, RetryPolicy{Attempts: 10}.withDefaults(), slog.New(slog.DiscardHandler))
	reminder := &Message{Kind: Reminder, Nodes: []NodeChange{{Service: "db", Node: "main"}}}
	o.push(reminder)
	waits := 0
	o.sleep = func(context.Context, time.Duration) {
		waits++
		if waits == 2 {
			o.push(&Message{Kind: Changed, Nodes: []NodeChange{{Service: "db", Node: "main"}}})
		}
	}
	counted := map[Outcome]int{}
	o.count = func(channel string, outcome Outcome) { counted[outcome]++ }
	o.deliver(context.Background(), context.Background(), o.pop())
	if n := fails.count(Reminder, status.Healthy); n != 2 {
		t.Errorf("the reminder was tried %d times, want 2: the recovery came during the second wait", n)
	}
	if counted[Discarded] != 1 || len(counted) != 1 {
		t.Errorf("counted %v, want the reminder discarded", counted)
	}
	// A message that fails every attempt counts as failed.
	o.retry.Attempts = 3
	o.push(&Message{Kind: Changed, Nodes: []NodeChange{{Service: "db", Node: "main"}}})
	o.deliver(context.Background(), context.Background(), o.pop())
	if counted[Failed] != 1 {
		t.Errorf("counted %v after three failed attempts, want one failed", counted)
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

// TestRestartRepeatsNothing runs a dispatcher, stops it and runs another on
// the same store: what was announced is not announced again, reminders keep
// their pace, and a change while the server was down is a change.
func TestRestartRepeatsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		st := memory.New()
		cfg := config.Default()
		cfg.Notify.StartupNotification = true
		cfg.Notify.ReminderInterval = 600
		run := func(dead bool) (*status.Registry, *recorder, func()) {
			reg := oneReplicaRegistry()
			rec := newRecorder("all")
			stop := runDispatcher(t, NewDispatcher(DispatcherOptions{Config: &cfg, Registry: reg,
				Channels: []Channel{{Notifier: rec}}, State: st}))
			s := status.Healthy
			if dead {
				s = status.Dead
			}
			reg.Set(status.Ref{}, status.Result{Status: s, At: time.Now()})
			reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Healthy, At: time.Now()})
			return reg, rec, stop
		}

		_, rec, stop := run(true)
		if m := rec.next(t); m.Kind != Startup || m.Status != status.Dead {
			t.Fatalf("first run: %s, want the start-up notice: dead", describe([]*Message{m}))
		}
		time.Sleep(time.Minute)
		stop()
		rec.none(t) // no changed for what the notice said

		// Down for a minute; still dead after the restart.
		time.Sleep(time.Minute)
		_, rec, stop = run(true)
		sleepUntil(start.Add(600*time.Second - time.Nanosecond))
		rec.none(t)
		sleepUntil(start.Add(600 * time.Second))
		if m := rec.next(t); m.Kind != Reminder || !m.Time.Equal(start.Add(600*time.Second)) {
			t.Fatalf("second run: %s, want the first reminder on the first run's schedule", describe([]*Message{m}))
		}
		stop()

		// Recovered while the server was down: said once, as a change.
		_, rec, stop = run(false)
		if m := rec.await(t); m.Kind != Changed || m.Status != status.Healthy {
			t.Fatalf("third run: %s, want a change to healthy", describe([]*Message{m}))
		}
		time.Sleep(time.Hour)
		stop()
		rec.none(t)
	})
}

// oneWindow is a maintenance schedule of one window.
type oneWindow struct{ w store.Window }

func (o oneWindow) Version() uint64 { return 1 }

func (o oneWindow) Active(t time.Time) []store.Window {
	if !t.Before(o.w.Start) && t.Before(o.w.End) {
		return []store.Window{o.w}
	}
	return nil
}

func (o oneWindow) NextChange(t time.Time) time.Time {
	switch {
	case t.Before(o.w.Start):
		return o.w.Start
	case t.Before(o.w.End):
		return o.w.End
	}
	return time.Time{}
}

// TestMaintenanceHoldsAlerts: a node that dies inside a window is not
// alerted; still dead when the window ends, it is alerted once then.
func TestMaintenanceHoldsAlerts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		reg := oneReplicaRegistry()
		cfg := config.Default()
		w := store.Window{Title: "Upgrade", Affected: []store.Component{{Service: "web", Node: "core"}},
			Start: start.Add(time.Minute), End: start.Add(time.Hour)}
		rec := newRecorder("all")
		runDispatcher(t, NewDispatcher(DispatcherOptions{Config: &cfg, Registry: reg,
			Channels: []Channel{{Notifier: rec}}, Maintenance: oneWindow{w}}))
		reg.Set(status.Ref{}, status.Result{Status: status.Healthy, At: start})
		reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Healthy, At: start})

		sleepUntil(start.Add(2 * time.Minute)) // inside the window
		reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: time.Now()})
		sleepUntil(w.End.Add(-time.Nanosecond))
		rec.none(t)
		sleepUntil(w.End.Add(2 * time.Second)) // the window ends; the change coalesces for 2 s
		if m := rec.next(t); m.Kind != Changed || m.Status != status.Dead || !m.Time.Equal(w.End.Add(2*time.Second)) {
			t.Fatalf("after the window: %s, want one change to dead", describe([]*Message{m}))
		}
		time.Sleep(time.Hour)
		rec.none(t)
	})
}

// Each channel hears only the nodes routed to it; nodes without a notify
// list reach every channel.
func TestDispatcherRoutesNodesToTheirChannels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		cfg := config.Default()
		cfg.Probe.Services = []config.Service{
			{ID: "web", Nodes: []config.Node{{ID: "core", Mode: "poll", Replicas: []string{"tcp://a:1"}}}},
			{ID: "db", Notify: []string{"pager"}, Nodes: []config.Node{{ID: "main", Mode: "poll", Replicas: []string{"tcp://b:1"}}}},
		}
		reg := status.NewRegistry([]status.ServiceSpec{
			{ID: "web", Nodes: []status.NodeSpec{{ID: "core", Mode: status.ModePoll, Replicas: []string{"tcp://a:1"}}}},
			{ID: "db", Nodes: []status.NodeSpec{{ID: "main", Mode: status.ModePoll, Replicas: []string{"tcp://b:1"}}}},
		}, start)
		chat, pager := newRecorder("chat"), newRecorder("pager")
		runDispatcher(t, NewDispatcher(DispatcherOptions{Config: &cfg, Registry: reg,
			Channels: []Channel{{Notifier: chat}, {Notifier: pager}}}))

		reg.Set(status.Ref{Service: 1}, status.Result{Status: status.Dead, At: start})
		time.Sleep(2 * time.Second)
		if m := pager.next(t); fmt.Sprint(m.Replicas) != "[db:main:tcp://b:1]" {
			t.Errorf("pager got %s", describe([]*Message{m}))
		}
		chat.none(t)

		reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: time.Now()})
		time.Sleep(2 * time.Second)
		for _, r := range []*recorder{chat, pager} {
			m := r.next(t)
			if m.Headline() != "Status Page: web is down" {
				t.Errorf("%s got %q", r.name, m.Headline())
			}
		}
		chat.none(t)
		pager.none(t)
	})
}

// laterWindow is a schedule whose one window is made while the
// dispatcher runs, as through the manager API.
type laterWindow struct {
	mu sync.Mutex
	oneWindow
	made bool
}

func (l *laterWindow) make() {
	l.mu.Lock()
	l.made = true
	l.mu.Unlock()
}

func (l *laterWindow) Version() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.made {
		return 2
	}
	return 1
}

func (l *laterWindow) Active(t time.Time) []store.Window {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.made {
		return nil
	}
	return l.oneWindow.Active(t)
}

func (l *laterWindow) NextChange(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.made {
		return time.Time{}
	}
	return l.oneWindow.NextChange(t)
}

// TestMaintenanceMadeWhileRunning: a window made after the dispatcher
// started holds alerts as one known from the start does.
func TestMaintenanceMadeWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		reg := oneReplicaRegistry()
		cfg := config.Default()
		w := &laterWindow{oneWindow: oneWindow{store.Window{Title: "Upgrade", Affected: []store.Component{{Service: "web"}},
			Start: start.Add(time.Hour), End: start.Add(2 * time.Hour)}}}
		rec := newRecorder("all")
		runDispatcher(t, NewDispatcher(DispatcherOptions{Config: &cfg, Registry: reg,
			Channels: []Channel{{Notifier: rec}}, Maintenance: w}))
		reg.Set(status.Ref{}, status.Result{Status: status.Healthy, At: start})
		reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Healthy, At: start})
		sleepUntil(start.Add(time.Minute))
		w.make()

		sleepUntil(start.Add(90 * time.Minute))
		reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: time.Now()})
		sleepUntil(w.w.End.Add(-time.Nanosecond))
		rec.none(t)
		sleepUntil(w.w.End.Add(2 * time.Second))
		if m := rec.next(t); m.Kind != Changed || m.Status != status.Dead {
			t.Fatalf("after the window: %s, want one change to dead", describe([]*Message{m}))
		}
		time.Sleep(time.Hour)
		rec.none(t)
	})
}
