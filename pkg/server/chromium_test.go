package server

import (
	"context"
	"errors"
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
	url := serveOnLoopback(t, newTestServer(t, cfg, realisticRegistry(now), anns))

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
