// Package mcpserver serves the public status to AI agents over the Model
// Context Protocol: Vigil's get_report tool, one node's replicas and the
// open incidents. It tells nothing the public page does not: replicas are
// named as the page names them, and no URL, error or draft is shown.
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// maxBody bounds a request body; a tool call is a few hundred bytes.
const maxBody = 64 << 10

// Snapshots is the live status (a *status.Registry).
type Snapshots interface {
	Snapshot() *status.Snapshot
}

// Incidents are the incidents visitors see (a *notice.Desk).
type Incidents interface {
	// Public returns the open and the resolved public incidents, newest
	// first, drafts left out.
	Public() (open, resolved []store.Incident)
}

// Options wire the MCP server; Status is required.
type Options struct {
	Status    Snapshots
	Incidents Incidents // nil: no incidents
	PageTitle string    // branding.page_title, get_report's page.name
	PageURL   string    // branding.page_url, get_report's page.url
	Version   string    // the program's version, told to clients
	Logger    *slog.Logger
}

// New returns the handler of /mcp/probes (Vigil's path, so that an agent
// set up for Vigil finds it).
//
// It is stateless: every request is answered on its own, in JSON, so no
// session is kept between requests, no stream is held open (a GET is 405,
// which clients take as "no stream"), and nothing outlives a request.
func New(o Options) (http.Handler, error) {
	if o.Status == nil {
		return nil, errors.New("mcpserver: Options.Status is required")
	}
	version := o.Version
	if version == "" {
		version = "dev"
	}
	// The SDK logs every request at info and clients' mistakes at error:
	// worth seeing only while debugging this endpoint.
	var sdkLog *slog.Logger
	if o.Logger != nil && o.Logger.Enabled(context.Background(), slog.LevelDebug) {
		sdkLog = o.Logger.With("component", "mcp")
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "overvakt", Title: o.PageTitle, Version: version}, &mcp.ServerOptions{
		Instructions: "Övervakt status page. get_report lists every service (probe) and node with its status " +
			"(healthy, sick or dead); get_node tells one node's replicas; get_incidents lists the open incidents.",
		Logger: sdkLog,
		// Tools only, and they never change while the server runs.
		Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}},
	})
	t := tools{status: o.Status, incidents: o.Incidents, title: o.PageTitle, url: o.PageURL}
	readOnly := func(title string) *mcp.ToolAnnotations {
		closed := false
		return &mcp.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: &closed}
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "get_report", Annotations: readOnly("Status report"),
		Description: "Returns all status page services (probes) and their nodes with their status (healthy, sick or dead), " +
			"and the status of each node's replicas."}, t.getReport)
	mcp.AddTool(srv, &mcp.Tool{Name: "get_node", Annotations: readOnly("One node"),
		Description: "Returns one node as the status page shows it: its status, since when it is broken, " +
			"and each replica's status, latency and when it was last checked."}, t.getNode)
	mcp.AddTool(srv, &mcp.Tool{Name: "get_incidents", Annotations: readOnly("Open incidents"),
		Description: "Returns the incidents still open on the status page, newest first, with what they affect " +
			"and their updates."}, t.getIncidents)

	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:    true,
		JSONResponse: true,
		Logger:       sdkLog,
		// The protection is for private servers on a developer's machine;
		// this one serves public data, usually behind a proxy on loopback
		// that passes the public Host, which the protection would refuse.
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        maxBody,
	}), nil
}

type tools struct {
	status     Snapshots
	incidents  Incidents
	title, url string
}

// report is get_report's answer: Vigil's, with ids added so that
// get_node can be asked about a node.
type report struct {
	Health string        `json:"health" jsonschema:"the status of the whole page: healthy, sick or dead"`
	Page   reportPage    `json:"page"`
	Probes []reportProbe `json:"probes" jsonschema:"the services, in page order"`
}

type reportPage struct {
	Name string `json:"name" jsonschema:"the page's title"`
	URL  string `json:"url" jsonschema:"the page's public address; empty when not configured"`
}

