package mcpserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/overvakt/overvakt/pkg/mcpserver"
	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

var now = time.Date(2026, 11, 24, 14, 2, 0, 0, time.UTC)

// Secrets of the test state that no answer may hold: a hidden replica's
// URL and what its probe said, a draft and a resolved incident.
var secrets = []string{"origin.secret.internal", "8443", "s3cr3t", "connection refused",
	"Database is not responding", "Slow dashboard", "www2.acme.example"}

// testRegistry: a dead node whose replica names are hidden, a healthy one
// that shows them (one replica never checked), and a sick push node.
func testRegistry() *status.Registry {
	reg := status.NewRegistry([]status.ServiceSpec{
		{ID: "web", Label: "Website", Nodes: []status.NodeSpec{
			{ID: "site", Label: "Marketing site", LinkURL: "https://docs.acme.example/status", LinkLabel: "Status notes",
				Replicas: []string{"https://origin.secret.internal:8443/health?token=s3cr3t", "https://www2.acme.example/"}},
			{ID: "app", Label: "Customer dashboard", RevealReplicaName: true,
				Replicas: []string{"https://app-1.acme.example/health", "https://app-2.acme.example/health"}},
		}},
		{ID: "infra", Label: "Infrastructure", Nodes: []status.NodeSpec{
			{ID: "db", Label: "Database", Mode: status.ModePush, RevealReplicaName: true},
		}},
	}, now.Add(-time.Hour))
	reg.Set(status.Ref{Service: 0, Node: 0, Replica: 0}, status.Result{Status: status.Dead, At: now.Add(-5 * time.Minute),
		Err: "dial tcp origin.secret.internal:8443: connection refused"})
	reg.Set(status.Ref{Service: 0, Node: 0, Replica: 1}, status.Result{Status: status.Healthy, Latency: 91 * time.Millisecond, At: now})
	reg.Set(status.Ref{Service: 0, Node: 1, Replica: 0}, status.Result{Status: status.Healthy, Latency: 143250 * time.Microsecond, At: now,
		Cert: &status.Cert{NotAfter: now.Add(42*24*time.Hour + time.Hour)}})
	reg.Upsert(1, 0, "db-primary", status.Result{Status: status.Sick, At: now.Add(-2 * time.Minute),
		Load: &status.Load{CPU: 0.95, RAM: 0.61}})
	return reg
}

type known struct{}

func (known) Known(name string) bool {
	return slices.Contains([]string{"web", "web:site", "web:app", "infra", "infra:db"}, name)
}

// testDesk holds a draft, a resolved incident and an open one, which it
// returns.
func testDesk(t *testing.T) (*notice.Desk, notice.Incident) {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	draft := store.Incident{ID: "draft-1", Title: "Database is not responding", Impact: "major", Status: "investigating",
		Draft: true, Source: "alert", Created: now, Affected: []store.Component{{Service: "infra", Node: "db"}},
		Updates: []store.IncidentUpdate{{At: now, Status: "investigating", Text: "From the alert."}}}
	// Opened before a config change took its node and a service away.
	orphan := store.Incident{ID: "orphan-1", Title: "Old CDN errors", Impact: "minor", Status: "monitoring",
		Created: now.Add(-2 * time.Hour), Affected: []store.Component{{Service: "gone", Node: "old"}, {Service: "web", Node: "cdn"}},
		Updates: []store.IncidentUpdate{{At: now.Add(-2 * time.Hour), Status: "monitoring", Text: "Watching."}}}
	for _, inc := range []store.Incident{draft, orphan} {
		if err := st.PutIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
	}
	clock := now.Add(-30 * time.Minute)
	desk, err := notice.NewDesk(ctx, notice.DeskOptions{Store: st, Components: known{}, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	old, err := desk.Open(ctx, notice.NewIncident{Title: "Slow dashboard", Impact: "minor", Text: "Looking.", Affected: []string{"web:app"}})
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(10 * time.Minute)
	if _, err := desk.AddUpdate(ctx, old.ID, "resolved", "Fast again."); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(-4 * time.Minute)
	open, err := desk.Open(ctx, notice.NewIncident{Title: "Marketing site down", Impact: "major", Text: "We are looking into it.",
		Affected: []string{"web:site", "infra", "web"}})
	if err != nil {
		t.Fatal(err)
	}
	clock = now.Add(-time.Minute)
	if open, err = desk.AddUpdate(ctx, open.ID, "identified", "An expired certificate."); err != nil {
		t.Fatal(err)
	}
	return desk, open
}

// serve runs the MCP handler alone on a loopback listener.
func serve(t *testing.T, o mcpserver.Options) string {
	t.Helper()
	h, err := mcpserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// connect opens an MCP session with the SDK's own client.
func connect(t *testing.T, url string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "overvakt-test", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// text returns a result's one text content.
func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("content has %d parts, want 1: %+v", len(res.Content), res.Content)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("content is %T, want text", res.Content[0])
	}
	return tc.Text
}

// sameJSON fails unless got and want hold the same JSON value.
func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("answer\n%s\nwant\n%s", got, want)
	}
}

