package matrix

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

const (
	accessToken = "syt_SECRET_token"
	roomID      = "!abc123:example.com"
)

func sample() *notify.Message {
	return &notify.Message{
		Kind:      notify.Changed,
		Status:    status.Dead,
		Time:      time.Date(2026, 3, 14, 8, 58, 28, 0, time.FixedZone("", 2*3600)),
		Replicas:  []string{"web:core:tcp://edge-3.example.net:80", "push:hosts:<b>&co"},
		More:      1,
		PageTitle: "Acme Status",
		PageURL:   "https://status.example.com/?a=1&b=2",
	}
}

// server is a loopback homeserver that records the last request.
type server struct {
	srv         *httptest.Server
	method      string
	path        string // decoded
	escapedPath string // as sent
	auth        string
	ctype       string
	body        []byte
}

func newServer(t *testing.T, code int, answer string) *server {
	t.Helper()
	s := &server{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.method, s.path, s.escapedPath = r.Method, r.URL.Path, r.URL.EscapedPath()
		s.auth, s.ctype = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		s.body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func channel(t *testing.T, homeserver string) notify.Channel {
	t.Helper()
	return notifytest.Build(t, Kind(), &Table{HomeserverURL: homeserver, AccessToken: accessToken, RoomID: roomID}, notify.Deps{})
}

const sent = `{"event_id":"$YUwRidLecu:example.com"}`

func TestSendsDocumentedEvent(t *testing.T) {
	tests := []struct{ suffix, prefix string }{
		{"", ""},
		{"/", ""},
		{"/matrix/", "/matrix"},
	}
	for _, tt := range tests {
		t.Run("homeserver_url=server"+tt.suffix, func(t *testing.T) {
			s := newServer(t, http.StatusOK, sent)
			m := sample()
			if err := channel(t, s.srv.URL+tt.suffix).Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			wantPath := tt.prefix + "/_matrix/client/v3/rooms/" + roomID + "/send/m.room.message/" + txnID(m)
			if s.method != http.MethodPut || s.path != wantPath {
				t.Errorf("got %s %s, want PUT %s", s.method, s.path, wantPath)
			}
			if !strings.Contains(s.escapedPath, "/rooms/%21abc123%3Aexample.com/send/") {
				t.Errorf("room ID not escaped in %s", s.escapedPath)
			}
			if s.auth != "Bearer "+accessToken || s.ctype != "application/json" {
				t.Errorf("Authorization %q, Content-Type %q", s.auth, s.ctype)
			}
			var got event
			if err := json.Unmarshal(s.body, &got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			want := event{
				MsgType: "m.text",
				Body:    m.Text(),
				Format:  "org.matrix.custom.html",
				FormattedBody: "<p><strong>Acme Status: status changed to dead</strong></p>" +
					"<p>Affected replicas:</p><ul><li><code>web:core:tcp://edge-3.example.net:80</code></li>" +
					"<li><code>push:hosts:&lt;b&gt;&amp;co</code></li><li>and 1 more</li></ul>" +
					`<p>Time: 08:58:28 UTC+0200<br>Page: <a href="https://status.example.com/?a=1&amp;b=2">https://status.example.com/?a=1&amp;b=2</a></p>`,
			}
			if got != want {
				t.Errorf("event =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestTransactionIDs(t *testing.T) {
	s := newServer(t, http.StatusOK, sent)
	ch := channel(t, s.srv.URL)
	m := sample()
	ch.Send(context.Background(), m)
	first := s.path
	ch.Send(context.Background(), m) // a retry
	if s.path != first {
		t.Errorf("retry used %s, want the same transaction as %s", s.path, first)
	}
	next := sample()
	next.Time = next.Time.Add(time.Second)
	ch.Send(context.Background(), next)
	if s.path == first {
		t.Errorf("a new message reused transaction %s", first)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		answer string
		want   []string
	}{
		{"not in room", http.StatusForbidden,
			`{"errcode":"M_FORBIDDEN","error":"User @status:example.com not in room !abc123:example.com"}`,
			[]string{"403", "M_FORBIDDEN", "not in room", "check notify.matrix.access_token"}},
		{"rate limited", http.StatusTooManyRequests,
			`{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2000}`,
			[]string{"429", "M_LIMIT_EXCEEDED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.code, tt.answer)
			err := channel(t, s.srv.URL).Send(context.Background(), sample())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			for _, w := range append(tt.want, "matrix", "PUT") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks the access token: %q", err)
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
	if err := channel(t, srv.URL).Send(ctx, sample()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}

func TestNew(t *testing.T) {
	ch := notifytest.Build(t, Kind(), &Table{HomeserverURL: "https://matrix.example.com", AccessToken: accessToken, RoomID: roomID,
		ChannelOptions: config.ChannelOptions{RemindersOnly: true}}, notify.Deps{})
	if ch.Name() != "matrix" || !ch.RemindersOnly {
		t.Errorf("channel = %q reminders_only=%v, want matrix, true", ch.Name(), ch.RemindersOnly)
	}
	_, err := notifytest.TryBuild(Kind(), &Table{HomeserverURL: "matrix.example.com", AccessToken: accessToken, RoomID: roomID}, notify.Deps{})
	if err == nil || !strings.Contains(err.Error(), "notify.matrix.homeserver_url") || strings.Contains(err.Error(), accessToken) {
		t.Errorf("relative homeserver_url: err=%v, want an error about notify.matrix.homeserver_url without the token", err)
	}
}
