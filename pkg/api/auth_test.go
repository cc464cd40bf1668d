package api_test

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app/apptest"
)

// logBuffer collects a text log; safe for the server's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLogged serves the test config on clock, logging at warn and above
// as the server does with log_level = "warn".
func startLogged(t *testing.T, clock func() time.Time) (*testServer, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := apptest.Start(t, testConfig, apptest.Options{Now: clock, Logger: logger})
	return &testServer{Server: s, reg: s.Registry, url: s.URL}, logs
}

// from is a request header that makes the loopback peer (a trusted proxy
// by default) forward for client.
func (s *testServer) doFrom(t *testing.T, client, method, path, auth, body string) response {
	t.Helper()
	return s.doHeaders(t, method, path, body, map[string]string{"Authorization": auth, "X-Forwarded-For": client})
}

// fail2banLine is what docs/operations.md's filter matches; the captured
// group is the client address.
var fail2banLine = regexp.MustCompile(`level=WARN msg="too many failed authentications" client=(\S+) `)

func TestFailedAuthIsThrottled(t *testing.T) {
	clock := &fakeClock{now: shownT0}
	s, logs := startLogged(t, clock.Now)
	const attacker, agent = "203.0.113.66", "198.51.100.7"
	report := `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`

	// Nine failures of any kind, on both APIs, are answered as usual.
	auths := []string{"", "Basic !!!", basic("wrong-guess-0"), "", basic("wrong-guess-1")}
	for i := range 9 {
		path, method, other := "/reporter/hosts/push/", "POST", managerToken
		if i%2 == 1 {
			path, method, other = "/manager/announcements", "GET", reporterToken
		}
		auth := auths[i%len(auths)]
		if i%len(auths) == 3 {
			auth = basic(other) // the token of the other API
		}
		r := s.doFrom(t, attacker, method, path, auth, report)
		if r.code != 401 && r.code != 403 {
			t.Fatalf("failure %d: %d %s, want 401 or 403", i+1, r.code, r.body)
		}
	}
	if fail2banLine.MatchString(logs.String()) {
		t.Fatalf("blocked after nine failures:\n%s", logs)
	}
	// The right token still works meanwhile, and does not wipe the count.
	if r := s.doFrom(t, attacker, "POST", "/reporter/hosts/push/", basic(reporterToken), report); r.code != 200 {
		t.Fatalf("right token after nine failures: %d %s", r.code, r.body)
	}
	// The tenth failure is answered 403 and blocks the address.
	if r := s.doFrom(t, attacker, "GET", "/manager/prober/alerts", basic("wrong-guess-9"), ""); r.code != 403 {
		t.Fatalf("tenth failure: %d %s, want 403", r.code, r.body)
	}
	m := fail2banLine.FindAllStringSubmatch(logs.String(), -1)
	if len(m) != 1 || m[0][1] != attacker {
		t.Fatalf("want one warning naming %s, log:\n%s", attacker, logs)
	}

	// Blocked: every request to either API, right token or not, is 429
	// with Retry-After and a JSON error; nothing more is logged.
	for _, rq := range []struct{ method, path, auth string }{
		{"POST", "/reporter/hosts/push/", basic(reporterToken)},
		{"GET", "/manager/announcements", basic(managerToken)},
		{"GET", "/manager/announcements", basic("wrong-guess-10")},
		{"DELETE", "/reporter/hosts/push/h/", ""},
	} {
		r := s.doFrom(t, attacker, rq.method, rq.path, rq.auth, report)
		if r.code != 429 || r.hdr.Get("Retry-After") != "60" || !strings.Contains(r.errorText(), "too many failed authentications") {
			t.Fatalf("%s %s while blocked: %d Retry-After %q %s", rq.method, rq.path, r.code, r.hdr.Get("Retry-After"), r.body)
		}
	}
	if n := len(fail2banLine.FindAllString(logs.String(), -1)); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs)
	}

	// Another client, and the public page, are not affected.
	if r := s.doFrom(t, agent, "POST", "/reporter/hosts/push/", basic(reporterToken), report); r.code != 200 {
		t.Fatalf("another client while one is blocked: %d %s", r.code, r.body)
	}
	if r := s.doFrom(t, attacker, "GET", "/status/text", "", ""); r.code != 200 {
		t.Fatalf("public route for a blocked client: %d", r.code)
	}

	clock.Set(shownT0.Add(59*time.Second + time.Millisecond))
	if r := s.doFrom(t, attacker, "GET", "/manager/announcements", basic(managerToken), ""); r.code != 429 || r.hdr.Get("Retry-After") != "1" {
		t.Fatalf("a second before the end: %d Retry-After %q, want 429 and 1", r.code, r.hdr.Get("Retry-After"))
	}
	clock.Set(shownT0.Add(time.Minute))
	if r := s.doFrom(t, attacker, "GET", "/manager/announcements", basic(managerToken), ""); r.code != 200 {
		t.Fatalf("after the block: %d %s", r.code, r.body)
	}
}

// A scoped token works only where its scope reaches, and everywhere else
// is answered 403 without counting as a failed authentication.
func TestScopedReporterToken(t *testing.T) {
	s := startServer(t, nil)
	push := `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`
	local := `{"replica":"h","interval":30,"health":"healthy"}`
	cases := []struct {
		name, method, path, token, body string
		code                            int
		mentions                        string
	}{
		{"report inside the scope", "POST", "/reporter/hosts/push/", scopedToken, push, 200, ""},
		{"flush inside the scope", "DELETE", "/reporter/hosts/push/h/", scopedToken, "", 200, ""},
		{"report to another node", "POST", "/reporter/hosts/local/", scopedToken, local, 403, `reporter token "pushers" may not report to "hosts:local": it is allowed hosts:push`},
		{"flush on another node", "DELETE", "/reporter/hosts/local/h/", scopedToken, "", 403, "may not report to"},
		{"report to an unknown service", "POST", "/reporter/nope/push/", scopedToken, push, 403, "may not report to"},
		{"the manager API", "GET", "/manager/announcements", scopedToken, "", 403, "wrong token"},
		{"the global token still reaches every node", "POST", "/reporter/hosts/local/", reporterToken, local, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, basic(tc.token), tc.body)
			if r.code != tc.code || !strings.Contains(r.errorText(), tc.mentions) {
				t.Fatalf("got %d %s, want %d mentioning %q", r.code, r.body, tc.code, tc.mentions)
			}
		})
	}
	// Out-of-scope answers are no guessing: a dozen do not block anyone.
	for range 12 {
		s.do(t, "POST", "/reporter/hosts/local/", basic(scopedToken), local)
	}
	if r := s.do(t, "POST", "/reporter/hosts/push/", basic(scopedToken), push); r.code != 200 {
		t.Fatalf("after out-of-scope requests: %d %s", r.code, r.body)
	}
}
