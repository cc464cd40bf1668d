package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	statuspage "github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// browserLog keeps what a tab tells: console messages (calls, uncaught
// exceptions, the browser's own entries such as Content-Security-Policy
// refusals) and the WebSocket messages it receives.
type browserLog struct {
	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	frames  []string
}

func (l *browserLog) problems(from int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.console[min(from, len(l.console)):] {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
			out = append(out, m.String()+" ("+m.Source+" "+m.URL+")")
		}
	}
	return out
}

func (l *browserLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.console)
}

func (l *browserLog) snapshots() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, f := range l.frames {
		if strings.HasPrefix(f, `{"type":"snapshot"`) {
			n++
		}
	}
	return n
}

// newTab opens a tab of the browser at 1100 × 900 that logs into a new
// browserLog; before sets it up before its first page.
func newTab(t *testing.T, browser context.Context, before ...chromedp.Action[chromedp.Void]) (context.Context, *browserLog) {
	t.Helper()
	l := &browserLog{}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithListener(func(ev any) {
		if f, ok := ev.(*network.EventWebSocketFrameReceived); ok && f.Response != nil {
			l.mu.Lock()
			l.frames = append(l.frames, string(f.Response.PayloadData))
			l.mu.Unlock()
		}
	}))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, append([]chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(1100, 900)}, before...)...); err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			l.mu.Lock()
			l.console = append(l.console, m)
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ctx, l
}

// healthyRegistry is realisticSpecs with every replica checked healthy.
func healthyRegistry(now time.Time) *status.Registry {
	reg := status.NewRegistry(realisticSpecs(), now)
	for si, svc := range reg.Snapshot().Services {
		for ni, n := range svc.Nodes.All() {
			for ri := range n.Replicas.Len() {
				reg.Set(status.Ref{Service: si, Node: ni, Replica: ri}, status.Result{Status: status.Healthy, Latency: 90 * time.Millisecond, At: now})
			}
		}
	}
	reg.Upsert(2, 0, "db-primary", status.Result{Status: status.Healthy, At: now, Load: &status.Load{CPU: 0.42, RAM: 0.61}})
	reg.Upsert(2, 0, "db-replica", status.Result{Status: status.Healthy, At: now, Load: &status.Load{CPU: 0.18, RAM: 0.57}})
	return reg
}

