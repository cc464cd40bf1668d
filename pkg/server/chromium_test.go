package server

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/history/historytest"
	"github.com/overvakt/overvakt/pkg/page"
)

const chromiumPath = "/usr/bin/chromium"

// needChromium skips the test without Chromium, unless the environment says
// every external part must be there.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("OVERVAKT_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is missing and OVERVAKT_TEST_REQUIRE_SERVICES=1: install it with apt-get install chromium", chromiumPath)
		}
		t.Skipf("%s is missing (apt-get install chromium); skipping the browser test", chromiumPath)
	}
}

// chromium runs headless Chromium with args and returns its stdout.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--hide-scrollbars", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// serveOnLoopback runs s on 127.0.0.1 until the test ends.
func serveOnLoopback(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

// probeScript records facts only a browser knows into the DOM, so that
// --dump-dom can show them, after tapping the sick replica's pill (which
// leaves its tooltip open in the screenshots). It also proves that an inline
// script in custom_html passes the Content-Security-Policy by its hash.
const probeScript = `<script>addEventListener("load", function () {
  var b = document.body;
  b.setAttribute("data-scroll-width", document.documentElement.scrollWidth);
  b.setAttribute("data-client-width", document.documentElement.clientWidth);
  b.setAttribute("data-css-ok", getComputedStyle(document.querySelector(".banner")).borderRadius);
  b.setAttribute("data-logo-bg", getComputedStyle(document.querySelector(".logo")).backgroundColor);
  document.querySelector(".pills .sick").click();
  var tip = document.getElementById("tip");
  b.setAttribute("data-tip-shown", tip ? tip.textContent : "none");
});</script>`

func TestChromium(t *testing.T) {
	needChromium(t)
	now := time.Now()
	cfg := testConfig()
	cfg.Branding.CustomHTML = probeScript
	anns := &staticAnnouncements{}
	anns.set(page.Announcement{ID: "maint", Title: "Object storage maintenance",
		Text: "We are replacing a storage node.\nUpdates follow on https://blog.acme.example/maintenance.", Published: now.Add(-40 * time.Minute)})
	s, err := New(Options{Config: cfg, Registry: realisticRegistry(now), Announcements: anns, Version: "test",
		History: realisticHistory(t, now)})
	if err != nil {
		t.Fatal(err)
	}
	url := serveOnLoopback(t, s)

	attr := func(dom, name string) string {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("DOM lacks %s (the page's scripts did not run)", name)
		}
		return m[1]
	}

	for _, width := range []int{1280, 360} {
		t.Run("width "+strconv.Itoa(width), func(t *testing.T) {
			dom := string(chromium(t, "--window-size="+strconv.Itoa(width)+",900", "--virtual-time-budget=3000", "--dump-dom", url))
			mustContain(t, dom,
				"<title>✕ Acme Status</title>",
				"Partial outage",
				`id="service-web"`, `id="service-api"`, `id="service-infra"`,
				"Marketing site", "REST API", "Object storage maintenance",
				`href="https://blog.acme.example/maintenance"`,
				`data-tip="Degraded · 6.20 s`, // page.js ran and moved the titles
			)
			if got := attr(dom, "data-tip-shown"); !strings.HasPrefix(got, "Degraded · 6.20 s") || !strings.HasSuffix(got, "API docs") {
				t.Errorf("tooltip after a tap shows %q; want the replica's details and the node's link", got)
			}
			if got := attr(dom, "data-css-ok"); got != "14px" {
				t.Errorf("banner border-radius = %q, want 14px: the stylesheet did not load", got)
			}
			if got := attr(dom, "data-logo-bg"); got != "rgb(232, 241, 255)" {
				t.Errorf("logo background = %q, want logo_color #e8f1ff: the brand <style> was blocked", got)
			}
			scroll, _ := strconv.Atoi(attr(dom, "data-scroll-width"))
			client, _ := strconv.Atoi(attr(dom, "data-client-width"))
			if scroll > client {
				t.Errorf("page is %d px wide in a %d px window: it scrolls sideways", scroll, client)
			}
		})
	}

	shots := os.Getenv("OVERVAKT_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"screenshot.png", []string{"--window-size=1100,1010"}},
		{"screenshot-dark.png", []string{"--window-size=1100,1010", "--force-dark-mode", "--blink-settings=preferredColorScheme=0"}},
		{"screenshot-360.png", []string{"--window-size=360,1400"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(shots, tc.name)
			chromium(t, append(tc.args, "--virtual-time-budget=3000", "--screenshot="+file, url)...)
			st, err := os.Stat(file)
			if err != nil || st.Size() < 10_000 {
				t.Fatalf("screenshot %s missing or tiny: %v", file, err)
			}
		})
	}
}

