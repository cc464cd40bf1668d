package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

var t0 = time.Date(2024, 5, 6, 8, 0, 0, 0, time.FixedZone("CEST", 2*3600))

// page is a registry with one service "web" and node "core" holding n
// poll replicas r0…r(n-1), and a push node "hosts".
type page struct {
	t   *testing.T
	reg *status.Registry
	tr  *tracker
}

func newPage(t *testing.T, n int, cfg func(*config.Config)) *page {
	t.Helper()
	reps := make([]string, n)
	for i := range reps {
		reps[i] = fmt.Sprintf("tcp://r%d.example.net:80", i)
	}
	reg := status.NewRegistry([]status.ServiceSpec{{ID: "web", Nodes: []status.NodeSpec{
		{ID: "core", Mode: status.ModePoll, Replicas: reps},
		{ID: "hosts", Mode: status.ModePush},
	}}}, t0)
	c := config.Default()
	c.Branding.PageTitle = "Acme Status"
	c.Branding.PageURL = "https://status.example.com/"
	if cfg != nil {
		cfg(&c)
	}
	p := &page{t: t, reg: reg, tr: newTracker(rulesFrom(&c, 2*time.Second, nil), nil)}
	p.tr.observe(reg.Snapshot(), t0)
	return p
}

// set gives replica i a status and shows the tracker the new snapshot at t0+at.
func (p *page) set(at time.Duration, st status.Status, replicas ...int) {
	for _, i := range replicas {
		p.reg.Set(status.Ref{Replica: i}, status.Result{Status: st, At: t0.Add(at)})
		p.tr.observe(p.reg.Snapshot(), t0.Add(at))
	}
}

// run calls due at every planned time up to t0+until and returns what was sent.
func (p *page) run(until time.Duration) []*Message {
	var out []*Message
	for {
		next := p.tr.next()
		if next.IsZero() || next.After(t0.Add(until)) {
			return out
		}
		if early := p.tr.due(next.Add(-time.Millisecond)); len(early) > 0 {
			p.t.Fatalf("due before its time (%v): %v", next.Sub(t0), describe(msgs(early)))
		}
		out = append(out, msgs(p.tr.due(next))...)
	}
}

// msgs drops the audiences.
func msgs(out []outgoing) []*Message {
	var ms []*Message
	for _, o := range out {
		ms = append(ms, o.msg)
	}
	return ms
}

// streaks counts the replicas with a dead streak kept.
func (p *page) streaks() int {
	n := 0
	for _, nd := range p.tr.nodes {
		n += len(nd.streaks)
	}
	return n
}

// describe writes messages as "2s changed dead [web:core:…]" lines.
func describe(ms []*Message) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%v %s %s %v", m.Time.Sub(t0), m.Kind, m.Status, m.Replicas)
		if m.More > 0 {
			fmt.Fprintf(&b, "+%d", m.More)
		}
		if len(m.Recovered) > 0 {
			fmt.Fprintf(&b, " recovered %v", m.Recovered)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func reminderTimes(ms []*Message) []time.Duration {
	var out []time.Duration
	for _, m := range ms {
		if m.Kind == Reminder {
			out = append(out, m.Time.Sub(t0))
		}
	}
	return out
}

func seconds(ss ...float64) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

func TestReminderTiming(t *testing.T) {
	// The page dies at 0 s; the change goes out when the 2 s window closes,
	// and reminders follow at interval × N^k, N = 1, 2, … up to the limit.
	tests := []struct {
		name     string
		function string
		limit    int
		interval config.Seconds
		want     []time.Duration
	}{
		{"none", "none", 3, 60, seconds(62, 122, 182, 242, 302)},
		{"linear", "linear", 3, 60, seconds(62, 182, 362, 542, 722)},
		{"square", "square", 3, 60, seconds(62, 302, 842, 1382, 1922)},
		{"cubic", "cubic", 3, 60, seconds(62, 542, 2162, 3782, 5402)},
		{"linear with limit 5", "linear", 5, 60, seconds(62, 182, 362, 602, 902, 1202)},
		{"limit 1 stops the growth at once", "cubic", 1, 60, seconds(62, 122, 182)},
		{"interval 0 sends no reminders", "linear", 3, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPage(t, 2, func(c *config.Config) {
				c.Notify.ReminderInterval = tc.interval
				c.Notify.ReminderBackoffFunction = tc.function
				c.Notify.ReminderBackoffLimit = tc.limit
			})
			p.set(0, status.Dead, 0)
			var until time.Duration
			if len(tc.want) > 0 {
				until = tc.want[len(tc.want)-1]
			} else {
				until = time.Hour
			}
			got := p.run(until)
			if len(got) == 0 || got[0].Kind != Changed || got[0].Time.Sub(t0) != 2*time.Second {
				t.Fatalf("first message should be the change at 2s, got:\n%s", describe(got))
			}
			if times := reminderTimes(got); fmt.Sprint(times) != fmt.Sprint(tc.want) {
				t.Errorf("reminders at %v, want %v", times, tc.want)
			}
			for _, m := range got[1:] {
				if m.Status != status.Dead || len(m.Replicas) != 1 {
					t.Errorf("reminder should say dead and name the replica: %s", describe([]*Message{m}))
				}
			}
		})
	}
}

