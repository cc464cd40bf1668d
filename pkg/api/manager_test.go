package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/status"
)

func TestAnnouncements(t *testing.T) {
	s := startServer(t, nil)
	man := basic(managerToken)

	publish := func(title, text string) string {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"title": title, "text": text})
		var out struct {
			ID string `json:"id"`
		}
		_, before := s.Board.Announcements()
		r := s.do(t, "POST", "/manager/announcement", man, string(body))
		if r.code != 200 || json.Unmarshal([]byte(r.body), &out) != nil || out.ID == "" {
			t.Fatalf("publish: %d %s, want 200 and {\"id\"}", r.code, r.body)
		}
		if _, after := s.Board.Announcements(); after <= before {
			t.Fatalf("version %d after publishing, was %d: the page would not re-render", after, before)
		}
		return out.ID
	}
	first := publish("Maintenance", "Database upgrade\r\nat 22:00 UTC.")
	time.Sleep(2 * time.Millisecond) // distinct dates
	second := publish("  <b>Outage</b>  ", "See https://example.com/x")

	r := s.do(t, "GET", "/manager/announcements", man, "")
	var list []struct{ ID, Title, Text, Date string }
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || r.code != 200 {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	if len(list) != 2 || list[0].ID != second || list[1].ID != first {
		t.Fatalf("list = %+v, want newest first: %s, %s", list, second, first)
	}
	if list[0].Title != "<b>Outage</b>" || list[1].Text != "Database upgrade\nat 22:00 UTC." {
		t.Errorf("stored title %q and text %q, want them trimmed with plain line breaks", list[0].Title, list[1].Text)
	}
	for _, an := range list {
		if _, err := time.Parse(time.RFC3339, an.Date); err != nil || len(an.Date) != len("2026-03-14T21:05:11Z") {
			t.Errorf("date %q is not RFC 3339 in whole seconds and UTC, as the docs show", an.Date)
		}
	}

	stored, _ := s.Board.Announcements()
	if len(stored) != 2 || stored[0].ID != second || stored[0].Published.IsZero() {
		t.Fatalf("Announcements() = %+v", stored)
	}

	if r := s.do(t, "DELETE", "/manager/announcement/"+first, man, ""); r.code != 200 {
		t.Fatalf("retract: %d %s", r.code, r.body)
	}
	if r := s.do(t, "DELETE", "/manager/announcement/"+first, man, ""); r.code != 404 || r.errorText() == "" {
		t.Fatalf("second retract: %d %s, want 404 with an error", r.code, r.body)
	}
	if stored, _ := s.Board.Announcements(); len(stored) != 1 || stored[0].ID != second {
		t.Fatalf("after retract: %+v", stored)
	}
}

func TestAnnouncementValidation(t *testing.T) {
	s := startServer(t, nil)
	cases := []struct {
		name, body string
		code       int
		mentions   string
	}{
		{"no title", `{"text":"x"}`, 400, "title"},
		{"blank title", `{"title":"  ","text":"x"}`, 400, "title"},
		{"no text", `{"title":"t"}`, 400, "text"},
		{"title not a string", `{"title":1,"text":"x"}`, 400, `"title" must be a string, not a number`},
		{"title too long", `{"title":"` + strings.Repeat("é", 201) + `","text":"x"}`, 400, "title"},
		{"text too long", `{"title":"t","text":"` + strings.Repeat("x", 10001) + `"}`, 400, "text"},
		{"title on two lines", `{"title":"a\nb","text":"x"}`, 400, "title"},
		{"control character in text", `{"title":"t","text":"a\u0007b"}`, 400, "text"},
		{"bad JSON", `{"title":`, 400, "JSON"},
		{"too large", `{"title":"t","text":"` + strings.Repeat("x", 70000) + `"}`, 413, "larger"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, "POST", "/manager/announcement/", basic(managerToken), tc.body)
			if r.code != tc.code || !strings.Contains(r.errorText(), tc.mentions) {
				t.Fatalf("got %d %s, want %d mentioning %q", r.code, r.body, tc.code, tc.mentions)
			}
		})
	}
	t.Run("at most notice.MaxAnnouncements", func(t *testing.T) {
		for i := range notice.MaxAnnouncements {
			if r := s.do(t, "POST", "/manager/announcement", basic(managerToken), `{"title":"t","text":"x"}`); r.code != 200 {
				t.Fatalf("announcement %d: %d %s", i, r.code, r.body)
			}
		}
		if r := s.do(t, "POST", "/manager/announcement", basic(managerToken), `{"title":"t","text":"x"}`); r.code != 409 || r.errorText() == "" {
			t.Fatalf("one too many: %d %s, want 409", r.code, r.body)
		}
	})
}

