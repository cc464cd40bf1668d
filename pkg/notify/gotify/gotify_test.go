package gotify

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

const appToken = "AiOLxxDxYOCc7bY"

func sample() *notify.Message {
	return &notify.Message{
		Kind:      notify.Changed,
		Status:    status.Dead,
		Time:      time.Date(2026, 3, 14, 8, 58, 28, 0, time.FixedZone("", 2*3600)),
		Replicas:  []string{"web:core:tcp://edge-3.example.net:80"},
		PageTitle: "Acme Status",
		PageURL:   "https://status.example.com/",
	}
}

// server is a loopback Gotify that records the last request.
type server struct {
	srv    *httptest.Server
	method string
	path   string
	ctype  string
	key    string
	query  string
	body   []byte
}

func newServer(t *testing.T, code int, answer string) *server {
	t.Helper()
	s := &server{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.method, s.path, s.ctype = r.Method, r.URL.Path, r.Header.Get("Content-Type")
		s.key, s.query = r.Header.Get("X-Gotify-Key"), r.URL.RawQuery
		s.body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func channel(t *testing.T, appURL string) notify.Channel {
	t.Helper()
	return notifytest.Build(t, Kind(), &Table{AppURL: appURL, AppToken: appToken}, notify.Deps{})
}

const stored = `{"id":25,"appid":5,"message":"…","title":"…","priority":8,"date":"2026-03-14T08:58:28.52+02:00"}`

func TestSendsDocumentedMessage(t *testing.T) {
	tests := []struct{ appURL, wantPath string }{
		{"", "/message"},
		{"/", "/message"},
		{"/gotify/", "/gotify/message"},
		{"/message", "/message"},
		{"/?token=" + appToken, "/message"},
	}
	for _, tt := range tests {
		t.Run("app_url=server"+tt.appURL, func(t *testing.T) {
			s := newServer(t, http.StatusOK, stored)
			if err := channel(t, s.srv.URL+tt.appURL).Send(context.Background(), sample()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if s.method != http.MethodPost || s.path != tt.wantPath || s.ctype != "application/json" {
				t.Errorf("got %s %s (%s), want POST %s (application/json)", s.method, s.path, s.ctype, tt.wantPath)
			}
			if s.key != appToken || s.query != "" {
				t.Errorf("X-Gotify-Key %q, query %q; want the token in the header only", s.key, s.query)
			}
			var got map[string]any
			if err := json.Unmarshal(s.body, &got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			want := map[string]any{
				"title":    "Acme Status: status changed to dead",
				"message":  "Affected replicas:\n- web:core:tcp://edge-3.example.net:80\n\nTime: 08:58:28 UTC+0200\nPage: https://status.example.com/\n",
				"priority": float64(8),
				"extras": map[string]any{"client::notification": map[string]any{
					"click": map[string]any{"url": "https://status.example.com/"}}},
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("body =\n%s\nwant\n%s", gotJSON, wantJSON)
			}
		})
	}
}

func TestPriorityFollowsStatus(t *testing.T) {
	tests := []struct {
		name   string
		kind   notify.Kind
		status status.Status
		want   int
	}{
		{"dead", notify.Changed, status.Dead, priorityDead},
		{"dead reminder", notify.Reminder, status.Dead, priorityDead},
		{"sick", notify.Changed, status.Sick, prioritySick},
		{"healthy", notify.Changed, status.Healthy, priorityHealthy},
		{"test while dead", notify.Test, status.Dead, priorityHealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, http.StatusOK, stored)
			m := sample()
			m.Kind, m.Status = tt.kind, tt.status
			if err := channel(t, s.srv.URL).Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			var got message
			json.Unmarshal(s.body, &got)
			if got.Priority != tt.want {
				t.Errorf("priority = %d, want %d", got.Priority, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t, http.StatusUnauthorized,
		`{"error":"Unauthorized","errorCode":401,"errorDescription":"you need to provide a valid access token or user credentials to access this api"}`)
	err := channel(t, s.srv.URL+"/?token="+appToken).Send(context.Background(), sample())
	if err == nil {
		t.Fatal("Send succeeded on 401")
	}
	for _, want := range []string{"gotify", "401", "check notify.gotify.app_token", "provide a valid access token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), appToken) {
		t.Errorf("error leaks the token: %q", err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := channel(t, srv.URL).Send(ctx, sample()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}

func TestNew(t *testing.T) {
	ch := notifytest.Build(t, Kind(), &Table{AppURL: "https://push.example.com", AppToken: appToken,
		ChannelOptions: config.ChannelOptions{RemindersOnly: true}}, notify.Deps{})
	if ch.Name() != "gotify" || !ch.RemindersOnly {
		t.Errorf("channel = %q reminders_only=%v, want gotify, true", ch.Name(), ch.RemindersOnly)
	}
	if _, err := notifytest.TryBuild(Kind(), &Table{AppURL: "push.example.com", AppToken: appToken}, notify.Deps{}); err == nil || !strings.Contains(err.Error(), "notify.gotify.app_url") {
		t.Errorf("relative app_url: err=%v, want an error about notify.gotify.app_url", err)
	}
}
