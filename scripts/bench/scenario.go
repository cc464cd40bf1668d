package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// scenario is one measured setup: a fleet, a generated config and the
// phases to run against the server.
type scenario struct {
	Name string

	Services, Nodes, ReplicasPerNode int // HTTP replicas
	TCP                              int // TCP replicas (one port each)
	Listeners                        int // HTTP ports

	Interval, Retry, DelayDead, DelaySick float64 // seconds
	Parallelism                           int

	Window       time.Duration // steady-state window; 0 skips schedule/CPU
	ReportEvery  time.Duration // /status/report poll period while waiting for first results
	FirstTimeout time.Duration // every replica must have a result by then
	PageLoad     time.Duration // load on GET /; 0 skips
	PageGoals    bool          // judge the page figures (the 2,000-replica page)
	Webhook      bool
	Push         time.Duration // push load; 0 skips
	Calibrate    time.Duration // run the bare net/http reference prober this long; 0 skips
	LiveClients  int           // clients of /live to connect and measure (livePhase); 0 skips

	// Storage is the [storage] driver ("" the server's default, SQLite);
	// History fills the SQLite file with 90 days of made-up history first.
	Storage string
	History bool

	SweepGoal, CPUPerProbeGoal, DeviationGoal, CPUShareGoal, RSSGoal *goal
}

func (s scenario) httpReplicas() int { return s.Services * s.Nodes * s.ReplicasPerNode }
func (s scenario) replicas() int     { return s.httpReplicas() + s.TCP }

var pushGoal = above(60000)

// scenarios are the named setups; "idle" is handled apart (sample config).
func scenarios() map[string]scenario {
	return map[string]scenario{
		"small": {
			Name: "small", Services: 9, Nodes: 2, ReplicasPerNode: 5, TCP: 10, Listeners: 30,
			Interval: 1, Retry: 0.25, DelayDead: 2, DelaySick: 1, Parallelism: 32,
			Window: 6 * time.Second, ReportEvery: 25 * time.Millisecond, FirstTimeout: 20 * time.Second,
			PageLoad: 2 * time.Second, Webhook: true, Push: 2 * time.Second,
		},
		"page": {
			Name: "page", Services: 100, Nodes: 10, ReplicasPerNode: 2, Listeners: 200,
			Interval: 30, Retry: 1, DelayDead: 5, DelaySick: 2, Parallelism: 64,
			ReportEvery: 50 * time.Millisecond, FirstTimeout: 60 * time.Second,
			PageLoad: 10 * time.Second, PageGoals: true,
		},
		"large": {
			Name: "large", Services: 99, Nodes: 10, ReplicasPerNode: 10, TCP: 100, Listeners: 300,
			Interval: 10, Retry: 1, DelayDead: 5, DelaySick: 2, Parallelism: 512,
			Window: 40 * time.Second, ReportEvery: 100 * time.Millisecond, FirstTimeout: 60 * time.Second,
			Webhook: true, Push: 5 * time.Second, Calibrate: 10 * time.Second,
			SweepGoal: below(10), CPUPerProbeGoal: below(0.25), RSSGoal: below(150),
		},
		// history and history-off: the same 1,000 replicas probed every
		// 30 s, with the store on (90 days of history in SQLite) and off
		// (memory), run together to compare CPU per probe and the page.
		"history": {
			Name: "history", Services: 10, Nodes: 10, ReplicasPerNode: 10, Listeners: 100,
			Interval: 30, Retry: 1, DelayDead: 5, DelaySick: 2, Parallelism: 64,
			Window: 90 * time.Second, ReportEvery: 100 * time.Millisecond, FirstTimeout: 60 * time.Second,
			PageLoad: 10 * time.Second, Storage: "sqlite", History: true,
		},
		"history-off": {
			Name: "history-off", Services: 10, Nodes: 10, ReplicasPerNode: 10, Listeners: 100,
			Interval: 30, Retry: 1, DelayDead: 5, DelaySick: 2, Parallelism: 64,
			Window: 90 * time.Second, ReportEvery: 100 * time.Millisecond, FirstTimeout: 60 * time.Second,
			PageLoad: 10 * time.Second, Storage: "memory",
		},
		// live: 1,000 clients of the live feed on a small page, while it
		// is probed; status changes come from push reports.
		"live": {
			Name: "live", Services: 10, Nodes: 10, ReplicasPerNode: 2, Listeners: 20,
			Interval: 5, Retry: 1, DelayDead: 3, DelaySick: 2, Parallelism: 32,
			ReportEvery: 50 * time.Millisecond, FirstTimeout: 30 * time.Second,
			LiveClients: 1000,
		},
		"huge": {
			Name: "huge", Services: 499, Nodes: 10, ReplicasPerNode: 10, TCP: 100, Listeners: 500,
			Interval: 60, Retry: 2, DelayDead: 10, DelaySick: 5, Parallelism: 512,
			Window: 240 * time.Second, ReportEvery: 500 * time.Millisecond, FirstTimeout: 180 * time.Second,
			Push:            5 * time.Second,
			CPUPerProbeGoal: below(0.25), DeviationGoal: below(1), CPUShareGoal: below(25), RSSGoal: below(400),
		},
	}
}

