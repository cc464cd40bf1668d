package notice

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// known is a Components of web (api, cdn) and db (main).
type known struct{}

func (known) Known(name string) bool {
	switch name {
	case "web", "web:api", "web:cdn", "db", "db:main":
		return true
	}
	return false
}

var ctx = context.Background()

func newDesk(t *testing.T, st store.Store, now func() time.Time, events func(Event)) *Desk {
	t.Helper()
	d, err := NewDesk(ctx, DeskOptions{Store: st, Components: known{}, Now: now, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestIncidentLifecycle(t *testing.T) {
	st := memory.New()
	clock := time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	var mu sync.Mutex
	var told []string
	d := newDesk(t, st, now, func(e Event) {
		mu.Lock()
		told = append(told, e.Kind+":"+e.Incident.Status)
		mu.Unlock()
	})

	inc, err := d.Open(ctx, NewIncident{Title: "  Slow API ", Impact: "minor", Affected: []string{"web:api", "db", "web:api"},
		Text: "We see **slow** answers.\r\nMore soon."})
	if err != nil {
		t.Fatal(err)
	}
	if inc.Title != "Slow API" || inc.Status != "investigating" || len(inc.Affected) != 2 ||
		inc.Updates[0].Text != "We see **slow** answers.\nMore soon." {
		t.Fatalf("opened %+v", inc)
	}
	clock = clock.Add(10 * time.Minute)
	if _, err := d.AddUpdate(ctx, inc.ID, "identified", "A bad deploy."); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(20 * time.Minute)
	resolved, err := d.AddUpdate(ctx, inc.ID, "resolved", "Rolled back.")
	if err != nil {
		t.Fatal(err)
	}
	if !resolved.Resolved.Equal(clock) || len(resolved.Updates) != 3 {
		t.Fatalf("resolved %+v", resolved)
	}
	if _, err := d.AddUpdate(ctx, inc.ID, "monitoring", "More?"); !errors.Is(err, ErrResolved) {
		t.Errorf("an update on a resolved incident: %v, want ErrResolved", err)
	}
	title := "Slow API answers"
	if edited, err := d.Change(ctx, inc.ID, Edit{Title: &title}); err != nil || edited.Title != title {
		t.Errorf("edit: %v %v", edited.Title, err)
	}
	open, past := d.Public()
	if len(open) != 0 || len(past) != 1 || past[0].Title != title {
		t.Errorf("public: open %v, resolved %v", open, past)
	}
	if strings.Join(told, " ") != "opened:investigating updated:identified resolved:resolved" {
		t.Errorf("subscribers were told %v", told)
	}

	// A restart keeps it all.
	again := newDesk(t, st, now, nil)
	if got, err := again.Get(inc.ID); err != nil || got.Title != title || len(got.Updates) != 3 {
		t.Errorf("after a restart: %+v %v", got, err)
	}
}

func TestIncidentBadInput(t *testing.T) {
	d := newDesk(t, memory.New(), nil, nil)
	cases := []struct {
		name string
		n    NewIncident
		msg  string
	}{
		{"unknown component", NewIncident{Title: "x", Impact: "minor", Text: "y", Affected: []string{"web:nope"}}, `unknown component "web:nope"`},
		{"no title", NewIncident{Impact: "minor", Text: "y"}, `missing "title"`},
		{"no text", NewIncident{Title: "x", Impact: "minor"}, `missing "text"`},
		{"bad impact", NewIncident{Title: "x", Impact: "huge", Text: "y"}, `"impact" must be one of minor, major, critical`},
		{"bad status", NewIncident{Title: "x", Impact: "major", Status: "panicking", Text: "y"}, `"status" must be one of`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.Open(ctx, c.n)
			var inv *Invalid
			if !errors.As(err, &inv) || !strings.Contains(inv.Msg, c.msg) {
				t.Errorf("err = %v, want one saying %q", err, c.msg)
			}
		})
	}
	if _, err := d.AddUpdate(ctx, "nope", "identified", "x"); !errors.Is(err, ErrNoIncident) {
		t.Errorf("update of an unknown incident: %v", err)
	}
}

func TestDraftsFromAlerts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := status.NewRegistry([]status.ServiceSpec{{ID: "web", Nodes: []status.NodeSpec{
			{ID: "api", Label: "API", Mode: status.ModePoll, Replicas: []string{"https://api.example.com/"}},
			{ID: "cdn", Label: "CDN", Mode: status.ModePoll, Replicas: []string{"https://cdn.example.com/"}}}}}, time.Now())
		d := newDesk(t, memory.New(), nil, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- NewDrafter(d, reg, 5*time.Minute, nil).Run(ctx) }()
		defer func() { cancel(); <-done }()
		synctest.Wait()

		reg.Set(status.Ref{}, status.Result{Status: status.Dead, At: time.Now(), Err: "GET https://api.example.com/: status 503"})
		synctest.Wait()
		all, _ := d.Incidents()
		if len(all) != 1 || !all[0].Draft || all[0].Title != "Investigating: API is not responding" ||
			all[0].Updates[0].Text != "GET https://api.example.com/: status 503" {
			t.Fatalf("after api died: %+v", all)
		}
		if open, _ := d.Public(); len(open) != 0 {
			t.Fatal("the draft is public")
		}
		// Recovery before it is published discards it.
		reg.Set(status.Ref{}, status.Result{Status: status.Healthy, At: time.Now()})
		synctest.Wait()
		if all, _ := d.Incidents(); len(all) != 0 {
			t.Fatalf("after recovery: %+v", all)
		}
		// A node that stays dead past publish_after is published.
		reg.Set(status.Ref{Node: 1}, status.Result{Status: status.Dead, At: time.Now(), Err: "refused"})
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		open, _ := d.Public()
		if len(open) != 1 || open[0].Title != "Investigating: CDN is not responding" {
			t.Fatalf("after publish_after: %+v", open)
		}
	})
}

