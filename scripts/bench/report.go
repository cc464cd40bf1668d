package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// statusReport is the part of GET /status/report the harness reads.
type statusReport struct {
	Status   string `json:"status"`
	Services []struct {
		ID    string `json:"id"`
		Nodes []struct {
			ID       string `json:"id"`
			Mode     string `json:"mode"`
			Replicas []struct {
				Status  string          `json:"status"`
				Checked json.RawMessage `json:"checked"`
			} `json:"replicas"`
		} `json:"nodes"`
	} `json:"services"`
}

// reportCounts says how far the server has come.
type reportCounts struct {
	Status   string         // page status
	Poll     int            // replicas of poll nodes
	Checked  int            // of which have a result
	ByStatus map[string]int // poll replicas by status
}

// countReport tallies poll replicas and those with a first result
// ("checked" not null).
func countReport(r *statusReport) reportCounts {
	c := reportCounts{Status: r.Status, ByStatus: map[string]int{}}
	for _, s := range r.Services {
		for _, n := range s.Nodes {
			if n.Mode != "poll" {
				continue
			}
			for _, rep := range n.Replicas {
				c.Poll++
				if len(rep.Checked) > 0 && string(rep.Checked) != "null" {
					c.Checked++
					c.ByStatus[rep.Status]++
				}
			}
		}
	}
	return c
}

// fetchReport GETs /status/report and counts it.
func fetchReport(ctx context.Context, client *http.Client, addr string) (reportCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/status/report", nil)
	if err != nil {
		return reportCounts{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return reportCounts{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return reportCounts{}, fmt.Errorf("GET /status/report answered %d", resp.StatusCode)
	}
	var r statusReport
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return reportCounts{}, fmt.Errorf("GET /status/report: %w", err)
	}
	return countReport(&r), nil
}