// env is what every scenario shares.
type env struct {
	root, bin, dir string
	conns          int
	latency        time.Duration
	body           []byte
	dump           string // directory for per-replica arrival CSVs, if set
}

// outcome is a scenario's figures and whatever made it fail.
type outcome struct {
	rows     rows
	failures []string
}

func (o *outcome) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	slog.Error("scenario failed", "scenario", o.rows.scenario, "why", msg)
	o.failures = append(o.failures, msg)
}

// runScenario runs one scenario from fleet start to server stop. Errors
// that stop it early are recorded as failures; figures not reached stay out.
func runScenario(ctx context.Context, e env, sc scenario) *outcome {
	out := &outcome{rows: rows{scenario: sc.Name}}
	r := &out.rows
	n := sc.replicas()
	slots := int(sc.Window.Seconds()/sc.Interval) + int(sc.FirstTimeout.Seconds()/sc.Interval) + 8
	fl, err := startFleet(fleetSpec{HTTPReplicas: sc.httpReplicas(), HTTPListeners: sc.Listeners, TCPReplicas: sc.TCP,
		Slots: slots, Latency: e.latency, Body: e.body})
	if err != nil {
		out.fail("%v", err)
		return out
	}
	defer fl.close()
	r.add("replicas", float64(n), "", nil, fmt.Sprintf("%d HTTP on %d ports + %d TCP ports; interval %s s, parallelism %d",
		sc.httpReplicas(), min(sc.Listeners, sc.httpReplicas()), sc.TCP, secs(sc.Interval), sc.Parallelism))

	var hooks *webhookSink
	if sc.Webhook {
		if hooks, err = startWebhookSink(); err != nil {
			out.fail("webhook receiver: %v", err)
			return out
		}
		defer hooks.close()
	}
	srv, bc, note, err := startScenarioServer(ctx, e, sc, fl, hooks)
	if err != nil {
		out.fail("%v", err)
		return out
	}
	defer srv.stop()
	if note != "" && hooks != nil {
		hooks.close()
		hooks = nil
		r.na("dead target → webhook", "s", nil, note)
	}
	checkCrash := func(phase string) bool {
		if crashed, why := srv.crashed(); crashed {
			out.fail("server crashed during %s: %v; log tail:\n%s", phase, why, srv.logTail(30))
			return true
		}
		return false
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	defer client.CloseIdleConnections()

	// Phase 1: every replica has its first result.
	slog.Info("waiting for every replica's first result", "scenario", sc.Name, "replicas", n)
	firstAll, err := awaitFirstResults(ctx, client, srv, sc, n)
	if checkCrash("the first sweep") {
		return out
	}
	if err != nil {
		out.fail("%v", err)
		return out
	}
	r.seconds("start → every replica has a result (/status/report)", firstAll.Sub(srv.started), sc.SweepGoal,
		fmt.Sprintf("polled every %v", sc.ReportEvery))
	if probed, last := fl.probed(); probed == n {
		r.seconds("start → last first probe at the targets", last.Sub(srv.started), nil, "first sweep seen by the fleet")
	}

	// Phase 2: steady state: schedule accuracy, CPU, memory.
	if sc.Window > 0 {
		// The scheduler may spread the steady phase over the first interval
		// after the sweep; measure once every replica is in it.
		slog.Info("settling for one interval", "scenario", sc.Name, "interval", secs(sc.Interval))
		sleepCtx(ctx, time.Duration(sc.Interval*float64(time.Second)))
		if !steadyPhase(ctx, e, r, srv, fl, sc) || checkCrash("the steady-state window") {
			if ctx.Err() != nil {
				out.fail("interrupted")
			}
			return out
		}
	}

	// The remaining phases, each skipped when the scenario does not want it.
	phases := []struct {
		name string
		on   bool
		run  func()
	}{
		{"the reference prober run", sc.Calibrate > 0 && sc.Window > 0, func() { referencePhase(ctx, e, r, fl, sc) }},
		{"the page load", sc.PageLoad > 0, func() { pagePhase(ctx, r, srv, sc, e) }},
		{"the webhook test", hooks != nil, func() { webhookPhase(ctx, r, client, srv, fl, sc, hooks) }},
		{"the push load", sc.Push > 0, func() { pushPhase(ctx, r, srv, bc, sc.Push, e.conns) }},
		{"the live clients", sc.LiveClients > 0, func() { livePhase(ctx, r, srv, bc, sc) }},
	}
	for _, p := range phases {
		if !p.on {
			continue
		}
		if ctx.Err() != nil {
			out.fail("interrupted")
			return out
		}
		p.run()
		if checkCrash(p.name) {
			return out
		}
	}

	if checkCrash("the run") {
		return out
	}
	if c := bc.Cold; c.render > 0 {
		r.millis("history view built from the store (90 days, cold)", c.view, nil,
			fmt.Sprintf("%d nodes; what the server does at start and once a minute, off the request path", c.nodes))
		r.millis("page render with history, uncached (template + gzip)", c.render, below(50),
			fmt.Sprintf("%d bytes, %d gzipped; the first of %d renders, the median %.1f ms", c.bytes, c.gzipped, c.runs, float64(c.median)/1e6))
	}
	if bc.StoragePath != "" {
		var g *goal
		if sc.History {
			g = below(300)
		}
		r.megabytes("store file (SQLite and its WAL) at the end", fileSize(bc.StoragePath)+fileSize(bc.StoragePath+"-wal"), g,
			fmt.Sprintf("%d replicas every %s s; 90 days of rollups, 48 h of results", n, secs(sc.Interval)))
	}
	if s, err := readProc(srv.pid()); err == nil {
		r.megabytes("RSS at the end / peak (VmHWM) over the run", s.RSS, nil, fmt.Sprintf("peak %.1f MB; anon %.1f MB + file-backed %.1f MB, %d threads",
			float64(s.PeakRSS)/(1<<20), float64(s.AnonRSS)/(1<<20), float64(s.FileRSS)/(1<<20), s.Threads))
	}
	if ctx.Err() != nil {
		out.fail("interrupted")
	}
	return out
}

// referencePhase runs the bare prober at the server's steady rate against
// the same targets: once spread flat like the server's schedule, once in
// 10 ms batches. It is the machine's floor for the server's CPU per probe.
func referencePhase(ctx context.Context, e env, r *rows, fl *fleet, sc scenario) {
	rate := int(float64(sc.replicas()) / sc.Interval)
	slog.Info("reference prober", "rate", rate, "duration", sc.Calibrate)
	for _, batch := range []time.Duration{0, 10 * time.Millisecond} {
		metric := "reference: bare net/http prober, CPU per probe"
		how := "each probe on its own tick (flat schedule, like the server)"
		if batch > 0 {
			metric = "reference: same, probes started in 10 ms batches"
			how = "probes due within 10 ms started together"
		}
		c, err := calibrate(ctx, e.dir, fl.urls[:min(sc.httpReplicas(), 5000)], rate, sc.Parallelism, batch, sc.Calibrate)
		switch {
		case err != nil:
			r.na(metric, "ms", nil, err.Error())
		case c.Probes == 0:
			r.na(metric, "ms", nil, fmt.Sprintf("no probe succeeded (%d failed)", c.Failed))
		default:
			r.add(metric, 1000*c.CPU.Seconds()/float64(c.Probes), "ms", nil,
				fmt.Sprintf("HEAD, fresh connection, %d workers, %d probes/s for %v, same targets; %s", sc.Parallelism, rate, sc.Calibrate, how))
		}
	}
}

// startScenarioServer writes the config and starts the server until it
// answers /status/report. A server that refuses the [notify.webhook]
// section is started again without it; note then says why.
func startScenarioServer(ctx context.Context, e env, sc scenario, fl *fleet, hooks *webhookSink) (*server, benchConfig, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, benchConfig{}, "", err
	}
	bc := benchConfig{
		Inet: addr, ManagerToken: "bench-manager-token-" + strconv.Itoa(os.Getpid()), ReporterToken: "bench-reporter-token-" + strconv.Itoa(os.Getpid()),
		Interval: sc.Interval, Retry: sc.Retry, DelayDead: sc.DelayDead, DelaySick: sc.DelaySick, Parallelism: sc.Parallelism,
		Services: sc.Services, Nodes: sc.Nodes, ReplicasPerNode: sc.ReplicasPerNode,
		HTTPURLs: fl.urls[:sc.httpReplicas()], TCPURLs: fl.urls[sc.httpReplicas():],
		PushNode: sc.Push > 0 || sc.LiveClients > 0, LiveClients: sc.LiveClients,
	}
	if hooks != nil {
		bc.WebhookURL = hooks.URL
	}
	if sc.Storage != "" {
		bc.StorageDriver = sc.Storage
		if sc.Storage == "sqlite" {
			bc.StoragePath = filepath.Join(e.dir, sc.Name+".db")
		}
	}
	if sc.History {
		slog.Info("filling 90 days of history", "file", bc.StoragePath)
		if err := fillHistory(ctx, bc.StoragePath, bc, time.Now()); err != nil {
			return nil, bc, "", fmt.Errorf("fill the history: %w", err)
		}
		cold, err := measureColdRender(ctx, bc.StoragePath, bc)
		if err != nil {
			return nil, bc, "", fmt.Errorf("cold render: %w", err)
		}
		bc.Cold = cold
	}
	srv, err := startWithConfig(ctx, e, sc.Name, &bc)
	if err == nil || hooks == nil || ctx.Err() != nil {
		return srv, bc, "", err
	}
	slog.Warn("server refused the config with [notify.webhook]; retrying without it", "err", err)
	bc.WebhookURL = ""
	srv, err2 := startWithConfig(ctx, e, sc.Name, &bc)
	if err2 != nil {
		return nil, bc, "", fmt.Errorf("%v (and without [notify.webhook]: %v)", err, err2)
	}
	return srv, bc, "server refused [notify.webhook]: " + firstLine(err.Error()), nil
}

