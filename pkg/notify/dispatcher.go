package notify

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// DispatcherOptions configure a Dispatcher; zero values pick the defaults.
type DispatcherOptions struct {
	Config   *config.Config // [notify] and [branding] are read
	Registry *status.Registry
	Channels []Channel // from channels.Build
	// Silence reports whether reminders are silenced at now (the manager
	// API's alerts/ignored). Nil: never.
	Silence func(now time.Time) bool
	Logger  *slog.Logger

	// CoalesceWindow: changes this close together make one message; default 2 s.
	CoalesceWindow time.Duration
	// SendTimeout bounds one send of one message on one channel; default 10 s.
	SendTimeout time.Duration
	// Retry is applied to failed sends; default 4 attempts, 1 s, 2 s, 4 s
	// apart. Permanent failures are sent once (see Permanent).
	Retry RetryPolicy
	// QueueSize is each channel's queue length; default 16. When a channel
	// falls that far behind, its oldest message is dropped.
	QueueSize int
	// DrainTimeout is how long queued messages may still be sent after
	// Run's context ends; default SendTimeout.
	DrainTimeout time.Duration
	// State keeps what was last announced, so a restart repeats nothing;
	// nil keeps it in memory only.
	State store.State
	// Maintenance holds the alerts of the services and nodes it covers
	// while a window is open; nil: none.
	Maintenance Maintenance
	// Count hears what became of every message on every channel (the
	// metrics); nil: nobody.
	Count func(channel string, outcome Outcome)
}

// Maintenance is what the dispatcher needs of the maintenance schedule.
type Maintenance interface {
	Active(t time.Time) []store.Window // the windows open at t
	NextChange(t time.Time) time.Time  // the next start or end after t; zero: none soon
	Version() uint64                   // grows when windows are added or removed
}

// Dispatcher watches the registry and sends notifications: changes of the
// page status, reminders while it is dead and the start-up notice. It reads
// the time only through package time (time.Now and timers), so its tests
// run it in a testing/synctest bubble on a fake clock.
type Dispatcher struct {
	reg          *status.Registry
	log          *slog.Logger
	startup      bool
	startupWait  time.Duration // longest wait for the first sweep before the start-up notice
	tracker      *tracker
	outboxes     []*outbox
	audiences    [][]*outbox // per audience of the tracker
	drainTimeout time.Duration
	state        store.State // nil: nothing kept
	maint        Maintenance // nil: none
	running      atomic.Bool

	notesMu sync.Mutex
	notes   []string // for the next message; guarded by notesMu
	noted   int      // notes beyond MaxListed since the last message
}

// Note adds a line to the next message, whatever it is: something people
// should know that is no status change, such as a dead replica flushed by
// an agent (which may end an outage without a recovery). It never blocks.
func (d *Dispatcher) Note(text string) {
	d.notesMu.Lock()
	defer d.notesMu.Unlock()
	if len(d.notes) >= MaxListed {
		d.noted++
		return
	}
	d.notes = append(d.notes, text)
}

// takeNotes empties the notes for a message.
func (d *Dispatcher) takeNotes() []string {
	d.notesMu.Lock()
	defer d.notesMu.Unlock()
	notes := d.notes
	if d.noted > 0 {
		notes = append(notes, "and "+strconv.Itoa(d.noted)+" more notes; see the server's log")
	}
	d.notes, d.noted = nil, 0
	return notes
}

// NewDispatcher builds a dispatcher; Run starts it.
func NewDispatcher(opts DispatcherOptions) *Dispatcher {
	cfg := opts.Config
	if cfg == nil {
		def := config.Default()
		cfg = &def
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CoalesceWindow <= 0 {
		opts.CoalesceWindow = 2 * time.Second
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 10 * time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 16
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = opts.SendTimeout
	}
	retry := opts.Retry.withDefaults()
	names := make([]string, len(opts.Channels))
	for i, ch := range opts.Channels {
		names[i] = ch.Name()
	}
	d := &Dispatcher{
		reg:          opts.Registry,
		log:          opts.Logger,
		startup:      cfg.Notify.StartupNotification,
		startupWait:  cfg.Metrics.PollInterval.Duration(),
		tracker:      newTracker(rulesFrom(cfg, opts.CoalesceWindow, opts.Silence), names),
		drainTimeout: opts.DrainTimeout,
		state:        opts.State,
		maint:        opts.Maintenance,
	}
	for _, ch := range opts.Channels {
		o := newOutbox(ch, opts.QueueSize, opts.SendTimeout, retry, opts.Logger)
		o.count = opts.Count
		d.outboxes = append(d.outboxes, o)
	}
	// Each audience's messages go to the outboxes of its channels.
	d.audiences = make([][]*outbox, len(d.tracker.auds))
	for ai, aud := range d.tracker.auds {
		for _, o := range d.outboxes {
			if aud.channels == nil || slices.Contains(aud.channels, o.name) {
				d.audiences[ai] = append(d.audiences[ai], o)
			}
		}
	}
	return d
}

// Queues says how many messages wait on each channel.
func (d *Dispatcher) Queues() map[string]int {
	q := make(map[string]int, len(d.outboxes))
	for _, o := range d.outboxes {
		q[o.name] += o.depth()
	}
	return q
}

// Run sends notifications until ctx ends, then gives queued messages up to
// DrainTimeout to go out and returns once every goroutine it started has
// stopped. It returns an error only when called a second time.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("notify: Dispatcher.Run called twice; build a new dispatcher instead")
	}
	if d.reg == nil {
		return errors.New("notify: DispatcherOptions.Registry is nil; pass the status registry")
	}
	// Sends may outlive ctx by the drain time, so they get their own context.
	sendCtx, stopSends := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSends()
	var wg sync.WaitGroup
	for _, o := range d.outboxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.run(ctx, sendCtx)
		}()
	}

	d.loop(ctx)

	drain := time.AfterFunc(d.drainTimeout, stopSends)
	wg.Wait()
	drain.Stop()
	return nil
}

