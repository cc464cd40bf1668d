package server_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app"
	"github.com/overvakt/overvakt/pkg/app/apptest"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/server"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

const (
	routesManagerToken  = "manager-token-0123456789"
	routesReporterToken = "reporter-token-0123456789"
	routesMetricsToken  = "metrics-token-0123456789"
)

// routesConfig has a push node for the reporter routes to reach.
const routesConfig = `[server]
manager_token = "` + routesManagerToken + `"
reporter_token = "` + routesReporterToken + `"
metrics = true
metrics_token = "` + routesMetricsToken + `"

[[probe.service]]
id = "agents"
[[probe.service.node]]
id = "hosts"
mode = "push"
`

// routeTokens is which token each route needs: "none", "reporter",
// "manager" or "metrics". A route missing here fails TestEveryRouteDecidesItsToken: add
// it once you have decided. "*" stands for every method.
var routeTokens = map[string]string{
	"GET /":                                    "none",
	"GET /api/v1/history/:service/:node":       "none",
	"GET /assets/*":                            "none",
	"GET /badge/:kind":                         "none",
	"GET /badge/uptime/:service/:node":         "none",
	"GET /feed.atom":                           "none",
	"GET /health":                              "none",
	"GET /history":                             "none",
	"GET /robots.txt":                          "none",
	"GET /status/report":                       "none",
	"GET /status/text":                         "none",
	"GET /status/version":                      "none",
	"GET /live":                                "none",
	"POST /reporter/:service/:node":            "reporter",
	"DELETE /reporter/:service/:node/:replica": "reporter",
	"* /reporter/:service/:node/:replica/*":    "none", // no route: 404 for everyone
	"GET /manager/announcements":               "manager",
	"POST /manager/announcement":               "manager",
	"DELETE /manager/announcement/:id":         "manager",
	"GET /manager/prober/alerts":               "manager",
	"GET /manager/prober/alerts/ignored":       "manager",
	"PUT /manager/prober/alerts/ignored":       "manager",
	"GET /manager/incidents":                   "manager",
	"POST /manager/incident":                   "manager",
	"GET /manager/incident/:id":                "manager",
	"PATCH /manager/incident/:id":              "manager",
	"DELETE /manager/incident/:id":             "manager",
	"POST /manager/incident/:id/update":        "manager",
	"POST /manager/incident/:id/resolve":       "manager",
	"POST /manager/incident/:id/publish":       "manager",
	"GET /manager/maintenance":                 "manager",
	"POST /manager/maintenance":                "manager",
	"DELETE /manager/maintenance/:id":          "manager",
	"GET /manager/subscribers":                 "manager",
	"POST /manager/subscribers":                "manager",
	"DELETE /manager/subscriber/:id":           "manager",
	"PUT /manager/monitor":                     "manager",
	"GET /manager/monitor":                     "manager",
	"DELETE /manager/monitor":                  "manager",
	"GET /manager/monitors":                    "manager",
	"POST /manager/reload":                     "manager",
	"GET /metrics":                             "metrics",
	"POST /subscribe":                          "none",
	"GET /subscribe/confirm":                   "none",
	"POST /subscribe/confirm":                  "none",
	"GET /unsubscribe":                         "none",
	"POST /unsubscribe":                        "none",
}

// tokenOf looks a route up in routeTokens; HEAD needs what GET needs.
func tokenOf(r server.Route) (string, bool) {
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if tok, ok := routeTokens[method+" "+r.Path]; ok {
		return tok, true
	}
	tok, ok := routeTokens["* "+r.Path]
	return tok, ok
}

// concrete fills a route's parameters with values that exist.
func concrete(path string) string {
	r := strings.NewReplacer(":service", "agents", ":node", "hosts", ":replica", "h", ":kind", "color", ":id", "nope", "*", "page.css")
	return r.Replace(path)
}

func startRoutes(t *testing.T) *apptest.Server {
	t.Helper()
	return apptest.Start(t, routesConfig, apptest.Options{})
}

