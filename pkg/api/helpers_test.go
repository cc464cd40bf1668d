package api_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app/apptest"
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

const (
	reporterToken = "reporter-secret-1"
	managerToken  = "manager-secret-2"
	scopedToken   = "scoped-token-for-push" // may report to hosts:push only
)

// testConfig has a poll node (no reports), a push node and a local node,
// with short delays so that silence is noticed quickly.
const testConfig = `
[server]
manager_token = "manager-secret-2"
reporter_token = "reporter-secret-1"

[[server.reporter_token_scopes]]
name = "pushers"
token = "scoped-token-for-push"
allow = ["hosts:push"]

[metrics]
push_delay_dead = 0.3
local_delay_dead = 0.3
push_system_cpu_sick_above = 0.9
push_system_ram_sick_above = 0.8

[[probe.service]]
id = "web"
[[probe.service.node]]
id = "api"
mode = "poll"
replicas = ["http://127.0.0.1:9/"]

[[probe.service]]
id = "hosts"
[[probe.service.node]]
id = "push"
mode = "push"
[[probe.service.node]]
id = "local"
mode = "local"
`

func testCfg(t testing.TB) *config.Config {
	t.Helper()
	return apptest.Config(t, testConfig)
}

// testServer is the app (the API in the server's route table, as the
// program runs it) behind a real loopback listener. With a nil clock it
// runs on real time with its sweep running; with a fake clock the test
// calls Agents.Sweep itself.
type testServer struct {
	*apptest.Server
	reg *status.Registry
	url string
}

func startServer(t testing.TB, clock func() time.Time) *testServer {
	t.Helper()
	s := apptest.Start(t, testConfig, apptest.Options{Now: clock})
	return &testServer{Server: s, reg: s.Registry, url: s.URL}
}

func basic(token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+token))
}

type response struct {
	code int
	hdr  http.Header
	body string
}

// errorText returns the "error" field of a JSON error body, or "" when the
// body is not one.
func (r response) errorText() string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(r.body), &e) != nil {
		return ""
	}
	return e.Error
}

// do sends a request; auth is the whole Authorization value ("" for none).
func (s *testServer) do(t testing.TB, method, path, auth, body string) response {
	t.Helper()
	return s.doHeaders(t, method, path, body, map[string]string{"Authorization": auth})
}

// doHeaders sends a request with headers; empty values are left out.
func (s *testServer) doHeaders(t testing.TB, method, path, body string, headers map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, hdr: resp.Header, body: string(b)}
}

// replica finds a replica in the current snapshot.
func (s *testServer) replica(service, node, id string) *status.Replica {
	snap := s.reg.Snapshot()
	si, ni, ok := snap.FindNode(service, node)
	if !ok {
		return nil
	}
	for _, r := range snap.Services[si].Nodes.At(ni).Replicas.All() {
		if r.ID == id {
			return r
		}
	}
	return nil
}
