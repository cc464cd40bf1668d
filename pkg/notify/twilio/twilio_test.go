package twilio

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
	accountSID = "AC00000000000000000000000000000001"
	authToken  = "SECRETauthTOKEN"
	serviceSID = "MG00000000000000000000000000000002"
	goodNumber = "+15551234567"
	badNumber  = "+1555"
	busyNumber = "+15550000503" // answered 503 Service Unavailable
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

// server is a loopback Twilio API. It rejects badNumber like the real one
// rejects an invalid To, and is unavailable for busyNumber.
type server struct {
	srv *httptest.Server

	mu    sync.Mutex
	forms []url.Values
	bad   []string // problems with a request's method, path, type or auth
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		user, pass, _ := r.BasicAuth()
		s.mu.Lock()
		s.forms = append(s.forms, form)
		if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+accountSID+"/Messages.json" {
			s.bad = append(s.bad, r.Method+" "+r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			s.bad = append(s.bad, "content type "+ct)
		}
		if user != accountSID || pass != authToken {
			s.bad = append(s.bad, "basic auth "+user+":"+pass)
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if form.Get("To") == busyNumber {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"code":20503,"message":"Service unavailable","status":503}`)
			return
		}
		if form.Get("To") == badNumber {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"code":21211,"message":"The 'To' number +1555 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":"SM0000","account_sid":%q,"to":%q,"messaging_service_sid":%q,"status":"accepted"}`, accountSID, form.Get("To"), serviceSID)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// sentTo is how many requests each number got so far.
func (s *server) sentTo() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	for _, f := range s.forms {
		n[f.Get("To")]++
	}
	return n
}

func channel(t *testing.T, apiURL string, to ...string) notify.Channel {
	t.Helper()
	return notifytest.Build(t, Kind(), &Table{
		APIURL: apiURL, To: to, ServiceSID: serviceSID, AccountSID: accountSID, AuthToken: authToken,
	}, notify.Deps{})
}

func TestSendsOneDocumentedSMSPerNumber(t *testing.T) {
	s := newServer(t)
	other := "+15557654321"
	if err := channel(t, s.srv.URL+"/", goodNumber, other).Send(context.Background(), sample()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(s.bad) > 0 {
		t.Errorf("requests not as documented: %v", s.bad)
	}
	if got := s.sentTo(); len(s.forms) != 2 || got[goodNumber] != 1 || got[other] != 1 {
		t.Fatalf("requests per number = %v, want one each", got)
	}
	want := url.Values{
		"To":                  {goodNumber},
		"MessagingServiceSid": {serviceSID},
		"Body": {"Acme Status: status changed to dead\nAffected: web:core:tcp://edge-3.example.net:80\n" +
			"08:58:28 UTC+0200\nhttps://status.example.com/"},
	}
	if got := s.forms[0].Encode(); got != want.Encode() {
		t.Errorf("form =\n%s\nwant\n%s", got, want.Encode())
	}
}

func TestBodyIsCutToFit(t *testing.T) {
	many := func(n, size int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("svc:node:https://%02d.%s.example.com/", i, strings.Repeat("x", size)))
		}
		return out
	}
	tests := []struct {
		name     string
		edit     func(*notify.Message)
		max      int
		contains []string
	}{
		{"40 replicas fit two segments", func(m *notify.Message) {
			m.Replicas, m.More = many(notify.MaxListed, 5), 7
			m.Recovered, m.RecoveredMore = many(notify.MaxListed, 1), 0
		}, shortBody, []string{" more\n08:58:28 UTC+0200", "https://status.example.com/"}},
		{"long page URL uses Twilio's limit", func(m *notify.Message) {
			m.PageURL = "https://status.example.com/" + strings.Repeat("p", 400)
			m.Replicas = many(notify.MaxListed, 5)
		}, maxBody, []string{strings.Repeat("p", 400), " more\n"}},
		{"one huge name is cut", func(m *notify.Message) {
			m.Replicas = many(1, 3000)
		}, maxBody, []string{"Acme Status: status changed to dead\nAffected: svc:node:https://00.xxx", "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sample()
			tt.edit(m)
			got := body(m)
			if n := utf8.RuneCountInString(got); n > tt.max {
				t.Errorf("body has %d characters, want at most %d", n, tt.max)
			}
			for _, want := range tt.contains {
				if !strings.Contains(got, want) {
					t.Errorf("body lacks %q:\n%s", want, got)
				}
			}
		})
	}
	t.Run("and N more counts what was left out", func(t *testing.T) {
		m := sample()
		m.Replicas, m.More = many(notify.MaxListed, 5), 7
		got := body(m)
		listed := strings.Count(got, "svc:node:")
		if want := fmt.Sprintf(" and %d more", notify.MaxListed+7-listed); !strings.Contains(got, want) {
			t.Errorf("body names %d and lacks %q:\n%s", listed, want, got)
		}
	})
}

