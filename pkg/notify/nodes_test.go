package notify

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// site is a page of several services for the tests of per-node alerts:
// web (nodes api and www), db (node main) and cache (node redis), each
// node with two poll replicas a and b, alert rules as the test sets them.
type site struct {
	t   *testing.T
	reg *status.Registry
	cfg config.Config
	tr  *tracker

	sent []outgoing // every message run returned
}

func siteConfig() config.Config {
	c := config.Default()
	c.Branding.PageTitle = "Acme Status"
	poll := func(id string) config.Node {
		return config.Node{ID: id, Mode: "poll", Replicas: []string{"tcp://" + id + "-a:1", "tcp://" + id + "-b:1"}}
	}
	c.Probe.Services = []config.Service{
		{ID: "web", Label: "Web", Nodes: []config.Node{poll("api"), poll("www")}},
		{ID: "db", Label: "Database", Nodes: []config.Node{poll("main")}},
		{ID: "cache", Label: "Cache", Nodes: []config.Node{poll("redis")}},
	}
	return c
}

// newSite builds the page; edit changes the config first, channels are the
// channel names the dispatcher would have.
func newSite(t *testing.T, edit func(*config.Config), channels ...string) *site {
	t.Helper()
	c := siteConfig()
	if edit != nil {
		edit(&c)
	}
	var specs []status.ServiceSpec
	for _, svc := range c.Probe.Services {
		ss := status.ServiceSpec{ID: svc.ID, Label: svc.Label}
		for _, n := range svc.Nodes {
			ss.Nodes = append(ss.Nodes, status.NodeSpec{ID: n.ID, Label: n.Label, Mode: status.ModePoll, Replicas: n.Replicas})
		}
		specs = append(specs, ss)
	}
	s := &site{t: t, reg: status.NewRegistry(specs, t0), cfg: c}
	s.tr = newTracker(rulesFrom(&c, 2*time.Second, nil), channels)
	s.tr.observe(s.reg.Snapshot(), t0)
	return s
}

// set gives replicas ("web:api:a") a status and reason at t0+at.
func (s *site) set(at time.Duration, st status.Status, reason string, replicas ...string) {
	s.t.Helper()
	snap := s.reg.Snapshot()
	for _, name := range replicas {
		parts := strings.Split(name, ":")
		si, ni, ok := snap.FindNode(parts[0], parts[1])
		if !ok {
			s.t.Fatalf("no node %s", name)
		}
		ri := 0
		if parts[2] == "b" {
			ri = 1
		}
		s.reg.Set(status.Ref{Service: si, Node: ni, Replica: ri}, status.Result{Status: st, Err: reason, At: t0.Add(at)})
		s.tr.observe(s.reg.Snapshot(), t0.Add(at))
	}
}

// run calls due at every planned time up to t0+until.
func (s *site) run(until time.Duration) []outgoing {
	var out []outgoing
	for {
		next := s.tr.next()
		if next.IsZero() || next.After(t0.Add(until)) {
			s.sent = append(s.sent, out...)
			return out
		}
		out = append(out, s.tr.due(next)...)
	}
}

// lines writes messages as "2s changed dead: Acme Status: Web · API is down" lines,
// with the audience's channels when there are several audiences.
func (s *site) lines(out []outgoing) string {
	var b strings.Builder
	for _, o := range out {
		m := o.msg
		fmt.Fprintf(&b, "%v %s %s", m.Time.Sub(t0), m.Kind, m.Status)
		if len(s.tr.auds) > 1 || s.tr.auds[0].channels != nil {
			fmt.Fprintf(&b, " to %s", strings.Join(s.tr.auds[o.audience].channels, ","))
		}
		fmt.Fprintf(&b, ": %s\n", strings.TrimPrefix(m.Headline(), "Acme Status: "))
	}
	return b.String()
}