func TestListTools(t *testing.T) {
	desk, _ := testDesk(t)
	cs := connect(t, serve(t, mcpserver.Options{Status: testRegistry(), Incidents: desk}))
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	required := map[string][]string{"get_report": nil, "get_node": {"service", "node"}, "get_incidents": nil}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if a := tool.Annotations; a == nil || !a.ReadOnlyHint {
			t.Errorf("%s: not marked read-only: %+v", tool.Name, a)
		}
		if tool.OutputSchema == nil {
			t.Errorf("%s: no output schema", tool.Name)
		}
		var in struct{ Required []string }
		b, _ := json.Marshal(tool.InputSchema)
		if err := json.Unmarshal(b, &in); err != nil {
			t.Fatal(err)
		}
		if want := required[tool.Name]; !slices.Equal(in.Required, want) {
			t.Errorf("%s: requires %v, want %v", tool.Name, in.Required, want)
		}
	}
	slices.Sort(names)
	if want := []string{"get_incidents", "get_node", "get_report"}; !slices.Equal(names, want) {
		t.Errorf("tools %v, want %v", names, want)
	}
	if init := cs.InitializeResult(); init.ServerInfo.Name != "overvakt" || init.Instructions == "" {
		t.Errorf("server info %+v, instructions %q", init.ServerInfo, init.Instructions)
	}
}

