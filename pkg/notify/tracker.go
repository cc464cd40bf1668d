package notify

import (
	"encoding/json"
	"math"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// rules are the [notify] settings the tracker applies.
type rules struct {
	notifySick bool
	alertAfter int           // dead results in a row before a replica counts as dead
	interval   time.Duration // reminder_interval; 0 = no reminders
	exponent   int           // 0 none, 1 linear, 2 square, 3 cubic
	limit      int           // reminder_backoff_limit
	window     time.Duration // coalescing window
	silenced   func(now time.Time) bool
	title, url string
}

func rulesFrom(cfg *config.Config, window time.Duration, silenced func(time.Time) bool) rules {
	n := &cfg.Notify
	r := rules{
		notifySick: n.NotifySick,
		alertAfter: max(n.AlertAfter, 1),
		interval:   n.ReminderInterval.Duration(),
		exponent:   backoffExponent(n.ReminderBackoffFunction),
		limit:      max(n.ReminderBackoffLimit, 1),
		window:     window,
		silenced:   silenced,
		title:      cfg.Branding.PageTitle,
		url:        cfg.Branding.PageURL,
	}
	if r.silenced == nil {
		r.silenced = func(time.Time) bool { return false }
	}
	return r
}

func backoffExponent(name string) int {
	switch name {
	case "linear":
		return 1
	case "square":
		return 2
	case "cubic":
		return 3
	default:
		return 0
	}
}

// maxGap bounds a reminder gap so that a large limit and exponent cannot
// overflow time.Duration.
const maxGap = 100 * 365 * 24 * time.Hour

// gap is the wait before the next reminder: interval × N^k.
func (r *rules) gap(n int) time.Duration {
	g := float64(r.interval) * math.Pow(float64(n), float64(r.exponent))
	if g > float64(maxGap) {
		return maxGap
	}
	return time.Duration(g)
}

// tracker turns the snapshots it is shown into messages. It decides what
// counts as a change, when a coalescing window closes and when a reminder
// is due; it never blocks and never reads the clock itself, so tests drive
// it with any times they like. The dispatcher's loop owns it.
type tracker struct {
	rules
	view pageView // the page as notifications see it

	version uint64 // of the last snapshot observed

	notified  status.Status // status the last changed message announced
	listed    []string      // replicas named by the last message, for Recovered
	windowEnd time.Time     // zero: no change waiting to be announced

	reminderAt time.Time // zero: no reminder planned
	backoff    int       // N of the next reminder gap, 1…limit
}

func newTracker(r rules) *tracker {
	return &tracker{rules: r, view: newPageView(r.alertAfter, r.notifySick), backoff: 1}
}

// observe takes in a snapshot: the results that arrived since the last one
// move the replicas' dead streaks on, and a change of the page status as
// notifications see it opens a coalescing window.
func (t *tracker) observe(snap *status.Snapshot, now time.Time) {
	if snap.Version == t.version && !t.view.again {
		return
	}
	t.version = snap.Version
	t.view.update(snap)
	if t.windowEnd.IsZero() && t.level(t.effective()) != t.level(t.notified) {
		t.windowEnd = now.Add(t.window)
	}
}

// effective is the page status as notifications see it: dead only once
// some replica's death is confirmed (see pageView); a page whose dead
// replicas are all unconfirmed counts as sick.
func (t *tracker) effective() status.Status {
	return t.view.status
}

// level is what a change is measured on: sick counts only with notify_sick.
func (t *tracker) level(s status.Status) status.Status {
	if s == status.Sick && !t.notifySick {
		return status.Healthy
	}
	return s
}

// next is when due should be called again; zero when nothing is planned.
func (t *tracker) next() time.Time {
	switch {
	case t.windowEnd.IsZero():
		return t.reminderAt
	case t.reminderAt.IsZero() || t.windowEnd.Before(t.reminderAt):
		return t.windowEnd
	default:
		return t.reminderAt
	}
}

// due returns the messages whose time has come at now.
func (t *tracker) due(now time.Time) []*Message {
	var out []*Message
	if !t.windowEnd.IsZero() && !now.Before(t.windowEnd) {
		t.windowEnd = time.Time{}
		if eff := t.effective(); t.level(eff) != t.level(t.notified) {
			out = append(out, t.message(Changed, eff, now))
			t.notified = eff
			t.backoff = 1
			t.reminderAt = time.Time{}
			if eff == status.Dead && t.interval > 0 {
				t.reminderAt = now.Add(t.gap(t.backoff))
			}
		}
	}
	if !t.reminderAt.IsZero() && !now.Before(t.reminderAt) {
		switch {
		case !t.windowEnd.IsZero() || t.silenced(now):
			// A change is about to be announced, or reminders are
			// silenced: skip this one, keep the pace.
			t.reminderAt = now.Add(t.gap(t.backoff))
		default:
			out = append(out, t.message(Reminder, t.effective(), now))
			if t.backoff < t.limit {
				t.backoff++
			}
			t.reminderAt = now.Add(t.gap(t.backoff))
		}
	}
	return out
}

// startup is the message sent once at boot.
// It announces the status as a change would: what it says is not said
// again as a change, and reminders follow when it is dead.
func (t *tracker) startup(now time.Time) *Message {
	eff := t.effective()
	m := t.message(Startup, eff, now)
	if t.level(eff) != t.level(t.notified) {
		t.backoff = 1
		t.reminderAt = time.Time{}
		if eff == status.Dead && t.interval > 0 {
			t.reminderAt = now.Add(t.gap(t.backoff))
		}
	}
	t.notified = eff
	t.windowEnd = time.Time{} // a change waiting is what the notice just said
	return m
}

// message builds a message from the replicas affected now and those that
// were named last time and are not any more.
func (t *tracker) message(kind Kind, st status.Status, now time.Time) *Message {
	names := t.view.names()
	m := &Message{Kind: kind, Status: st, Time: now, PageTitle: t.title, PageURL: t.url}
	m.Replicas, m.More = capped(names)
	if len(t.listed) > 0 {
		still := make(map[string]struct{}, len(names))
		for _, n := range names {
			still[n] = struct{}{}
		}
		var gone []string
		for _, n := range t.listed {
			if _, ok := still[n]; !ok {
				gone = append(gone, n)
			}
		}
		m.Recovered, m.RecoveredMore = capped(gone)
	}
	t.listed = names
	return m
}

// kept is what the tracker keeps across a restart: what it last announced
// and when the next reminder is due.
type kept struct {
	Notified   status.Status `json:"notified"`
	Listed     []string      `json:"listed,omitempty"`
	ReminderAt time.Time     `json:"reminder_at,omitzero"`
	Backoff    int           `json:"backoff"`
}

func (t *tracker) marshal() []byte {
	b, _ := json.Marshal(kept{Notified: t.notified, Listed: t.listed, ReminderAt: t.reminderAt, Backoff: t.backoff})
	return b
}

// unmarshal takes back what marshal kept. A reminder that fell due while
// the server was down goes out at the first chance.
func (t *tracker) unmarshal(b []byte) error {
	var k kept
	if err := json.Unmarshal(b, &k); err != nil {
		return err
	}
	t.notified, t.listed, t.reminderAt, t.backoff = k.Notified, k.Listed, k.ReminderAt, max(k.Backoff, 1)
	if t.notified != status.Dead || t.interval <= 0 {
		t.reminderAt = time.Time{}
	}
	return nil
}
