package page

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/history/historytest"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// historyView builds the view of historytest's 90 days, as the server
// does: the store, rolled up, read back.
func historyView(t testing.TB) *history.View {
	t.Helper()
	st := memory.New()
	historytest.Write(t, st)
	ru := history.NewRollups(st, config.Default().Storage, historytest.Tree, nil)
	ru.SetClock(func() time.Time { return historytest.Now }, time.UTC)
	if err := ru.Catch(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := history.NewReader(st, ru, historytest.Tree, nil).Build(context.Background(), historytest.Now)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// historySnapshot is historytest's tree in a registry, checked at Now; api
// reveals its replica names (and so its outages' reasons), new does not.
func historySnapshot() *status.Snapshot {
	reg := status.NewRegistry([]status.ServiceSpec{{ID: "web", Label: "Web", Nodes: []status.NodeSpec{
		{ID: "api", Label: "API", Replicas: []string{"https://api.example.com/"}, RevealReplicaName: true},
		{ID: "new", Label: "New", Replicas: []string{"https://new.example.com/"}},
	}}}, historytest.At(62, 0))
	for n := range 2 {
		reg.Set(status.Ref{Node: n}, status.Result{Status: status.Healthy, Latency: 20 * time.Millisecond, At: historytest.Now})
	}
	return reg.Snapshot()
}

// nodeRow returns the <li> of the node labelled label.
func nodeRow(t *testing.T, html, label string) string {
	t.Helper()
	i := strings.Index(html, `<span class="label">`+label)
	if i < 0 {
		t.Fatalf("no node %s on the page", label)
	}
	j := strings.Index(html[i:], "</li>")
	return html[i : i+j]
}

// TestPageHistory renders historytest's 90 days: the bar's cells (the two
// days the server was down in grey, merged, the outage day in red with its
// tooltip, the slow hour in amber; healthy days are the bar's background),
// the uptime figures and the sparkline.
func TestPageHistory(t *testing.T) {
	r := newRenderer(t, branding())
	r.loc = time.UTC
	html, err := renderBytes(r, View{Snapshot: historySnapshot(), Now: historytest.Now, History: historyView(t)})
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	api := nodeRow(t, page, "API")
	cells := regexp.MustCompile(`<i class="([^"]*)" title="([^"]*)"></i>`).FindAllStringSubmatch(api, -1)
	type c struct{ class, title string }
	want := []c{
		// Days 0…59, 62…79, 81…84 and 86…89 were healthy: the bar's own
		// background, no cell. Days 60 and 61 (from its first day) the
		// server was down: no data.
		{"n p60 w2", "3 Nov – 4 Nov · No data"},
		// Day 80: dead 06:00–12:00, with the reason (api reveals names).
		{"d p80", "Mon 23 Nov · 75% up · down 6 h · GET https://api.example.com/: status 503"},
		// Day 85: sick for an hour.
		{"s p85", "Sat 28 Nov · 100% up · degraded 1 h"},
	}
	var got []c
	for _, m := range cells {
		got = append(got, c{m[1], m[2]})
	}
	if len(got) != len(want) {
		t.Fatalf("api's bar has %d cells, want %d:\n%q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cell %d = %q, want %q", i, got[i], want[i])
		}
	}
	// 90 days: 87.5 days of data, 6 hours down; 30 days: 27.5 days, 6 hours.
	// The sparkline is flat, and stops before this hour, which has just begun.
	mustHave(t, api, "<b>90 d 99.71%</b>", "<small>24 h 100% · 7 d 100% · 30 d 99.09%</small>",
		`<svg><title>mean response 20 ms</title><path d="M0 5h88"/></svg>`)

	fresh := nodeRow(t, page, "New")
	mustHave(t, fresh,
		// Before day 70 web:new did not exist: no data, not downtime.
		`<div class="bar"><i class="n w70" title="4 Sep – 12 Nov · No data"></i></div>`,
		"<b>90 d 100%</b>", "mean response 40 ms")
	mustHave(t, page, `<p class="uptime">Uptime 24 h 100% · 7 d 100% · 30 d 99.09% · 90 d 99.71%</p>`)
}

// TestPageHistoryHidesReasons: a node that hides its replicas' names does
// not show why it was down either: the reason names them.
func TestPageHistoryHidesReasons(t *testing.T) {
	snap := historySnapshot()
	snap.Services[0].Nodes.At(0).RevealReplicaName = false
	r := newRenderer(t, branding())
	r.loc = time.UTC
	html, err := renderBytes(r, View{Snapshot: snap, Now: historytest.Now, History: historyView(t)})
	if err != nil {
		t.Fatal(err)
	}
	mustHave(t, string(html), `<i class="d p80" title="Mon 23 Nov · 75% up · down 6 h"></i>`)
	if strings.Contains(string(html), "status 503") {
		t.Error("the page shows the reason of a node that hides replica names")
	}
}

func TestUptime(t *testing.T) {
	for _, tc := range []struct {
		up, data time.Duration
		want     string
	}{
		{0, 0, "—"},
		{time.Hour, time.Hour, "100%"},
		{9999 * time.Second, 10000 * time.Second, "99.99%"},
		{99999 * time.Second, 100000 * time.Second, "99.99%"}, // never rounds up to 100%
		{9995 * time.Second, 10000 * time.Second, "99.95%"},
		{18 * time.Hour, 24 * time.Hour, "75%"},
		{0, time.Hour, "0%"},
	} {
		if got := Uptime(history.Ratio{Up: tc.up, Data: tc.data}); got != tc.want {
			t.Errorf("Uptime(%v of %v) = %q, want %q", tc.up, tc.data, got, tc.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	ms := func(n int) history.LatencyPoint {
		return history.LatencyPoint{Mean: time.Duration(n) * time.Millisecond, Count: 1}
	}
	gap := history.LatencyPoint{}
	for _, tc := range []struct {
		name   string
		points []history.LatencyPoint
		path   string
	}{
		{"flat", []history.LatencyPoint{ms(20), ms(20), ms(20)}, "M0 5h8"},
		{"up and down", []history.LatencyPoint{ms(10), ms(20), ms(10)}, "M0 12l4-7 4 7"},
		{"gap", []history.LatencyPoint{ms(20), gap, ms(20), ms(20)}, "M0 5h0M8 5h4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spark(tc.points)
			if s == nil || s.Path != tc.path {
				t.Errorf("path %+v, want %q", s, tc.path)
			}
		})
	}
	if spark([]history.LatencyPoint{gap, gap}) != nil {
		t.Error("a sparkline without data")
	}
}

func mustHave(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("lacks %q", w)
		}
	}
}

// busy says how much happened in a made-up history.
type busy struct {
	serverDown  int // days the server was down (from day 60)
	outageEvery int // every nth node had a day with an outage
	slowEvery   int // every nth node had a slow day
}

// syntheticHistory makes up 90 days for every node of snap, as busy as b
// says, with response times that wander hour by hour and now and then jump.
func syntheticHistory(snap *status.Snapshot, now time.Time, b busy) *history.View {
	// Built after the snapshot's results, as a view a minute old is: the
	// statuses now are not news to it.
	if snap.Updated.After(now) {
		now = snap.Updated
	}
	day := 24 * time.Hour
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	v := &history.View{At: now, Version: 1, Nodes: map[store.Component]*history.NodeHistory{}, Services: map[string]history.Uptime{}}
	for i := range history.BarDays {
		v.Days = append(v.Days, today.AddDate(0, 0, i-history.BarDays+1))
	}
	k := 0
	for _, svc := range snap.Services {
		var su history.Uptime
		for _, n := range svc.Nodes.All() {
			nh := &history.NodeHistory{}
			for i, start := range v.Days {
				d := history.Day{Start: start, Healthy: day}
				switch {
				case i >= 60 && i < 60+b.serverDown:
					d = history.Day{Start: start, NoData: day}
				case k%b.outageEvery == 0 && i == 40+k%40:
					d.Healthy, d.Dead = 22*time.Hour, 2*time.Hour
					v.Outages = append(v.Outages, history.Outage{Of: store.Component{Service: svc.ID, Node: n.ID},
						From: start.Add(3 * time.Hour), To: start.Add(5 * time.Hour), Reason: "GET https://" + n.ID + "." + svc.ID + ".example.com/health: status 503"})
				case k%b.slowEvery == 1%b.slowEvery && i == 70+k%20:
					d.Healthy, d.Sick = 23*time.Hour, time.Hour
				case i == history.BarDays-1:
					d.Healthy = now.Sub(start)
				}
				nh.Days = append(nh.Days, d)
				nh.Uptime.Quarter.Up += d.Healthy + d.Sick
				nh.Uptime.Quarter.Data += d.Healthy + d.Sick + d.Dead
				if i >= history.BarDays-30 {
					nh.Uptime.Month.Up += d.Healthy + d.Sick
					nh.Uptime.Month.Data += d.Healthy + d.Sick + d.Dead
				}
			}
			nh.Uptime.Day = history.Ratio{Up: day, Data: day}
			nh.Uptime.Week = history.Ratio{Up: 7*day - time.Duration(k%5)*time.Minute, Data: 7 * day}
			for h := range 24 {
				// 80 ms give or take a few, and a slow hour on every
				// seventh node.
				ms := 76 + (h*7+k*13)%9
				if k%7 == 0 && h == 15 {
					ms = 240
				}
				nh.Latency = append(nh.Latency, history.LatencyPoint{Start: now.Add(time.Duration(h-23) * time.Hour),
					Mean: time.Duration(ms) * time.Millisecond, Count: 6})
			}
			v.Nodes[store.Component{Service: svc.ID, Node: n.ID}] = nh
			su.Quarter.Up += nh.Uptime.Quarter.Up
			su.Quarter.Data += nh.Uptime.Quarter.Data
			su.Month, su.Week, su.Day = nh.Uptime.Month, nh.Uptime.Week, nh.Uptime.Day
			k++
		}
		v.Services[svc.ID] = su
	}
	return v
}

// TestCells: what gets a cell of its own, and what a run is.
func TestCells(t *testing.T) {
	d0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	h := time.Hour
	days := []history.Day{
		{Healthy: 24 * h},
		{Healthy: 21 * h, NoData: 3 * h}, // a restart that took a while
		{NoData: 24 * h},
		{NoData: 24 * h},
		{Healthy: 24 * h},
		{Healthy: 20 * h, Dead: 4 * h}, // an outage still going on
	}
	for i := range days {
		days[i].Start = d0.AddDate(0, 0, i)
	}
	outages := []history.Outage{{From: d0.AddDate(0, 0, 5).Add(20 * h), Reason: "dial tcp: connection refused"}}
	got := cells(days, outages, d0.AddDate(0, 0, 6))
	want := []cell{
		{"h p1", "Mon 2 Nov · 100% up · no data 3 h"},
		{"n p2 w2", "3 Nov – 4 Nov · No data"},
		{"d p5", "Fri 6 Nov · 83.33% up · down 4 h · dial tcp: connection refused"},
	}
	if len(got) != len(want) {
		t.Fatalf("cells %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cell %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestPast: /history's words for an outage still going on, and one of a
// node that hides replica names (no reason); nodes no longer configured
// are left out.
func TestPast(t *testing.T) {
	snap := historySnapshot()
	now := historytest.Now
	v := &history.View{At: now, Outages: []history.Outage{
		{Of: store.Component{Service: "web", Node: "api"}, From: now.Add(-38 * time.Minute), Reason: "GET https://api.example.com/: status 502"},
		{Of: store.Component{Service: "web", Node: "new"}, From: historytest.At(88, 23), To: historytest.At(89, 1), Reason: "GET https://new.example.com/: timeout"},
		{Of: store.Component{Service: "web", Node: "gone"}, From: historytest.At(87, 1), To: historytest.At(87, 2)},
	}}
	r := newRenderer(t, branding())
	r.loc = time.UTC
	var buf bytes.Buffer
	if err := r.RenderPast(&buf, Past{Snapshot: snap, History: v, Now: now}); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	mustHave(t, s,
		`<strong>Web · API</strong> <time datetime="2026-12-02T11:22:00Z">down since Wed 2 Dec 11:22 (38 min so far)</time> — <span class="why">GET https://api.example.com/: status 502</span>`,
		`<strong>Web · New</strong> <time datetime="2026-12-01T23:00:00Z">down from Tue 1 Dec 23:00 to Wed 2 Dec 01:00 (2 h)</time></p>`,
		"<summary>December 2026</summary>")
	for _, bad := range []string{"timeout", "gone", "November"} {
		if strings.Contains(s, bad) {
			t.Errorf("/history shows %q", bad)
		}
	}
}

// TestTodayShowsNow: a node that turns sick or dead after the history
// view was built turns today's day at once; what the view already saw, a
// status from before it was built, a restored one and a new day are left
// to the view.
func TestTodayShowsNow(t *testing.T) {
	start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	built := start.Add(10 * time.Hour)
	now := built.Add(30 * time.Second)
	healthyDay := history.Day{Start: start, Healthy: 10 * time.Hour}
	tests := []struct {
		name    string
		today   history.Day
		st      status.Status
		changed time.Time
		fresh   bool
		now     time.Time
		want    history.Day
	}{
		{"dead since the view", healthyDay, status.Dead, built.Add(10 * time.Second), true, now,
			history.Day{Start: start, Healthy: 10 * time.Hour, Dead: 20 * time.Second}},
		{"sick since the view", healthyDay, status.Sick, built.Add(10 * time.Second), true, now,
			history.Day{Start: start, Healthy: 10 * time.Hour, Sick: 20 * time.Second}},
		{"dead the very moment", healthyDay, status.Dead, now, true, now,
			history.Day{Start: start, Healthy: 10 * time.Hour, Dead: time.Second}},
		{"healthy", healthyDay, status.Healthy, built.Add(10 * time.Second), true, now, healthyDay},
		{"dead before the view: the view has it", healthyDay, status.Dead, built.Add(-time.Minute), true, now, healthyDay},
		{"today was worse already", history.Day{Start: start, Healthy: 9 * time.Hour, Dead: time.Hour}, status.Sick,
			built.Add(10 * time.Second), true, now, history.Day{Start: start, Healthy: 9 * time.Hour, Dead: time.Hour}},
		{"restored, not checked since the start", healthyDay, status.Dead, built.Add(10 * time.Second), false, now, healthyDay},
		{"the view is of yesterday", healthyDay, status.Dead, built.Add(10 * time.Second), true, start.AddDate(0, 0, 1), healthyDay},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			days := []history.Day{{Start: start.AddDate(0, 0, -1), Healthy: 24 * time.Hour}, tc.today}
			n := &status.Node{ID: "api", Status: tc.st, Changed: tc.changed, Fresh: tc.fresh}
			got := withNow(days, n, built, tc.now)
			if got[1] != tc.want || got[0] != days[0] {
				t.Errorf("today %+v, want %+v", got[1], tc.want)
			}
			if days[1] != tc.today {
				t.Error("the view's own days changed")
			}
		})
	}
}
