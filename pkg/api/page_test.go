package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAnnouncementsOnThePage mounts the API in the real server, publishes
// announcements through the manager API and reads the public page: they
// show newest first with their date, and HTML in them is shown as text. A
// push replica's tooltip shows its load in percent.
func TestAnnouncementsOnThePage(t *testing.T) {
	s := startServer(t, nil)

	publish := func(title, text string) string {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"title": title, "text": text})
		r := s.do(t, "POST", "/manager/announcement/", basic(managerToken), string(body))
		var out struct{ ID string }
		if r.code != 200 || json.Unmarshal([]byte(r.body), &out) != nil {
			t.Fatalf("publish: %d %s", r.code, r.body)
		}
		return out.ID
	}
	// A push replica, for its tooltip.
	if r := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken),
		`{"replica":"host-1","interval":30,"load":{"cpu":0.42,"ram":0.61}}`); r.code != 200 {
		t.Fatalf("report: %d %s", r.code, r.body)
	}
	older := publish("Planned maintenance", "Tonight from 22:00.")
	newer := publish(`<script>alert("title")</script>`,
		"First line\n<img src=x onerror=alert(1)> details at https://example.com/incident?id=1&x=2.")

	resp, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	html := string(b)
	if resp.StatusCode != 200 {
		t.Fatalf("page: %d", resp.StatusCode)
	}

	for _, bad := range []string{`<script>alert("title")`, `<img src=x`} {
		if strings.Contains(html, bad) {
			t.Errorf("page contains raw %q: HTML from an announcement was not escaped", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;",                                      // the title, as text
		"First line\n&lt;img src=x onerror=",                  // the text, escaped, line break kept
		`<a href="https://example.com/incident?id=1&amp;x=2"`, // the URL linked, without the full stop
		"Planned maintenance",
		"CPU 42% · memory 61%", // the push replica's tooltip
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	iNew := strings.Index(html, "announcement-"+newer)
	iOld := strings.Index(html, "announcement-"+older)
	if iNew < 0 || iOld < 0 || iNew > iOld {
		t.Errorf("announcements at %d (newer) and %d (older): want both, newest first", iNew, iOld)
	}
	now := time.Now()
	if !strings.Contains(html, `<time datetime="`+now.Format("2006-01-02")) &&
		!strings.Contains(html, `<time datetime="`+now.UTC().Format("2006-01-02")) {
		t.Errorf("page shows no publication date for the announcements")
	}

	// Retracted: gone from the page.
	if r := s.do(t, "DELETE", "/manager/announcement/"+newer, basic(managerToken), ""); r.code != 200 {
		t.Fatalf("retract: %d %s", r.code, r.body)
	}
	resp2, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if strings.Contains(string(b2), "announcement-"+newer) || !strings.Contains(string(b2), "announcement-"+older) {
		t.Errorf("after retracting, the page still shows it or lost the other one")
	}
}

// TestAPIThroughServer checks that the server's own handling (trailing
// slash trimming, error pages) leaves the API's answers intact.
func TestAPIThroughServer(t *testing.T) {
	s := startServer(t, nil)
	cases := []struct {
		method, path, auth, body string
		code                     int
	}{
		{"POST", "/reporter/hosts/push/", basic(reporterToken), `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 200},
		{"POST", "/reporter/hosts/push", basic(reporterToken), `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 200},
		{"POST", "/reporter/hosts/push/", "", `{}`, 401},
		{"POST", "/reporter/hosts/push/", basic(managerToken), `{}`, 403},
		{"POST", "/reporter/hosts/nope/", basic(reporterToken), `{}`, 404},
		{"POST", "/reporter/hosts/local/", basic(reporterToken), `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 412},
		{"GET", "/manager/prober/alerts/", basic(managerToken), "", 200},
		{"DELETE", "/reporter/hosts/push/h/", basic(reporterToken), "", 200},
	}
	for _, tc := range cases {
		r := s.do(t, tc.method, tc.path, tc.auth, tc.body)
		if r.code != tc.code {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, r.code, r.body, tc.code)
		}
		if tc.code != 200 && r.errorText() == "" {
			t.Errorf("%s %s: body %q is not a JSON error", tc.method, tc.path, r.body)
		}
	}
}
