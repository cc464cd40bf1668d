// Command overvakt-local watches replicas inside a private network that the
// status server cannot reach, and reports their health to it (local mode).
// It probes with the server's own probe code (HTTP, TCP, ICMP, scripts) and
// the same rules, as described in its config file:
//
//	overvakt-local -c overvakt-local.toml
//
// Every replica is probed once per report interval and its health reported
// to the server; a change of health is reported at once. On the server, each
// node is declared with mode = "local". A refusal by the server (wrong token,
// unknown node, node not in local mode) stops the agent with exit status 1;
// network trouble does not: it keeps probing and reporting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/reporter"
	"github.com/overvakt/overvakt/pkg/status"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: overvakt-local [-c overvakt-local.toml] [-once]

Probes replicas in a private network and reports their health to an Övervakt
status page, for nodes with mode = "local" there. See docs/agents.md.

`

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("overvakt-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	path := fs.String("c", "overvakt-local.toml", "path to the config file")
	once := fs.Bool("once", false, "probe every replica once, report, and exit (status 1 if a report failed)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stderr, "overvakt-local", version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "overvakt-local: unexpected argument %q (flags start with -)\n", fs.Arg(0))
		return 2
	}
	set := kinds.All()
	data, err := os.ReadFile(*path)
	if err != nil {
		fmt.Fprintln(stderr, "overvakt-local: read config:", err)
		return 2
	}
	lookupEnv := func(k string) (string, bool) { v := getenv(k); return v, v != "" }
	a, err := config.ParseAgent(*path, data, lookupEnv, set.Config())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(a.Server.LogLevel))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	interval := a.Report.Interval.Duration()
	client, err := reporter.New(reporter.Options{
		URL:       a.Report.URL,
		Token:     a.Report.Token,
		Timeout:   min(a.Report.Timeout.Duration(), interval),
		UserAgent: "overvakt-local/" + version,
	})
	if err != nil {
		fmt.Fprintln(stderr, "overvakt-local:", err)
		return 2
	}
	cfg := a.ProbeConfig()
	reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())
	sched, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: reg, Kinds: set.Probes, Logger: log, Version: version})
	if err != nil {
		fmt.Fprintln(stderr, "overvakt-local:", err)
		return 2
	}
	entries := 0
	for _, svc := range cfg.Probe.Services {
		for _, n := range svc.Nodes {
			entries += len(n.Replicas) + len(n.Scripts)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	probing := make(chan struct{})
	go func() {
		defer close(probing)
		_ = sched.Run(ctx)
	}()
	log.Info("probing and reporting", "url", a.Report.URL, "replicas", entries, "interval", interval, "version", version)
	ag := &agent{log: log, client: client, reg: reg, interval: interval, reported: map[string]status.Status{}}
	code := ag.loop(ctx, *once)
	cancel()
	<-probing
	return code
}

// agent reports what the probe scheduler finds.
type agent struct {
	log      *slog.Logger
	client   *reporter.Client
	reg      *status.Registry
	interval time.Duration
	reported map[string]status.Status // last health sent, by service/node/replica
	failing  bool
}

// loop reports every replica once its first probe is done, then all of
// them every interval and any change of health at once. It returns the exit
// status: 0 when ctx ends, 1 when the server refuses a report.
func (a *agent) loop(ctx context.Context, once bool) int {
	changed, unsubscribe := a.reg.Subscribe()
	defer unsubscribe()

	// The first round waits for every replica's first result, but no
	// longer than one interval.
	first := time.NewTimer(a.interval)
	defer first.Stop()
waitFirst:
	for !allChecked(a.reg.Snapshot()) {
		select {
		case <-ctx.Done():
			return 0
		case <-first.C:
			break waitFirst
		case <-changed:
		}
	}
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	all := true
	for {
		fatal, failed := a.round(ctx, all)
		switch {
		case ctx.Err() != nil:
			return 0
		case fatal:
			return 1
		case once && failed:
			return 1
		case once:
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
			all = true
		case <-changed:
			all = false
		}
	}
}

func allChecked(snap *status.Snapshot) bool {
	for _, svc := range snap.Services {
		for _, n := range svc.Nodes.All() {
			for _, r := range n.Replicas.All() {
				if r.Checked.IsZero() {
					return false
				}
			}
		}
	}
	return true
}

// round reports every probed replica (all) or only those whose health
// changed since it was last reported. A round is bounded by the interval, so
// a slow server never delays the next one.
func (a *agent) round(ctx context.Context, all bool) (fatal, failed bool) {
	ctx, cancel := context.WithTimeout(ctx, a.interval)
	defer cancel()
	for _, svc := range a.reg.Snapshot().Services {
		for _, n := range svc.Nodes.All() {
			for _, r := range n.Replicas.All() {
				key := svc.ID + "/" + n.ID + "/" + r.ID
				last, sent := a.reported[key]
				if r.Checked.IsZero() || !all && sent && last == r.Status {
					continue
				}
				name := publicName(r.ID)
				err := a.client.ReportHealth(ctx, svc.ID, n.ID, reporter.Health{Replica: name, Interval: a.interval, Health: r.Status})
				switch {
				case err == nil:
					if sent && last != r.Status {
						a.log.Info("health changed", "service", svc.ID, "node", n.ID, "replica", name, "health", r.Status.String(), "why", r.Error)
					}
					a.reported[key] = r.Status
				case ctx.Err() != nil:
					return false, true
				case reporter.IsFatal(err):
					a.log.Error("the server refused the report; fix the setup and restart", "err", err)
					return true, true
				default:
					a.log.Warn("report failed; trying again next interval", "err", err)
					a.failing = true
					return false, true
				}
			}
		}
	}
	if a.failing {
		a.log.Info("reporting again")
		a.failing = false
	}
	return false, false
}

// publicName is the replica name sent to the server: the probe URL without
// its user and password, which must not reach a public page.
func publicName(id string) string {
	u, err := url.Parse(id)
	if err != nil || u.User == nil || u.Scheme == "" {
		return id
	}
	u.User = nil
	return u.String()
}