func TestEveryNodeChangeIsAnnounced(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name string
		play func(s *site)
		want string
	}{
		{"a second service dying while the page is dead is announced", func(s *site) {
			s.set(0, status.Dead, "refused", "web:api:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Dead, "timeout", "db:main:a")
		}, "1m2s changed dead: Database is down\n"},
		{"a second node of the same service too", func(s *site) {
			s.set(0, status.Dead, "refused", "web:api:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Dead, "refused", "web:www:b")
		}, "1m2s changed dead: Web · www is down\n"},
		{"another replica of a node already down is no news", func(s *site) {
			s.set(0, status.Dead, "refused", "web:api:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Dead, "refused", "web:api:b")
		}, ""},
		{"changes of several services within the window make one message", func(s *site) {
			s.set(0, status.Dead, "", "web:api:a")
			s.set(sec, status.Dead, "", "db:main:a")
			s.set(sec, status.Dead, "", "cache:redis:b")
		}, "2s changed dead: Web · API is down; 2 other services affected\n"},
		{"one service recovering while another stays down", func(s *site) {
			s.set(0, status.Dead, "", "web:api:a", "db:main:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Healthy, "", "db:main:a")
		}, "1m2s changed dead: Database recovered\n"},
		{"a death and a recovery in one window", func(s *site) {
			s.set(0, status.Dead, "", "db:main:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Healthy, "", "db:main:a")
			s.set(time.Minute, status.Dead, "", "cache:redis:a")
		}, "1m2s changed dead: Cache is down; Database recovered\n"},
		{"the last recovery", func(s *site) {
			s.set(0, status.Dead, "", "db:main:a", "cache:redis:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Healthy, "", "db:main:a", "cache:redis:a")
		}, "1m2s changed healthy: Database and 1 other service recovered\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, func(c *config.Config) { c.Probe.Services[0].Nodes[0].Label = "API" })
			tc.play(s)
			if got := s.lines(s.run(time.Hour)); got != tc.want {
				t.Errorf("got:\n%swant:\n%s", got, tc.want)
			}
		})
	}
}

func TestStartupIsNotRepeatedAsAChange(t *testing.T) {
	s := newSite(t, nil)
	s.set(0, status.Dead, "refused", "db:main:a")
	s.set(0, status.Healthy, "", "web:api:a", "web:api:b", "web:www:a", "web:www:b", "db:main:b",
		"cache:redis:a", "cache:redis:b")
	start := s.tr.startup(t0.Add(time.Second))
	if len(start) != 1 || start[0].msg.Kind != Startup || start[0].msg.Status != status.Dead ||
		!slices.Equal(start[0].msg.Replicas, []string{"db:main:tcp://main-a:1"}) {
		t.Fatalf("startup = %s", describe(msgs(start)))
	}
	// The second replica of the same node and more results of the first
	// are the same state: nothing more is said.
	s.set(1500*time.Millisecond, status.Dead, "refused", "db:main:a", "db:main:b")
	if got := s.run(time.Hour); len(got) != 0 {
		t.Errorf("after the start-up notice:\n%s", s.lines(got))
	}
}

func TestRecoveryListsWhatRecovered(t *testing.T) {
	s := newSite(t, nil)
	s.set(0, status.Dead, "HTTP 503", "web:api:a")
	s.set(0, status.Dead, "connection refused", "db:main:a")
	down := s.run(time.Minute)
	if len(down) != 1 {
		t.Fatalf("want one message, got:\n%s", s.lines(down))
	}
	want := []Change{
		{Replica: "web:api:tcp://api-a:1", Old: status.Healthy, New: status.Dead, Reason: "HTTP 503"},
		{Replica: "db:main:tcp://main-a:1", Old: status.Healthy, New: status.Dead, Reason: "connection refused"},
	}
	if got := down[0].msg.Changes; !slices.Equal(got, want) {
		t.Errorf("changes of the outage = %+v, want %+v", got, want)
	}
	s.set(time.Minute, status.Healthy, "", "db:main:a")
	up := s.run(time.Hour)
	if len(up) != 1 {
		t.Fatalf("want one message, got:\n%s", s.lines(up))
	}
	m := up[0].msg
	if !slices.Equal(m.Recovered, []string{"db:main:tcp://main-a:1"}) ||
		!slices.Equal(m.Replicas, []string{"web:api:tcp://api-a:1"}) {
		t.Errorf("recovered %v, still affected %v", m.Recovered, m.Replicas)
	}
	if want := []Change{{Replica: "db:main:tcp://main-a:1", Old: status.Dead, New: status.Healthy}}; !slices.Equal(m.Changes, want) {
		t.Errorf("changes of the recovery = %+v, want %+v", m.Changes, want)
	}
	text := m.Text()
	for _, line := range []string{
		"Acme Status: Database recovered\n",
		"What changed:\n- db:main:tcp://main-a:1: dead → healthy\n",
		"Affected replicas:\n- web:api:tcp://api-a:1\n",
		"Recovered:\n- db:main:tcp://main-a:1\n",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("text lacks %q:\n%s", line, text)
		}
	}
}

func TestRoutingSendsEachNodeToItsChannels(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		c.Probe.Services[1].Notify = []string{"slack", "email"} // db
		c.Probe.Services[2].Nodes[0].Notify = []string{"email"} // cache:redis
		c.Probe.Services[0].Nodes[1].Notify = []string{}        // web:www: the page only
	}, "slack", "email", "webhook")
	if len(s.tr.auds) != 3 {
		t.Fatalf("audiences: %+v", s.tr.auds)
	}
	s.set(0, status.Dead, "", "web:api:a")
	s.set(0, status.Dead, "", "db:main:a")
	s.set(0, status.Dead, "", "cache:redis:a")
	s.set(0, status.Dead, "", "web:www:a")
	got := s.lines(s.run(time.Minute))
	want := "2s changed dead to slack: Web · api is down; 1 other service affected\n" +
		"2s changed dead to email: Web · api is down; 2 other services affected\n" +
		"2s changed dead to webhook: Web · api is down\n"
	if got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}
	// Only db is heard by slack (besides the nodes without a list), only
	// what it hears is named.
	s.set(time.Minute, status.Healthy, "", "web:api:a")
	s.set(time.Minute, status.Healthy, "", "cache:redis:a")
	out := s.run(2 * time.Minute)
	got = s.lines(out)
	want = "1m2s changed dead to slack: Web · api recovered\n" +
		"1m2s changed dead to email: Web · api and 1 other service recovered\n" +
		"1m2s changed healthy to webhook: Web · api recovered\n"
	if got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}
	for _, o := range out {
		names := strings.Join(o.msg.Replicas, " ") + " " + strings.Join(o.msg.Recovered, " ")
		for _, never := range []string{"www"} {
			if strings.Contains(names, never) {
				t.Errorf("%v heard of %s: %s", s.tr.auds[o.audience].channels, never, names)
			}
		}
		if ch := s.tr.auds[o.audience].channels; slices.Equal(ch, []string{"slack"}) && strings.Contains(names, "redis") {
			t.Errorf("slack heard of cache:redis, routed to email only: %s", names)
		}
	}
}

