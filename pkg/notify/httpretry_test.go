package notify_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/notifytest"
	"github.com/overvakt/overvakt/pkg/notify/slack"
	"github.com/overvakt/overvakt/pkg/notify/webhook"
)

// Every HTTP channel, delivered by the outbox to a loopback server that
// answers one status: the attempts the server sees, the waits the outbox
// takes between them (recorded, not slept) and what is logged. slack
// stands for the channels that send through httpsend.Do; webhook makes
// its own request and classifies the answer with httpsend.Classify.
func TestHTTPStatusRetryClass(t *testing.T) {
	const s = time.Second
	backoff := []time.Duration{s, 2 * s, 4 * s} // the default policy's
	tests := []struct {
		status     int
		retryAfter func() string // the Retry-After header, nil for none
		attempts   int
		waits      []time.Duration // nil: check only the first against minWait
		minWait    time.Duration
		logged     string // in the error line
	}{
		{status: 400, attempts: 1, logged: `why="400 Bad Request: the provider refused the request"`},
		{status: 401, attempts: 1, logged: `why="401 Unauthorized: the credentials were refused"`},
		{status: 403, attempts: 1, logged: `why="403 Forbidden: the credentials were refused"`},
		{status: 404, attempts: 1, logged: `why="404 Not Found: wrong URL, room or chat"`},
		{status: 413, attempts: 1, logged: `why="413 Request Entity Too Large: the message is too large for the provider"`},
		{status: 422, attempts: 1, logged: `why="422 Unprocessable Entity: the provider refused the request"`},
		{status: 408, attempts: 4, waits: backoff, logged: "giving up"},
		{status: 429, attempts: 4, waits: backoff, logged: "giving up"},
		{status: 500, attempts: 4, waits: backoff, logged: "giving up"},
		{status: 502, attempts: 4, waits: backoff, logged: "giving up"},
		{status: 503, attempts: 4, waits: backoff, logged: "giving up"},
		{status: 429, retryAfter: func() string { return "2" }, attempts: 4, waits: []time.Duration{2 * s, 2 * s, 4 * s}, logged: "giving up"},
		{status: 429, retryAfter: func() string { return "120" }, attempts: 4, waits: []time.Duration{120 * s, 120 * s, 120 * s}, logged: "giving up"},
		// An HTTP-date has whole seconds: 4 s from now is more than 3 s away.
		{status: 429, retryAfter: func() string { return time.Now().Add(4 * s).UTC().Format(http.TimeFormat) }, attempts: 4, minWait: 2 * s, logged: "giving up"},
		{status: 503, retryAfter: func() string { return "30" }, attempts: 4, waits: []time.Duration{30 * s, 30 * s, 30 * s}, logged: "giving up"},
	}
	channels := []struct {
		name  string
		build func(t *testing.T, url string) notify.Channel
	}{
		{"slack", func(t *testing.T, url string) notify.Channel {
			return notifytest.Build(t, slack.Kind(), &slack.Table{HookURL: url + "/services/T0/B0/SECRET"}, notify.Deps{})
		}},
		{"webhook", func(t *testing.T, url string) notify.Channel {
			return notifytest.Build(t, webhook.Kind(), &webhook.Table{HookURL: url + "/hook"}, notify.Deps{})
		}},
	}
	for _, c := range channels {
		for _, tt := range tests {
			name := fmt.Sprintf("%s/%d", c.name, tt.status)
			if tt.retryAfter != nil {
				name += "/Retry-After " + tt.retryAfter()
			}
			t.Run(name, func(t *testing.T) {
				var requests atomic.Int32
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					requests.Add(1)
					if tt.retryAfter != nil {
						w.Header().Set("Retry-After", tt.retryAfter())
					}
					w.WriteHeader(tt.status)
					fmt.Fprintf(w, "answer %d", tt.status)
				}))
				defer srv.Close()
				var logs bytes.Buffer
				waits := notify.DeliverRecordingWaits(c.build(t, srv.URL), notify.RetryPolicy{},
					slog.New(slog.NewTextHandler(&logs, nil)), &notify.Message{Kind: notify.Changed})

				if n := int(requests.Load()); n != tt.attempts {
					t.Errorf("server saw %d attempts, want %d", n, tt.attempts)
				}
				switch {
				case tt.waits != nil || tt.attempts == 1:
					if fmt.Sprint(waits) != fmt.Sprint(tt.waits) {
						t.Errorf("waits %v, want %v", waits, tt.waits)
					}
				case len(waits) == 0 || waits[0] < tt.minWait:
					t.Errorf("waits %v, want the first at least %v", waits, tt.minWait)
				}
				log := logs.String()
				lines := strings.Split(strings.TrimSpace(log), "\n")
				if len(lines) != tt.attempts {
					t.Errorf("%d log lines, want one per attempt (%d):\n%s", len(lines), tt.attempts, log)
				}
				last := lines[len(lines)-1]
				if !strings.Contains(last, "level=ERROR") || !strings.Contains(last, tt.logged) ||
					!strings.Contains(last, fmt.Sprint(tt.status)) || !strings.Contains(last, fmt.Sprintf("answer %d", tt.status)) {
					t.Errorf("last log line is %q, want one at error with %q, the status and the answer", last, tt.logged)
				}
				if strings.Contains(log, "SECRET") {
					t.Errorf("log leaks the hook's secret:\n%s", log)
				}
			})
		}
	}
}