// TestChromiumLive drives real Chromium through the live page: it opens
// without a console error; a replica that dies turns the banner, the
// node, its pill and today's day on its bar within a second, without a
// reload; an announcement
// and an incident appear; at 360 px nothing scrolls sideways; after a
// server restart the page reconnects and shows the new server's state;
// where WebSockets are blocked, it catches up by polling. Screenshots go
// to OVERVAKT_SCREENSHOT_DIR (docs/live.png and docs/live-phone.png are
// made so).
func TestChromiumLive(t *testing.T) {
	needChromium(t)
	now := time.Now()
	reg := healthyRegistry(now)
	anns := &staticAnnouncements{}
	incs := &desk{}
	opts := Options{Config: testConfig(), Registry: reg, Announcements: anns, Incidents: incs, Version: "test",
		History: realisticHistory(t, now)}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	url := "http://" + addr + "/"
	stop := serveOn(t, s, ln)

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(t.TempDir()))...)
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(browser); err != nil { // starts the browser, for every tab below
		t.Fatal(err)
	}

	tab, log := newTab(t, browser)
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the live feed's snapshot", 5*time.Second, func() bool { return log.snapshots() == 1 })
	eval[bool](t, tab, `window.stayed = true`)
	text := func(sel string) string {
		return eval[string](t, tab, `(document.querySelector("`+sel+`") || {}).textContent || ""`)
	}
	if got := text(".banner h1"); got != "All systems operational" {
		t.Fatalf("banner %q before the change", got)
	}

	t.Run("a replica dies", func(t *testing.T) {
		start := time.Now()
		reg.Set(status.Ref{Service: 0, Node: 0, Replica: 1}, status.Result{Status: status.Dead, Err: "connection refused", At: time.Now()})
		poll(t, tab, time.Second, `document.querySelector(".banner").className === "banner dead"`)
		t.Logf("the banner turned %v after the replica died", time.Since(start).Round(time.Millisecond))
		if got := text(".banner h1"); got != "Partial outage" {
			t.Errorf("banner %q, want Partial outage", got)
		}
		row := `#service-web li.node:nth-child(1)`
		if got := eval[string](t, tab, `document.querySelector("`+row+`").className`); got != "node dead" {
			t.Errorf("Marketing site's row is %q, want node dead", got)
		}
		if got := eval[string](t, tab, `document.querySelectorAll("`+row+` .pills button")[1].className`); got != "dead" {
			t.Errorf("its second pill is %q, want dead", got)
		}
		// Today's day of its bar is red too, though the history view is
		// older than the change.
		if got := eval[string](t, tab, `(document.querySelector("`+row+` .bar i.p89") || {}).className || "none"`); !strings.HasPrefix(got, "d ") {
			t.Errorf("today's day on its bar is %q, want dead", got)
		}
		// The swapped-in pills have their tooltips, as the first ones had.
		if got := eval[string](t, tab, `document.querySelectorAll("`+row+` .pills button")[1].getAttribute("data-tip")`); !strings.HasPrefix(got, "Down") {
			t.Errorf("its tooltip says %q", got)
		}
		if got := eval[string](t, tab, `document.title`); !strings.HasPrefix(got, "✕ ") {
			t.Errorf("tab title %q, want the dead glyph first", got)
		}
		if !eval[bool](t, tab, `window.stayed === true`) {
			t.Error("the page reloaded")
		}
	})

	t.Run("an announcement and an incident appear", func(t *testing.T) {
		anns.set(statuspage.Announcement{ID: "failover", Title: "Web server replacement under way",
			Text: "One of the two web servers is down; the other serves every visitor. Updates follow.", Published: time.Now()})
		poll(t, tab, 2*time.Second, `document.getElementById("announcement-failover") !== null`)
		incs.set(statuspage.Incident{ID: "www2", Title: "Marketing site partly down", Impact: "minor", Status: "identified",
			Affected: []store.Component{{Service: "web", Node: "site"}}, Created: time.Now(),
			Updates: []store.IncidentUpdate{{At: time.Now(), Status: "identified", Text: "A disk controller failed; the server is being replaced."}}})
		poll(t, tab, 2*time.Second, `document.getElementById("incident-www2") !== null`)
		if !eval[bool](t, tab, `window.stayed === true`) {
			t.Error("the page reloaded")
		}
	})
	shot(t, tab, "live.png", true)
	if p := log.problems(0); len(p) > 0 {
		t.Errorf("the console shows problems:\n%s", strings.Join(p, "\n"))
	}

	t.Run("360 px", func(t *testing.T) {
		if err := chromedp.Do(tab, chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2))); err != nil {
			t.Fatal(err)
		}
		if wide := eval[bool](t, tab, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
			t.Error("the page scrolls sideways at 360 px")
		}
		shot(t, tab, "live-phone.png", false)
		reg.Set(status.Ref{Service: 0, Node: 0, Replica: 1}, status.Result{Status: status.Healthy, At: time.Now()})
		poll(t, tab, time.Second, `document.querySelector(".banner").className === "banner healthy"`)
		if wide := eval[bool](t, tab, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
			t.Error("the page scrolls sideways at 360 px after the update")
		}
		if p := log.problems(0); len(p) > 0 {
			t.Errorf("the console shows problems:\n%s", strings.Join(p, "\n"))
		}
		if err := chromedp.Do(tab, chromedp.EmulateViewport(1100, 900)); err != nil {
			t.Fatal(err)
		}
	})

	top := t
	t.Run("the server restarts", func(t *testing.T) {
		stop()
		// The new server has a dead replica, and its page versions start
		// over: the page must take it in all the same.
		reg2 := healthyRegistry(time.Now())
		reg2.Set(status.Ref{Service: 0, Node: 1, Replica: 0}, status.Result{Status: status.Dead, At: time.Now()})
		opts.Registry = reg2
		s2, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		serveOn(top, s2, ln2) // until the end of the whole test
		poll(t, tab, 10*time.Second, `document.querySelector(".banner").className === "banner dead"`)
		waitFor(t, "a new snapshot", 5*time.Second, func() bool { return log.snapshots() == 2 })
		if !eval[bool](t, tab, `window.stayed === true`) {
			t.Error("the page reloaded")
		}
		// While the server was away, fetches and the WebSocket failed:
		// those are network errors. Nothing else may show.
		for _, p := range log.problems(0) {
			if !strings.Contains(p, "(network ") && !strings.Contains(p, "WebSocket connection to") {
				t.Errorf("the console shows: %s", p)
			}
		}
		reg = reg2
	})

	t.Run("WebSockets blocked", func(t *testing.T) {
		// A browser, or a proxy, without WebSockets: the page checks
		// /status/version every 15 s, and swaps in what changed.
		tab, log := newTab(t, browser, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
				page.AddScriptToEvaluateOnNewDocumentParams{Source: "delete window.WebSocket"})
			return err
		}))
		if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
			t.Fatal(err)
		}
		eval[bool](t, tab, `window.stayed = true`)
		reg.Set(status.Ref{Service: 0, Node: 1, Replica: 0}, status.Result{Status: status.Healthy, At: time.Now()})
		poll(t, tab, 20*time.Second, `document.querySelector(".banner").className === "banner healthy"`)
		if !eval[bool](t, tab, `window.stayed === true`) {
			t.Error("the page reloaded")
		}
		if log.snapshots() != 0 {
			t.Error("the page without WebSockets got a snapshot")
		}
		if p := log.problems(0); len(p) > 0 {
			t.Errorf("the console shows problems:\n%s", strings.Join(p, "\n"))
		}
	})
}

// serveOn serves s on ln until the returned stop is called or the test
// ends.
func serveOn(t *testing.T, s *Server, ln net.Listener) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func eval[T any](t *testing.T, tab context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// poll waits up to d for the predicate js to hold in the tab.
func poll(t *testing.T, tab context.Context, d time.Duration, js string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(10*time.Millisecond))); err != nil {
		t.Fatalf("still not %s after %v: %v", js, d, err)
	}
}

// waitFor waits up to d for cond, on this side.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shot saves a screenshot as name in OVERVAKT_SCREENSHOT_DIR: of the
// whole page, or of what the screen shows.
func shot(t *testing.T, tab context.Context, name string, whole bool) {
	t.Helper()
	dir := os.Getenv("OVERVAKT_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	take := chromedp.CaptureScreenshot()
	if whole {
		take = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(tab, take)
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 10_000 {
		t.Fatalf("screenshot %s is %d bytes: empty?", name, len(png))
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
