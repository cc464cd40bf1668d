package history

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/history/historytest"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

var (
	day0    = historytest.Day0
	viewNow = historytest.Now
	dayAt   = historytest.At
	tree    = historytest.Tree
)

func syntheticHistory(t *testing.T, st store.Store) { historytest.Write(t, st) }

func buildView(t *testing.T) *View {
	t.Helper()
	st := memory.New()
	syntheticHistory(t, st)
	ru := NewRollups(st, config.Default().Storage, tree, nil)
	ru.SetClock(func() time.Time { return viewNow }, time.UTC)
	if err := ru.Catch(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := NewReader(st, ru, tree, nil).Build(context.Background(), viewNow)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestViewOfNinetyDays(t *testing.T) {
	v := buildView(t)
	if len(v.Days) != BarDays || !v.Days[0].Equal(day0) || !v.Days[89].Equal(dayAt(89, 0)) {
		t.Fatalf("days %v … %v, want day 0 … day 89", v.Days[0], v.Days[len(v.Days)-1])
	}
	api := v.Nodes[store.Component{Service: "web", Node: "api"}]
	day := 24 * time.Hour
	cells := []struct {
		day                         int
		healthy, sick, dead, noData time.Duration
		worst                       string // "" = no data
	}{
		{0, day, 0, 0, 0, "healthy"},
		{59, day, 0, 0, 0, "healthy"},
		{60, 0, 0, 0, day, ""}, // the server was down
		{61, 0, 0, 0, day, ""},
		{62, day, 0, 0, 0, "healthy"},
		{80, 18 * time.Hour, 0, 6 * time.Hour, 0, "dead"},
		{85, 23 * time.Hour, time.Hour, 0, 0, "sick"},
		{89, 12 * time.Hour, 0, 0, 0, "healthy"}, // today, so far
	}
	for _, c := range cells {
		d := api.Days[c.day]
		if d.Healthy != c.healthy || d.Sick != c.sick || d.Dead != c.dead || d.NoData != c.noData {
			t.Errorf("day %d: healthy %v sick %v dead %v no data %v; want %v %v %v %v",
				c.day, d.Healthy, d.Sick, d.Dead, d.NoData, c.healthy, c.sick, c.dead, c.noData)
		}
		worst, ok := d.Worst()
		if got := map[bool]string{true: worst.String(), false: ""}[ok]; got != c.worst {
			t.Errorf("day %d: worst %q, want %q", c.day, got, c.worst)
		}
	}
	if got := api.Days[80].Ratio().Percent(); got != 75 {
		t.Errorf("day 80 uptime %v%%, want 75%%", got)
	}

	// 90 days: 87.5 days of data (two days down, today half), 6 hours dead.
	quarterData := 87*day + 12*time.Hour
	wantQuarter := 100 * float64(quarterData-6*time.Hour) / float64(quarterData)
	// 30 days (days 60…89): days 60, 61 without data; 27.5 days of data, 6 hours dead.
	monthData := 27*day + 12*time.Hour
	wantMonth := 100 * float64(monthData-6*time.Hour) / float64(monthData)
	for name, c := range map[string]struct {
		got  Ratio
		want float64
	}{
		"24 h": {api.Uptime.Day, 100}, "7 d": {api.Uptime.Week, 100},
		"30 d": {api.Uptime.Month, wantMonth}, "90 d": {api.Uptime.Quarter, wantQuarter},
	} {
		if math.Abs(c.got.Percent()-c.want) > 1e-9 {
			t.Errorf("api uptime over %s = %v%%, want %v%%", name, c.got.Percent(), c.want)
		}
	}
	if got := api.Uptime.Quarter.Data; got != quarterData {
		t.Errorf("api has %v of data over 90 days, want %v", got, quarterData)
	}

	fresh := v.Nodes[store.Component{Service: "web", Node: "new"}]
	if _, ok := fresh.Days[69].Worst(); ok {
		t.Error("web:new has data on day 69, before it existed")
	}
	if worst, ok := fresh.Days[70].Worst(); !ok || worst != status.Healthy {
		t.Errorf("web:new on day 70: %v %v, want healthy", worst, ok)
	}
	if got := fresh.Uptime.Quarter.Percent(); got != 100 {
		t.Errorf("web:new 90-day uptime %v%%, want 100%% (no data is not downtime)", got)
	}
	if got := v.Services["web"].Quarter.Percent(); math.Abs(got-wantQuarter) > 1e-9 {
		t.Errorf("service web over 90 days %v%%, want %v%% (as api)", got, wantQuarter)
	}

	if len(api.Latency) != 24 {
		t.Fatalf("%d latency points, want 24", len(api.Latency))
	}
	for _, p := range api.Latency {
		if p.Start.Before(dayAt(89, 0)) {
			continue // yesterday's evening: summed up
		}
		if p.Start.Before(viewNow) && (p.Count != 6 || p.Mean != 20*time.Millisecond) {
			t.Errorf("latency at %v: %d results, mean %v; want 6 of 20ms", p.Start, p.Count, p.Mean)
		}
	}

	if len(v.Outages) != 1 {
		t.Fatalf("outages %v, want the one on day 80", v.Outages)
	}
	o := v.Outages[0]
	if o.Of.Node != "api" || !o.From.Equal(dayAt(80, 6)) || !o.To.Equal(dayAt(80, 12)) || o.Reason != "GET https://api.example.com/: status 503" {
		t.Errorf("outage %+v", o)
	}
}

// The live part (after the last summed-up hour) agrees with the rollups.
func TestViewWithoutRollups(t *testing.T) {
	st := memory.New()
	syntheticHistory(t, st)
	ru := NewRollups(st, config.Default().Storage, tree, nil)
	ru.SetClock(func() time.Time { return viewNow }, time.UTC)
	v, err := NewReader(st, ru, tree, nil).Build(context.Background(), viewNow)
	if err != nil {
		t.Fatal(err)
	}
	rolled := buildView(t)
	k := store.Component{Service: "web", Node: "api"}
	for i := range v.Days {
		if v.Nodes[k].Days[i] != rolled.Nodes[k].Days[i] {
			t.Errorf("day %d: live %+v, rolled up %+v", i, v.Nodes[k].Days[i], rolled.Nodes[k].Days[i])
		}
	}
	if v.Nodes[k].Uptime != rolled.Nodes[k].Uptime {
		t.Errorf("uptime live %+v, rolled up %+v", v.Nodes[k].Uptime, rolled.Nodes[k].Uptime)
	}
}
