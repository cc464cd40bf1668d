package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/store"
)

// formSubs is a Subscriptions that keeps the requests it gets.
type formSubs struct {
	mu  sync.Mutex
	got [][]string // address, then components
}

func (f *formSubs) MailOn() bool { return true }
func (f *formSubs) Subscribe(_ context.Context, address string, components []string, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, append([]string{address}, components...))
	return nil
}
func (f *formSubs) CanConfirm(string) bool                            { return false }
func (f *formSubs) Confirm(context.Context, string) (bool, error)     { return false, nil }
func (f *formSubs) CanUnsubscribe(string) bool                        { return false }
func (f *formSubs) Unsubscribe(context.Context, string) (bool, error) { return false, nil }
func (f *formSubs) requests() [][]string                              { f.mu.Lock(); defer f.mu.Unlock(); return f.got }

// incidentProbe records what a browser makes of the incidents on the
// page into the DOM as JSON, for --dump-dom: the timeline's steps in
// order, the rows marked, the colours of maintenance, and every error
// and policy violation.
const incidentProbe = `<script>
var probeErrors = [];
addEventListener("error", function (e) { probeErrors.push("error: " + (e.message || e.target.src || e.target.href)); }, true);
document.addEventListener("securitypolicyviolation", function (e) { probeErrors.push("CSP: " + e.violatedDirective + " " + e.blockedURI); });
addEventListener("load", function () {
  var f = {};
  try {
    var inc = document.querySelector(".incidents article");
    f.steps = [].map.call(inc.querySelectorAll(".timeline .when strong"), function (s) { return s.textContent; });
    f.emphasis = inc.querySelectorAll(".md em").length;
    f.marked = [].map.call(document.querySelectorAll(".node .inc"), function (a) { return a.closest(".node").querySelector(".label").firstChild.textContent.trim() + ": " + a.textContent; });
    var maint = document.querySelector(".node.maint");
    f.maintLabel = maint.querySelector(".label").firstChild.textContent;
    f.maintWord = maint.querySelector(".word").textContent;
    f.maintColor = getComputedStyle(maint, "::before").color;
    f.scheduled = document.querySelector(".windows article:not(.active) h2").textContent;
    f.scrollWidth = document.documentElement.scrollWidth;
    f.clientWidth = document.documentElement.clientWidth;
  } catch (e) {
    probeErrors.push("probe: " + e);
  }
  f.errors = probeErrors;
  document.body.setAttribute("data-facts", JSON.stringify(f));
});
</script>`

