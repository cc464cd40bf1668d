package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/notifytest"
	"github.com/overvakt/overvakt/pkg/status"
)

var at = time.Date(2024, 5, 6, 8, 58, 28, 0, time.FixedZone("CEST", 2*3600))

// hook is a loopback server that checks the request and answers as told.
func hook(t *testing.T, code int, answer string, bodies chan<- string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("method %s, want POST", r.Method)
		}
		if r.URL.Path != "/hooks/overvakt/s3cr3t" {
			t.Errorf("path %s, want /hooks/overvakt/s3cr3t", r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
		w.WriteHeader(code)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hooks/overvakt/s3cr3t"
}

func newChannel(t *testing.T, url string) notify.Channel {
	t.Helper()
	ch := notifytest.Build(t, Kind(), &Table{HookURL: url, ChannelOptions: config.ChannelOptions{RemindersOnly: true}},
		notify.Deps{HTTP: &http.Client{Timeout: 5 * time.Second}})
	if !ch.RemindersOnly || ch.Name() != "webhook" {
		t.Fatalf("channel %q, reminders_only %v", ch.Name(), ch.RemindersOnly)
	}
	return ch
}

func TestPayload(t *testing.T) {
	page := func(m notify.Message) *notify.Message {
		m.Time, m.PageTitle, m.PageURL = at, "Acme Status", "https://status.example.com/"
		return &m
	}
	many := make([]string, notify.MaxListed)
	for i := range many {
		many[i] = "web:core:r"
	}
	tests := []struct {
		name string
		m    *notify.Message
		want string
	}{
		{"the documented example", page(notify.Message{Kind: notify.Changed, Status: status.Dead,
			Replicas: []string{"web:core:tcp://edge-3.example.net:80"}}),
			`{"type":"changed","status":"dead","time":"08:58:28 UTC+0200","replicas":["web:core:tcp://edge-3.example.net:80"],"page":{"title":"Acme Status","url":"https://status.example.com/"},"timestamp":"2024-05-06T08:58:28+02:00","recovered":[],"changes":{}}`},
		{"no replicas is an empty array", page(notify.Message{Kind: notify.Startup, Status: status.Healthy}),
			`{"type":"startup","status":"healthy","time":"08:58:28 UTC+0200","replicas":[],"page":{"title":"Acme Status","url":"https://status.example.com/"},"timestamp":"2024-05-06T08:58:28+02:00","recovered":[],"changes":{}}`},
		{"recovery names no replica", page(notify.Message{Kind: notify.Changed, Status: status.Healthy,
			Recovered: []string{"web:core:tcp://edge-3.example.net:80"}}),
			`{"type":"changed","status":"healthy","time":"08:58:28 UTC+0200","replicas":[],"page":{"title":"Acme Status","url":"https://status.example.com/"},"timestamp":"2024-05-06T08:58:28+02:00","recovered":["web:core:tcp://edge-3.example.net:80"],"changes":{}}`},
		{"changes give the old and new status and the reason", page(notify.Message{Kind: notify.Changed, Status: status.Dead,
			Replicas:  []string{"web:core:tcp://edge-3.example.net:80"},
			Recovered: []string{"web:hosts:db-1"},
			Changes: []notify.Change{
				{Replica: "web:core:tcp://edge-3.example.net:80", Old: status.Healthy, New: status.Dead, Reason: "dial tcp: connection refused"},
				{Replica: "web:hosts:db-1", Old: status.Dead, Gone: true},
			}}),
			`{"type":"changed","status":"dead","time":"08:58:28 UTC+0200","replicas":["web:core:tcp://edge-3.example.net:80"],"page":{"title":"Acme Status","url":"https://status.example.com/"},"timestamp":"2024-05-06T08:58:28+02:00","recovered":["web:hosts:db-1"],"changes":{"web:core:tcp://edge-3.example.net:80":{"old":"healthy","new":"dead","reason":"dial tcp: connection refused"},"web:hosts:db-1":{"old":"dead","new":"removed"}}}`},
		{"URLs are not HTML-escaped", page(notify.Message{Kind: notify.Reminder, Status: status.Dead,
			Replicas: []string{"api:v1:https://api.example.com/health?a=1&b=<2>"}}),
			`{"type":"reminder","status":"dead","time":"08:58:28 UTC+0200","replicas":["api:v1:https://api.example.com/health?a=1&b=<2>"],"page":{"title":"Acme Status","url":"https://status.example.com/"},"timestamp":"2024-05-06T08:58:28+02:00","recovered":[],"changes":{}}`},
		{"a capped list says how many more", page(notify.Message{Kind: notify.Changed, Status: status.Dead,
			Replicas: many, More: 7}),
			`{"type":"changed","status":"dead","time":"08:58:28 UTC+0200","replicas":["web:core:r"` +
				strings.Repeat(`,"web:core:r"`, notify.MaxListed-1) +
				`],"more":7,"page":{"title":"Acme Status","url":"https://status.example.com/"},"timestamp":"2024-05-06T08:58:28+02:00","recovered":[],"changes":{}}`},
		{"notes are added after the contract's fields", page(notify.Message{Kind: notify.Changed, Status: status.Healthy,
			Notes: []string{"dead replica agents:hosts:db-1 flushed by the reporter token from 192.0.2.7"}}),
			`{"type":"changed","status":"healthy","time":"08:58:28 UTC+0200","replicas":[],"page":{"title":"Acme Status","url":"https://status.example.com/"},` +
				`"timestamp":"2024-05-06T08:58:28+02:00","recovered":[],"changes":{},"notes":["dead replica agents:hosts:db-1 flushed by the reporter token from 192.0.2.7"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bodies := make(chan string, 1)
			ch := newChannel(t, hook(t, http.StatusNoContent, "", bodies))
			if err := ch.Send(context.Background(), tc.m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := <-bodies; got != tc.want {
				t.Errorf("body\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	m := &notify.Message{Kind: notify.Test, Time: at}
	t.Run("non-2xx quotes status and body, not the URL path", func(t *testing.T) {
		ch := newChannel(t, hook(t, http.StatusInternalServerError, strings.Repeat("x", 400)+"END", make(chan string, 1)))
		err := ch.Send(context.Background(), m)
		if err == nil {
			t.Fatal("Send succeeded on a 500")
		}
		msg := err.Error()
		if !strings.Contains(msg, "500 Internal Server Error") || !strings.Contains(msg, `"xxx`) {
			t.Errorf("error does not quote the answer: %s", msg)
		}
		if strings.Contains(msg, "END") || strings.Contains(msg, "s3cr3t") {
			t.Errorf("error quotes too much (the body is cut at 300 bytes, the path is secret): %s", msg)
		}
	})
	t.Run("connection refused hides the path", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL + "/hooks/overvakt/s3cr3t"
		srv.Close()
		err := newChannel(t, url).Send(context.Background(), m)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "refused") {
			t.Errorf("error = %v, want connection refused without the path", err)
		}
	})
	t.Run("bad hook_url is refused without quoting it", func(t *testing.T) {
		_, err := notifytest.TryBuild(Kind(), &Table{HookURL: "hooks.example.com/overvakt/s3cr3t"}, notify.Deps{})
		if err == nil || !strings.Contains(err.Error(), "notify.webhook.hook_url") || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error = %v, want an error about notify.webhook.hook_url without the URL", err)
		}
	})
}
