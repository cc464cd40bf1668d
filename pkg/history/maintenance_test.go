package history

import (
	"context"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// windowList is a fixed Maintenance.
type windowList []store.Window

func (l windowList) Windows(from, to time.Time) []store.Window {
	var out []store.Window
	for _, w := range l {
		if w.Start.Before(to) && w.End.After(from) {
			out = append(out, w)
		}
	}
	return out
}

var (
	apiNode = store.Component{Service: "web", Node: "api"}
	newNode = store.Component{Service: "web", Node: "new"}
	webSvc  = store.Component{Service: "web"}
)

// historyWindows cover part of historytest's outage of web:api (day 80,
// 06:00 to 12:00) for that node only, and half of its slow hour (day 85,
// 00:00 to 01:00) for the whole service.
var historyWindows = windowList{
	{ID: "a", Title: "API upgrade", Affected: []store.Component{apiNode}, Start: dayAt(80, 6), End: dayAt(80, 9)},
	{ID: "b", Title: "Network", Affected: []store.Component{webSvc}, Start: dayAt(85, 0), End: dayAt(85, 0.5)},
}

// TestMaintenanceInHistory: time inside a window counts as maintenance,
// not as up or down, whether the days are summed up or read live.
func TestMaintenanceInHistory(t *testing.T) {
	for _, rolled := range []bool{true, false} {
		st := memory.New()
		syntheticHistory(t, st)
		ru := NewRollups(st, config.Default().Storage, tree, nil)
		ru.SetClock(func() time.Time { return viewNow }, time.UTC)
		ru.SetMaintenance(historyWindows)
		if rolled {
			if err := ru.Catch(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		v, err := NewReader(st, ru, tree, nil).Build(context.Background(), viewNow)
		if err != nil {
			t.Fatal(err)
		}
		h := time.Hour
		for _, c := range []struct {
			of                         store.Component
			day                        int
			healthy, sick, dead, maint time.Duration
			uptime                     float64
		}{
			// The node: three of its six hours down are maintenance.
			{apiNode, 80, 18 * h, 0, 3 * h, 3 * h, 100 * 18.0 / 21},
			// The service: while only api is under maintenance, it is as
			// good as new, its other node.
			{webSvc, 80, 21 * h, 0, 3 * h, 0, 100 * 21.0 / 24},
			{newNode, 80, 24 * h, 0, 0, 0, 100},
			// A window for the whole service covers every node.
			{apiNode, 85, 23 * h, h / 2, 0, h / 2, 100},
			{newNode, 85, 23*h + h/2, 0, 0, h / 2, 100},
			{webSvc, 85, 23 * h, h / 2, 0, h / 2, 100},
		} {
			var d Day
			if c.of.Node == "" {
				d = serviceDay(t, st, ru, v, c.of, c.day, rolled)
			} else {
				d = v.Nodes[c.of].Days[c.day]
			}
			if d.Healthy != c.healthy || d.Sick != c.sick || d.Dead != c.dead || d.Maintenance != c.maint || d.NoData != 0 {
				t.Errorf("rolled up %v: %v day %d: %+v; want healthy %v sick %v dead %v maintenance %v",
					rolled, c.of, c.day, d, c.healthy, c.sick, c.dead, c.maint)
			}
			if got := d.Ratio().Percent(); got-c.uptime > 1e-9 || c.uptime-got > 1e-9 {
				t.Errorf("rolled up %v: %v day %d: uptime %v%%, want %v%%", rolled, c.of, c.day, got, c.uptime)
			}
		}
		// The node's 90 days lose the maintenance from their data.
		api := v.Nodes[apiNode]
		data := 87*24*h + 12*h - 3*h - h/2
		if api.Uptime.Quarter.Data != data || api.Uptime.Quarter.Up != data-3*h {
			t.Errorf("rolled up %v: api over 90 days %+v, want %v of data, 3 h of it down", rolled, api.Uptime.Quarter, data)
		}
	}
}

// serviceDay reads a service's day: the daily rollup when summed up (the
// view keeps only the service's uptime), else the live part.
func serviceDay(t *testing.T, st store.Store, ru *Rollups, v *View, c store.Component, day int, rolled bool) Day {
	t.Helper()
	if !rolled {
		d := Day{Start: dayAt(day, 0)}
		events, err := ru.changes(context.Background(), c, dayAt(day, 0), dayAt(day+1, 0))
		if err != nil {
			t.Fatal(err)
		}
		runs, _ := st.Runs(context.Background(), dayAt(day, 0), dayAt(day+1, 0))
		var nodes []nodeTime
		for _, n := range []store.Component{apiNode, newNode} {
			ev, _ := ru.changes(context.Background(), n, dayAt(day, 0), dayAt(day+1, 0))
			nodes = append(nodes, nodeTime{events: ev, cover: covered(historyWindows, n, dayAt(day, 0), dayAt(day+1, 0))})
		}
		sp := serviceSpan(events, nodes, serviceCover(historyWindows, c.Service, dayAt(day, 0), dayAt(day+1, 0)), runs, dayAt(day, 0), dayAt(day+1, 0))
		d.Healthy, d.Sick, d.Dead, d.NoData, d.Maintenance = sp.healthy, sp.sick, sp.dead, sp.noData, sp.maint
		return d
	}
	rs, err := st.Rollups(context.Background(), store.Daily, dayAt(day, 0), dayAt(day, 1), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Of == c {
			return Day{Start: r.Start, Healthy: r.Healthy, Sick: r.Sick, Dead: r.Dead, NoData: r.NoData, Maintenance: r.Maintenance}
		}
	}
	t.Fatalf("no daily rollup of %v on day %d", c, day)
	return Day{}
}

// TestServiceSpan: how a service's time is told while windows cover some
// or all of its nodes.
func TestServiceSpan(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	runs := []store.Run{{Started: at(-60), Alive: at(120)}}
	ev := func(pairs ...any) []event {
		var out []event
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, event{at(pairs[i].(int)), pairs[i+1].(status.Status)})
		}
		return out
	}
	cover := func(from, to int) []interval { return []interval{{at(from), at(to)}} }
	m := time.Minute
	for _, c := range []struct {
		name     string
		own      []event
		nodes    []nodeTime
		svcCover []interval
		want     span
	}{
		{"no windows: its own changes",
			ev(-1, status.Healthy, 20, status.Dead), []nodeTime{{events: ev(-1, status.Healthy, 20, status.Dead)}}, nil,
			span{healthy: 20 * m, dead: 40 * m}},
		{"a window for the service",
			ev(-1, status.Healthy, 20, status.Dead), []nodeTime{{events: ev(-1, status.Healthy, 20, status.Dead), cover: cover(10, 30)}}, cover(10, 30),
			span{healthy: 10 * m, maint: 20 * m, dead: 30 * m}},
		{"the dead node covered, the other healthy",
			ev(-1, status.Healthy, 20, status.Dead),
			[]nodeTime{{events: ev(-1, status.Healthy, 20, status.Dead), cover: cover(10, 40)}, {events: ev(-1, status.Healthy)}}, nil,
			span{healthy: 40 * m, dead: 20 * m}},
		{"the other node sick meanwhile",
			ev(-1, status.Healthy, 20, status.Dead),
			[]nodeTime{{events: ev(-1, status.Healthy, 20, status.Dead), cover: cover(0, 60)}, {events: ev(-1, status.Healthy, 30, status.Sick)}}, nil,
			span{healthy: 30 * m, sick: 30 * m}},
		{"every node covered",
			ev(-1, status.Dead),
			[]nodeTime{{events: ev(-1, status.Dead), cover: cover(0, 30)}, {events: ev(-1, status.Healthy), cover: cover(0, 30)}}, nil,
			span{maint: 30 * m, dead: 30 * m}},
		{"the other node without data yet",
			ev(-1, status.Dead),
			[]nodeTime{{events: ev(-1, status.Dead), cover: cover(0, 60)}, {events: ev(45, status.Healthy)}}, nil,
			span{maint: 45 * m, healthy: 15 * m}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := serviceSpan(c.own, c.nodes, c.svcCover, runs, at(0), at(60)); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
