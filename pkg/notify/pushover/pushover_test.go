package pushover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/notifytest"
	"github.com/overvakt/overvakt/pkg/status"
)

const (
	appToken = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
	userOK   = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
	userBad  = "uBADzpo4DXghDmr9QzzfQu27cmVRsG"
	userBusy = "uBUSYpo4DXghDmr9QzzfQu27cmVRs" // answered 500
)

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

// server is a loopback Pushover API. It rejects userBad like the real one
// rejects an unknown user key, and fails for userBusy.
type server struct {
	srv *httptest.Server

	mu    sync.Mutex
	forms []url.Values
	bad   []string // problems with a request's method, path or type
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		s.forms = append(s.forms, form)
		if r.Method != http.MethodPost || r.URL.Path != "/1/messages.json" {
			s.bad = append(s.bad, r.Method+" "+r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			s.bad = append(s.bad, "content type "+ct)
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch form.Get("user") {
		case userBusy:
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"status":0,"errors":["internal error"]}`)
		case userBad:
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"user":"invalid","errors":["user identifier is not a valid user, group, or subscribed user key"],"status":0,"request":"5042853c-402d-4a18-abcb-168734a801de"}`)
		default:
			io.WriteString(w, `{"status":1,"request":"647d2300-702c-4b38-8b2f-d56326ae460b"}`)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// users is how many requests each user key got so far.
func (s *server) users() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	for _, f := range s.forms {
		n[f.Get("user")]++
	}
	return n
}

func channel(t *testing.T, apiURL string, users ...string) notify.Channel {
	t.Helper()
	return notifytest.Build(t, Kind(), &Table{APIURL: apiURL, AppToken: appToken, UserKeys: users}, notify.Deps{})
}

func TestSendsOneDocumentedMessagePerUser(t *testing.T) {
	s := newServer(t)
	other := "uOTHERo4DXghDmr9QzzfQu27cmVRsG"
	if err := channel(t, s.srv.URL+"/", userOK, other).Send(context.Background(), sample()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(s.bad) > 0 {
		t.Errorf("requests not as documented: %v", s.bad)
	}
	if got := s.users(); len(s.forms) != 2 || got[userOK] != 1 || got[other] != 1 {
		t.Fatalf("requests per user = %v, want one each", got)
	}
	want := url.Values{
		"token":     {appToken},
		"user":      {userOK},
		"title":     {"Acme Status: status changed to dead"},
		"message":   {"Affected replicas:\n- web:core:tcp://edge-3.example.net:80\n\nTime: 08:58:28 UTC+0200\nPage: https://status.example.com/\n"},
		"url":       {"https://status.example.com/"},
		"url_title": {"Acme Status"},
		"priority":  {"0"},
		"timestamp": {"1773471508"},
	}
	if got := s.forms[0].Encode(); got != want.Encode() {
		t.Errorf("form =\n%s\nwant\n%s", got, want.Encode())
	}
}

func TestPriority(t *testing.T) {
	tests := []struct {
		kind notify.Kind
		want string
	}{
		{notify.Changed, "0"},
		{notify.Startup, "0"},
		{notify.Test, "0"},
		{notify.Reminder, "1"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			s := newServer(t)
			m := sample()
			m.Kind = tt.kind
			if err := channel(t, s.srv.URL, userOK).Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if got := s.forms[0].Get("priority"); got != tt.want {
				t.Errorf("priority = %s, want %s", got, tt.want)
			}
		})
	}
}

// An unknown user key is refused for good: the error is permanent, so the
// dispatcher does not retry it, and sending the same message again does
// not post to it again either (it still names it).
func TestRefusedUsersAreNamedAndNotRetried(t *testing.T) {
	s := newServer(t)
	ch := channel(t, s.srv.URL, userOK, userBad)
	m := sample()

	err := ch.Send(context.Background(), m)
	if err == nil {
		t.Fatal("Send succeeded with an invalid user key")
	}
	for _, want := range []string{"pushover: 1 of 2 user keys failed", "user key #2 (uBADz…)", "400 Bad Request", "user identifier is not a valid user"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), appToken) || strings.Contains(err.Error(), userBad) {
		t.Errorf("error leaks a token or a whole user key: %q", err)
	}

	if !notify.IsPermanent(err) {
		t.Errorf("error %q is not permanent; an unknown user key stays unknown", err)
	}

	err = ch.Send(context.Background(), m) // the same message again
	if got := s.users(); got[userOK] != 1 || got[userBad] != 1 {
		t.Errorf("after sending again, requests per user = %v, want each once", got)
	}
	if err == nil || !strings.Contains(err.Error(), "pushover: 1 of 2 user keys failed: user key #2 (uBADz…)") || !notify.IsPermanent(err) {
		t.Errorf("sending again: %v, want the same permanent failure", err)
	}
	ch.Send(context.Background(), sample()) // a new message goes to everyone
	if got := s.users(); got[userOK] != 2 || got[userBad] != 2 {
		t.Errorf("after a new message, requests per user = %v, want 2 and 2", got)
	}
}