// startWithConfig starts the server on the config bc. The port in bc.Inet
// was free when freeAddr picked it, but any process on the machine may take
// it before the server listens; then bc gets another and the server is
// started again.
func startWithConfig(ctx context.Context, e env, name string, bc *benchConfig) (*server, error) {
	for attempt := 1; ; attempt++ {
		srv, err := startOnce(ctx, e, name, *bc)
		if err == nil || attempt == 3 || ctx.Err() != nil || !strings.Contains(err.Error(), "address already in use") {
			return srv, err
		}
		slog.Warn("the server's port was taken before it listened; trying another", "addr", bc.Inet)
		if bc.Inet, err = freeAddr(); err != nil {
			return nil, err
		}
	}
}

func startOnce(ctx context.Context, e env, name string, bc benchConfig) (*server, error) {
	text, err := generateConfig(bc)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(e.dir, name+".toml")
	if err := os.WriteFile(cfgPath, text, 0o600); err != nil {
		return nil, fmt.Errorf("write the generated config: %w", err)
	}
	srv, err := startServer(e.bin, cfgPath, bc.Inet, filepath.Join(e.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	if _, err := srv.waitHTTP(ctx, "/status/report", 30*time.Second, 5*time.Millisecond); err != nil {
		srv.stop()
		return nil, err
	}
	return srv, nil
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// awaitFirstResults polls /status/report until every poll replica has a
// result and returns when that was seen.
func awaitFirstResults(ctx context.Context, client *http.Client, srv *server, sc scenario, n int) (time.Time, error) {
	deadline := srv.started.Add(sc.FirstTimeout)
	var last reportCounts
	var lastErr error
	for {
		c, err := fetchReport(ctx, client, srv.addr)
		now := time.Now()
		if err == nil {
			last, lastErr = c, nil
			if c.Poll != n {
				return time.Time{}, fmt.Errorf("/status/report lists %d poll replicas, the config has %d", c.Poll, n)
			}
			if c.Checked == n {
				return now, nil
			}
		} else {
			lastErr = err
		}
		// A server that is gone is not slow: its exit is the finding, even
		// when the deadline has passed by now as well.
		if crashed, _ := srv.crashed(); crashed {
			return time.Time{}, errors.New("server gone")
		}
		if now.After(deadline) {
			return time.Time{}, fmt.Errorf("%d of %d replicas never got a result within %v of the start (last error: %v)", n-last.Checked, n, sc.FirstTimeout, lastErr)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-srv.exited:
			return time.Time{}, errors.New("server gone")
		case <-time.After(sc.ReportEvery):
		}
	}
}

// steadyPhase samples the server over the window and measures the probe
// schedule at the targets. It returns false when interrupted.
func steadyPhase(ctx context.Context, e env, r *rows, srv *server, fl *fleet, sc scenario) bool {
	slog.Info("steady-state window", "scenario", sc.Name, "window", sc.Window)
	w := startCPUWindow(srv.pid())
	from := time.Now()
	p0, t0 := fl.probes.Load(), fl.tcp.Load()
	var maxRSS int64
	end := from.Add(sc.Window)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return false
		case <-srv.exited:
			return true // the caller reports the crash
		case <-tick.C:
			if s, err := readProc(srv.pid()); err == nil && s.RSS > maxRSS {
				maxRSS = s.RSS
			}
		case <-time.After(time.Until(end)):
		}
	}
	cpu, err := w.stop()
	to := time.Now()
	probes, tcpProbes := fl.probes.Load()-p0, fl.tcp.Load()-t0
	if err != nil {
		r.na("server CPU", "s", nil, err.Error())
		return true
	}
	wall := cpu.Wall
	interval := time.Duration(sc.Interval * float64(time.Second))

	if e.dump != "" {
		if err := dumpArrivals(fl, filepath.Join(e.dump, sc.Name+"-arrivals.csv"), from); err != nil {
			slog.Warn("dump arrivals", "err", err)
		}
	}
	sched := scheduleOf(fl.arrivals, fl.size(), interval, from, to, fl.spec.Slots)
	note := fmt.Sprintf("%d gaps in the %.0f s window", sched.Steady.N, wall.Seconds())
	if sched.Missing > 0 || sched.Truncated > 0 {
		note += fmt.Sprintf("; %d replicas probed < 2 times, %d ran out of slots", sched.Missing, sched.Truncated)
	}
	if sched.Steady.N == 0 {
		r.na("schedule |gap − interval| p50", "ms", nil, "no complete gap in the window (window shorter than two intervals?)")
	} else {
		r.millis("schedule |gap − interval| p50", sched.Steady.P50, nil, note)
		r.millis("schedule |gap − interval| p99", sched.Steady.P99, scaleGoal(sc.DeviationGoal, 1000), "")
		r.millis("schedule |gap − interval| max", sched.Steady.Max, nil, "")
	}
	r.millis("first gap |gap − interval| p50", sched.FirstGap.P50, nil, "first sweep → steady state, apart")
	r.millis("first gap |gap − interval| p99", sched.FirstGap.P99, nil, fmt.Sprintf("max %.0f ms", float64(sched.FirstGap.Max)/1e6))

	r.add("probes at the targets", float64(probes)/wall.Seconds(), "probes/s", nil,
		fmt.Sprintf("%d in %.1f s, expected %.0f/s; HTTP %.1f/s, TCP %.1f/s", probes, wall.Seconds(), float64(fl.size())/sc.Interval,
			float64(probes-tcpProbes)/wall.Seconds(), float64(tcpProbes)/wall.Seconds()))
	r.add("server CPU (utime+stime)", cpu.ServerCPU.Seconds(), "s", nil, fmt.Sprintf("over %.1f s", wall.Seconds()))
	r.add("server CPU, average share of one core", cpu.Server, "%", sc.CPUShareGoal, "")
	if probes > 0 {
		r.add("server CPU per probe", 1000*cpu.ServerCPU.Seconds()/float64(probes), "ms", sc.CPUPerProbeGoal,
			fmt.Sprintf("%.0f%% of probes HTTP; /proc ticks are 10 ms", 100*float64(probes-tcpProbes)/float64(probes)))
	} else {
		r.na("server CPU per probe", "ms", sc.CPUPerProbeGoal, "no probes reached the targets in the window")
	}
	r.add("harness CPU (fleet), share of one core", cpu.Harness, "%", nil, "the fake targets' cost, for context")
	r.add("other processes' CPU, share of one core", cpu.Other, "%", nil, "noise from the rest of the machine; high = distrust the figures")
	r.megabytes("server peak RSS (VmHWM) through the window", cpu.End.PeakRSS, sc.RSSGoal,
		fmt.Sprintf("RSS %.1f MB at the end of the window, largest 1 s sample %.1f MB", float64(cpu.End.RSS)/(1<<20), float64(max(maxRSS, cpu.End.RSS))/(1<<20)))
	return true
}

// scaleGoal turns a goal in seconds into one in milliseconds.
func scaleGoal(g *goal, f float64) *goal {
	if g == nil {
		return nil
	}
	return &goal{Below: g.Below, Limit: g.Limit * f}
}

// pagePhase loads GET / with the built-in generator and, if present, wrk:
// first as a browser asks (Accept-Encoding: gzip; the goals apply to it),
// then without compression.
func pagePhase(ctx context.Context, r *rows, srv *server, sc scenario, e env) {
	for _, gz := range []bool{true, false} {
		var rateGoal, p99Goal *goal
		if sc.PageGoals && gz {
			rateGoal, p99Goal = above(20000), below(20)
		}
		var headers map[string]string
		label := fmt.Sprintf("page GET / (%d replicas", sc.replicas())
		if gz {
			headers = map[string]string{"Accept-Encoding": "gzip"}
			label += ", gzip)"
		} else {
			label += ", identity)"
		}
		req := buildRequest("GET", srv.addr, "/", headers, nil)
		if code, err := oneRequest(ctx, srv.addr, req); err != nil || code != 200 {
			why := fmt.Sprintf("GET / answered %d", code)
			if err != nil {
				why = "GET /: " + err.Error()
			}
			r.na(label+" req/s", "req/s", rateGoal, why)
			continue
		}
		size := pageSize(ctx, srv.addr, headers)
		slog.Info("page load", "scenario", sc.Name, "gzip", gz, "conns", e.conns, "duration", sc.PageLoad)
		w := startCPUWindow(srv.pid())
		res := runLoad(ctx, loadSpec{Addr: srv.addr, Requests: [][]byte{req}, Conns: e.conns, Duration: sc.PageLoad})
		note := fmt.Sprintf("built-in client, %d keep-alive conns, %v, %d bytes a page; %s", e.conns, sc.PageLoad, size, cpuNote(w))
		if res.Failed > 0 {
			note += fmt.Sprintf("; %d failed (first: %v, codes %v)", res.Failed, res.FirstErr, res.Statuses)
		}
		r.add(label+" req/s", res.rate(), "req/s", rateGoal, note)
		r.millis(label+" p50", res.Latency.quantile(50), nil, "")
		r.millis(label+" p99", res.Latency.quantile(99), p99Goal, "")

		ww := startCPUWindow(srv.pid())
		wr, ok, err := runWrk(ctx, "http://"+srv.addr+"/", headers, e.conns, sc.PageLoad)
		switch {
		case !ok:
			r.na(label+" req/s (wrk)", "req/s", rateGoal, "wrk not installed (apt-get install wrk)")
		case err != nil:
			r.na(label+" req/s (wrk)", "req/s", rateGoal, firstLine(err.Error()))
		default:
			note := fmt.Sprintf("wrk -t2 -c%d; %s", e.conns, cpuNote(ww))
			if wr.Non2xx > 0 || wr.Errors != "" {
				note += fmt.Sprintf("; non-2xx %d, socket errors: %s", wr.Non2xx, wr.Errors)
			}
			r.add(label+" req/s (wrk)", wr.Rate, "req/s", rateGoal, note)
			r.millis(label+" p50 (wrk)", wr.P50, nil, "")
			r.millis(label+" p99 (wrk)", wr.P99, p99Goal, "")
		}
	}
}

// pageSize is the body size of one GET / as sent on the wire.
func pageSize(ctx context.Context, addr string, headers map[string]string) int64 {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // RoundTrip: no transparent gunzip
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return n
}

// webhookPhase makes replica 0 answer 503 and waits for the "changed" →
// dead webhook.
func webhookPhase(ctx context.Context, r *rows, client *http.Client, srv *server, fl *fleet, sc scenario, hooks *webhookSink) {
	const metric = "dead target → webhook"
	// The page must be healthy first, or there is no change to notify.
	healthyBy := time.Now().Add(time.Duration((sc.Interval + sc.DelayDead + 5) * float64(time.Second)))
	for {
		c, err := fetchReport(ctx, client, srv.addr)
		if err == nil && c.Status == "healthy" {
			break
		}
		if time.Now().After(healthyBy) || ctx.Err() != nil {
			r.na(metric, "s", nil, fmt.Sprintf("page never healthy before the test (status %q, %v)", c.Status, err))
			return
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	hooks.drain()
	slog.Info("webhook test: replica 0 now answers 503", "scenario", sc.Name)
	flipped := time.Now()
	fl.setStatus(0, http.StatusServiceUnavailable)
	defer fl.setStatus(0, http.StatusOK)
	timeout := time.Duration((sc.Interval + 2*sc.Retry + sc.DelayDead + 5) * float64(time.Second))
	ev, ok := hooks.await(ctx, "changed", "dead", timeout)
	if !ok {
		r.na(metric, "s", nil, fmt.Sprintf("no webhook {type: changed, status: dead} within %v (notifications not built?)", timeout))
		return
	}
	note := fmt.Sprintf("interval %s s, retry %s s", secs(sc.Interval), secs(sc.Retry))
	if f := fl.firstFailure(); !f.IsZero() {
		note += fmt.Sprintf("; first failed probe → webhook %.0f ms", float64(ev.At.Sub(f))/1e6)
	}
	r.seconds(metric, ev.At.Sub(flipped), nil, note)
}

func cpuNote(w *cpuWindow) string {
	s, err := w.stop()
	if err != nil {
		return "CPU split unknown: " + err.Error()
	}
	return s.String()
}

// pushPhase loads the reporter API with push reports for 100 replicas.
func pushPhase(ctx context.Context, r *rows, srv *server, bc benchConfig, d time.Duration, conns int) {
	const metric = "push reports (POST /reporter/…)"
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+bc.ReporterToken))
	path := "/reporter/" + pushService + "/" + pushNode + "/"
	reqs := make([][]byte, 100)
	for i := range reqs {
		body := fmt.Appendf(nil, `{"replica":"host-%d","interval":30,"load":{"cpu":0.42,"ram":0.61}}`, i)
		reqs[i] = buildRequest("POST", srv.addr, path, map[string]string{"Authorization": auth, "Content-Type": "application/json"}, body)
	}
	code, err := oneRequest(ctx, srv.addr, reqs[0])
	switch {
	case err != nil:
		r.na(metric, "reports/s", pushGoal, "first POST: "+err.Error())
		return
	case code == 404 || code == 405:
		r.na(metric, "reports/s", pushGoal, fmt.Sprintf("reporter API not there yet (POST answered %d)", code))
		return
	case code != 200:
		r.na(metric, "reports/s", pushGoal, fmt.Sprintf("first POST answered %d, want 200", code))
		return
	}
	slog.Info("push load", "conns", conns, "duration", d)
	w := startCPUWindow(srv.pid())
	res := runLoad(ctx, loadSpec{Addr: srv.addr, Requests: reqs, Conns: conns, Duration: d})
	note := fmt.Sprintf("%d conns, 100 replicas, p50 %.2f ms, p99 %.2f ms; %s", conns,
		float64(res.Latency.quantile(50))/1e6, float64(res.Latency.quantile(99))/1e6, cpuNote(w))
	if res.Failed > 0 {
		note += fmt.Sprintf("; %d failed (first: %v, codes %v)", res.Failed, res.FirstErr, res.Statuses)
	}
	r.add(metric, res.rate(), "reports/s", pushGoal, note)
}

// fileSize is the size of a file, 0 when it is not there.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
