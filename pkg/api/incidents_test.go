package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app/apptest"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// incidentConfig is testConfig with a weekly window from the config file.
const incidentConfig = testConfig + `
[[maintenance]]
title = "Weekly restart"
affected = ["hosts"]
every = "daily"
at = "04:00"
duration = "15m"
timezone = "UTC"
`

// startIncidents serves incidentConfig over a store holding a draft
// incident from an alert, "draft1".
func startIncidents(t *testing.T) *testServer {
	t.Helper()
	st := memory.New()
	now := time.Now()
	if err := st.PutIncident(context.Background(), store.Incident{ID: "draft1", Title: "Investigating: API is not responding",
		Impact: "major", Affected: []store.Component{{Service: "web", Node: "api"}}, Status: "investigating", Draft: true,
		Source: "alert", Created: now, Updates: []store.IncidentUpdate{{At: now, Status: "investigating", Text: "refused"}}}); err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t, incidentConfig, apptest.Options{Store: st})
	return &testServer{Server: s, reg: s.Registry, url: s.URL}
}

// call sends a manager request and decodes a 200 answer into out (when
// not nil); it returns the response.
func (s *testServer) call(t *testing.T, method, path, body string, out any) response {
	t.Helper()
	r := s.do(t, method, path, basic(managerToken), body)
	if r.code == 200 && out != nil {
		if err := json.Unmarshal([]byte(r.body), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, r.body)
		}
	}
	return r
}

type incidentOut struct {
	ID, Title, Impact, Status string
	Affected                  []string
	Draft                     bool
	Resolved                  *time.Time
	Updates                   []struct{ Status, Text string }
}