// call sends a request from client (forwarded by the trusted loopback
// peer, so every route's failures count for its own address).
func call(t *testing.T, base, client, method, path, token string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost || method == http.MethodPut {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", client)
	if token != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+token)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestEveryRouteDecidesItsToken walks the route table: every route is in
// routeTokens, and answers as its token says: without credentials, with
// the other API's token and with its own.
func TestEveryRouteDecidesItsToken(t *testing.T) {
	s := startRoutes(t)
	routes := s.Server.Routes()
	seen := map[string]bool{}
	for i, r := range routes {
		tok, ok := tokenOf(r)
		if !ok {
			t.Errorf("%s %s is in no entry of routeTokens: decide which token it needs (none, reporter or manager) and add it", r.Method, r.Path)
			continue
		}
		key := r.Method + " " + r.Path
		if _, exact := routeTokens[key]; !exact {
			key = "* " + r.Path
		}
		if r.Method != http.MethodHead {
			seen[key] = true
		}
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			client := "192.0.2." + strconv.Itoa(i+1)
			path := concrete(r.Path)
			resp, body := call(t, s.URL, client, r.Method, path, "")
			switch tok {
			case "none":
				if resp.StatusCode == 401 || resp.StatusCode == 403 {
					t.Fatalf("without credentials: %d %s, want no authentication asked", resp.StatusCode, body)
				}
			case "reporter", "manager", "metrics":
				own, other := routesReporterToken, routesManagerToken
				switch tok {
				case "manager":
					own, other = other, own
				case "metrics":
					own = routesMetricsToken
				}
				if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
					t.Fatalf("without credentials: %d %s, want 401 with a Basic challenge", resp.StatusCode, body)
				}
				if resp, body := call(t, s.URL, client, r.Method, path, other); resp.StatusCode != 403 {
					t.Fatalf("with the other API's token: %d %s, want 403", resp.StatusCode, body)
				}
				if resp, body := call(t, s.URL, client, r.Method, path, own); resp.StatusCode == 401 || resp.StatusCode == 403 {
					t.Fatalf("with the %s token: %d %s", tok, resp.StatusCode, body)
				}
			default:
				t.Fatalf("routeTokens says %q; want none, reporter, manager or metrics", tok)
			}
		})
	}
	for key := range routeTokens {
		if !seen[key] {
			t.Errorf("routeTokens lists %q, which the route table does not have", key)
		}
	}
}

// TestHeadWhereverGet: every GET route has a HEAD route, which answers as
// GET does without a body.
func TestHeadWhereverGet(t *testing.T) {
	s := startRoutes(t)
	heads := map[string]bool{}
	var gets []server.Route
	for _, r := range s.Server.Routes() {
		switch r.Method {
		case http.MethodHead:
			heads[r.Path] = true
		case http.MethodGet:
			gets = append(gets, r)
		}
	}
	for i, r := range gets {
		t.Run(r.Path, func(t *testing.T) {
			if !heads[r.Path] {
				t.Fatalf("GET %s has no HEAD route", r.Path)
			}
			token := ""
			if tok, _ := tokenOf(r); tok == "manager" {
				token = routesManagerToken
			}
			client := "198.51.100." + strconv.Itoa(i+1)
			get, _ := call(t, s.URL, client, http.MethodGet, concrete(r.Path), token)
			head, body := call(t, s.URL, client, http.MethodHead, concrete(r.Path), token)
			if head.StatusCode != get.StatusCode || body != "" ||
				head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
				t.Fatalf("HEAD: %d %q %q; GET: %d %q", head.StatusCode, head.Header.Get("Content-Type"), body,
					get.StatusCode, get.Header.Get("Content-Type"))
			}
		})
	}
}

// TestErrorsAreJSON: on a real listener, as the server runs, every error
// of the API paths is {"error":"…"}, including the ones net/http answers
// itself before the router sees the request.
func TestErrorsAreJSON(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Config: apptest.Config(t, routesConfig), Kinds: kinds.All(), Store: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Server.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(":"+routesReporterToken)) + "\r\n"
	cases := []struct {
		name, request string
		code          int
		mentions      string
	}{
		{"bad percent-escape in the path", "GET /reporter/agents/ho%zzsts/ HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
			400, "bad percent-escape in the path (write a literal % as %25)"},
		{"percent at the end of the path", "DELETE /reporter/agents/hosts/h% HTTP/1.1\r\nHost: x\r\n\r\n", 400, "percent-escape"},
		{"control character in the path", "GET /status/te\x01xt HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed request"},
		{"header without a colon", "GET /status/text HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n", 400, "malformed request"},
		{"no Host header", "GET /status/text HTTP/1.1\r\n\r\n", 400, "malformed request: missing required Host header"},
		{"unknown transfer encoding", "POST /reporter/agents/hosts/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported transfer encoding"},
		{"headers too large", "GET /status/text HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 80<<10) + "\r\n\r\n", 431, "too large"},
		{"unsupported protocol", "GET /status/text HTTP/2.5\r\nHost: x\r\n\r\n", 505, "malformed request: unsupported protocol version"},
		{"unknown route", "GET /manager/nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no such route: GET /manager/nothing"},
		{"wrong method", "PATCH /manager/prober/alerts/ignored HTTP/1.1\r\nHost: x\r\n\r\n", 405, "allowed: GET, HEAD, PUT"},
		{"unknown badge", "GET /badge/nope HTTP/1.1\r\nHost: x\r\n\r\n", 404, "unknown badge"},
		{"escaped slash in an unknown replica", "DELETE /reporter/agents/hosts/a%2Fb/ HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 404, `no replica "a/b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(conn, tc.request); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e struct {
				Error string `json:"error"`
			}
			if resp.StatusCode != tc.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
				json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, tc.mentions) {
				t.Fatalf("got %d %q %s, want %d with a JSON error mentioning %q", resp.StatusCode, resp.Header.Get("Content-Type"), b, tc.code, tc.mentions)
			}
		})
	}
}