func TestRemindersStopOnRecovery(t *testing.T) {
	p := newPage(t, 1, func(c *config.Config) { c.Notify.ReminderInterval = 60 })
	p.set(0, status.Dead, 0)
	got := p.run(130 * time.Second) // changed at 2, reminders at 62 and 122
	p.set(130*time.Second, status.Healthy, 0)
	got = append(got, p.run(10*time.Hour)...)
	want := "2s changed dead [web:core:tcp://r0.example.net:80]\n" +
		"1m2s reminder dead [web:core:tcp://r0.example.net:80]\n" +
		"2m2s reminder dead [web:core:tcp://r0.example.net:80]\n" +
		"2m12s changed healthy [] recovered [web:core:tcp://r0.example.net:80]\n"
	if describe(got) != want {
		t.Errorf("got:\n%swant:\n%s", describe(got), want)
	}

	// A new outage starts the backoff from the beginning.
	p.tr.rules.defaults.exponent = 1
	p.set(11*time.Hour, status.Dead, 0)
	again := reminderTimes(p.run(11*time.Hour + 200*time.Second))
	if fmt.Sprint(again) != fmt.Sprint(seconds(39662, 39782)) {
		t.Errorf("reminders of the second outage at %v, want 11h+62s and 11h+182s", again)
	}
}

func TestSilencedRemindersAreSkipped(t *testing.T) {
	p := newPage(t, 1, func(c *config.Config) { c.Notify.ReminderInterval = 60 })
	// Silenced from 100 s to 250 s: the reminders due at 122 s and 182 s
	// and 242 s are skipped, the pace goes on.
	p.tr.silenced = func(now time.Time) bool {
		at := now.Sub(t0)
		return at >= 100*time.Second && at < 250*time.Second
	}
	p.set(0, status.Dead, 0)
	got := reminderTimes(p.run(400 * time.Second))
	if want := seconds(62, 302, 362); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reminders at %v, want %v", got, want)
	}
}

// result is one probe result or report in a test: poll replica r<replica>
// of web:core, or, when host is set, a report of that push replica of
// web:hosts (dead: it fell silent).
type result struct {
	at      time.Duration
	st      status.Status
	replica int
	host    string
}

// play feeds the results to the tracker in order, each in its own snapshot,
// and returns every message sent up to an hour after the last.
func (p *page) play(results []result) []*Message {
	var got []*Message
	for _, r := range results {
		got = append(got, p.run(r.at)...)
		if r.host != "" {
			p.push(r.at, r.st, r.host)
		} else {
			p.set(r.at, r.st, r.replica)
		}
	}
	return append(got, p.run(time.Hour)...)
}

// push records a report (or the silence) of a push replica of web:hosts.
func (p *page) push(at time.Duration, st status.Status, host string) {
	p.reg.Upsert(0, 1, host, status.Result{Status: st, At: t0.Add(at)})
	p.tr.observe(p.reg.Snapshot(), t0.Add(at))
}

// healthyResults is n healthy results of poll replica i, one per 100 ms from at.
func healthyResults(at time.Duration, i, n int) []result {
	out := make([]result, n)
	for k := range out {
		out[k] = result{at: at + time.Duration(k)*100*time.Millisecond, st: status.Healthy, replica: i}
	}
	return out
}