// A user key that failed for a reason that may pass is retried alone; a
// refused one is not, and is named until the end.
func TestFailedUsersAreRetriedAlone(t *testing.T) {
	s := newServer(t)
	ch := channel(t, s.srv.URL, userOK, userBusy, userBad)
	m := sample()

	err := ch.Send(context.Background(), m)
	if err == nil || !strings.Contains(err.Error(), "pushover: 2 of 3 user keys failed") || notify.IsPermanent(err) {
		t.Fatalf("Send = %v, want a temporary error naming two user keys", err)
	}
	err = ch.Send(context.Background(), m) // the dispatcher's retry: same message
	if got := s.users(); got[userOK] != 1 || got[userBusy] != 2 || got[userBad] != 1 {
		t.Errorf("after a retry, requests per user = %v, want the busy key twice, the others once", got)
	}
	for _, want := range []string{"2 of 3 user keys failed", "user key #2 (uBUSY…)", "500 Internal Server Error", "user key #3 (uBADz…)", "not a valid user"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("retry: error %v lacks %q", err, want)
		}
	}
}

func TestStatusOtherThanOneFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":0,"errors":["application token is invalid"]}`)
	}))
	t.Cleanup(srv.Close)
	err := channel(t, srv.URL, userOK).Send(context.Background(), sample())
	if err == nil || !strings.Contains(err.Error(), "want status 1") || !strings.Contains(err.Error(), "application token is invalid") {
		t.Errorf("err = %v, want one quoting the answer", err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := channel(t, srv.URL, userOK).Send(ctx, sample())
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), appToken) {
		t.Fatalf("err = %v, want a deadline error without the token", err)
	}
}

func TestLongMessagesFitPushoverLimits(t *testing.T) {
	m := sample()
	m.PageTitle = strings.Repeat("Long title ", 30)
	m.Replicas = nil
	for i := range notify.MaxListed {
		m.Replicas = append(m.Replicas, fmt.Sprintf("svc:node:https://%02d.example.com/health", i))
	}
	m.More = 5
	f := formFor(m)
	if n := utf8.RuneCountInString(f.Get("title")); n > maxTitle {
		t.Errorf("title has %d characters, want at most %d", n, maxTitle)
	}
	if n := utf8.RuneCountInString(f.Get("url_title")); n > maxURLTitle {
		t.Errorf("url_title has %d characters, want at most %d", n, maxURLTitle)
	}
	msg := f.Get("message")
	if n := utf8.RuneCountInString(msg); n > maxMessage {
		t.Errorf("message has %d characters, want at most %d", n, maxMessage)
	}
	listed := strings.Count(msg, "- svc:")
	if want := fmt.Sprintf("- and %d more", notify.MaxListed+5-listed); !strings.Contains(msg, want) {
		t.Errorf("message lists %d and lacks %q:\n%s", listed, want, msg)
	}
}

func TestNew(t *testing.T) {
	ch := notifytest.Build(t, Kind(), &Table{AppToken: appToken, UserKeys: []string{userOK},
		ChannelOptions: config.ChannelOptions{RemindersOnly: true}}, notify.Deps{})
	if ch.Name() != "pushover" || !ch.RemindersOnly || ch.Notifier.(*Notifier).endpoint != "https://api.pushover.net/1/messages.json" {
		t.Errorf("channel = %q reminders_only=%v, want pushover, true, the real API", ch.Name(), ch.RemindersOnly)
	}
}

func TestEscalatingRemindersReachTheFirstUsers(t *testing.T) {
	users := []string{"uONEo4DXghDmr9QzzfQu27cmVRsGaa", "uTWOo4DXghDmr9QzzfQu27cmVRsGaa", "uTHREEDXghDmr9QzzfQu27cmVRsGaa"}
	for escalation := 1; escalation <= 3; escalation++ {
		s := newServer(t)
		m := sample()
		m.Kind, m.Escalation = notify.Reminder, escalation
		if err := channel(t, s.srv.URL+"/", users...).Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got := s.users()
		for i, u := range users {
			if want := i < escalation; (got[u] == 1) != want {
				t.Errorf("escalation %d: user %d reached %d times, want reached=%v", escalation, i+1, got[u], want)
			}
		}
	}
}