// An invalid number is refused for good: the error is permanent, so the
// dispatcher does not retry it, and sending the same message again does
// not text it again either (it still names it).
func TestRefusedNumbersAreNamedAndNotRetried(t *testing.T) {
	s := newServer(t)
	ch := channel(t, s.srv.URL, goodNumber, badNumber)
	m := sample()

	err := ch.Send(context.Background(), m)
	if err == nil {
		t.Fatal("Send succeeded with an invalid number")
	}
	for _, want := range []string{"twilio: 1 of 2 numbers failed", badNumber + ": POST", "400 Bad Request", "21211", "is not a valid phone number"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), goodNumber) || strings.Contains(err.Error(), authToken) {
		t.Errorf("error names the number that worked or leaks the token: %q", err)
	}

	if !notify.IsPermanent(err) {
		t.Errorf("error %q is not permanent; an invalid number stays invalid", err)
	}

	err = ch.Send(context.Background(), m) // the same message again
	if got := s.sentTo(); got[goodNumber] != 1 || got[badNumber] != 1 {
		t.Errorf("after sending again, requests per number = %v, want each once", got)
	}
	if err == nil || !strings.Contains(err.Error(), "twilio: 1 of 2 numbers failed: "+badNumber+": POST") || !notify.IsPermanent(err) {
		t.Errorf("sending again: %v, want the same permanent failure", err)
	}
	ch.Send(context.Background(), sample()) // a new message goes to everyone
	if got := s.sentTo(); got[goodNumber] != 2 || got[badNumber] != 2 {
		t.Errorf("after a new message, requests per number = %v, want 2 and 2", got)
	}
}

// A number that failed for a reason that may pass is retried alone; a
// refused one is not, and is named until the end.
func TestFailedNumbersAreRetriedAlone(t *testing.T) {
	s := newServer(t)
	ch := channel(t, s.srv.URL, goodNumber, busyNumber, badNumber)
	m := sample()

	err := ch.Send(context.Background(), m)
	if err == nil || !strings.Contains(err.Error(), "twilio: 2 of 3 numbers failed") || notify.IsPermanent(err) {
		t.Fatalf("Send = %v, want a temporary error naming two numbers", err)
	}
	err = ch.Send(context.Background(), m) // the dispatcher's retry: same message
	if got := s.sentTo(); got[goodNumber] != 1 || got[busyNumber] != 2 || got[badNumber] != 1 {
		t.Errorf("after a retry, requests per number = %v, want the busy one twice, the others once", got)
	}
	for _, want := range []string{"2 of 3 numbers failed", busyNumber + ": POST", "503 Service Unavailable", badNumber + ": POST", "21211"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("retry: error %v lacks %q", err, want)
		}
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := channel(t, srv.URL, goodNumber).Send(ctx, sample())
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), authToken) {
		t.Fatalf("err = %v, want a deadline error without the token", err)
	}
}

func TestNew(t *testing.T) {
	ch := notifytest.Build(t, Kind(), &Table{To: []string{goodNumber}, ServiceSID: serviceSID, AccountSID: accountSID, AuthToken: authToken,
		ChannelOptions: config.ChannelOptions{RemindersOnly: true}}, notify.Deps{})
	want := "https://api.twilio.com/2010-04-01/Accounts/" + accountSID + "/Messages.json"
	if ch.Name() != "twilio" || !ch.RemindersOnly || ch.Notifier.(*Notifier).endpoint != want {
		t.Errorf("channel = %q reminders_only=%v, want twilio, true, %s", ch.Name(), ch.RemindersOnly, want)
	}
}

func TestEscalatingRemindersReachTheFirstNumbers(t *testing.T) {
	numbers := []string{"+15550000001", "+15550000002", "+15550000003"}
	for escalation, want := range map[int]map[string]int{
		0: {numbers[0]: 1, numbers[1]: 1, numbers[2]: 1}, // not escalating: everyone
		1: {numbers[0]: 1},
		2: {numbers[0]: 1, numbers[1]: 1},
		3: {numbers[0]: 1, numbers[1]: 1, numbers[2]: 1},
		4: {numbers[0]: 1, numbers[1]: 1, numbers[2]: 1},
	} {
		s := newServer(t)
		m := sample()
		m.Kind, m.Escalation = notify.Reminder, escalation
		if err := channel(t, s.srv.URL+"/", numbers...).Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := s.sentTo(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("escalation %d reached %v, want %v", escalation, got, want)
		}
	}
}