// loop is the only reader of the tracker: it feeds it snapshots and timer
// ticks and hands the messages it makes to the outboxes, never waiting on them.
func (d *Dispatcher) loop(ctx context.Context) {
	changes, unsubscribe := d.reg.Subscribe()
	defer unsubscribe()

	// What was announced before a restart is announced again only if it
	// changed since: then as a change, never as a start-up notice.
	restored := d.restore(ctx)

	// The start-up notice waits for the first sweep, so the status it
	// gives is observed, not assumed; the scheduler promises every replica
	// a result within one poll_interval, which bounds the wait.
	startupPending := d.startup && !restored
	var startupDeadline <-chan time.Time
	if startupPending {
		startupDeadline = time.After(d.startupWait)
	}
	// Alerts of what is under maintenance wait for the window's end; the
	// timer wakes the loop at every start and end.
	var maintTimer <-chan time.Time
	var heldUntil time.Time
	var heldVersion uint64
	hold := func(now time.Time) {
		// A window made since the last look may start before heldUntil.
		if d.maint == nil || now.Before(heldUntil) && d.maint.Version() == heldVersion {
			return
		}
		heldVersion = d.maint.Version()
		held := map[store.Component]bool{}
		for _, w := range d.maint.Active(now) {
			for _, c := range w.Affected {
				held[c] = true
			}
		}
		d.tracker.hold(held)
		heldUntil, maintTimer = d.maint.NextChange(now), nil
		if !heldUntil.IsZero() {
			maintTimer = time.After(heldUntil.Sub(now))
		} else {
			heldUntil = now.Add(24 * time.Hour)
			maintTimer = time.After(24 * time.Hour)
		}
	}
	observe := func(deadlinePassed bool) {
		snap := d.reg.Snapshot()
		hold(time.Now())
		d.tracker.observe(snap, time.Now())
		if startupPending && (deadlinePassed || snap.Unchecked == 0) {
			startupPending, startupDeadline = false, nil
			d.send(d.tracker.startup(time.Now()))
			d.save(ctx)
		}
	}
	observe(false)

	var armed time.Time // deadline the timer is set for; zero: none
	var timer <-chan time.Time
	for {
		if next := d.tracker.next(); !next.Equal(armed) {
			armed, timer = next, nil
			if !next.IsZero() {
				timer = time.After(time.Until(next))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changes:
			observe(false)
		case <-startupDeadline:
			observe(true)
		case <-maintTimer:
			observe(false)
		case <-timer:
			armed, timer = time.Time{}, nil
			if ms := d.tracker.due(time.Now()); len(ms) > 0 {
				d.send(ms)
				d.save(ctx)
			}
		}
	}
}

// stateKey is where the dispatcher's state is kept in the store.
const stateKey = "notify.state"

// restore takes back what was announced before a restart; false when
// nothing was kept.
func (d *Dispatcher) restore(ctx context.Context) bool {
	if d.state == nil {
		return false
	}
	v, ok, err := d.state.GetState(ctx, stateKey)
	if err != nil {
		d.log.Error("notify: cannot read what was announced before the restart; starting afresh", "err", err)
		return false
	}
	if !ok {
		return false
	}
	if err := d.tracker.unmarshal(v); err != nil {
		d.log.Error("notify: the kept state is unreadable; starting afresh", "err", err)
		return false
	}
	return true
}

// save keeps what was just announced.
func (d *Dispatcher) save(ctx context.Context) {
	if d.state == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.state.PutState(ctx, stateKey, d.tracker.marshal()); err != nil {
		d.log.Error("notify: cannot keep what was announced; after a restart it may be sent again", "err", err)
	}
}

// send dispatches the messages made at one moment; the notes waiting go
// with each of them, so that every audience hears of them.
func (d *Dispatcher) send(outs []outgoing) {
	notes := d.takeNotes()
	for _, o := range outs {
		o.msg.Notes = notes
		d.dispatch(o)
	}
}

// dispatch queues a message on every channel of its audience that takes it.
func (d *Dispatcher) dispatch(out outgoing) {
	m := out.msg
	d.log.Info("notification", "kind", m.Kind, "status", m.Status, "headline", m.Headline(),
		"replicas", len(m.Replicas)+m.More, "recovered", len(m.Recovered)+m.RecoveredMore, "notes", len(m.Notes),
		"channels", len(d.audiences[out.audience]))
	for _, o := range d.audiences[out.audience] {
		if o.ch.RemindersOnly && m.Kind != Reminder {
			continue
		}
		o.push(m)
	}
}