// TestChromiumIncidents loads a page with an incident of three updates
// and maintenance in Chromium: the updates show as a timeline, newest
// first, the node it affects is marked, the node under maintenance is
// blue and says so; with scripts off (through chromedriver) the page is
// whole, and a visitor's subscription through its form reaches the
// server. It saves incidents.png.
func TestChromiumIncidents(t *testing.T) {
	needChromium(t)
	now := time.Now()
	cfg := testConfig()
	cfg.Branding.CustomHTML = incidentProbe
	rest := store.Component{Service: "api", Node: "rest"}
	storage := store.Component{Service: "infra", Node: "storage"}
	inc := page.Incident{ID: "inc1", Title: "Slow answers from the REST API", Impact: "major", Affected: []store.Component{rest},
		Status: "monitoring", Created: now.Add(-47 * time.Minute), Updates: []store.IncidentUpdate{
			{At: now.Add(-47 * time.Minute), Status: "investigating", Text: "Some requests to the REST API take *several seconds*. We are looking into it."},
			{At: now.Add(-31 * time.Minute), Status: "identified", Text: "A database index was dropped by a migration:\n\n- the index is being rebuilt\n- writes are not affected"},
			{At: now.Add(-6 * time.Minute), Status: "monitoring", Text: "The index is back; answers are fast again. We keep watching. Details: https://blog.acme.example/index"},
		}}
	d := &desk{}
	d.set(inc)
	ws := schedule{
		{ID: "w1", Title: "Storage node replacement", Text: "One storage node is **swapped**; reads may be slower.", Affected: []store.Component{storage},
			Start: now.Add(-30 * time.Minute), End: now.Add(90 * time.Minute)},
		{ID: "w2", Title: "Database upgrade", Text: "Writes pause for a few minutes.", Affected: []store.Component{{Service: "infra", Node: "db"}},
			Start: now.Add(50 * time.Hour).Truncate(time.Hour), End: now.Add(51 * time.Hour).Truncate(time.Hour)},
		// Last week's, for the bars.
		{ID: "w0", Title: "Network", Affected: []store.Component{{Service: "web"}}, Start: now.Add(-6 * 24 * time.Hour).Truncate(time.Hour),
			End: now.Add(-6*24*time.Hour + 2*time.Hour).Truncate(time.Hour)},
	}
	subs := &formSubs{}
	s, err := New(Options{Config: cfg, Registry: realisticRegistry(now), Version: "test", History: realisticHistoryWith(t, now, ws),
		Incidents: d, Maintenance: ws, Subscriptions: subs})
	if err != nil {
		t.Fatal(err)
	}
	url := serveOnLoopback(t, s)

	checkTimeline := func(t *testing.T, f map[string]any) {
		if errs := f["errors"].([]any); len(errs) > 0 {
			t.Errorf("errors in the browser: %v", errs)
		}
		if got := strings.Join(toStrings(f["steps"]), " < "); got != "Monitoring < Identified < Investigating" {
			t.Errorf("timeline %q, want newest first", got)
		}
		if f["emphasis"] != 1.0 {
			t.Errorf("%v emphasised words, want the update's one", f["emphasis"])
		}
		if got := strings.Join(toStrings(f["marked"]), "; "); got != "REST API: Major incident" {
			t.Errorf("rows marked: %q", got)
		}
		if f["maintLabel"] != "Object storage" || f["maintWord"] != "Under maintenance" || f["maintColor"] != "rgb(5, 80, 174)" {
			t.Errorf("under maintenance: %v %v in %v; want Object storage, blue", f["maintLabel"], f["maintWord"], f["maintColor"])
		}
		if !strings.HasPrefix(f["scheduled"].(string), "Scheduled: ") || !strings.HasSuffix(f["scheduled"].(string), "Database upgrade") {
			t.Errorf("the window ahead: %q", f["scheduled"])
		}
		if f["scrollWidth"].(float64) > f["clientWidth"].(float64) {
			t.Errorf("page is %v px wide in a %v px window", f["scrollWidth"], f["clientWidth"])
		}
	}
	for _, width := range []string{"1280", "360"} {
		t.Run("the timeline at "+width+" px", func(t *testing.T) {
			checkTimeline(t, probeFacts(t, string(chromium(t, "--window-size="+width+",900", "--virtual-time-budget=3000", "--dump-dom", url))))
		})
	}
	t.Run("without scripts", func(t *testing.T) {
		wd := noScriptBrowser(t)
		wd.open(url)
		dom := wd.source()
		if strings.Contains(dom, `data-facts="`) {
			t.Fatal("scripts ran")
		}
		mustContain(t, dom, "Slow answers from the REST API", "<strong>Identified</strong>", "<li>the index is being rebuilt</li>",
			`<li class="node maint">`)
		// A visitor types an address, picks a service and presses the
		// button: the form posts by itself.
		wd.typeInto("#email", "ada@example.com")
		wd.click(`.subscribe option[value="api"]`)
		wd.click(".subscribe button")
		mustContain(t, wd.source(), "<h1>Check your inbox</h1>")
		if got := subs.requests(); len(got) != 1 || strings.Join(got[0], " ") != "ada@example.com api" {
			t.Errorf("the server got %v, want ada@example.com for api", got)
		}
	})

	shots := os.Getenv("OVERVAKT_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	}
	file := filepath.Join(shots, "incidents.png")
	chromium(t, "--window-size=1100,1960", "--virtual-time-budget=3000", "--screenshot="+file, url)
	if st, err := os.Stat(file); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s missing or tiny: %v", file, err)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