type reportProbe struct {
	ID     string       `json:"id" jsonschema:"the service's id"`
	Name   string       `json:"name" jsonschema:"the service's label"`
	Status string       `json:"status" jsonschema:"healthy, sick or dead: the worst of its nodes"`
	Nodes  []reportNode `json:"nodes"`
}

type reportNode struct {
	ID       string   `json:"id" jsonschema:"the node's id within its service"`
	Name     string   `json:"name" jsonschema:"the node's label"`
	Status   string   `json:"status" jsonschema:"healthy, sick or dead: the worst of its replicas"`
	Replicas []string `json:"replicas" jsonschema:"the status of each replica"`
}

func (t tools) getReport(_ context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, report, error) {
	snap := t.status.Snapshot()
	r := report{Health: word(snap.Status), Page: reportPage{Name: t.title, URL: t.url},
		Probes: make([]reportProbe, len(snap.Services))}
	for i, svc := range snap.Services {
		p := reportProbe{ID: svc.ID, Name: svc.Label, Status: word(svc.Status), Nodes: make([]reportNode, svc.Nodes.Len())}
		for j, n := range svc.Nodes.All() {
			rn := reportNode{ID: n.ID, Name: n.Label, Status: word(n.Status), Replicas: make([]string, n.Replicas.Len())}
			for k, rep := range n.Replicas.All() {
				rn.Replicas[k] = word(rep.Status)
			}
			p.Nodes[j] = rn
		}
		r.Probes[i] = p
	}
	return nil, r, nil
}

// nodeQuery is get_node's arguments.
type nodeQuery struct {
	Service string `json:"service" jsonschema:"the service's id, as get_report lists it"`
	Node    string `json:"node" jsonschema:"the node's id within that service, as get_report lists it"`
}

// nodeOut is get_node's answer.
type nodeOut struct {
	Service     string       `json:"service" jsonschema:"the service's id"`
	ServiceName string       `json:"service_name" jsonschema:"the service's label"`
	ID          string       `json:"id" jsonschema:"the node's id"`
	Name        string       `json:"name" jsonschema:"the node's label"`
	Status      string       `json:"status" jsonschema:"healthy, sick or dead"`
	Since       string       `json:"since,omitempty" jsonschema:"when the node took its status, while it is sick or dead (RFC 3339)"`
	LinkURL     string       `json:"link_url,omitempty" jsonschema:"a link the page shows beside the node"`
	LinkLabel   string       `json:"link_label,omitempty"`
	Replicas    []replicaOut `json:"replicas"`
}

// replicaOut is one replica as the page shows it.
type replicaOut struct {
	Name    string  `json:"name" jsonschema:"its host where the node shows replica names, else replica 1, replica 2, …"`
	Status  string  `json:"status" jsonschema:"healthy, sick or dead"`
	Checked *string `json:"checked" jsonschema:"when the last result came (RFC 3339); null before the first"`
	Stale   bool    `json:"stale" jsonschema:"true when the status is the last one known before the server restarted"`
	// Milliseconds, to the microsecond, as /status/report has it.
	LatencyMS    float64   `json:"latency_ms" jsonschema:"how long the last check took, in milliseconds"`
	Load         *loadOut  `json:"load,omitempty" jsonschema:"the CPU and memory load a pushing host reported"`
	Queue        *queueOut `json:"queue,omitempty" jsonschema:"the messages in a checked queue"`
	CertDaysLeft *int      `json:"cert_days_left,omitempty" jsonschema:"whole days the TLS certificate had left when checked; negative once expired"`
}

type loadOut struct {
	CPU float64 `json:"cpu" jsonschema:"the host's load per CPU (1 is every CPU busy)"`
	RAM float64 `json:"ram" jsonschema:"the fraction of memory in use"`
}

type queueOut struct {
	Ready   int `json:"ready"`
	Unacked int `json:"unacked"`
}

