package api_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/api"
	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/push"
	"github.com/overvakt/overvakt/pkg/server"
	"github.com/overvakt/overvakt/pkg/silence"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// TestRawReporterRequest sends, byte for byte, what third-party reporters
// send: Basic auth with an empty user, a JSON body, a trailing slash.
func TestRawReporterRequest(t *testing.T) {
	s := startServer(t, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"replica":"host-1","interval":30,"load":{"cpu":0.42,"ram":0.61}}`
	req := "POST /reporter/hosts/push/ HTTP/1.1\r\n" +
		"Host: status.example.com\r\n" +
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(":"+reporterToken)) + "\r\n" +
		"Content-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n", len(body)) +
		"\r\n" + body
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	rep := s.replica("hosts", "push", "host-1")
	if rep == nil || rep.Status != status.Healthy || rep.Load == nil || rep.Load.CPU != 0.42 || rep.Load.RAM != 0.61 {
		t.Fatalf("replica after report = %+v, want healthy with load 0.42/0.61", rep)
	}
}

func TestAuth(t *testing.T) {
	pushBody := `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`
	routes := []struct {
		name, method, path, body string
		token                    string // the right one
		okCode                   int    // answer with the right token
	}{
		{"report", "POST", "/reporter/hosts/push/", pushBody, reporterToken, 200},
		{"flush", "DELETE", "/reporter/hosts/push/nobody/", "", reporterToken, 404},
		{"list announcements", "GET", "/manager/announcements", "", managerToken, 200},
		{"publish announcement", "POST", "/manager/announcement", `{"title":"t","text":"x"}`, managerToken, 200},
		{"retract announcement", "DELETE", "/manager/announcement/none", "", managerToken, 404},
		{"alerts", "GET", "/manager/prober/alerts", "", managerToken, 200},
		{"get ignored", "GET", "/manager/prober/alerts/ignored", "", managerToken, 200},
		{"put ignored", "PUT", "/manager/prober/alerts/ignored", `{"reminders_seconds":null}`, managerToken, 200},
	}
	for _, rt := range routes {
		// A server per route: its seven failures stay below the limit on
		// failed authentication (TestFailedAuthIsThrottled).
		s := startServer(t, nil)
		other := managerToken
		if rt.token == managerToken {
			other = reporterToken
		}
		cases := []struct {
			name      string
			auth      string
			code      int
			challenge bool
		}{
			{"no header", "", 401, true},
			{"not basic", "Bearer " + rt.token, 401, true},
			{"bad base64", "Basic !!!", 401, true},
			{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte(rt.token)), 401, true},
			{"wrong token", basic("nope"), 403, false},
			{"token prefix", basic(rt.token[:len(rt.token)-1]), 403, false},
			{"token of the other API", basic(other), 403, false},
			{"right token", basic(rt.token), rt.okCode, false},
			{"right token with a user name", "Basic " + base64.StdEncoding.EncodeToString([]byte("agent:"+rt.token)), rt.okCode, false},
			{"lowercase scheme", "basic " + base64.StdEncoding.EncodeToString([]byte(":"+rt.token)), rt.okCode, false},
		}
		for _, tc := range cases {
			t.Run(rt.name+"/"+tc.name, func(t *testing.T) {
				r := s.do(t, rt.method, rt.path, tc.auth, rt.body)
				if r.code != tc.code {
					t.Fatalf("status %d, want %d (body %s)", r.code, tc.code, r.body)
				}
				if got := r.hdr.Get("WWW-Authenticate"); tc.challenge != strings.HasPrefix(got, `Basic realm="`) {
					t.Errorf("WWW-Authenticate = %q, want a Basic challenge: %v", got, tc.challenge)
				}
				if r.code != 200 && r.errorText() == "" {
					t.Errorf("error body %q is not {\"error\":…}", r.body)
				}
			})
		}
	}
}

