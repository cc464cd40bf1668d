package slack

import (
	"context"
	"encoding/json"
	"errors"
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

const hookPath = "/services/T000/B000/SECRETXYZ"

func sample() *notify.Message {
	return &notify.Message{
		Kind:      notify.Changed,
		Status:    status.Dead,
		Time:      time.Date(2026, 3, 14, 8, 58, 28, 0, time.FixedZone("", 2*3600)),
		Replicas:  []string{"web:core:tcp://edge-3.example.net:80", "api:eu:https://api.example.com/health?a=1&b=<2>"},
		More:      3,
		Recovered: []string{"web:core:tcp://edge-1.example.net:80"},
		PageTitle: "Acme Status",
		PageURL:   "https://status.example.com/",
	}
}

// hook is a loopback webhook that records what it got and answers with answer.
type hook struct {
	srv    *httptest.Server
	method string
	path   string
	ctype  string
	body   []byte
}

func newHook(t *testing.T, code int, answer string) *hook {
	t.Helper()
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.method, h.path, h.ctype = r.Method, r.URL.Path, r.Header.Get("Content-Type")
		h.body, _ = io.ReadAll(r.Body)
		w.WriteHeader(code)
		io.WriteString(w, answer)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func channel(t *testing.T, c *Table) notify.Channel {
	t.Helper()
	return notifytest.Build(t, Kind(), c, notify.Deps{})
}

func TestSendsDocumentedWebhook(t *testing.T) {
	tests := []struct {
		name     string
		mention  bool
		wantText string
	}{
		{"plain", false, "Acme Status: status changed to dead"},
		{"mention_channel", true, "<!channel> Acme Status: status changed to dead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHook(t, http.StatusOK, "ok")
			ch := channel(t, &Table{HookURL: h.srv.URL + hookPath, MentionChannel: tt.mention})
			if err := ch.Send(context.Background(), sample()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if h.method != http.MethodPost || h.path != hookPath || h.ctype != "application/json" {
				t.Fatalf("got %s %s (%s), want POST %s (application/json)", h.method, h.path, h.ctype, hookPath)
			}
			var got payload
			if err := json.Unmarshal(h.body, &got); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, h.body)
			}
			if got.Text != tt.wantText {
				t.Errorf("text = %q, want %q", got.Text, tt.wantText)
			}
			if len(got.Attachments) != 1 {
				t.Fatalf("attachments = %d, want 1", len(got.Attachments))
			}
			a := got.Attachments[0]
			if a.Color != colorDead || a.Title != "Acme Status" || a.TitleLink != "https://status.example.com/" {
				t.Errorf("attachment = color %q title %q link %q", a.Color, a.Title, a.TitleLink)
			}
			if !strings.Contains(a.Fallback, "web:core:tcp://edge-3.example.net:80") {
				t.Errorf("fallback lacks the replica: %q", a.Fallback)
			}
			fields := map[string]string{}
			for _, f := range a.Fields {
				fields[f.Title] = f.Value
			}
			want := map[string]string{
				"Affected replicas": "web:core:tcp://edge-3.example.net:80\napi:eu:https://api.example.com/health?a=1&amp;b=&lt;2&gt;\nand 3 more",
				"Recovered":         "web:core:tcp://edge-1.example.net:80",
				"Status":            "dead",
				"Time":              "08:58:28 UTC+0200",
				"Page":              "<https://status.example.com/|Acme Status>",
			}
			for k, v := range want {
				if fields[k] != v {
					t.Errorf("field %q = %q, want %q", k, fields[k], v)
				}
			}
		})
	}
}

func TestColorFollowsStatus(t *testing.T) {
	tests := []struct {
		status status.Status
		want   string
	}{
		{status.Healthy, colorHealthy},
		{status.Sick, colorSick},
		{status.Dead, colorDead},
	}
	for _, tt := range tests {
		t.Run(tt.status.String(), func(t *testing.T) {
			h := newHook(t, http.StatusOK, "ok")
			m := sample()
			m.Status = tt.status
			if err := channel(t, &Table{HookURL: h.srv.URL + hookPath}).Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			var got payload
			json.Unmarshal(h.body, &got)
			if c := got.Attachments[0].Color; c != tt.want {
				t.Errorf("color = %q, want %q", c, tt.want)
			}
		})
	}
}

func TestErrorsQuoteSlackAndHideTheHook(t *testing.T) {
	h := newHook(t, http.StatusNotFound, "channel_not_found")
	err := channel(t, &Table{HookURL: h.srv.URL + hookPath}).Send(context.Background(), sample())
	if err == nil {
		t.Fatal("Send succeeded on a 404")
	}
	for _, want := range []string{"slack", "404", "channel_not_found"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "SECRETXYZ") {
		t.Errorf("error leaks the hook path: %q", err)
	}
}

func TestTimeoutHidesTheHook(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	ch := channel(t, &Table{HookURL: srv.URL + hookPath})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := ch.Send(ctx, sample())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if strings.Contains(err.Error(), "SECRETXYZ") {
		t.Errorf("error leaks the hook path: %q", err)
	}
}

func TestNew(t *testing.T) {
	ch := channel(t, &Table{HookURL: "https://hooks.slack.com/services/A/B/C", ChannelOptions: config.ChannelOptions{RemindersOnly: true}})
	if !ch.RemindersOnly || ch.Name() != "slack" {
		t.Errorf("channel = %q reminders_only=%v, want slack, true", ch.Name(), ch.RemindersOnly)
	}
	_, err := notifytest.TryBuild(Kind(), &Table{HookURL: "hooks.slack.com/services/SECRETXYZ"}, notify.Deps{})
	if err == nil || !strings.Contains(err.Error(), "notify.slack.hook_url") || strings.Contains(err.Error(), "SECRETXYZ") {
		t.Errorf("bad hook_url: err=%v, want an error about notify.slack.hook_url without the hook", err)
	}
}