// historyProbe records what a browser makes of the history on the page
// (and on /history) into the DOM as JSON, for --dump-dom to show: the
// bars, how wide a day is against its bar, how much of a run older than
// 30 days shows, the sparkline, the tooltip a tap on the outage day
// opens, and every error and Content-Security-Policy violation.
const historyProbe = `<script>
var probeErrors = [];
addEventListener("error", function (e) { probeErrors.push("error: " + (e.message || e.target.src || e.target.href)); }, true);
document.addEventListener("securitypolicyviolation", function (e) { probeErrors.push("CSP: " + e.violatedDirective + " " + e.blockedURI); });
(function () {
  var ce = console.error;
  console.error = function () { probeErrors.push("console: " + [].join.call(arguments, " ")); ce.apply(console, arguments); };
})();
addEventListener("load", function () {
  var f = {}, b = document.body;
  function r(el) { return el.getBoundingClientRect(); }
  try {
    f.scrollWidth = document.documentElement.scrollWidth;
    f.clientWidth = document.documentElement.clientWidth;
    f.months = document.querySelectorAll("details").length;
    var bars = document.querySelectorAll(".bar");
    f.bars = bars.length;
    if (bars.length) {
      var bar = r(bars[0]), dead = bars[0].querySelector(".d");
      f.barWidth = Math.round(bar.width);
      f.dayShare = r(dead).width / bar.width;
      f.deadInside = r(dead).left >= bar.left - 0.5 && r(dead).right <= bar.right + 0.5;
      f.deadPaint = getComputedStyle(dead).backgroundImage;
      f.barPaint = getComputedStyle(bars[0]).backgroundImage;
      var old = bars[1].querySelector(".n"), ob = r(bars[1]), o = r(old);
      f.oldShown = (Math.min(o.right, ob.right) - Math.max(o.left, ob.left)) / ob.width;
      f.uptime = document.querySelector(".node > b").textContent;
      f.line = document.querySelector(".node > small").textContent;
      var spark = document.querySelector(".node > svg");
      f.sparkLabel = spark.querySelector("title").textContent;
      f.sparkWidth = Math.round(spark.querySelector("path").getBBox().width);
      dead.click();
      var tip = document.getElementById("tip");
      f.tip = tip ? tip.textContent : "none";
    }
  } catch (e) {
    probeErrors.push("probe: " + e);
  }
  f.errors = probeErrors;
  b.setAttribute("data-facts", JSON.stringify(f));
});
</script>`