func TestEscalationReachesOneMoreTargetEachReminder(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		c.Notify.ReminderInterval = 60
		c.Notify.ReminderEscalate = true
	})
	s.set(0, status.Dead, "", "db:main:a")
	var esc []int
	for _, o := range s.run(200 * time.Second) {
		esc = append(esc, o.msg.Escalation)
	}
	if want := []int{0, 1, 2, 3}; !slices.Equal(esc, want) {
		t.Errorf("escalation of the change and reminders = %v, want %v", esc, want)
	}
	m := &Message{Escalation: 2}
	if !m.Reaches(0) || !m.Reaches(1) || m.Reaches(2) {
		t.Error("the second reminder should reach targets 0 and 1 only")
	}
	if (&Message{}).Reaches(9) != true {
		t.Error("a message without escalation reaches every target")
	}

	// A new outage starts again from the first target.
	s.set(210*time.Second, status.Healthy, "", "db:main:a")
	s.run(250 * time.Second)
	s.set(300*time.Second, status.Dead, "", "db:main:a")
	esc = esc[:0]
	for _, o := range s.run(370 * time.Second) {
		esc = append(esc, o.msg.Escalation)
	}
	if want := []int{0, 1}; !slices.Equal(esc, want) {
		t.Errorf("after recovery and a new outage: %v, want %v", esc, want)
	}
}

func TestDependentNodeIsHeldWhileItsParentIsDown(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name string
		play func(s *site)
		want string
	}{
		{"the child dying with its parent is not announced", func(s *site) {
			s.set(0, status.Dead, "", "db:main:a")
			s.set(sec, status.Dead, "", "web:api:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Healthy, "", "db:main:a")
			s.set(time.Minute+10*sec, status.Healthy, "", "web:api:a", "web:api:b")
		}, "2s changed dead: Database is down\n" +
			"1m2s changed healthy: Database recovered\n"},
		{"the child dying after its parent is not announced", func(s *site) {
			s.set(0, status.Dead, "", "db:main:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Dead, "", "web:api:a")
		}, "2s changed dead: Database is down\n"},
		{"a child still dead once checked after its parent recovered is announced", func(s *site) {
			s.set(0, status.Dead, "", "db:main:a")
			s.set(0, status.Dead, "", "web:api:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Healthy, "", "db:main:a")
			s.run(time.Minute + 4*sec)
			s.set(time.Minute+5*sec, status.Dead, "", "web:api:a")
			s.set(time.Minute+6*sec, status.Healthy, "", "web:api:b")
		}, "2s changed dead: Database is down\n" +
			"1m2s changed healthy: Database recovered\n" +
			"1m8s changed dead: Web · api is down\n"},
		{"a child whose replicas are not checked again is announced after the grace", func(s *site) {
			s.set(0, status.Dead, "", "db:main:a")
			s.set(0, status.Dead, "", "web:api:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Healthy, "", "db:main:a")
		}, "2s changed dead: Database is down\n" +
			"1m2s changed healthy: Database recovered\n" +
			"1m32s changed dead: Web · api is down\n"},
		{"a child that died before its parent keeps its own alert", func(s *site) {
			s.set(0, status.Dead, "", "web:api:a")
			s.run(time.Minute)
			s.set(time.Minute, status.Dead, "", "db:main:a")
		}, "2s changed dead: Web · api is down\n" +
			"1m2s changed dead: Database is down\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, func(c *config.Config) {
				c.Metrics.PollInterval = 30
				c.Probe.Services[0].Nodes[0].DependsOn = []string{"db:main"}
			})
			tc.play(s)
			s.run(time.Hour)
			if got := s.lines(s.sent); got != tc.want {
				t.Errorf("got:\n%swant:\n%s", got, tc.want)
			}
		})
	}
}

