package notify

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// RetryPolicy is how often and how patiently a failed send is repeated:
// Attempts sends in all, waiting Initial, then twice as long each time, at
// most Max, between them. A send that failed with a RetryAfter error waits
// at least what the provider asked for (see waitAfter); a Permanent one is
// not repeated.
type RetryPolicy struct {
	Attempts int           // default 4
	Initial  time.Duration // default 1 s
	Max      time.Duration // default 30 s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts < 1 {
		p.Attempts = 4
	}
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	return p
}

// wait is the pause after the given failed attempt (1-based).
func (p RetryPolicy) wait(attempt int) time.Duration {
	w := p.Initial
	for i := 1; i < attempt && w < p.Max; i++ {
		w *= 2
	}
	return min(w, p.Max)
}

// maxRetryAfter is the longest a provider's Retry-After holds a channel
// (when the policy's Max is not longer still).
const maxRetryAfter = 5 * time.Minute

// waitAfter is the pause after the given failed attempt whose error was
// err: the backoff, or what the provider asked for (RetryAfter) when that
// is longer.
//
// A provider's wait is honoured beyond Max: a provider that limits us for
// 120 s answers 429 to every attempt before then, so coming back after
// 30 s only burns attempts and may prolong the limit. It is not honoured
// without bound, because the channel's queue waits behind it; past
// maxRetryAfter the messages behind are getting stale and the queue starts
// dropping them. So a longer wait is cut to maxRetryAfter: the attempt then
// is likely refused again with a new Retry-After, and a limit that lasts
// for hours costs the message its attempts instead of holding every later
// message for hours.
func (p RetryPolicy) waitAfter(attempt int, err error) time.Duration {
	w := p.wait(attempt)
	if d, ok := RetryAfterOf(err); ok && d > w {
		w = min(d, max(maxRetryAfter, p.Max))
	}
	return w
}

// outbox is one channel's bounded queue and the goroutine that empties it,
// so a slow or failing channel only ever delays itself.
type outbox struct {
	ch      Channel
	name    string
	timeout time.Duration
	retry   RetryPolicy
	log     *slog.Logger
	// sleep waits d or until ctx ends; tests replace it to see the waits
	// without waiting.
	sleep func(ctx context.Context, d time.Duration)

	mu    sync.Mutex
	queue []*Message
	limit int
	wake  chan struct{} // capacity 1: "the queue has something"
	// sending is the message being delivered; ended is set when a change
	// ended what it reminds of, so that its retries stop.
	sending *Message
	ended   bool
	// count hears what became of each message (an Outcome); nil: nobody.
	count func(channel string, outcome Outcome)
}

// Outcome is what became of a message on a channel, for the metrics.
type Outcome = string

// The outcomes.
const (
	Sent      Outcome = "sent"      // delivered
	Failed    Outcome = "failed"    // given up after its attempts, or refused for good
	Dropped   Outcome = "dropped"   // never sent: the queue was full, or the server stopped
	Discarded Outcome = "discarded" // a reminder of a state that ended, or that a newer one repeats
)

// Outcomes are all the outcomes.
func Outcomes() []Outcome { return []Outcome{Sent, Failed, Dropped, Discarded} }

func (o *outbox) counted(outcome Outcome) {
	if o.count != nil {
		o.count(o.name, outcome)
	}
}

// depth is the number of messages waiting.
func (o *outbox) depth() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