// probeFacts reads what historyProbe recorded.
func probeFacts(t *testing.T, dom string) map[string]any {
	t.Helper()
	m := regexp.MustCompile(`data-facts="([^"]*)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("DOM lacks data-facts (the probe did not run):\n%.2000s", dom)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &f); err != nil {
		t.Fatalf("facts %s: %v", m[1], err)
	}
	return f
}

// TestChromiumHistory loads a page with historytest's 90 days in Chromium
// at 1280 and 360 px: the bars, the uptime, the sparkline and the
// tooltips work, narrow screens show the last 30 days only, nothing
// errs; /history opens too. It saves history.png (and history-360.png).
func TestChromiumHistory(t *testing.T) {
	needChromium(t)
	cfg := testConfig()
	cfg.Branding.CustomHTML = historyProbe
	s, _ := newHistoryServer(t, cfg, nil, page.Announcement{ID: "db", Title: "Database upgrade", Text: "Done.",
		Published: historytest.At(75, 9), Retracted: historytest.At(76, 11)})
	url := serveOnLoopback(t, s)

	for _, tc := range []struct {
		width           int
		dayShare, shown float64 // a day against the bar; how much of web:new's 70 days without data shows
	}{
		{1280, 1.0 / 90, 70.0 / 90},
		{360, 1.0 / 30, 10.0 / 30},
	} {
		t.Run("width "+strconv.Itoa(tc.width), func(t *testing.T) {
			dom := string(chromium(t, "--window-size="+strconv.Itoa(tc.width)+",900", "--virtual-time-budget=3000", "--dump-dom", url))
			f := probeFacts(t, dom)
			if errs := f["errors"].([]any); len(errs) > 0 {
				t.Errorf("errors in the browser: %v", errs)
			}
			if f["bars"] != 2.0 || f["uptime"] != "90 d 99.71%" || f["line"] != "24 h 100% · 7 d 100% · 30 d 99.09%" ||
				f["sparkLabel"] != "mean response 20 ms" {
				t.Errorf("bars, uptime, line, sparkline: %v %v %q %q", f["bars"], f["uptime"], f["line"], f["sparkLabel"])
			}
			if w := f["sparkWidth"].(float64); w < 80 {
				t.Errorf("the sparkline is %v px wide, want about 88", w)
			}
			if share := f["dayShare"].(float64); math.Abs(share-tc.dayShare) > 0.002 || f["deadInside"] != true {
				t.Errorf("the outage day is %.4f of the bar (inside: %v), want %.4f", share, f["deadInside"], tc.dayShare)
			}
			if shown := f["oldShown"].(float64); math.Abs(shown-tc.shown) > 0.01 {
				t.Errorf("%.3f of web:new's days before it existed show, want %.3f", shown, tc.shown)
			}
			if !strings.Contains(f["deadPaint"].(string), "rgb(209, 36, 47)") || !strings.Contains(f["barPaint"].(string), "rgb(26, 127, 55)") {
				t.Errorf("outage day painted %q, bar %q; want red over green", f["deadPaint"], f["barPaint"])
			}
			if f["tip"] != "Mon 23 Nov · 75% up · down 6 h · GET https://api.example.com/: status 503" {
				t.Errorf("a tap on the outage day shows %q", f["tip"])
			}
			if f["scrollWidth"].(float64) > f["clientWidth"].(float64) {
				t.Errorf("page is %v px wide in a %v px window", f["scrollWidth"], f["clientWidth"])
			}
		})
	}
	t.Run("/history", func(t *testing.T) {
		dom := string(chromium(t, "--window-size=1280,900", "--virtual-time-budget=3000", "--dump-dom", url+"history"))
		f := probeFacts(t, dom)
		if errs := f["errors"].([]any); len(errs) > 0 {
			t.Errorf("errors in the browser: %v", errs)
		}
		mustContain(t, dom, "Database upgrade", "down from Mon 23 Nov 06:00 to 12:00 (6 h)")
		if f["months"].(float64) < 2 {
			t.Errorf("%v months, want this one and November", f["months"])
		}
	})

	shots := os.Getenv("OVERVAKT_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"history.png", []string{"--window-size=1100,640"}},
		{"history-360.png", []string{"--window-size=360,900"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(shots, tc.name)
			chromium(t, append(tc.args, "--virtual-time-budget=3000", "--screenshot="+file, url)...)
			if st, err := os.Stat(file); err != nil || st.Size() < 10_000 {
				t.Fatalf("screenshot %s missing or tiny: %v", file, err)
			}
		})
	}
}