func TestReportErrors(t *testing.T) {
	s := startServer(t, nil)
	push := "/reporter/hosts/push/"
	local := "/reporter/hosts/local/"
	cases := []struct {
		name, path, body string
		code             int
		mentions         string // part of the error message
	}{
		{"body over 64 KiB", push, `{"replica":"h","interval":30,"pad":"` + strings.Repeat("x", 64<<10) + `"}`, 413, "larger than"},
		{"not JSON", push, `replica=h`, 400, "JSON"},
		{"truncated JSON", push, `{"replica":"h","interval":30,"load":{"cpu":0.1`, 400, "JSON"},
		{"trailing garbage", push, `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}} x`, 400, "after"},
		{"array body", push, `[1]`, 400, "object"},
		{"empty body", push, ``, 400, "object"},
		{"missing replica", push, `{"interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 400, "replica"},
		{"empty replica", push, `{"replica":"","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 400, "replica"},
		{"replica not a string", push, `{"replica":7,"interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 400, "replica"},
		{"replica with a newline", push, `{"replica":"a\nb","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 400, "replica"},
		{"replica too long", push, `{"replica":"` + strings.Repeat("r", 257) + `","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 400, "replica"},
		{"missing interval", push, `{"replica":"h","load":{"cpu":0.1,"ram":0.1}}`, 400, "interval"},
		{"null interval", push, `{"replica":"h","interval":null,"load":{"cpu":0.1,"ram":0.1}}`, 400, "interval"},
		{"interval as text", push, `{"replica":"h","interval":"30","load":{"cpu":0.1,"ram":0.1}}`, 400, "interval"},
		{"zero interval", push, `{"replica":"h","interval":0,"load":{"cpu":0.1,"ram":0.1}}`, 400, "interval"},
		{"negative interval", push, `{"replica":"h","interval":-5,"load":{"cpu":0.1,"ram":0.1}}`, 400, "interval"},
		{"huge interval", push, `{"replica":"h","interval":1e300,"load":{"cpu":0.1,"ram":0.1}}`, 400, "interval"},
		{"negative cpu", push, `{"replica":"h","interval":30,"load":{"cpu":-0.1,"ram":0.1}}`, 400, "load.cpu"},
		{"negative ram", push, `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":-1}}`, 400, "load.ram"},
		{"cpu out of range", push, `{"replica":"h","interval":30,"load":{"cpu":1e999,"ram":0.1}}`, 400, "load.cpu"},
		{"cpu of 1e308", push, `{"replica":"h","interval":30,"load":{"cpu":1e308,"ram":0.1}}`, 400, `"load.cpu" must be a number from 0 to 1000`},
		{"cpu just over the limit", push, `{"replica":"h","interval":30,"load":{"cpu":1000.001,"ram":0.1}}`, 400, "load.cpu"},
		{"ram over 1", push, `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":1.5}}`, 400, `"load.ram" must be a fraction from 0 to 1`},
		{"interval of 1e-300", push, `{"replica":"h","interval":1e-300,"load":{"cpu":0.1,"ram":0.1}}`, 400, `"interval" must be a number of seconds from 1 to 604800`},
		{"interval under a second", push, `{"replica":"h","interval":0.999,"load":{"cpu":0.1,"ram":0.1}}`, 400, "interval"},
		{"interval over a week", push, `{"replica":"h","interval":604801,"load":{"cpu":0.1,"ram":0.1}}`, 400, "interval"},
		{"replica with a right-to-left override", push, `{"replica":"db-1\u202e","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 400, `"replica" must be readable text: it has invisible or direction-changing character U+202E at byte 4`},
		{"replica with a zero-width space", push, "{\"replica\":\"db\u200b-1\",\"interval\":30,\"load\":{\"cpu\":0.1,\"ram\":0.1}}", 400, "U+200B"},
		{"replica with a byte order mark", push, `{"replica":"\ufeffdb-1","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 400, "U+FEFF"},
		{"replica with invalid UTF-8", push, "{\"replica\":\"db\xff\",\"interval\":30,\"load\":{\"cpu\":0.1,\"ram\":0.1}}", 400, "invalid UTF-8 at byte 2"},
		{"cpu NaN (not JSON)", push, `{"replica":"h","interval":30,"load":{"cpu":NaN,"ram":0.1}}`, 400, "JSON"},
		{"cpu Infinity (not JSON)", push, `{"replica":"h","interval":30,"load":{"cpu":Infinity,"ram":0.1}}`, 400, "JSON"},
		{"missing ram", push, `{"replica":"h","interval":30,"load":{"cpu":0.1}}`, 400, "load.ram"},
		{"load not an object", push, `{"replica":"h","interval":30,"load":0.5}`, 400, "load"},
		{"neither load nor health", push, `{"replica":"h","interval":30}`, 400, "health"},
		{"unknown health", local, `{"replica":"h","interval":30,"health":"fine"}`, 400, "fine"},
		{"health not a string", local, `{"replica":"h","interval":30,"health":1}`, 400, "health"},
		{"unknown service", "/reporter/nope/push/", `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 404, "nope"},
		{"unknown node", "/reporter/hosts/nope/", `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 404, "nope"},
		{"push report to a local node", local, `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 412, "local mode"},
		{"local report to a push node", push, `{"replica":"h","interval":30,"health":"healthy"}`, 412, "push mode"},
		{"report to a poll node", "/reporter/web/api/", `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, 412, "poll mode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, "POST", tc.path, basic(reporterToken), tc.body)
			if r.code != tc.code {
				t.Fatalf("status %d, want %d (body %s)", r.code, tc.code, r.body)
			}
			if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			if msg := r.errorText(); !strings.Contains(msg, tc.mentions) {
				t.Errorf("error %q does not mention %q (body %s)", msg, tc.mentions, r.body)
			}
		})
	}
	if n := s.reg.Snapshot().Services[1].Nodes.At(0).Replicas.Len(); n != 0 {
		t.Errorf("refused reports created %d replicas", n)
	}
}

// TestReportLimits: the limits themselves are accepted.
func TestReportLimits(t *testing.T) {
	s := startServer(t, nil)
	for _, body := range []string{
		`{"replica":"a","interval":1,"load":{"cpu":0,"ram":0}}`,
		`{"replica":"b","interval":604800,"load":{"cpu":1000,"ram":1}}`,
		`{"replica":"Övervakt-東京-🚀","interval":30,"load":{"cpu":2.5,"ram":0.5}}`,
	} {
		if r := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), body); r.code != 200 {
			t.Errorf("%s: %d %s", body, r.code, r.body)
		}
	}
}

func TestFlushErrors(t *testing.T) {
	s := startServer(t, nil)
	cases := []struct {
		name, path string
		code       int
		mentions   string
	}{
		{"unknown replica", "/reporter/hosts/push/ghost/", 404, "ghost"},
		{"unknown service", "/reporter/nope/push/h/", 404, "nope"},
		{"unknown node", "/reporter/hosts/nope/h/", 404, "nope"},
		{"poll node", "/reporter/web/api/h/", 412, "poll mode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, "DELETE", tc.path, basic(reporterToken), "")
			if r.code != tc.code || !strings.Contains(r.errorText(), tc.mentions) {
				t.Fatalf("got %d %s, want %d mentioning %q", r.code, r.body, tc.code, tc.mentions)
			}
		})
	}
}

// TestPushReplicaLifecycle follows one push replica: it appears healthy,
// turns sick under load, dies when silent, recovers, and is flushed.
func TestPushReplicaLifecycle(t *testing.T) {
	s, clock := startShownServer(t)
	report := func(cpu, ram float64) {
		t.Helper()
		body := fmt.Sprintf(`{"replica":"host-1","interval":1,"load":{"cpu":%v,"ram":%v}}`, cpu, ram)
		if r := s.do(t, "POST", "/reporter/hosts/push", basic(reporterToken), body); r.code != 200 || r.body != "" {
			t.Fatalf("report: %d %q, want 200 and an empty body", r.code, r.body)
		}
	}
	want := func(st status.Status, errPart string) {
		t.Helper()
		rep := s.replica("hosts", "push", "host-1")
		if rep == nil {
			t.Fatal("replica host-1 is not in the registry")
		}
		if rep.Status != st || !strings.Contains(rep.Error, errPart) {
			t.Fatalf("replica = %v %q, want %v mentioning %q", rep.Status, rep.Error, st, errPart)
		}
	}

	report(0.5, 0.5)
	want(status.Healthy, "")
	report(0.95, 0.5)
	want(status.Sick, "CPU load 95%")
	report(0.5, 0.857)
	want(status.Sick, "RAM use 85.7%")
	report(0.9, 0.8) // at the thresholds is not above them
	want(status.Healthy, "")
	if snap := s.reg.Snapshot(); snap.Services[1].Status != status.Healthy {
		t.Fatalf("service status %v, want healthy", snap.Services[1].Status)
	}

	// Silent for interval (1 s) + push_delay_dead (0.3 s) after the last
	// report, which the server saw at shownT0: dead, without any further
	// request, and not a moment before.
	deadline := shownT0.Add(time.Second + 300*time.Millisecond)
	s.Agents.Sweep(deadline.Add(-time.Nanosecond))
	want(status.Healthy, "")
	s.Agents.Sweep(deadline)
	want(status.Dead, "no report for")
	if snap := s.reg.Snapshot(); snap.Status != status.Dead {
		t.Fatalf("page status %v, want dead", snap.Status)
	}

	clock.Set(deadline.Add(time.Second))
	report(0.1, 0.1)
	want(status.Healthy, "")

	if r := s.do(t, "DELETE", "/reporter/hosts/push/host-1", basic(reporterToken), ""); r.code != 200 {
		t.Fatalf("flush: %d %s", r.code, r.body)
	}
	if rep := s.replica("hosts", "push", "host-1"); rep != nil {
		t.Fatalf("replica still there after flush: %+v", rep)
	}
	if r := s.do(t, "DELETE", "/reporter/hosts/push/host-1/", basic(reporterToken), ""); r.code != 404 {
		t.Fatalf("second flush: %d, want 404", r.code)
	}
	// A flushed replica is not resurrected by the sweep.
	s.Agents.Sweep(deadline.Add(time.Hour))
	if rep := s.replica("hosts", "push", "host-1"); rep != nil {
		t.Fatalf("flushed replica came back: %+v", rep)
	}
}

func TestLocalReplica(t *testing.T) {
	s, _ := startShownServer(t)
	for _, h := range []struct {
		health string
		want   status.Status
	}{{"healthy", status.Healthy}, {"sick", status.Sick}, {"dead", status.Dead}, {"healthy", status.Healthy}} {
		body := `{"replica":"10.0.0.3","interval":1,"health":"` + h.health + `"}`
		if r := s.do(t, "POST", "/reporter/hosts/local/", basic(reporterToken), body); r.code != 200 {
			t.Fatalf("report %s: %d %s", h.health, r.code, r.body)
		}
		if rep := s.replica("hosts", "local", "10.0.0.3"); rep == nil || rep.Status != h.want {
			t.Fatalf("after %q: replica %+v, want %v", h.health, rep, h.want)
		}
	}
	// Silent for interval (1 s) + local_delay_dead (0.3 s) after the last
	// report, which the server saw at shownT0.
	deadline := shownT0.Add(time.Second + 300*time.Millisecond)
	s.Agents.Sweep(deadline.Add(-time.Nanosecond))
	if r := s.replica("hosts", "local", "10.0.0.3"); r == nil || r.Status != status.Healthy {
		t.Fatalf("just before interval + local_delay_dead: %+v, want still healthy", r)
	}
	s.Agents.Sweep(deadline)
	if r := s.replica("hosts", "local", "10.0.0.3"); r == nil || r.Status != status.Dead || !strings.Contains(r.Error, "local_delay_dead") {
		t.Fatalf("at interval + local_delay_dead: %+v, want dead for silence", r)
	}
	if r := s.do(t, "DELETE", "/reporter/hosts/local/10.0.0.3/", basic(reporterToken), ""); r.code != 200 {
		t.Fatalf("flush: %d %s", r.code, r.body)
	}
}

// TestSilenceBoundary checks the rule now - last_report >= interval +
// push_delay_dead exactly, with a fake clock.
func TestSilenceBoundary(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := startServer(t, clock)
	body := `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`
	if r := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), body); r.code != 200 {
		t.Fatal(r.body)
	}
	deadline := t0.Add(30*time.Second + 300*time.Millisecond)
	s.Agents.Sweep(deadline.Add(-time.Nanosecond))
	if rep := s.replica("hosts", "push", "h"); rep.Status != status.Healthy {
		t.Fatalf("just before the deadline: %v, want healthy", rep.Status)
	}
	s.Agents.Sweep(deadline)
	if rep := s.replica("hosts", "push", "h"); rep.Status != status.Dead {
		t.Fatalf("at the deadline: %v, want dead", rep.Status)
	}
}

func TestTrailingSlashOptional(t *testing.T) {
	s := startServer(t, nil)
	for _, slash := range []string{"", "/"} {
		t.Run("slash="+slash, func(t *testing.T) {
			rep := basic(reporterToken)
			man := basic(managerToken)
			steps := []struct {
				method, path, auth, body string
			}{
				{"POST", "/reporter/hosts/push" + slash, rep, `{"replica":"h","interval":30,"load":{"cpu":0.1,"ram":0.1}}`},
				{"POST", "/reporter/hosts/local" + slash, rep, `{"replica":"h","interval":30,"health":"sick"}`},
				{"DELETE", "/reporter/hosts/push/h" + slash, rep, ""},
				{"DELETE", "/reporter/hosts/local/h" + slash, rep, ""},
				{"GET", "/manager/announcements" + slash, man, ""},
				{"GET", "/manager/prober/alerts" + slash, man, ""},
				{"GET", "/manager/prober/alerts/ignored" + slash, man, ""},
				{"PUT", "/manager/prober/alerts/ignored" + slash, man, `{"reminders_seconds":null}`},
			}
			for _, st := range steps {
				if r := s.do(t, st.method, st.path, st.auth, st.body); r.code != 200 {
					t.Errorf("%s %s: %d %s", st.method, st.path, r.code, r.body)
				}
			}
			r := s.do(t, "POST", "/manager/announcement"+slash, man, `{"title":"t","text":"x"}`)
			id := strings.TrimSuffix(strings.TrimPrefix(r.body, `{"id":"`), "\"}\n")
			if r.code != 200 || id == "" {
				t.Fatalf("publish: %d %s", r.code, r.body)
			}
			if r := s.do(t, "DELETE", "/manager/announcement/"+id+slash, man, ""); r.code != 200 {
				t.Errorf("retract: %d %s", r.code, r.body)
			}
		})
	}
}

func TestUnknownRoutes(t *testing.T) {
	s := startServer(t, nil)
	cases := []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/reporter/hosts/push/", 405, "POST"},
		{"PUT", "/reporter/hosts/push/h/", 405, "DELETE"},
		{"POST", "/manager/announcements", 405, "GET, HEAD"},
		{"GET", "/manager/announcement", 405, "POST"},
		{"PATCH", "/manager/prober/alerts/ignored", 405, "GET, HEAD, PUT"},
		{"POST", "/reporter/hosts/", 404, ""},
		{"POST", "/reporter/a/b/c/d/", 404, ""},
		{"POST", "/reporter/hosts//push/", 404, ""},
		{"GET", "/manager/nothing", 404, ""},
		{"GET", "/manager/prober/alerts/ignored/more", 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, basic(reporterToken), "")
			if r.code != tc.code || r.errorText() == "" {
				t.Fatalf("got %d %s, want %d with a JSON error", r.code, r.body, tc.code)
			}
			if got := r.hdr.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

// TestEscapedReplicaName: a replica name with a slash, a space and a percent
// sign can be reported and flushed.
func TestEscapedReplicaName(t *testing.T) {
	s := startServer(t, nil)
	name := "rack 1/host%2"
	body := `{"replica":"rack 1/host%2","interval":30,"load":{"cpu":0.1,"ram":0.1}}`
	if r := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), body); r.code != 200 {
		t.Fatal(r.body)
	}
	if s.replica("hosts", "push", name) == nil {
		t.Fatal("replica not registered")
	}
	if r := s.do(t, "DELETE", "/reporter/hosts/push/rack%201%2Fhost%252/", basic(reporterToken), ""); r.code != 200 {
		t.Fatalf("flush: %d %s", r.code, r.body)
	}
	if s.replica("hosts", "push", name) != nil {
		t.Fatal("replica still there after flush")
	}
}

