package webex

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

const (
	token  = "SECRETbearerTOKEN"
	roomID = "Y2lzY29zcGFyazovL3VzL1JPT00vYmJjZWIxYWQ"
)

func sample() *notify.Message {
	return &notify.Message{
		Kind:      notify.Changed,
		Status:    status.Dead,
		Time:      time.Date(2026, 3, 14, 8, 58, 28, 0, time.FixedZone("", 2*3600)),
		Replicas:  []string{"web:core:tcp://edge-3.example.net:80"},
		Recovered: []string{"web:core:tcp://edge-1.example.net:80"},
		PageTitle: "Acme Status",
		PageURL:   "https://status.example.com/",
	}
}

// server is a loopback Webex API that records the last request.
type server struct {
	srv    *httptest.Server
	method string
	path   string
	auth   string
	ctype  string
	body   []byte
}

func newServer(t *testing.T, code int, answer string) *server {
	t.Helper()
	s := &server{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.method, s.path = r.Method, r.URL.Path
		s.auth, s.ctype = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		s.body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func channel(t *testing.T, endpoint string) notify.Channel {
	t.Helper()
	return notifytest.Build(t, Kind(), &Table{EndpointURL: endpoint, Token: token, RoomID: roomID}, notify.Deps{})
}

const created = `{"id":"Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOTJkYjNiZTAtNDNiZC0xMWU2LThhZTktZGQ1YjNkZmM1NjVk","roomId":"` + roomID + `","roomType":"group"}`

func TestSendsDocumentedMessage(t *testing.T) {
	// endpoint_url may be Vigil's full URL, the API root or the server.
	for _, suffix := range []string{"/v1/messages", "/v1/messages/", "/v1", "/", ""} {
		t.Run("endpoint_url=server"+suffix, func(t *testing.T) {
			s := newServer(t, http.StatusOK, created)
			if err := channel(t, s.srv.URL+suffix).Send(context.Background(), sample()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if s.method != http.MethodPost || s.path != "/v1/messages" || s.ctype != "application/json" {
				t.Errorf("got %s %s (%s), want POST /v1/messages (application/json)", s.method, s.path, s.ctype)
			}
			if s.auth != "Bearer "+token {
				t.Errorf("Authorization = %q, want the bearer token", s.auth)
			}
			var got message
			if err := json.Unmarshal(s.body, &got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			want := message{
				RoomID: roomID,
				Text:   sample().Text(),
				Markdown: "**Acme Status: status changed to dead**\n" +
					"\nAffected replicas:\n- `web:core:tcp://edge-3.example.net:80`\n" +
					"\nRecovered:\n- `web:core:tcp://edge-1.example.net:80`\n" +
					"\nTime: 08:58:28 UTC+0200\nPage: https://status.example.com/",
			}
			if got != want {
				t.Errorf("body =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestDefaultEndpoint(t *testing.T) {
	ch, err := notifytest.TryBuild(Kind(), &Table{Token: token, RoomID: roomID}, notify.Deps{})
	if err != nil || ch.Notifier.(*Notifier).endpoint != "https://webexapis.com/v1/messages" {
		t.Errorf("empty endpoint_url: %v, want Webex's own endpoint", err)
	}
	_, err = notifytest.TryBuild(Kind(), &Table{EndpointURL: "webexapis.com", Token: token, RoomID: roomID}, notify.Deps{})
	if err == nil || !strings.Contains(err.Error(), "notify.webex.endpoint_url") || strings.Contains(err.Error(), token) {
		t.Errorf("relative endpoint_url: err=%v, want an error about notify.webex.endpoint_url without the token", err)
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t, http.StatusNotFound,
		`{"message":"Could not find a room with provided ID.","errors":[{"description":"Could not find a room with provided ID."}],"trackingId":"ROUTER_5F1C"}`)
	err := channel(t, s.srv.URL).Send(context.Background(), sample())
	if err == nil {
		t.Fatal("Send succeeded on 404")
	}
	for _, want := range []string{"webex", "404", "Could not find a room"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), token) {
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

func TestLongMessagesFitTheLimit(t *testing.T) {
	m := sample()
	m.Replicas, m.Recovered = nil, nil
	for i := range notify.MaxListed {
		m.Replicas = append(m.Replicas, fmt.Sprintf("svc:node:https://%02d.%s.example.com/", i, strings.Repeat("x", 150)))
		m.Recovered = append(m.Recovered, fmt.Sprintf("svc:node:https://%02d.%s.example.com/", i, strings.Repeat("y", 150)))
	}
	got := messageFor(roomID, m)
	if len(got.Markdown) > maxMessage || len(got.Text) > maxMessage {
		t.Errorf("markdown %d and text %d bytes, want at most %d each", len(got.Markdown), len(got.Text), maxMessage)
	}
	for _, want := range []string{"more\n", "Page: https://status.example.com/"} {
		if !strings.Contains(got.Markdown, want) || !strings.Contains(got.Text, want) {
			t.Errorf("shortened message lacks %q", want)
		}
	}
}

func TestNew(t *testing.T) {
	ch := notifytest.Build(t, Kind(), &Table{Token: token, RoomID: roomID,
		ChannelOptions: config.ChannelOptions{RemindersOnly: true}}, notify.Deps{})
	if ch.Name() != "webex" || !ch.RemindersOnly {
		t.Errorf("channel = %q reminders_only=%v, want webex, true", ch.Name(), ch.RemindersOnly)
	}
}