func TestTools(t *testing.T) {
	desk, open := testDesk(t)
	cs := connect(t, serve(t, mcpserver.Options{Status: testRegistry(), Incidents: desk,
		PageTitle: "Acme Status", PageURL: "https://status.acme.example/", Version: "1.2.3"}))
	tests := []struct {
		name string
		tool string
		args any
		want string
	}{
		{"the report, as Vigil's", "get_report", nil, `{
			"health": "dead",
			"page": {"name": "Acme Status", "url": "https://status.acme.example/"},
			"probes": [
				{"id": "web", "name": "Website", "status": "dead", "nodes": [
					{"id": "site", "name": "Marketing site", "status": "dead", "replicas": ["dead", "healthy"]},
					{"id": "app", "name": "Customer dashboard", "status": "healthy", "replicas": ["healthy", "healthy"]}]},
				{"id": "infra", "name": "Infrastructure", "status": "sick", "nodes": [
					{"id": "db", "name": "Database", "status": "sick", "replicas": ["sick"]}]}]}`},
		{"the report with empty arguments", "get_report", map[string]any{}, `{
			"health": "dead",
			"page": {"name": "Acme Status", "url": "https://status.acme.example/"},
			"probes": [
				{"id": "web", "name": "Website", "status": "dead", "nodes": [
					{"id": "site", "name": "Marketing site", "status": "dead", "replicas": ["dead", "healthy"]},
					{"id": "app", "name": "Customer dashboard", "status": "healthy", "replicas": ["healthy", "healthy"]}]},
				{"id": "infra", "name": "Infrastructure", "status": "sick", "nodes": [
					{"id": "db", "name": "Database", "status": "sick", "replicas": ["sick"]}]}]}`},
		{"a node that hides its replicas' names", "get_node", map[string]any{"service": "web", "node": "site"}, `{
			"service": "web", "service_name": "Website", "id": "site", "name": "Marketing site",
			"status": "dead", "since": "2026-11-24T13:57:00Z",
			"link_url": "https://docs.acme.example/status", "link_label": "Status notes",
			"replicas": [
				{"name": "replica 1", "status": "dead", "checked": "2026-11-24T13:57:00Z", "stale": false, "latency_ms": 0},
				{"name": "replica 2", "status": "healthy", "checked": "2026-11-24T14:02:00Z", "stale": false, "latency_ms": 91}]}`},
		{"a node that shows them, one never checked", "get_node", map[string]any{"service": "web", "node": "app"}, `{
			"service": "web", "service_name": "Website", "id": "app", "name": "Customer dashboard", "status": "healthy",
			"replicas": [
				{"name": "app-1.acme.example", "status": "healthy", "checked": "2026-11-24T14:02:00Z", "stale": false,
				 "latency_ms": 143.25, "cert_days_left": 42},
				{"name": "app-2.acme.example", "status": "healthy", "checked": null, "stale": false, "latency_ms": 0}]}`},
		{"a push node", "get_node", map[string]any{"service": "infra", "node": "db"}, `{
			"service": "infra", "service_name": "Infrastructure", "id": "db", "name": "Database",
			"status": "sick", "since": "2026-11-24T14:00:00Z",
			"replicas": [{"name": "db-primary", "status": "sick", "checked": "2026-11-24T14:00:00Z", "stale": false,
				"latency_ms": 0, "load": {"cpu": 0.95, "ram": 0.61}}]}`},
		{"the open incidents: no draft, none resolved", "get_incidents", nil, `{"incidents": [{
			"id": "` + open.ID + `", "title": "Marketing site down", "impact": "major", "status": "identified",
			"affected": [
				{"id": "web:site", "label": "Website · Marketing site"},
				{"id": "infra", "label": "Infrastructure"},
				{"id": "web", "label": "Website"}],
			"created": "2026-11-24T13:58:00Z",
			"updates": [
				{"at": "2026-11-24T13:58:00Z", "status": "investigating", "text": "We are looking into it."},
				{"at": "2026-11-24T14:01:00Z", "status": "identified", "text": "An expired certificate."}]}, {
			"id": "orphan-1", "title": "Old CDN errors", "impact": "minor", "status": "monitoring",
			"affected": [{"id": "gone:old", "label": "gone:old"}, {"id": "web:cdn", "label": "Website · cdn"}],
			"created": "2026-11-24T12:02:00Z",
			"updates": [{"at": "2026-11-24T12:02:00Z", "status": "monitoring", "text": "Watching."}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tt.tool, Arguments: tt.args})
			if err != nil {
				t.Fatal(err)
			}
			got := text(t, res)
			if res.IsError {
				t.Fatalf("tool error: %s", got)
			}
			sameJSON(t, got, tt.want)
			structured, err := json.Marshal(res.StructuredContent)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, string(structured), tt.want)
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("the answer shows %q, which the page does not:\n%s", s, got)
				}
			}
		})
	}
}

func TestNoIncidents(t *testing.T) {
	cs := connect(t, serve(t, mcpserver.Options{Status: testRegistry()}))
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "get_incidents"})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, text(t, res), `{"incidents": []}`)
}

func TestBadInput(t *testing.T) {
	desk, _ := testDesk(t)
	cs := connect(t, serve(t, mcpserver.Options{Status: testRegistry(), Incidents: desk}))
	tests := []struct {
		name string
		tool string
		args any
		want string // in the tool's error
	}{
		{"unknown service", "get_node", map[string]any{"service": "mail", "node": "site"},
			`no service "mail": get_report lists the services' ids`},
		{"unknown node", "get_node", map[string]any{"service": "web", "node": "cdn"},
			`no node "cdn" in service "web": get_report lists the nodes' ids`},
		{"a node by its label", "get_node", map[string]any{"service": "Website", "node": "Marketing site"},
			`no service "Website"`},
		{"missing node", "get_node", map[string]any{"service": "web"}, "node"},
		{"no arguments", "get_node", nil, "service"},
		{"a number for an id", "get_node", map[string]any{"service": "web", "node": 1}, "node"},
		{"an argument get_report does not take", "get_report", map[string]any{"verbose": true}, "verbose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tt.tool, Arguments: tt.args})
			if err != nil {
				t.Fatal(err)
			}
			got := text(t, res)
			if !res.IsError {
				t.Fatalf("no error; answer %s", got)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("error %q, want it to say %q", got, tt.want)
			}
		})
	}
	t.Run("unknown tool", func(t *testing.T) {
		_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "get_secrets"})
		if err == nil || !strings.Contains(err.Error(), "get_secrets") {
			t.Errorf("error %v, want one naming the unknown tool", err)
		}
	})
}

