package server

import (
	"bytes"
	"encoding/json"
	"math"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/status"
)

// The JSON report: GET /status/report.
type report struct {
	Status        status.Status   `json:"status"`
	Version       uint64          `json:"version"`
	StatusVersion uint64          `json:"status_version"`
	Changed       string          `json:"changed"`
	Updated       string          `json:"updated"`
	Services      []reportService `json:"services"`
}

type reportService struct {
	ID     string        `json:"id"`
	Label  string        `json:"label"`
	Status status.Status `json:"status"`
	Nodes  []reportNode  `json:"nodes"`
}

type reportNode struct {
	ID       string          `json:"id"`
	Label    string          `json:"label"`
	Mode     status.Mode     `json:"mode"`
	Status   status.Status   `json:"status"`
	Replicas []reportReplica `json:"replicas"`
}

type reportReplica struct {
	Index   int           `json:"index"`        // 1-based, as on the page
	ID      string        `json:"id,omitempty"` // only when the node reveals replica names
	Status  status.Status `json:"status"`
	Checked *string       `json:"checked"` // null until the first result
	// Stale: the status is the last one known from before the server
	// started, as of Checked; no result has come since.
	Stale     bool         `json:"stale,omitempty"`
	LatencyMS float64      `json:"latency_ms"`
	Load      *reportLoad  `json:"load,omitempty"`
	Queue     *reportQueue `json:"queue,omitempty"`
	// The TLS certificate of an https replica, as of Checked: when it
	// expires, and the whole days it had left then (negative once expired).
	CertExpires  *string `json:"cert_expires,omitempty"`
	CertDaysLeft *int    `json:"cert_days_left,omitempty"`
}

type reportLoad struct {
	CPU float64 `json:"cpu"`
	RAM float64 `json:"ram"`
}

type reportQueue struct {
	Ready   int `json:"ready"`
	Unacked int `json:"unacked"`
}

// handleReport serves the JSON report, encoded once per snapshot.
func (s *Server) handleReport(c echo.Context) error {
	snap := s.reg.Snapshot()
	want := docKey{version: snap.Version, statusVersion: snap.StatusVersion}
	d := s.report.cur.Load()
	before := d
	if d == nil || d.key.version != want.version {
		var err error
		if d, err = s.report.fresh(want); err != nil {
			return err
		}
	}
	s.report.served(before, d)
	c.Response().Header()["Access-Control-Allow-Origin"] = hdrAnyOrigin
	serveDoc(c.Response(), c.Request(), d, hdrNoCache)
	return nil
}

func (s *Server) buildReport(buf *bytes.Buffer, _ docKey) (docKey, time.Time, error) {
	snap := s.reg.Snapshot()
	rep := report{
		Status:        snap.Status,
		Version:       snap.Version,
		StatusVersion: snap.StatusVersion,
		Changed:       rfc3339(snap.Changed),
		Updated:       rfc3339(snap.Updated),
		Services:      make([]reportService, len(snap.Services)),
	}
	for i, svc := range snap.Services {
		rs := reportService{ID: svc.ID, Label: svc.Label, Status: svc.Status, Nodes: make([]reportNode, svc.Nodes.Len())}
		for j, n := range svc.Nodes.All() {
			rn := reportNode{ID: n.ID, Label: n.Label, Mode: n.Mode, Status: n.Status,
				Replicas: make([]reportReplica, n.Replicas.Len())}
			for k, r := range n.Replicas.All() {
				rr := reportReplica{Index: k + 1, Status: r.Status, Stale: r.Stale,
					LatencyMS: math.Round(float64(r.Latency)/float64(time.Microsecond)) / 1000}
				if n.RevealReplicaName {
					rr.ID = r.ID
				}
				if !r.Checked.IsZero() {
					t := rfc3339(r.Checked)
					rr.Checked = &t
				}
				if r.Load != nil {
					rr.Load = &reportLoad{CPU: r.Load.CPU, RAM: r.Load.RAM}
				}
				if r.Queue != nil {
					rr.Queue = &reportQueue{Ready: r.Queue.Ready, Unacked: r.Queue.Unacked}
				}
				if c := r.Cert; c != nil {
					expires, left := rfc3339(c.NotAfter), c.DaysLeft(r.Checked)
					rr.CertExpires, rr.CertDaysLeft = &expires, &left
				}
				rn.Replicas[k] = rr
			}
			rs.Nodes[j] = rn
		}
		rep.Services[i] = rs
	}
	key := docKey{version: snap.Version, statusVersion: snap.StatusVersion}
	return key, time.Time{}, json.NewEncoder(buf).Encode(rep)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