// TestIncidentRoutes walks an incident through every manager route, and
// each route through its errors.
func TestIncidentRoutes(t *testing.T) {
	s := startIncidents(t)
	var inc incidentOut
	if r := s.call(t, "POST", "/manager/incident", `{"title":"Slow API","impact":"minor","affected":["web:api","hosts"],"text":"We see *slow* answers."}`, &inc); r.code != 200 {
		t.Fatalf("open: %d %s", r.code, r.body)
	}
	if inc.ID == "" || inc.Status != "investigating" || inc.Draft || strings.Join(inc.Affected, ",") != "web:api,hosts" || len(inc.Updates) != 1 {
		t.Fatalf("opened %+v", inc)
	}
	id := inc.ID
	steps := []struct {
		name, method, path, body string
		code                     int
		err                      string // in the error, when not 200
		check                    func(t *testing.T, body string)
	}{
		{"open: unknown component", "POST", "/manager/incident", `{"title":"x","impact":"minor","affected":["web:nope"],"text":"y"}`, 400, `unknown component "web:nope"`, nil},
		{"open: no title", "POST", "/manager/incident", `{"impact":"minor","text":"y"}`, 400, `missing "title"`, nil},
		{"open: bad impact", "POST", "/manager/incident", `{"title":"x","impact":"huge","text":"y"}`, 400, `"impact" must be one of minor, major, critical`, nil},
		{"open: bad JSON", "POST", "/manager/incident", `{"title":`, 400, "invalid JSON body", nil},
		{"list", "GET", "/manager/incidents", "", 200, "", func(t *testing.T, body string) {
			var list []incidentOut
			json.Unmarshal([]byte(body), &list)
			if len(list) != 2 || list[0].ID != id || list[1].ID != "draft1" || !list[1].Draft {
				t.Errorf("list %+v, want the new one, then the draft", list)
			}
		}},
		{"get", "GET", "/manager/incident/" + id, "", 200, "", nil},
		{"get: unknown", "GET", "/manager/incident/nope", "", 404, "no such incident", nil},
		{"update", "POST", "/manager/incident/" + id + "/update", `{"status":"identified","text":"A bad deploy."}`, 200, "", func(t *testing.T, body string) {
			var got incidentOut
			json.Unmarshal([]byte(body), &got)
			if got.Status != "identified" || len(got.Updates) != 2 || got.Updates[1].Text != "A bad deploy." {
				t.Errorf("after the update %+v", got)
			}
		}},
		{"update: bad status", "POST", "/manager/incident/" + id + "/update", `{"status":"panicking","text":"x"}`, 400, `"status" must be one of`, nil},
		{"update: no text", "POST", "/manager/incident/" + id + "/update", `{"status":"monitoring"}`, 400, `missing "text"`, nil},
		{"update: unknown", "POST", "/manager/incident/nope/update", `{"status":"monitoring","text":"x"}`, 404, "no such incident", nil},
		{"edit", "PATCH", "/manager/incident/" + id, `{"title":"Slow API answers","impact":"major","affected":["web"]}`, 200, "", func(t *testing.T, body string) {
			var got incidentOut
			json.Unmarshal([]byte(body), &got)
			if got.Title != "Slow API answers" || got.Impact != "major" || strings.Join(got.Affected, ",") != "web" {
				t.Errorf("after the edit %+v", got)
			}
		}},
		{"edit: nothing", "PATCH", "/manager/incident/" + id, `{}`, 400, "nothing to change", nil},
		{"edit: unknown component", "PATCH", "/manager/incident/" + id, `{"affected":["db"]}`, 400, `unknown component "db"`, nil},
		{"edit: unknown", "PATCH", "/manager/incident/nope", `{"title":"x"}`, 404, "no such incident", nil},
		{"publish: public already", "POST", "/manager/incident/" + id + "/publish", "", 409, "public already", nil},
		{"delete: public", "DELETE", "/manager/incident/" + id, "", 409, "only drafts can be deleted", nil},
		{"publish the draft", "POST", "/manager/incident/draft1/publish", "", 200, "", func(t *testing.T, body string) {
			var got incidentOut
			json.Unmarshal([]byte(body), &got)
			if got.Draft {
				t.Errorf("still a draft: %+v", got)
			}
		}},
		{"resolve", "POST", "/manager/incident/" + id + "/resolve", `{"text":"Rolled back."}`, 200, "", func(t *testing.T, body string) {
			var got incidentOut
			json.Unmarshal([]byte(body), &got)
			if got.Status != "resolved" || got.Resolved == nil || len(got.Updates) != 3 {
				t.Errorf("after resolving %+v", got)
			}
		}},
		{"update: resolved", "POST", "/manager/incident/" + id + "/update", `{"status":"monitoring","text":"More?"}`, 409, "resolved", nil},
		{"resolve: resolved", "POST", "/manager/incident/" + id + "/resolve", `{}`, 409, "resolved", nil},
		{"edit: resolved (a typo in history)", "PATCH", "/manager/incident/" + id, `{"title":"Slow API"}`, 200, "", nil},
		{"delete: unknown", "DELETE", "/manager/incident/nope", "", 404, "no such incident", nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := s.call(t, st.method, st.path, st.body, nil)
			if r.code != st.code {
				t.Fatalf("%s %s: %d %s, want %d", st.method, st.path, r.code, r.body, st.code)
			}
			if st.code != 200 && !strings.Contains(r.errorText(), st.err) {
				t.Errorf("error %q, want one saying %q", r.body, st.err)
			}
			if st.code == 200 && r.hdr.Get("Content-Type") != "application/json; charset=utf-8" && r.body != "" {
				t.Errorf("Content-Type %q", r.hdr.Get("Content-Type"))
			}
			if st.check != nil {
				st.check(t, r.body)
			}
		})
	}

	// A draft can be deleted; a deleted one is gone.
	st := memory.New()
	if err := st.PutIncident(context.Background(), store.Incident{ID: "d2", Title: "t", Impact: "major", Status: "investigating", Draft: true,
		Created: time.Now(), Updates: []store.IncidentUpdate{{At: time.Now(), Status: "investigating", Text: "x"}}}); err != nil {
		t.Fatal(err)
	}
	s2 := &testServer{Server: apptest.Start(t, incidentConfig, apptest.Options{Store: st})}
	s2.url = s2.URL
	if r := s2.call(t, "DELETE", "/manager/incident/d2", "", nil); r.code != 200 || r.body != "" {
		t.Fatalf("delete the draft: %d %s", r.code, r.body)
	}
	if r := s2.call(t, "GET", "/manager/incident/d2", "", nil); r.code != 404 {
		t.Fatalf("after deleting the draft: %d %s", r.code, r.body)
	}
}

