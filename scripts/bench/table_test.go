package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRowsJudgeGoals(t *testing.T) {
	tests := []struct {
		name   string
		add    func(r *rows)
		result string
		value  string
		goal   string
	}{
		{"below met", func(r *rows) { r.seconds("sweep", 3*time.Second, below(10), "") }, "pass", "3 s", "< 10 s"},
		{"below missed", func(r *rows) { r.millis("p99", 25*time.Millisecond, below(20), "") }, "miss", "25 ms", "< 20 ms"},
		{"above met", func(r *rows) { r.add("rate", 24123.4, "req/s", above(20000), "") }, "pass", "24123 req/s", "> 20000 req/s"},
		{"above missed", func(r *rows) { r.add("rate", 100, "req/s", above(20000), "") }, "miss", "100 req/s", "> 20000 req/s"},
		{"no goal", func(r *rows) { r.megabytes("rss", 12<<20, nil, "") }, "-", "12 MB", "-"},
		{"not measured", func(r *rows) { r.na("push", "reports/s", above(60000), "route missing") }, "n/a", "n/a", "> 60000 reports/s"},
		{"small fraction", func(r *rows) { r.add("cpu/probe", 0.0421, "ms", below(0.25), "") }, "pass", "0.0421 ms", "< 0.25 ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &rows{scenario: "x"}
			tt.add(r)
			rep := &report{Scenarios: []scenarioReport{{Name: "x", Rows: r.list}}}
			var out bytes.Buffer
			if err := writeTable(&out, rep); err != nil {
				t.Fatal(err)
			}
			if got := r.list[0].Result; got != tt.result {
				t.Fatalf("result = %q, want %q", got, tt.result)
			}
			line := strings.Split(out.String(), "\n")[3]
			if !strings.Contains(line, tt.value) || !strings.Contains(line, tt.goal) {
				t.Fatalf("table line %q lacks value %q or goal %q", line, tt.value, tt.goal)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	r := &rows{scenario: "small"}
	r.add("replicas", 100, "", nil, "")
	r.na("webhook", "s", nil, "no notifications")
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := writeJSON(path, &report{Scenarios: []scenarioReport{{Name: "small", Rows: r.list}}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	rs := back.Scenarios[0].Rows
	if len(rs) != 2 || rs[0].Value == nil || *rs[0].Value != 100 || rs[1].Value != nil || rs[1].Result != "n/a" {
		t.Fatalf("round trip lost figures: %+v", rs)
	}
}
