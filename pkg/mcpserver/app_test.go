package mcpserver_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/overvakt/overvakt/pkg/app/apptest"
	"github.com/overvakt/overvakt/pkg/status"
)

// appConfig is a config with one node and mcpLine in [server].
func appConfig(mcpLine string) string {
	return `[server]
manager_token = "manager-token-0123456789"
reporter_token = "reporter-token-0123456789"
` + mcpLine + `
[branding]
page_title = "Acme Status"
[[probe.service]]
id = "web"
label = "Website"
[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["http://127.0.0.1:9/"]
`
}

// TestServedByTheApp: the app serves MCP at /mcp/probes, trailing slash
// or not, when mcp_server is on.
func TestServedByTheApp(t *testing.T) {
	srv := apptest.Start(t, appConfig("mcp_server = true"), apptest.Options{})
	srv.Registry.Set(status.Ref{}, status.Result{Status: status.Dead, At: now})
	for _, path := range []string{"/mcp/probes", "/mcp/probes/"} {
		t.Run(path, func(t *testing.T) {
			cs := connect(t, srv.URL+path)
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "get_report"})
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, text(t, res), `{"health": "dead", "page": {"name": "Acme Status", "url": ""},
				"probes": [{"id": "web", "name": "Website", "status": "dead",
					"nodes": [{"id": "api", "name": "API", "status": "dead", "replicas": ["dead"]}]}]}`)
		})
	}
}

// TestOffByDefault: without mcp_server, /mcp/probes is as unknown as any
// path the server does not have.
func TestOffByDefault(t *testing.T) {
	for _, line := range []string{"", "mcp_server = false"} {
		t.Run(line, func(t *testing.T) {
			srv := apptest.Start(t, appConfig(line), apptest.Options{})
			answer := func(method, path string) (int, string) {
				t.Helper()
				req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(initialize))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, string(body)
			}
			for _, method := range []string{http.MethodPost, http.MethodGet} {
				code, body := answer(method, "/mcp/probes")
				unknownCode, unknownBody := answer(method, "/mcp/nothing")
				if code != http.StatusNotFound || code != unknownCode || body != unknownBody {
					t.Errorf("%s /mcp/probes: %d %q; want 404 as for an unknown path: %d %q", method, code, body, unknownCode, unknownBody)
				}
			}
			client := mcp.NewClient(&mcp.Implementation{Name: "overvakt-test", Version: "1"}, nil)
			if cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: srv.URL + "/mcp/probes", MaxRetries: -1}, nil); err == nil {
				cs.Close()
				t.Error("an MCP client connected with mcp_server off")
			}
		})
	}
}