type windowOut struct {
	ID, Title, Text string
	Affected        []string
	Start, End      time.Time
	Config          bool
}

// TestMaintenanceRoutes schedules, lists and cancels windows.
func TestMaintenanceRoutes(t *testing.T) {
	s := startIncidents(t)
	start := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	body := `{"title":"Database upgrade","text":"Writes pause.","affected":["web:api"],"start":"` + start.Format(time.RFC3339) +
		`","end":"` + start.Add(time.Hour).Format(time.RFC3339) + `"}`
	var w windowOut
	if r := s.call(t, "POST", "/manager/maintenance", body, &w); r.code != 200 {
		t.Fatalf("schedule: %d %s", r.code, r.body)
	}
	if w.ID == "" || !w.Start.Equal(start) || !w.End.Equal(start.Add(time.Hour)) || w.Config {
		t.Fatalf("scheduled %+v", w)
	}
	rfc := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	for _, c := range []struct {
		name, body, err string
	}{
		{"end before start", `{"title":"x","affected":["web"],"start":"` + rfc(2*time.Hour) + `","end":"` + rfc(time.Hour) + `"}`, `"end" (`},
		{"unknown component", `{"title":"x","affected":["nope"],"start":"` + rfc(time.Hour) + `","end":"` + rfc(2*time.Hour) + `"}`, `unknown component "nope"`},
		{"not a time", `{"title":"x","affected":["web"],"start":"tonight","end":"` + rfc(2*time.Hour) + `"}`, `"tonight" is not an RFC 3339 time`},
		{"no affected", `{"title":"x","start":"` + rfc(time.Hour) + `","end":"` + rfc(2*time.Hour) + `"}`, `missing "affected"`},
		{"over already", `{"title":"x","affected":["web"],"start":"` + rfc(-2*time.Hour) + `","end":"` + rfc(-time.Hour) + `"}`, "in the past"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.call(t, "POST", "/manager/maintenance", c.body, nil)
			if r.code != 400 || !strings.Contains(r.errorText(), c.err) {
				t.Errorf("%d %s, want 400 saying %q", r.code, r.body, c.err)
			}
		})
	}
	var list []windowOut
	if r := s.call(t, "GET", "/manager/maintenance", "", &list); r.code != 200 {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	var fromConfig []windowOut
	made := 0
	for _, x := range list {
		if x.Config && x.Title == "Weekly restart" {
			fromConfig = append(fromConfig, x)
		}
		if x.ID == w.ID {
			made++
		}
	}
	if made != 1 || len(fromConfig) < 29 {
		t.Fatalf("list: the window made %d times, %d of the config's daily one; want 1 and one a day for 30 days", made, len(fromConfig))
	}
	if r := s.call(t, "DELETE", "/manager/maintenance/"+fromConfig[0].ID, "", nil); r.code != 404 {
		t.Errorf("cancel a window of the config: %d %s, want 404", r.code, r.body)
	}
	if r := s.call(t, "DELETE", "/manager/maintenance/"+w.ID, "", nil); r.code != 200 {
		t.Fatalf("cancel: %d %s", r.code, r.body)
	}
	if r := s.call(t, "DELETE", "/manager/maintenance/"+w.ID, "", nil); r.code != 404 || r.errorText() == "" {
		t.Fatalf("cancel again: %d %s", r.code, r.body)
	}
}