func TestAlertAfter(t *testing.T) {
	const (
		r0 = "web:core:tcp://r0.example.net:80"
		r1 = "web:core:tcp://r1.example.net:80"
	)
	sec := time.Second
	tests := []struct {
		name       string
		alertAfter int
		notifySick bool
		results    []result
		want       string
	}{
		{"1: the first dead result counts", 1, false,
			[]result{{0, status.Dead, 0, ""}},
			"2s changed dead [" + r0 + "]\n"},
		{"2: dead once then healthy never alerts", 2, false,
			[]result{{0, status.Dead, 0, ""}, {10 * sec, status.Healthy, 0, ""}},
			""},
		{"2: dead twice in a row alerts", 2, false,
			[]result{{0, status.Dead, 0, ""}, {10 * sec, status.Dead, 0, ""}},
			"12s changed dead [" + r0 + "]\n"},
		{"2: two replicas each dead once do not alert", 2, false,
			[]result{{0, status.Dead, 0, ""}, {10 * sec, status.Dead, 1, ""}},
			""},
		{"2: results of other replicas are not observations", 2, false,
			append(append([]result{{0, status.Dead, 0, ""}},
				healthyResults(sec, 1, 50)...), healthyResults(6*sec, 2, 50)...),
			""},
		{"2: the message names only confirmed replicas", 2, false,
			[]result{{0, status.Dead, 0, ""}, {0, status.Dead, 1, ""}, {10 * sec, status.Dead, 0, ""}},
			"12s changed dead [" + r0 + "]\n"},
		{"2: a push replica falling silent alerts at once", 2, false,
			[]result{{0, status.Healthy, 0, "host-1"}, {10 * sec, status.Dead, 0, "host-1"}},
			"12s changed dead [web:hosts:host-1]\n"},
		{"3: the third dead in a row sends the change", 3, false,
			[]result{{0, status.Dead, 0, ""}, {10 * sec, status.Dead, 0, ""}, {20 * sec, status.Dead, 0, ""}},
			"22s changed dead [" + r0 + "]\n"},
		{"3: a sick result starts the count again", 3, false,
			[]result{{0, status.Dead, 0, ""}, {10 * sec, status.Dead, 0, ""}, {20 * sec, status.Sick, 0, ""},
				{30 * sec, status.Dead, 0, ""}, {40 * sec, status.Dead, 0, ""}},
			""},
		{"2: recovery after a sent dead", 2, false,
			[]result{{0, status.Dead, 0, ""}, {10 * sec, status.Dead, 0, ""}, {20 * sec, status.Healthy, 0, ""}},
			"12s changed dead [" + r0 + "]\n" +
				"22s changed healthy [] recovered [" + r0 + "]\n"},
		{"2: a confirmed replica keeps the page dead while another recovers", 2, false,
			[]result{{0, status.Dead, 0, ""}, {0, status.Dead, 1, ""}, {10 * sec, status.Dead, 0, ""},
				{10 * sec, status.Dead, 1, ""}, {20 * sec, status.Healthy, 1, ""}, {30 * sec, status.Healthy, 0, ""}},
			"12s changed dead [" + r0 + " " + r1 + "]\n" +
				"32s changed healthy [] recovered [" + r0 + " " + r1 + "]\n"},
		{"2 with notify_sick: an unconfirmed dead replica is announced as sick", 2, true,
			[]result{{0, status.Dead, 0, ""}, {10 * sec, status.Dead, 0, ""}, {20 * sec, status.Healthy, 0, ""}},
			"2s changed sick [" + r0 + "]\n" +
				"12s changed dead [" + r0 + "]\n" +
				"22s changed healthy [] recovered [" + r0 + "]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPage(t, 3, func(c *config.Config) {
				c.Notify.AlertAfter = tc.alertAfter
				c.Notify.NotifySick = tc.notifySick
			})
			if got := p.play(tc.results); describe(got) != tc.want {
				t.Errorf("got:\n%swant:\n%s", describe(got), tc.want)
			}
		})
	}
}

func TestAlertAfterCountsResultsInFoldedSnapshots(t *testing.T) {
	// Results that land between two snapshots the notifier reads are still
	// results: r0's second dead result confirms it though the tracker only
	// sees the snapshot after r1's result too.
	p := newPage(t, 2, func(c *config.Config) { c.Notify.AlertAfter = 2 })
	p.set(0, status.Dead, 0)
	p.reg.Set(status.Ref{Replica: 0}, status.Result{Status: status.Dead, At: t0.Add(time.Second)})
	p.reg.Set(status.Ref{Replica: 1}, status.Result{Status: status.Healthy, At: t0.Add(time.Second)})
	p.tr.observe(p.reg.Snapshot(), t0.Add(time.Second))
	want := "3s changed dead [web:core:tcp://r0.example.net:80]\n"
	if got := p.run(time.Hour); describe(got) != want {
		t.Errorf("got:\n%swant:\n%s", describe(got), want)
	}
}