// initialize is an MCP client's first request.
const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",` +
	`"capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`

// TestHTTP sends what clients other than the SDK's might.
func TestHTTP(t *testing.T) {
	url := serve(t, mcpserver.Options{Status: testRegistry()})
	tests := []struct {
		name        string
		method      string
		host        string // "" leaves the listener's
		contentType string
		body        string
		want        int
		wantBody    string // contained in the answer
	}{
		{"initialize", http.MethodPost, "", "application/json", initialize, http.StatusOK, `"serverInfo":{"name":"overvakt"`},
		// nginx in front, on loopback, passes the public host name.
		{"through a proxy on loopback", http.MethodPost, "status.acme.example", "application/json", initialize,
			http.StatusOK, `"serverInfo":{"name":"overvakt"`},
		{"a tool call without a session", http.MethodPost, "", "application/json",
			`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_report","arguments":{}}}`,
			http.StatusOK, `\"health\":\"dead\"`},
		{"the server-to-client stream", http.MethodGet, "", "", "", http.StatusMethodNotAllowed, ""},
		{"not JSON", http.MethodPost, "", "text/plain", "get_report", http.StatusUnsupportedMediaType, ""},
		{"broken JSON", http.MethodPost, "", "application/json", `{"jsonrpc":`, http.StatusBadRequest, ""},
		{"a body over 64 KiB", http.MethodPost, "", "application/json",
			`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 64<<10) + `"}}`,
			http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("%d %s, want %d with %s", resp.StatusCode, body, tt.want, tt.wantBody)
			}
			if resp.StatusCode == http.StatusOK && resp.Header.Get("Mcp-Session-Id") != "" {
				t.Errorf("a session id was given: %q; the server keeps no session", resp.Header.Get("Mcp-Session-Id"))
			}
		})
	}
}

// TestNothingOutlivesARequest: the server keeps no session, so clients
// that start one and walk away, and many calls, leave nothing behind.
func TestNothingOutlivesARequest(t *testing.T) {
	url := serve(t, mcpserver.Options{Status: testRegistry()})
	cs := connect(t, url)
	call := func() {
		t.Helper()
		if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "get_report"}); err != nil {
			t.Fatal(err)
		}
	}
	walkAway := func() {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(initialize))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	call() // the connections are open from here on
	walkAway()
	before := runtime.NumGoroutine()
	for range 100 {
		call()
		walkAway()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after 100 calls and 100 abandoned sessions, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