func (t tools) getNode(_ context.Context, _ *mcp.CallToolRequest, q nodeQuery) (*mcp.CallToolResult, nodeOut, error) {
	snap := t.status.Snapshot()
	si, ni, ok := snap.FindNode(q.Service, q.Node)
	switch {
	case si < 0:
		return nil, nodeOut{}, fmt.Errorf("no service %q: get_report lists the services' ids", q.Service)
	case !ok:
		return nil, nodeOut{}, fmt.Errorf("no node %q in service %q: get_report lists the nodes' ids", q.Node, q.Service)
	}
	svc := snap.Services[si]
	n := svc.Nodes.At(ni)
	out := nodeOut{Service: svc.ID, ServiceName: svc.Label, ID: n.ID, Name: n.Label, Status: word(n.Status),
		LinkURL: n.LinkURL, LinkLabel: n.LinkLabel, Replicas: make([]replicaOut, n.Replicas.Len())}
	if n.Status != status.Healthy && !n.Changed.IsZero() {
		out.Since = rfc3339(n.Changed)
	}
	for k, name := range page.ReplicaNames(n) {
		rep := n.Replicas.At(k)
		r := replicaOut{Name: name, Status: word(rep.Status), Stale: rep.Stale,
			LatencyMS: math.Round(float64(rep.Latency)/float64(time.Microsecond)) / 1000}
		if !rep.Checked.IsZero() {
			at := rfc3339(rep.Checked)
			r.Checked = &at
		}
		if l := rep.Load; l != nil {
			r.Load = &loadOut{CPU: l.CPU, RAM: l.RAM}
		}
		if qu := rep.Queue; qu != nil {
			r.Queue = &queueOut{Ready: qu.Ready, Unacked: qu.Unacked}
		}
		if c := rep.Cert; c != nil {
			left := c.DaysLeft(rep.Checked)
			r.CertDaysLeft = &left
		}
		out.Replicas[k] = r
	}
	return nil, out, nil
}

// incidentList is get_incidents' answer.
type incidentList struct {
	Incidents []incidentOut `json:"incidents" jsonschema:"the open incidents, newest first"`
}

type incidentOut struct {
	ID       string         `json:"id"`
	Title    string         `json:"title"`
	Impact   string         `json:"impact" jsonschema:"minor, major or critical"`
	Status   string         `json:"status" jsonschema:"investigating, identified or monitoring"`
	Affected []componentOut `json:"affected" jsonschema:"the services and nodes it affects"`
	Created  string         `json:"created" jsonschema:"when it was opened (RFC 3339)"`
	Updates  []updateOut    `json:"updates" jsonschema:"what was told, oldest first"`
}

type componentOut struct {
	ID    string `json:"id" jsonschema:"service or service:node, by id"`
	Label string `json:"label" jsonschema:"as the page names it: Service or Service · Node"`
}

type updateOut struct {
	At     string `json:"at" jsonschema:"RFC 3339"`
	Status string `json:"status" jsonschema:"investigating, identified, monitoring or resolved"`
	Text   string `json:"text" jsonschema:"the update's text (Markdown)"`
}

func (t tools) getIncidents(_ context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, incidentList, error) {
	out := incidentList{Incidents: []incidentOut{}}
	if t.incidents == nil {
		return nil, out, nil
	}
	open, _ := t.incidents.Public()
	snap := t.status.Snapshot()
	for _, inc := range open {
		v := incidentOut{ID: inc.ID, Title: inc.Title, Impact: inc.Impact, Status: inc.Status, Created: rfc3339(inc.Created),
			Affected: make([]componentOut, len(inc.Affected)), Updates: make([]updateOut, len(inc.Updates))}
		for i, c := range inc.Affected {
			v.Affected[i] = component(c, snap)
		}
		for i, u := range inc.Updates {
			v.Updates[i] = updateOut{At: rfc3339(u.At), Status: u.Status, Text: u.Text}
		}
		out.Incidents = append(out.Incidents, v)
	}
	return nil, out, nil
}

// component names a service or node as the page does, by its labels, or
// by its id when it is no longer in the config.
func component(c store.Component, snap *status.Snapshot) componentOut {
	id := c.Service
	if c.Node != "" {
		id += ":" + c.Node
	}
	return componentOut{ID: id, Label: page.Label(c, snap)}
}

// word is a status as the wire protocol writes it; anything worse than
// dead (none today) is dead, as on the page.
func word(s status.Status) string { return min(s, status.Dead).String() }

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
