package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

const chromedriverPath = "/usr/bin/chromedriver"

// webDriver drives headless Chromium with JavaScript off through
// chromedriver (the W3C WebDriver protocol), to use a page as a visitor
// without scripts does: type, choose, press buttons.
type webDriver struct {
	t       *testing.T
	base    string // chromedriver's address
	session string
}

// noScriptBrowser starts chromedriver and a browser session with
// JavaScript off; both end with the test. It skips the test without
// chromedriver, unless every external part must be there.
func noScriptBrowser(t *testing.T) *webDriver {
	t.Helper()
	needChromium(t)
	if _, err := os.Stat(chromedriverPath); err != nil {
		if os.Getenv("OVERVAKT_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is missing and OVERVAKT_TEST_REQUIRE_SERVICES=1: install it with apt-get install chromium-driver", chromedriverPath)
		}
		t.Skipf("%s is missing (apt-get install chromium-driver); skipping the browser test", chromedriverPath)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, chromedriverPath, fmt.Sprintf("--port=%d", port))
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	// Made before the cleanup below is registered, so that it is removed
	// after the browser has ended (cleanups run last-registered first).
	profile := t.TempDir()
	wd := &webDriver{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	t.Cleanup(func() {
		if wd.session != "" {
			wd.call("DELETE", "/session/"+wd.session, nil)
		}
		cancel()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get(wd.base + "/status"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("chromedriver did not answer within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var created struct{ SessionID string }
	wd.call("POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"goog:chromeOptions": map[string]any{
			"binary": chromiumPath,
			"args":   []string{"--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900", "--user-data-dir=" + profile},
			"prefs":  map[string]any{"profile.managed_default_content_settings.javascript": 2},
		}}}}, &created)
	if created.SessionID == "" {
		t.Fatal("chromedriver made no session")
	}
	wd.session = created.SessionID
	return wd
}

// call sends one WebDriver command and decodes its value into out.
func (wd *webDriver) call(method, path string, body any, out ...any) {
	wd.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, wd.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		wd.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var answer struct{ Value json.RawMessage }
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &answer); err != nil || resp.StatusCode != 200 {
		wd.t.Fatalf("webdriver %s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if len(out) > 0 {
		if err := json.Unmarshal(answer.Value, out[0]); err != nil {
			wd.t.Fatalf("webdriver %s %s: %v in %s", method, path, err, raw)
		}
	}
}

func (wd *webDriver) open(url string) {
	wd.t.Helper()
	wd.call("POST", "/session/"+wd.session+"/url", map[string]string{"url": url})
}

// find returns the id of the element css selects.
func (wd *webDriver) find(css string) string {
	wd.t.Helper()
	var el map[string]string
	wd.call("POST", "/session/"+wd.session+"/element", map[string]string{"using": "css selector", "value": css}, &el)
	for _, id := range el {
		return id
	}
	wd.t.Fatalf("no element %s", css)
	return ""
}

func (wd *webDriver) typeInto(css, text string) {
	wd.t.Helper()
	wd.call("POST", "/session/"+wd.session+"/element/"+wd.find(css)+"/value", map[string]string{"text": text})
}

func (wd *webDriver) click(css string) {
	wd.t.Helper()
	wd.call("POST", "/session/"+wd.session+"/element/"+wd.find(css)+"/click", map[string]any{})
}

func (wd *webDriver) source() string {
	wd.t.Helper()
	var s string
	wd.call("GET", "/session/"+wd.session+"/source", nil, &s)
	return s
}