func TestMaintenanceSchedule(t *testing.T) {
	stockholm, _ := time.LoadLocation("Europe/Stockholm")
	cfg := []config.Maintenance{
		{Title: "Weekly backup", Affected: []string{"db"}, Every: "weekly", Day: "saturday", At: "22:00",
			Duration: config.Duration(time.Hour), Timezone: "Europe/Stockholm"},
		{Title: "Move", Affected: []string{"web:cdn"}, Start: time.Date(2026, 12, 10, 8, 0, 0, 0, time.UTC),
			End: time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC)},
	}
	st := memory.New()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC) // a Wednesday
	s, err := NewSchedule(ctx, ScheduleOptions{Config: cfg, Store: st, Components: known{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ws := s.Windows(now, now.Add(14*24*time.Hour))
	var got []string
	for _, w := range ws {
		got = append(got, w.Title+" "+w.Start.In(stockholm).Format("Mon 2 Jan 15:04")+"–"+w.End.In(stockholm).Format("15:04"))
	}
	want := "Weekly backup Sat 5 Dec 22:00–23:00|Move Thu 10 Dec 09:00–10:00|Weekly backup Sat 12 Dec 22:00–23:00"
	if strings.Join(got, "|") != want {
		t.Errorf("windows:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	during := time.Date(2026, 12, 5, 21, 30, 0, 0, time.UTC) // 22:30 in Stockholm
	if !s.Covers(store.Component{Service: "db", Node: "main"}, during) || s.Covers(store.Component{Service: "web", Node: "api"}, during) {
		t.Error("Covers: the db window must cover db:main and nothing of web")
	}
	if next := s.NextChange(now); !next.Equal(time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)) {
		t.Errorf("next change %v, want the first backup's start", next)
	}

	// Through the API.
	w, err := s.Add(ctx, NewWindow{Title: "Network", Affected: []string{"web"}, Start: now.Add(time.Hour), End: now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Covers(store.Component{Service: "web", Node: "api"}, now.Add(90*time.Minute)) {
		t.Error("a window for the service web does not cover web:api")
	}
	for name, n := range map[string]NewWindow{
		"end before start":  {Title: "x", Affected: []string{"db"}, Start: now, End: now.Add(-time.Minute)},
		"unknown component": {Title: "x", Affected: []string{"dbs"}, Start: now, End: now.Add(time.Hour)},
		"over already":      {Title: "x", Affected: []string{"db"}, Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)},
	} {
		var inv *Invalid
		if _, err := s.Add(ctx, n); !errors.As(err, &inv) {
			t.Errorf("%s: %v, want *Invalid", name, err)
		}
	}
	again, err := NewSchedule(ctx, ScheduleOptions{Config: cfg, Store: st, Components: known{}})
	if err != nil || len(again.Made()) != 1 {
		t.Fatalf("after a restart: %v %v", again.Made(), err)
	}
	if ok, err := s.Remove(ctx, w.ID); !ok || err != nil {
		t.Errorf("remove: %v %v", ok, err)
	}
}