func TestNodeRulesOverrideNotify(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		c.Notify.ReminderInterval = 600
		c.Notify.AlertAfter = 1
		api := &c.Probe.Services[0].Nodes[0].NodeAlerts
		api.AlertAfter = 3
		sixty := config.Seconds(60)
		api.ReminderInterval = &sixty
		api.ReminderBackoffFunction = "linear"
		api.ReminderBackoffLimit = 2
		off := config.Seconds(0)
		c.Probe.Services[1].Nodes[0].ReminderInterval = &off // db:main: no reminders
	})
	sec := time.Second
	var got []outgoing
	for i := range 3 {
		got = append(got, s.run(time.Duration(i)*10*sec)...)
		s.set(time.Duration(i)*10*sec, status.Dead, "", "web:api:a")
		s.set(time.Duration(i)*10*sec, status.Dead, "", "db:main:a")
		s.set(time.Duration(i)*10*sec, status.Dead, "", "cache:redis:a")
	}
	got = append(got, s.run(700*sec)...)
	// api: confirmed by its third dead result, then reminders 60 s and
	// 120 s apart (linear, limit 2); db: none; cache: [notify]'s 600 s.
	want := "2s changed dead: Database is down; 1 other service affected\n" +
		"22s changed dead: Web · api is down\n" +
		"1m22s reminder dead: reminder, Web · api is still down\n" +
		"3m22s reminder dead: reminder, Web · api is still down\n" +
		"5m22s reminder dead: reminder, Web · api is still down\n" +
		"7m22s reminder dead: reminder, Web · api is still down\n" +
		"9m22s reminder dead: reminder, Web · api is still down\n" +
		"10m2s reminder dead: reminder, Cache is still down\n" +
		"11m22s reminder dead: reminder, Web · api is still down\n"
	if s.lines(got) != want {
		t.Errorf("got:\n%swant:\n%s", s.lines(got), want)
	}
}

func TestMaintenanceHoldsANodeNotTheOthers(t *testing.T) {
	s := newSite(t, nil)
	s.tr.hold(map[store.Component]bool{{Service: "db"}: true})
	s.set(0, status.Dead, "", "db:main:a", "cache:redis:a")
	got := s.run(time.Minute)
	if want := "2s changed dead: Cache is down\n"; s.lines(got) != want {
		t.Fatalf("got:\n%swant:\n%s", s.lines(got), want)
	}
	if got[0].msg.Replicas[0] != "cache:redis:tcp://redis-a:1" || len(got[0].msg.Replicas) != 1 {
		t.Errorf("a node under maintenance is named: %v", got[0].msg.Replicas)
	}
	s.tr.hold(nil)
	s.tr.observe(s.reg.Snapshot(), t0.Add(time.Minute))
	if got := s.lines(s.run(time.Hour)); got != "1m2s changed dead: Database is down\n" {
		t.Errorf("after the window:\n%s", got)
	}
}

func TestKeptStateIsPerNode(t *testing.T) {
	c := func(c *config.Config) { c.Notify.ReminderInterval = 60 }
	s := newSite(t, c)
	s.set(0, status.Dead, "", "db:main:a")
	s.run(70 * time.Second) // changed at 2 s, reminder at 62 s
	kept := s.tr.marshal()

	again := newSite(t, c)
	if err := again.tr.unmarshal(kept); err != nil {
		t.Fatal(err)
	}
	again.set(80*time.Second, status.Dead, "", "db:main:a")
	again.set(80*time.Second, status.Dead, "", "cache:redis:a")
	got := again.lines(again.run(200 * time.Second))
	want := "1m22s changed dead: Cache is down\n" +
		"2m2s reminder dead: reminder, Database is still down\n" +
		"2m22s reminder dead: reminder, Cache is still down\n" +
		"3m2s reminder dead: reminder, Database is still down\n"
	if got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}
}
