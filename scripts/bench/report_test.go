package main

import (
	"encoding/json"
	"testing"
)

func TestCountReport(t *testing.T) {
	tests := []struct {
		name          string
		in            string
		poll, checked int
		status        string
	}{
		{
			name: "mixed",
			in: `{"status":"sick","version":"0.1","services":[
				{"id":"a","nodes":[{"id":"n","mode":"poll","replicas":[
					{"index":0,"status":"healthy","checked":"2025-01-01T00:00:00Z","latency_ms":3},
					{"index":1,"status":"healthy","checked":null},
					{"index":2,"status":"sick","checked":"2025-01-01T00:00:01Z"}]}]},
				{"id":"agents","nodes":[{"id":"push","mode":"push","replicas":[
					{"index":0,"status":"healthy","checked":"2025-01-01T00:00:00Z"}]}]}]}`,
			poll: 3, checked: 2, status: "sick",
		},
		{name: "before any probe", in: `{"status":"healthy","services":[{"id":"a","nodes":[{"id":"n","mode":"poll","replicas":[{"index":0,"status":"healthy"}]}]}]}`, poll: 1, checked: 0, status: "healthy"},
		{name: "empty", in: `{"status":"healthy","services":[]}`, status: "healthy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r statusReport
			if err := json.Unmarshal([]byte(tt.in), &r); err != nil {
				t.Fatal(err)
			}
			c := countReport(&r)
			if c.Poll != tt.poll || c.Checked != tt.checked || c.Status != tt.status {
				t.Fatalf("got %+v, want poll %d checked %d status %q", c, tt.poll, tt.checked, tt.status)
			}
		})
	}
}