// TestReportsRace hammers one node from many goroutines while the sweep
// runs; with -race it checks the locking, and every replica must end up
// registered exactly once.
func TestReportsRace(t *testing.T) {
	s := startServer(t, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				body := fmt.Sprintf(`{"replica":"r%d","interval":1,"load":{"cpu":0.1,"ram":0.1}}`, (g*20+i)%40)
				if r := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), body); r.code != 200 {
					t.Errorf("report: %d %s", r.code, r.body)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := s.reg.Snapshot().Services[1].Nodes.At(0).Replicas.Len(); n != 40 {
		t.Fatalf("%d replicas, want 40", n)
	}
}

func TestReplicaCap(t *testing.T) {
	s := startCapped(t, 3)
	for i := range 4 {
		body := fmt.Sprintf(`{"replica":"r%d","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, i)
		r := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), body)
		if want := map[bool]int{true: 200, false: 409}[i < 3]; r.code != want {
			t.Fatalf("replica %d: %d %s, want %d", i, r.code, r.body, want)
		}
	}
	// Known replicas still report, and a flush makes room.
	if r := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), `{"replica":"r0","interval":30,"load":{"cpu":0.1,"ram":0.1}}`); r.code != 200 {
		t.Fatalf("known replica: %d %s", r.code, r.body)
	}
	s.do(t, "DELETE", "/reporter/hosts/push/r0/", basic(reporterToken), "")
	if r := s.do(t, "POST", "/reporter/hosts/push/", basic(reporterToken), `{"replica":"r3","interval":30,"load":{"cpu":0.1,"ram":0.1}}`); r.code != 200 {
		t.Fatalf("after a flush: %d %s", r.code, r.body)
	}
}

// startCapped serves the parts of the app, in the server's route table,
// with a cap of max replicas per push node.
func startCapped(t *testing.T, max int) *testServer {
	t.Helper()
	cfg := testCfg(t)
	reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
	agents, err := push.New(push.Options{Registry: reg, Metrics: cfg.Metrics, MaxReplicas: max})
	if err != nil {
		t.Fatal(err)
	}
	board, err := notice.NewBoard(context.Background(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	desk, err := notice.NewDesk(context.Background(), notice.DeskOptions{Store: memory.New(), Components: nil})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := notice.NewSchedule(context.Background(), notice.ScheduleOptions{Store: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	subs, err := notice.NewSubscriptions(context.Background(), notice.SubscriptionOptions{Store: st, State: st})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Options{Config: cfg, Registry: reg, Agents: agents, Board: board, Desk: desk, Schedule: sched, Subs: subs,
		Silence: &silence.Silence{}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Config: cfg, Registry: reg, Announcements: board, API: a})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{reg: reg, url: ts.URL}
}