func TestAlertAfterForgetsReplicas(t *testing.T) {
	// Streaks are kept only for replicas whose last result was dead, and
	// dropped when a push replica is flushed.
	p := newPage(t, 2, func(c *config.Config) { c.Notify.AlertAfter = 3 })
	p.set(0, status.Dead, 0, 1)
	p.push(0, status.Healthy, "host-1")
	p.push(0, status.Dead, "host-2")
	p.push(0, status.Dead, "host-3")
	if n := p.streaks(); n != 4 {
		t.Fatalf("%d streaks kept, want 4 (r0, r1, host-2, host-3)", n)
	}
	p.set(time.Second, status.Healthy, 1)
	p.reg.Remove(0, 1, "host-2", t0.Add(time.Second))
	p.tr.observe(p.reg.Snapshot(), t0.Add(time.Second))
	if n := p.streaks(); n != 2 {
		t.Errorf("%d streaks kept, want 2 (r0, host-3)", n)
	}
	// host-3 moved up a place when host-2 went; it is still confirmed dead.
	got := p.run(time.Hour)
	want := "2s changed dead [web:hosts:host-3]\n"
	if describe(got) != want {
		t.Errorf("got:\n%swant:\n%s", describe(got), want)
	}
}

func TestNotifySick(t *testing.T) {
	steps := []struct {
		at time.Duration
		st status.Status
	}{
		{0, status.Sick}, {10 * time.Second, status.Dead}, {20 * time.Second, status.Sick}, {30 * time.Second, status.Healthy},
	}
	tests := []struct {
		name string
		sick bool
		want string
	}{
		{"off: only moves to and from dead", false,
			"12s changed dead [web:core:tcp://r0.example.net:80]\n" +
				"22s changed sick [] recovered [web:core:tcp://r0.example.net:80]\n"},
		{"on: moves to and from sick too", true,
			"2s changed sick [web:core:tcp://r0.example.net:80]\n" +
				"12s changed dead [web:core:tcp://r0.example.net:80]\n" +
				"22s changed sick [web:core:tcp://r0.example.net:80]\n" +
				"32s changed healthy [] recovered [web:core:tcp://r0.example.net:80]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPage(t, 1, func(c *config.Config) { c.Notify.NotifySick = tc.sick })
			var got []*Message
			for _, s := range steps {
				got = append(got, p.run(s.at)...)
				p.set(s.at, s.st, 0)
			}
			got = append(got, p.run(time.Hour)...)
			if describe(got) != tc.want {
				t.Errorf("got:\n%swant:\n%s", describe(got), tc.want)
			}
		})
	}
}

func TestNotifySickListsDeadFirst(t *testing.T) {
	p := newPage(t, 3, func(c *config.Config) { c.Notify.NotifySick = true })
	p.set(0, status.Sick, 0)
	p.set(0, status.Dead, 2)
	got := p.run(time.Minute)
	want := "2s changed dead [web:core:tcp://r2.example.net:80 web:core:tcp://r0.example.net:80]\n"
	if describe(got) != want {
		t.Errorf("got:\n%swant:\n%s", describe(got), want)
	}
}

func TestCoalescing(t *testing.T) {
	tests := []struct {
		name string
		play func(p *page)
		want string
	}{
		{"changes within 2 s make one message", func(p *page) {
			p.set(0, status.Dead, 0)
			p.set(500*time.Millisecond, status.Dead, 1)
			p.set(1900*time.Millisecond, status.Dead, 2)
		}, "2s changed dead [web:core:tcp://r0.example.net:80 web:core:tcp://r1.example.net:80 web:core:tcp://r2.example.net:80]\n"},
		{"a flap inside the window sends nothing", func(p *page) {
			p.set(0, status.Dead, 0)
			p.set(time.Second, status.Healthy, 0)
		}, ""},
		{"a replica recovering inside the window is left out", func(p *page) {
			p.set(0, status.Dead, 0, 1)
			p.set(time.Second, status.Healthy, 0)
		}, "2s changed dead [web:core:tcp://r1.example.net:80]\n"},
		{"a further dead replica while dead is no new change", func(p *page) {
			p.set(0, status.Dead, 0)
			p.run(10 * time.Second)
			p.set(10*time.Second, status.Dead, 1)
			p.set(20*time.Second, status.Healthy, 0, 1)
		}, "22s changed healthy [] recovered [web:core:tcp://r0.example.net:80]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPage(t, 3, nil)
			tc.play(p)
			if got := p.run(time.Hour); describe(got) != tc.want {
				t.Errorf("got:\n%swant:\n%s", describe(got), tc.want)
			}
		})
	}
}