func newOutbox(ch Channel, limit int, timeout time.Duration, retry RetryPolicy, log *slog.Logger) *outbox {
	if ch.Timeout > 0 {
		timeout = ch.Timeout
	}
	return &outbox{ch: ch, name: ch.Name(), timeout: timeout, retry: retry, log: log, sleep: sleep,
		limit: limit, wake: make(chan struct{}, 1)}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// push queues m without ever blocking. What a channel that fell behind
// would only get late is left out: a reminder of a state that a change
// has since ended, a reminder that a newer one of the same nodes repeats.
// A full queue drops a reminder first; a change is dropped only for a
// newer change, when no reminder is left to drop.
func (o *outbox) push(m *Message) {
	o.mu.Lock()
	switch m.Kind {
	case Changed:
		o.queue = slices.DeleteFunc(o.queue, func(q *Message) bool {
			if q.Kind == Reminder && overlaps(q, m) {
				o.log.Info("queued reminder dropped: a change ended what it reminds of", "channel", o.name, "reminder_time", q.TimeText())
				o.counted(Discarded)
				return true
			}
			return false
		})
		if o.sending != nil && o.sending.Kind == Reminder && overlaps(o.sending, m) {
			o.ended = true
		}
	case Reminder:
		o.queue = slices.DeleteFunc(o.queue, func(q *Message) bool {
			if q.Kind == Reminder && sameNodes(q, m) {
				o.counted(Discarded)
				return true
			}
			return false
		})
	}
	if len(o.queue) >= o.limit {
		i := slices.IndexFunc(o.queue, func(q *Message) bool { return q.Kind == Reminder })
		switch {
		case i >= 0:
			o.log.Warn("notification queue full, oldest reminder dropped; the channel is not keeping up",
				"channel", o.name, "dropped_time", o.queue[i].TimeText(), "queue", o.limit)
			o.queue = slices.Delete(o.queue, i, i+1)
			o.counted(Dropped)
		case m.Kind == Reminder:
			o.log.Warn("notification queue full of changes, reminder dropped; the channel is not keeping up",
				"channel", o.name, "dropped_time", m.TimeText(), "queue", o.limit)
			o.counted(Dropped)
			o.mu.Unlock()
			return
		default:
			o.log.Warn("notification queue full of changes, oldest change dropped; the channel is not keeping up",
				"channel", o.name, "dropped", o.queue[0].Kind, "dropped_time", o.queue[0].TimeText(), "queue", o.limit)
			o.queue = slices.Delete(o.queue, 0, 1)
			o.counted(Dropped)
		}
	}
	o.queue = append(o.queue, m)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// overlaps reports whether two messages are about a node in common.
func overlaps(a, b *Message) bool {
	for _, x := range a.Nodes {
		for _, y := range b.Nodes {
			if x.Service == y.Service && x.Node == y.Node {
				return true
			}
		}
	}
	return false
}

// sameNodes reports whether two messages are about the same nodes.
func sameNodes(a, b *Message) bool {
	if len(a.Nodes) != len(b.Nodes) || len(a.Nodes) == 0 {
		return false
	}
	for i := range a.Nodes {
		if a.Nodes[i].Service != b.Nodes[i].Service || a.Nodes[i].Node != b.Nodes[i].Node {
			return false
		}
	}
	return true
}

// pop takes the next message, which becomes the one being sent.
func (o *outbox) pop() *Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sending, o.ended = nil, false
	if len(o.queue) == 0 {
		return nil
	}
	m := o.queue[0]
	o.queue[0] = nil
	o.queue = o.queue[1:]
	o.sending = m
	return m
}

// hasEnded reports whether a change ended what m, being sent, reminds of.
func (o *outbox) hasEnded(m *Message) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sending == m && o.ended
}

// run delivers until ctx ends, then gives every queued message one last
// attempt while sendCtx lasts.
func (o *outbox) run(ctx, sendCtx context.Context) {
	for {
		if m := o.pop(); m != nil {
			o.deliver(ctx, sendCtx, m)
			continue
		}
		select {
		case <-o.wake:
		case <-ctx.Done():
			o.drain(sendCtx)
			return
		}
	}
}

func (o *outbox) drain(sendCtx context.Context) {
	for m := o.pop(); m != nil; m = o.pop() {
		if sendCtx.Err() != nil {
			o.log.Error("notification not sent: shutting down", "channel", o.name, "kind", m.Kind)
			o.counted(Dropped)
			continue
		}
		if err := o.send(sendCtx, m); err != nil {
			o.log.Error("notification not sent before shutdown", "channel", o.name, "kind", m.Kind, "error", err)
			o.counted(Failed)
			continue
		}
		o.counted(Sent)
	}
}

// deliver sends m, retrying with exponential backoff, or after the
// provider's Retry-After when it gave one. A Permanent failure is not
// retried. Retries stop early when ctx ends (shutdown); sends themselves
// run on sendCtx, which outlives ctx for the drain.
func (o *outbox) deliver(ctx, sendCtx context.Context, m *Message) {
	for attempt := 1; ; attempt++ {
		err := o.send(sendCtx, m)
		if err == nil {
			o.counted(Sent)
			if attempt > 1 {
				o.log.Info("notification sent after retrying", "channel", o.name, "kind", m.Kind, "attempts", attempt)
			}
			return
		}
		if why, ok := permanentWhy(err); ok {
			o.log.Error("notification failed, not retried", "channel", o.name, "kind", m.Kind,
				"attempts", attempt, "why", why, "error", err)
			o.counted(Failed)
			return
		}
		if o.hasEnded(m) {
			o.log.Info("reminder not retried: a change ended what it reminds of", "channel", o.name,
				"attempts", attempt, "error", err)
			o.counted(Discarded)
			return
		}
		if attempt >= o.retry.Attempts || ctx.Err() != nil {
			o.log.Error("notification failed, giving up", "channel", o.name, "kind", m.Kind,
				"attempts", attempt, "error", err)
			o.counted(Failed)
			return
		}
		wait := o.retry.waitAfter(attempt, err)
		attrs := []any{"channel", o.name, "kind", m.Kind, "attempt", attempt, "retry_in", wait}
		if asked, ok := RetryAfterOf(err); ok {
			attrs = append(attrs, "retry_after", asked)
		}
		o.log.Warn("notification failed, will retry", append(attrs, "error", err)...)
		o.sleep(ctx, wait)
		if o.hasEnded(m) {
			o.log.Info("reminder not retried: a change ended what it reminds of", "channel", o.name, "attempts", attempt)
			o.counted(Discarded)
			return
		}
	}
}

func (o *outbox) send(ctx context.Context, m *Message) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return o.ch.Send(ctx, m)
}
