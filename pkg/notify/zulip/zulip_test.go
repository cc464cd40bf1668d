package zulip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/notifytest"
	"github.com/overvakt/overvakt/pkg/status"
)

const (
	botEmail = "status-bot@example.zulipchat.com"
	botKey   = "SECRETKEY123"
)

func sample() *notify.Message {
	return &notify.Message{
		Kind:      notify.Changed,
		Status:    status.Dead,
		Time:      time.Date(2026, 3, 14, 8, 58, 28, 0, time.FixedZone("", 2*3600)),
		Replicas:  []string{"web:core:tcp://edge-3.example.net:80", "push:hosts:odd`name"},
		More:      2,
		Recovered: []string{"web:core:tcp://edge-1.example.net:80"},
		PageTitle: "Acme Status",
		PageURL:   "https://status.example.com/",
	}
}

// server is a loopback Zulip that records the last request.
type server struct {
	srv        *httptest.Server
	method     string
	path       string
	ctype      string
	user, pass string
	form       url.Values
}

func newServer(t *testing.T, code int, answer string) *server {
	t.Helper()
	s := &server{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.method, s.path, s.ctype = r.Method, r.URL.Path, r.Header.Get("Content-Type")
		s.user, s.pass, _ = r.BasicAuth()
		body, _ := io.ReadAll(r.Body)
		s.form, _ = url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func channel(t *testing.T, apiURL string) notify.Channel {
	t.Helper()
	return notifytest.Build(t, Kind(), &Table{
		BotEmail: botEmail, BotAPIKey: botKey, Channel: "status", APIURL: apiURL,
	}, notify.Deps{})
}

const success = `{"id":42,"msg":"","result":"success"}`

func TestSendsDocumentedMessage(t *testing.T) {
	// api_url may be the server, Vigil's API root or the endpoint itself.
	for _, suffix := range []string{"", "/", "/api/v1", "/api/v1/", "/api/v1/messages"} {
		t.Run("api_url=server"+suffix, func(t *testing.T) {
			s := newServer(t, http.StatusOK, success)
			if err := channel(t, s.srv.URL+suffix).Send(context.Background(), sample()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if s.method != http.MethodPost || s.path != "/api/v1/messages" {
				t.Errorf("got %s %s, want POST /api/v1/messages", s.method, s.path)
			}
			if s.ctype != "application/x-www-form-urlencoded" {
				t.Errorf("content type %q, want form-encoded", s.ctype)
			}
			if s.user != botEmail || s.pass != botKey {
				t.Errorf("basic auth %q:%q, want the bot's e-mail and key", s.user, s.pass)
			}
			want := map[string]string{"type": "stream", "to": "status", "topic": "Acme Status"}
			for k, v := range want {
				if got := s.form.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			wantContent := "**Acme Status: status changed to dead**\n" +
				"\nAffected replicas:\n- `web:core:tcp://edge-3.example.net:80`\n- ``push:hosts:odd`name``\n- and 2 more\n" +
				"\nRecovered:\n- `web:core:tcp://edge-1.example.net:80`\n" +
				"\nTime: 08:58:28 UTC+0200\nPage: https://status.example.com/"
			if got := s.form.Get("content"); got != wantContent {
				t.Errorf("content =\n%s\nwant\n%s", got, wantContent)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://example.zulipchat.com", "https://example.zulipchat.com/api/v1/messages"},
		{"https://example.zulipchat.com/api/v1/", "https://example.zulipchat.com/api/v1/messages"},
		{"https://example.com/chat/", "https://example.com/chat/api/v1/messages"},
		{"https://example.com/chat/api/v1/messages/", "https://example.com/chat/api/v1/messages"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := endpointFor(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("endpointFor(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := endpointFor("example.zulipchat.com"); err == nil || !strings.Contains(err.Error(), "notify.zulip.api_url") {
		t.Errorf("relative api_url: err = %v, want one naming notify.zulip.api_url", err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		answer string
		want   []string
	}{
		{"unknown channel", http.StatusBadRequest,
			`{"code":"STREAM_DOES_NOT_EXIST","msg":"Channel 'status' does not exist","result":"error","stream":"status"}`,
			[]string{"400", "Channel 'status' does not exist"}},
		{"bad key", http.StatusUnauthorized,
			`{"code":"UNAUTHORIZED","msg":"Invalid API key","result":"error"}`,
			[]string{"401", "Invalid API key", "check notify.zulip.bot_email and bot_api_key"}},
		{"error with 200", http.StatusOK, `{"msg":"Topic too long","result":"error"}`,
			[]string{`result "error"`, "Topic too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.code, tt.answer)
			err := channel(t, s.srv.URL+"/api/v1/").Send(context.Background(), sample())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			for _, w := range append(tt.want, "zulip") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), botKey) {
				t.Errorf("error leaks the API key: %q", err)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := channel(t, srv.URL).Send(ctx, sample())
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), botKey) {
		t.Fatalf("err = %v, want a deadline error without the key", err)
	}
}

func TestLongMessagesFitZulipLimits(t *testing.T) {
	m := sample()
	m.PageTitle = strings.Repeat("Very long company name ", 5)
	m.Replicas = nil
	for i := range notify.MaxListed {
		m.Replicas = append(m.Replicas, fmt.Sprintf("svc:node:https://%03d.%s.example.com/", i, strings.Repeat("x", 300)))
	}
	m.More = 10
	if got := []rune(topic(m)); len(got) != maxTopic || got[len(got)-1] != '…' {
		t.Errorf("topic has %d characters (%q), want %d ending in …", len(got), string(got), maxTopic)
	}
	c := content(m)
	if len(c) > maxContent {
		t.Errorf("content is %d bytes, want at most %d", len(c), maxContent)
	}
	listed := strings.Count(c, "\n- `svc:")
	if want := fmt.Sprintf("- and %d more", notify.MaxListed+10-listed); !strings.Contains(c, want) || listed == 0 {
		t.Errorf("content lists %d replicas and lacks %q", listed, want)
	}
	if !strings.Contains(c, "Page: https://status.example.com/") {
		t.Error("content lost the page link when shortened")
	}
}

func TestNew(t *testing.T) {
	ch := notifytest.Build(t, Kind(), &Table{BotEmail: botEmail, BotAPIKey: botKey, Channel: "status", APIURL: "https://z.example.com",
		ChannelOptions: config.ChannelOptions{RemindersOnly: true}}, notify.Deps{})
	if ch.Name() != "zulip" || !ch.RemindersOnly {
		t.Errorf("channel = %q reminders_only=%v, want zulip, true", ch.Name(), ch.RemindersOnly)
	}
}