func TestRecoveredListsOnlyWhatWasNamed(t *testing.T) {
	// r1 was dead and listed; when the page recovers, only r1 is listed as
	// recovered, though r0 was never dead.
	p := newPage(t, 3, nil)
	p.set(0, status.Dead, 1)
	p.run(time.Minute)
	p.set(time.Minute, status.Healthy, 1, 0)
	got := p.run(time.Hour)
	want := "1m2s changed healthy [] recovered [web:core:tcp://r1.example.net:80]\n"
	if describe(got) != want {
		t.Errorf("got:\n%swant:\n%s", describe(got), want)
	}
}

func TestCapAt40Replicas(t *testing.T) {
	p := newPage(t, 45, nil)
	all := make([]int, 45)
	for i := range all {
		all[i] = i
	}
	p.set(0, status.Dead, all...)
	got := p.run(time.Minute)
	if len(got) != 1 {
		t.Fatalf("want one message, got:\n%s", describe(got))
	}
	m := got[0]
	if len(m.Replicas) != 40 || m.More != 5 || m.Replicas[39] != "web:core:tcp://r39.example.net:80" {
		t.Fatalf("listed %d (last %q) and %d more, want 40 and 5 more", len(m.Replicas), m.Replicas[len(m.Replicas)-1], m.More)
	}
	if !strings.Contains(m.Text(), "- and 5 more\n") {
		t.Errorf("text does not say how many more:\n%s", m.Text())
	}

	p.set(time.Minute, status.Healthy, all...)
	got = p.run(time.Hour)
	if len(got) != 1 || len(got[0].Recovered) != 40 || got[0].RecoveredMore != 5 {
		t.Fatalf("recovery should list 40 and 5 more:\n%s", describe(got))
	}
}

func TestFlushedPushReplicaCountsAsRecovered(t *testing.T) {
	p := newPage(t, 1, nil)
	p.reg.Upsert(0, 1, "host-1", status.Result{Status: status.Dead, At: t0})
	p.tr.observe(p.reg.Snapshot(), t0)
	p.run(time.Minute)
	p.reg.Remove(0, 1, "host-1", t0.Add(time.Minute))
	p.tr.observe(p.reg.Snapshot(), t0.Add(time.Minute))
	got := p.run(time.Hour)
	want := "1m2s changed healthy [] recovered [web:hosts:host-1]\n"
	if describe(got) != want {
		t.Errorf("got:\n%swant:\n%s", describe(got), want)
	}
}

func TestStartupMessage(t *testing.T) {
	p := newPage(t, 1, nil)
	m := p.tr.startup(t0)[0].msg
	if m.Kind != Startup || m.Status != status.Healthy || len(m.Replicas) != 0 ||
		m.PageTitle != "Acme Status" || m.PageURL != "https://status.example.com/" {
		t.Errorf("startup message = %+v", m)
	}
}

func TestMessagesMaskPasswords(t *testing.T) {
	reg := status.NewRegistry([]status.ServiceSpec{{ID: "api", Nodes: []status.NodeSpec{
		{ID: "v1", Mode: status.ModePoll, Replicas: []string{"https://probe:hunter2@api.example.com/health"}},
	}}}, t0)
	c := config.Default()
	tr := newTracker(rulesFrom(&c, 0, nil), nil)
	reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: t0})
	tr.observe(reg.Snapshot(), t0)
	got := msgs(tr.due(t0))
	if len(got) != 1 || got[0].Replicas[0] != "api:v1:https://probe:xxxxx@api.example.com/health" {
		t.Fatalf("got:\n%s", describe(got))
	}
	if strings.Contains(got[0].Text(), "hunter2") {
		t.Error("the password is in the message text")
	}
}
