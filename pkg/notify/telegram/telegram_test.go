package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

const token = "123456:SECRET-token_ABC"

func sample() *notify.Message {
	return &notify.Message{
		Kind:      notify.Changed,
		Status:    status.Dead,
		Time:      time.Date(2026, 3, 14, 8, 58, 28, 0, time.FixedZone("", 2*3600)),
		Replicas:  []string{"web:core:tcp://edge-3.example.net:80", "api:eu:https://api.example.com/_health*"},
		PageTitle: "Acme Status",
		PageURL:   "https://status.example.com/",
	}
}

// server is a loopback Bot API that records the last request.
type server struct {
	srv    *httptest.Server
	method string
	path   string
	ctype  string
	body   map[string]any
}

func newServer(t *testing.T, code int, answer string) *server {
	t.Helper()
	s := &server{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.method, s.path, s.ctype = r.Method, r.URL.Path, r.Header.Get("Content-Type")
		s.body = nil
		json.NewDecoder(r.Body).Decode(&s.body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func channel(t *testing.T, apiURL, chatID string) notify.Channel {
	t.Helper()
	return notifytest.Build(t, Kind(), &Table{APIURL: apiURL, BotToken: token, ChatID: chatID}, notify.Deps{})
}

const sent = `{"ok":true,"result":{"message_id":42,"chat":{"id":-1001234567890,"type":"channel"},"date":1773471508,"text":"…"}}`

func TestSendsDocumentedSendMessage(t *testing.T) {
	tests := []struct {
		name   string
		suffix string // after the server URL in api_url
		chatID string
		want   any // chat_id as JSON decodes it
	}{
		{"numeric chat", "", "-1001234567890", float64(-1001234567890)},
		{"channel username", "/", "@example_status", "@example_status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, http.StatusOK, sent)
			if err := channel(t, s.srv.URL+tt.suffix, tt.chatID).Send(context.Background(), sample()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if s.method != http.MethodPost || s.path != "/bot"+token+"/sendMessage" || s.ctype != "application/json" {
				t.Errorf("got %s %s (%s), want POST /bot<token>/sendMessage (application/json)", s.method, s.path, s.ctype)
			}
			if s.body["chat_id"] != tt.want {
				t.Errorf("chat_id = %#v, want %#v", s.body["chat_id"], tt.want)
			}
			if s.body["text"] != sample().Text() {
				t.Errorf("text = %q, want the message's Text()", s.body["text"])
			}
			if _, ok := s.body["parse_mode"]; ok {
				t.Error("parse_mode is set, but the text is not escaped for it")
			}
		})
	}
}

func TestErrorsQuoteTelegramAndHideTheToken(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		answer string
		want   []string
	}{
		{"chat not found", http.StatusBadRequest,
			`{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`,
			[]string{"400 Bad Request", "chat not found"}},
		{"wrong token", http.StatusUnauthorized,
			`{"ok":false,"error_code":401,"description":"Unauthorized"}`,
			[]string{"401", "check notify.telegram.bot_token"}},
		{"ok false with 200", http.StatusOK,
			`{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked from the channel chat"}`,
			[]string{"ok=false", "bot was kicked"}},
		{"not the Bot API", http.StatusOK, `<html>proxy says hi</html>`,
			[]string{"not Bot API JSON", "proxy says hi"}},
		{"answer echoes the token", http.StatusNotFound, `{"ok":false,"description":"no bot ` + token + `"}`,
			[]string{"404", "no bot ***"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.code, tt.answer)
			err := channel(t, s.srv.URL, "42").Send(context.Background(), sample())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			for _, w := range append(tt.want, "telegram", "/bot***/sendMessage") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks the bot token: %q", err)
			}
		})
	}
}

func TestTransportErrorsHideTheToken(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := channel(t, srv.URL, "42").Send(ctx, sample())
		if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("err = %v, want a deadline error without the token", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		err := channel(t, srv.URL, "42").Send(context.Background(), sample())
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("err = %v, want an error without the token", err)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		ch := notifytest.Build(t, Kind(), &Table{APIURL: srv.URL, BotToken: token, ChatID: "42"},
			notify.Deps{HTTP: &http.Client{Timeout: 100 * time.Millisecond}})
		err := ch.Send(context.Background(), sample())
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("err = %v, want an error without the token", err)
		}
	})
}

func TestLongTextFitsTheLimit(t *testing.T) {
	m := sample()
	m.Replicas, m.Recovered = nil, nil
	for i := range notify.MaxListed {
		m.Replicas = append(m.Replicas, fmt.Sprintf("svc:node:https://%02d.%s.example.com/ ✅🔥", i, strings.Repeat("x", 100)))
		m.Recovered = append(m.Recovered, fmt.Sprintf("svc:node:https://%02d.up.example.com/", i))
	}
	got := text(m)
	if n := utf16Len(got); n > maxText {
		t.Errorf("text is %d UTF-16 units, want at most %d", n, maxText)
	}
	for _, want := range []string{"more\n", "Time: 08:58:28 UTC+0200", "Page: https://status.example.com/"} {
		if !strings.Contains(got, want) {
			t.Errorf("shortened text lacks %q", want)
		}
	}
}

func TestNew(t *testing.T) {
	ch := notifytest.Build(t, Kind(), &Table{BotToken: token, ChatID: "1",
		ChannelOptions: config.ChannelOptions{RemindersOnly: true}}, notify.Deps{})
	n := ch.Notifier.(*Notifier)
	if ch.Name() != "telegram" || !ch.RemindersOnly || !strings.HasPrefix(n.endpoint, "https://api.telegram.org/bot") {
		t.Errorf("channel = %q reminders_only=%v endpoint %q, want telegram, true, the real API", ch.Name(), ch.RemindersOnly, n.where)
	}
	_, err := notifytest.TryBuild(Kind(), &Table{APIURL: "api.telegram.org", BotToken: token, ChatID: "1"}, notify.Deps{})
	if err == nil || !strings.Contains(err.Error(), "notify.telegram.api_url") || strings.Contains(err.Error(), token) {
		t.Errorf("relative api_url: err=%v, want an error about notify.telegram.api_url without the token", err)
	}
}