// TestWebhookSubscriberRoutes registers, lists and removes webhooks.
func TestWebhookSubscriberRoutes(t *testing.T) {
	s := startIncidents(t)
	var hook struct {
		ID, URL    string
		Components []string
	}
	if r := s.call(t, "POST", "/manager/subscribers", `{"url":"https://hooks.example.com/status","components":["web"]}`, &hook); r.code != 200 {
		t.Fatalf("add: %d %s", r.code, r.body)
	}
	if hook.ID == "" || hook.URL != "https://hooks.example.com/status" || strings.Join(hook.Components, ",") != "web" {
		t.Fatalf("added %+v", hook)
	}
	for _, c := range []struct{ name, body, err string }{
		{"not http", `{"url":"ftp://x.example.com/"}`, `"url" must be an absolute http:// or https:// URL`},
		{"unknown component", `{"url":"https://x.example.com/","components":["nope"]}`, `unknown component "nope"`},
	} {
		if r := s.call(t, "POST", "/manager/subscribers", c.body, nil); r.code != 400 || !strings.Contains(r.errorText(), c.err) {
			t.Errorf("%s: %d %s, want 400 saying %q", c.name, r.code, r.body, c.err)
		}
	}
	var list []struct{ ID, URL string }
	if r := s.call(t, "GET", "/manager/subscribers", "", &list); r.code != 200 || len(list) != 1 || list[0].ID != hook.ID {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	if r := s.call(t, "DELETE", "/manager/subscriber/"+hook.ID, "", nil); r.code != 200 {
		t.Fatalf("remove: %d %s", r.code, r.body)
	}
	if r := s.call(t, "DELETE", "/manager/subscriber/"+hook.ID, "", nil); r.code != 404 || r.errorText() == "" {
		t.Fatalf("remove again: %d %s", r.code, r.body)
	}
	if r := s.call(t, "GET", "/manager/subscribers", "", nil); r.body != "[]\n" {
		t.Fatalf("list after removing: %s", r.body)
	}
}

// TestNewRoutesNeedTheToken: every new manager route answers 401 without
// credentials and 403 with the wrong token, as a JSON error.
func TestNewRoutesNeedTheToken(t *testing.T) {
	s := startIncidents(t)
	routes := [][2]string{
		{"GET", "/manager/incidents"}, {"POST", "/manager/incident"}, {"GET", "/manager/incident/x"},
		{"PATCH", "/manager/incident/x"}, {"DELETE", "/manager/incident/x"}, {"POST", "/manager/incident/x/update"},
		{"POST", "/manager/incident/x/resolve"}, {"POST", "/manager/incident/x/publish"},
		{"GET", "/manager/maintenance"}, {"POST", "/manager/maintenance"}, {"DELETE", "/manager/maintenance/x"},
		{"GET", "/manager/subscribers"}, {"POST", "/manager/subscribers"}, {"DELETE", "/manager/subscriber/x"},
	}
	for i, rt := range routes {
		for _, c := range []struct {
			auth string
			code int
		}{{"", 401}, {basic(reporterToken), 403}} {
			// Each route from its own address: ten failures from one
			// would block it (429).
			r := s.doHeaders(t, rt[0], rt[1], "{}", map[string]string{"Authorization": c.auth,
				"X-Forwarded-For": fmt.Sprintf("192.0.2.%d", i+1)})
			if r.code != c.code || r.errorText() == "" {
				t.Errorf("%s %s with %q: %d %s, want %d with a JSON error", rt[0], rt[1], c.auth, r.code, r.body, c.code)
			}
		}
	}
}

// TestSubscribeWithoutMail: with no [notify.email], POST /subscribe says
// e-mail subscriptions are off, and the page offers the feed alone.
func TestSubscribeWithoutMail(t *testing.T) {
	s := startIncidents(t)
	resp, err := http.PostForm(s.url+"/subscribe", map[string][]string{"email": {"ada@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(b), "No subscriptions by e-mail here") || !strings.Contains(string(b), "/feed.atom") {
		t.Errorf("POST /subscribe: %d\n%s", resp.StatusCode, b)
	}
	page := s.do(t, "GET", "/", "", "")
	if strings.Contains(page.body, `action="/subscribe"`) || !strings.Contains(page.body, `<a href="/feed.atom">Atom</a>`) {
		t.Error("without e-mail the page offers the form, or not the feed")
	}
	for _, path := range []string{"/subscribe/confirm?token=x", "/unsubscribe?token=x"} {
		if r := s.do(t, "GET", path, "", ""); r.code != 404 {
			t.Errorf("GET %s: %d", path, r.code)
		}
	}
}
