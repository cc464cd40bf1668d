package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// goal is a target a figure should meet: below or above Limit.
type goal struct {
	Below bool
	Limit float64
}

func below(v float64) *goal { return &goal{Below: true, Limit: v} }
func above(v float64) *goal { return &goal{Limit: v} }

func (g *goal) met(v float64) bool {
	if g.Below {
		return v < g.Limit
	}
	return v > g.Limit
}

// row is one line of the report. Value is nil when the figure could not be
// measured ("n/a", with the reason in Note).
type row struct {
	Scenario string   `json:"scenario"`
	Metric   string   `json:"metric"`
	Value    *float64 `json:"value"`
	Unit     string   `json:"unit,omitempty"`
	Goal     string   `json:"goal,omitempty"`
	Result   string   `json:"result"` // pass, miss, n/a or "-" (no goal)
	Note     string   `json:"note,omitempty"`
}

// rows collects a scenario's figures in order.
type rows struct {
	scenario string
	list     []row
}

func (r *rows) add(metric string, v float64, unit string, g *goal, note string) {
	x := v
	out := row{Scenario: r.scenario, Metric: metric, Value: &x, Unit: unit, Result: "-", Note: note}
	if g != nil {
		out.Goal = goalText(g, unit)
		out.Result = "miss"
		if g.met(v) {
			out.Result = "pass"
		}
	}
	r.list = append(r.list, out)
}

func (r *rows) seconds(metric string, d time.Duration, g *goal, note string) {
	r.add(metric, d.Seconds(), "s", g, note)
}

func (r *rows) millis(metric string, d time.Duration, g *goal, note string) {
	r.add(metric, float64(d)/float64(time.Millisecond), "ms", g, note)
}

func (r *rows) megabytes(metric string, bytes int64, g *goal, note string) {
	r.add(metric, float64(bytes)/(1<<20), "MB", g, note)
}

// na records a figure that could not be measured and why.
func (r *rows) na(metric, unit string, g *goal, why string) {
	out := row{Scenario: r.scenario, Metric: metric, Unit: unit, Result: "n/a", Note: why}
	if g != nil {
		out.Goal = goalText(g, unit)
	}
	r.list = append(r.list, out)
}

func goalText(g *goal, unit string) string {
	op := "> "
	if g.Below {
		op = "< "
	}
	return op + formatValue(g.Limit, unit)
}

// formatValue prints a figure with a precision that suits its size.
func formatValue(v float64, unit string) string {
	var s string
	switch a := math.Abs(v); {
	case v == math.Trunc(v) && a >= 1 || a >= 1000:
		s = fmt.Sprintf("%.0f", v)
	case a >= 100:
		s = fmt.Sprintf("%.1f", v)
	case a >= 1:
		s = fmt.Sprintf("%.2f", v)
	case a == 0:
		s = "0"
	default:
		s = fmt.Sprintf("%.3g", v)
	}
	if unit == "" {
		return s
	}
	return s + " " + unit
}

// report is the whole output of one harness run.
type report struct {
	Machine       machine          `json:"machine"`
	ServerVersion string           `json:"server_version"`
	Started       time.Time        `json:"started"`
	Scenarios     []scenarioReport `json:"scenarios"`
	Failed        bool             `json:"failed"`
}

type scenarioReport struct {
	Name     string        `json:"name"`
	Wall     time.Duration `json:"wall_ns"`
	Failures []string      `json:"failures,omitempty"`
	Rows     []row         `json:"rows"`
}

// writeTable prints every scenario's rows as one aligned table.
func writeTable(w io.Writer, rep *report) error {
	m := rep.Machine
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s RAM, Linux %s, %s, load average %s at the start; server: %s\n\n",
		m.CPUs, m.CPUModel, m.MemTotal, m.Kernel, m.GoVersion, m.LoadAvg, rep.ServerVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tMETRIC\tVALUE\tGOAL\tRESULT\tNOTE")
	for _, s := range rep.Scenarios {
		for _, r := range s.Rows {
			val := "n/a"
			if r.Value != nil {
				val = formatValue(*r.Value, r.Unit)
			}
			goal := r.Goal
			if goal == "" {
				goal = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Scenario, r.Metric, val, goal, r.Result, r.Note)
		}
		status := "ok"
		if len(s.Failures) > 0 {
			// One line per scenario here; the JSON keeps the full text.
			status = "FAILED: " + strings.Join(strings.Fields(strings.Join(s.Failures, "; ")), " ")
		}
		fmt.Fprintf(tw, "%s\t(wall time)\t%s\t-\t-\t%s\n", s.Name, formatValue(s.Wall.Seconds(), "s"), status)
	}
	return tw.Flush()
}

func writeJSON(path string, rep *report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the JSON report: %w", err)
	}
	return nil
}