func TestAlerts(t *testing.T) {
	s := startServer(t, nil)
	empty := s.do(t, "GET", "/manager/prober/alerts", basic(managerToken), "")
	if empty.code != 200 || strings.TrimSpace(empty.body) != `{"dead":[],"sick":[]}` {
		t.Fatalf("no alerts: %d %s, want empty lists", empty.code, empty.body)
	}
	reports := []string{
		`{"replica":"busy","interval":30,"load":{"cpu":2,"ram":0.1}}`,
		`{"replica":"calm","interval":30,"load":{"cpu":0.1,"ram":0.1}}`,
	}
	for _, b := range reports {
		s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), b)
	}
	s.do(t, "POST", "/reporter/hosts/local/", basic(reporterToken), `{"replica":"db","interval":30,"health":"dead"}`)
	s.reg.Set(status.Ref{Service: 0, Node: 0, Replica: 0}, status.Result{Status: status.Dead, At: time.Now()})

	r := s.do(t, "GET", "/manager/prober/alerts/", basic(managerToken), "")
	type entry struct{ Probe, Node, Replica string }
	var got struct{ Dead, Sick []entry }
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	wantDead := []entry{{"web", "api", "http://127.0.0.1:9/"}, {"hosts", "local", "db"}}
	wantSick := []entry{{"hosts", "push", "busy"}}
	if !equalEntries(got.Dead, wantDead) || !equalEntries(got.Sick, wantSick) {
		t.Fatalf("alerts = %+v, want dead %v and sick %v", got, wantDead, wantSick)
	}
}

func equalEntries[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestIgnoredReminders(t *testing.T) {
	s := startServer(t, nil)
	man := basic(managerToken)
	get := func() string {
		t.Helper()
		r := s.do(t, "GET", "/manager/prober/alerts/ignored", man, "")
		if r.code != 200 {
			t.Fatalf("get: %d %s", r.code, r.body)
		}
		return strings.TrimSpace(r.body)
	}
	if got := get(); got != `{"reminders_seconds":null}` {
		t.Fatalf("initially %s, want null", got)
	}
	if s.Silence.Active(time.Now()) {
		t.Fatal("silence active before any PUT")
	}
	if r := s.do(t, "PUT", "/manager/prober/alerts/ignored", man, `{"reminders_seconds":600}`); r.code != 200 {
		t.Fatalf("put: %d %s", r.code, r.body)
	}
	if got := get(); got != `{"reminders_seconds":600}` && got != `{"reminders_seconds":599}` {
		t.Fatalf("after silencing 600 s: %s", got)
	}
	until, ok := s.Silence.Until()
	if !ok || time.Until(until) < 599*time.Second || !s.Silence.Active(time.Now()) {
		t.Fatalf("Silence().Until() = %v, %v; want about 10 minutes from now", until, ok)
	}
	if s.Silence.Active(time.Now().Add(601 * time.Second)) {
		t.Fatal("silence still active after it ended")
	}
	if r := s.do(t, "PUT", "/manager/prober/alerts/ignored/", man, `{"reminders_seconds":null}`); r.code != 200 {
		t.Fatalf("unsilence: %d %s", r.code, r.body)
	}
	if got := get(); got != `{"reminders_seconds":null}` {
		t.Fatalf("after null: %s", got)
	}

	for _, bad := range []string{`{}`, `{"reminders_seconds":-1}`, `{"reminders_seconds":"10"}`, `{"reminders_seconds":1e12}`, `nope`} {
		if r := s.do(t, "PUT", "/manager/prober/alerts/ignored", man, bad); r.code != 400 || r.errorText() == "" {
			t.Errorf("PUT %s: %d %s, want 400 with an error", bad, r.code, r.body)
		}
	}
}

// TestManagerJSONErrors: a body that does not decode is answered with the
// field and what it takes, in words: never a Go type name.
func TestManagerJSONErrors(t *testing.T) {
	s := startServer(t, nil)
	cases := []struct {
		name, method, path, body, want string
	}{
		{"title is a number", "POST", "/manager/announcement", `{"title":1,"text":"x"}`, `"title" must be a string, not a number`},
		{"text is an object", "POST", "/manager/announcement", `{"title":"t","text":{}}`, `"text" must be a string, not an object`},
		{"text is true", "POST", "/manager/announcement", `{"title":"t","text":true}`, `"text" must be a string, not true or false`},
		{"body is an array", "POST", "/manager/announcement", `[1,2]`, `the body must be an object, not an array`},
		{"body is a string", "PUT", "/manager/prober/alerts/ignored", `"x"`, `the body must be an object, not a string`},
		{"truncated", "POST", "/manager/announcement", `{"title":"t"`, `invalid JSON body at byte 12: unexpected end of JSON input`},
		{"not JSON", "PUT", "/manager/prober/alerts/ignored", `reminders=1`, `invalid JSON body at byte 1: invalid character 'r' looking for beginning of value`},
		{"trailing garbage", "POST", "/manager/announcement", `{"title":"t","text":"x"} x`, `invalid JSON body at byte 26: invalid character 'x' after top-level value`},
		{"seconds as text", "PUT", "/manager/prober/alerts/ignored", `{"reminders_seconds":"60"}`, `"reminders_seconds" must be a number of seconds or null`},
	}
	goWords := []string{"Go ", "struct", "map[", "*", "[]", "json.", "float64", "int64", "unmarshal"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, basic(managerToken), tc.body)
			msg := r.errorText()
			if r.code != 400 || msg != tc.want {
				t.Fatalf("got %d %q, want 400 %q", r.code, msg, tc.want)
			}
			for _, w := range goWords {
				if strings.Contains(msg, w) {
					t.Errorf("error %q names Go's internals (%q)", msg, w)
				}
			}
		})
	}
}
