// Command bench measures the overvakt server as a black box: it runs a fleet
// of fake targets on loopback, a generated config and the real binary, and
// prints one table of figures against the project's speed goals.
//
//	go run ./scripts/bench -scenario small            # CI smoke test, < 1 min
//	go run ./scripts/bench -scenario all -json bench.json
//
// It exits non-zero when the server crashed or a replica never got a
// result; a missed goal is printed as "miss" and does not fail the run.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		scenarioFlag = flag.String("scenario", "small", "small, idle, page, large, huge, history, history-off, live or all (the first five; comma-separated list allowed)")
		binFlag      = flag.String("bin", "", "overvakt binary to measure (default: build ./cmd/overvakt)")
		jsonFlag     = flag.String("json", "", "also write the report as JSON to this file")
		duration     = flag.Duration("duration", 0, "steady-state window (default per scenario: small 6s, large 40s, huge 240s)")
		loadDuration = flag.Duration("load-duration", 0, "page and push load duration (default per scenario)")
		interval     = flag.Float64("interval", 0, "poll_interval in seconds (default per scenario)")
		conns        = flag.Int("conns", 64, "concurrent connections of the load generators")
		latency      = flag.Duration("target-latency", 0, "latency the fake targets add to every answer")
		bodySize     = flag.Int("target-body", 64, "bytes of body the fake targets send to GET probes")
		idleRuns     = flag.Int("idle-runs", 5, "starts of the sample config for start → first 200 (best is kept)")
		dump         = flag.String("dump", "", "write per-replica probe arrival times (CSV) into this directory")
		calFile      = flag.String("calibration-client", "", "internal: run as the calibration client on these URLs")
		calRate      = flag.Int("calibration-rate", 1000, "internal: calibration client probes per second")
		calWorkers   = flag.Int("calibration-workers", 512, "internal: calibration client workers")
		calBatch     = flag.Duration("calibration-batch", 0, "internal: calibration client batch period (0: one probe per tick)")
		keep         = flag.Bool("keep", false, "keep the work directory (configs, server logs)")
	)
	flag.Parse()
	if *calFile != "" {
		return runCalibrationClient(*calFile, *calRate, *calWorkers, *calBatch, *duration)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *bodySize < 0 || *conns < 1 || *idleRuns < 1 {
		slog.Error("-target-body must be >= 0, -conns and -idle-runs >= 1")
		return 2
	}
	names, err := scenarioNames(*scenarioFlag)
	if err != nil {
		slog.Error("bad -scenario", "err", err)
		return 2
	}
	if limit, err := raiseOpenFiles(); err != nil {
		slog.Warn("cannot raise the open-files limit; large scenarios may run out", "err", err)
	} else if limit < 8192 {
		slog.Warn("open-files limit is low for large scenarios", "limit", limit)
	}
	root, err := moduleRoot()
	if err != nil {
		slog.Error("find the repository", "err", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "overvakt-bench-")
	if err != nil {
		slog.Error("work directory", "err", err)
		return 2
	}
	if *keep {
		slog.Info("keeping the work directory", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := *binFlag
	if bin == "" {
		t0 := time.Now()
		if bin, err = buildServer(ctx, root, dir); err != nil {
			slog.Error("build", "err", err)
			return 2
		}
		slog.Info("built the server", "bin", bin, "took", time.Since(t0).Round(time.Millisecond))
	}
	e := env{root: root, bin: bin, dir: dir, conns: *conns, latency: *latency, body: []byte(strings.Repeat("ok\n", *bodySize/3+1))[:*bodySize], dump: *dump}

	rep := &report{Machine: describeMachine(), ServerVersion: serverVersion(ctx, bin), Started: time.Now()}
	all := scenarios()
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		var out *outcome
		if name == "idle" {
			out = idleScenario(ctx, e, *idleRuns, 5*time.Second)
		} else {
			sc := all[name]
			if *duration > 0 {
				sc.Window = *duration
			}
			if *loadDuration > 0 {
				if sc.PageLoad > 0 {
					sc.PageLoad = *loadDuration
				}
				if sc.Push > 0 {
					sc.Push = *loadDuration
				}
			}
			if *interval > 0 {
				sc.Interval = *interval
			}
			slog.Info("scenario", "name", name, "replicas", sc.replicas())
			out = runScenario(ctx, e, sc)
		}
		sr := scenarioReport{Name: name, Wall: time.Since(t0), Failures: out.failures, Rows: out.rows.list}
		rep.Scenarios = append(rep.Scenarios, sr)
		if len(out.failures) > 0 {
			rep.Failed = true
		}
	}
	if ctx.Err() != nil {
		rep.Failed = true
	}
	if err := writeTable(os.Stdout, rep); err != nil {
		slog.Error("print the table", "err", err)
	}
	if *jsonFlag != "" {
		if err := writeJSON(*jsonFlag, rep); err != nil {
			slog.Error("json", "err", err)
			return 1
		}
	}
	if rep.Failed {
		return 1
	}
	return 0
}

// scenarioNames expands the -scenario flag in a fixed, cheap-first order.
func scenarioNames(flagValue string) ([]string, error) {
	order := []string{"small", "idle", "page", "large", "huge", "history", "history-off", "live"}
	all := order[:5] // the history pair and live run on request
	want := map[string]bool{}
	for _, n := range strings.Split(flagValue, ",") {
		n = strings.TrimSpace(n)
		if n == "all" {
			for _, o := range all {
				want[o] = true
			}
			continue
		}
		found := false
		for _, o := range order {
			found = found || o == n
		}
		if !found {
			return nil, fmt.Errorf("unknown scenario %q (want %s or all)", n, strings.Join(order, ", "))
		}
		want[n] = true
	}
	var out []string
	for _, o := range order {
		if want[o] {
			out = append(out, o)
		}
	}
	return out, nil
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: "unknown", MemTotal: "unknown", Kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(b)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemTotal = memTotal(b)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
