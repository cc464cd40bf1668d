// Command overvakt-reporter reports this host's load to an Övervakt status
// page, for a node in push mode. Every interval it sends the CPU load (the
// 1-minute load average divided by the number of CPUs) and the memory in use
// (1 - MemAvailable / MemTotal); the server shows the host sick when either
// is above its thresholds, and dead when the reports stop.
//
//	overvakt-reporter -url https://status.example.com -token TOKEN \
//	    -service web -node hosts [-replica NAME] [-interval 30]
//
// Every flag can come from the environment instead: OVERVAKT_URL,
// OVERVAKT_TOKEN, OVERVAKT_SERVICE, OVERVAKT_NODE, OVERVAKT_REPLICA,
// OVERVAKT_INTERVAL. A refusal by the server (wrong token, unknown node, …)
// stops the agent with exit status 1; network trouble does not: it keeps
// reporting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/overvakt/overvakt/pkg/reporter"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: overvakt-reporter -url URL -token TOKEN -service ID -node ID [flags]

Reports this host's CPU and memory load to an Övervakt status page (push mode).
Each flag may instead be set in the environment variable shown.

`

// settings is the agent's configuration after flags and environment.
type settings struct {
	url, token, service, node, replica string
	interval, timeout                  time.Duration
	proc                               string
	once, flushOnExit                  bool
	logLevel                           slog.Level
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	s, err := parseSettings(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "overvakt-reporter:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: s.logLevel}))

	client, err := reporter.New(reporter.Options{
		URL:       s.url,
		Token:     s.token,
		Timeout:   min(s.timeout, s.interval),
		UserAgent: "overvakt-reporter/" + version,
	})
	if err != nil {
		fmt.Fprintln(stderr, "overvakt-reporter:", err)
		return 2
	}
	if _, _, err := readLoad(s.proc); err != nil {
		fmt.Fprintln(stderr, "overvakt-reporter:", err)
		return 1
	}
	log.Info("reporting host load", "url", s.url, "service", s.service, "node", s.node,
		"replica", s.replica, "interval", s.interval, "version", version)

	code := report(ctx, log, client, s)
	if s.flushOnExit && code == 0 {
		// The run context is over; give the flush its own short deadline.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		if err := client.Flush(fctx, s.service, s.node, s.replica); err != nil {
			log.Error("flush failed; the server will show this replica dead until it is flushed", "err", err)
			return 1
		}
		log.Info("flushed this replica from the status page", "replica", s.replica)
	}
	return code
}

// report sends a report every interval until ctx ends (0) or the server
// refuses a report (1).
func report(ctx context.Context, log *slog.Logger, client *reporter.Client, s settings) int {
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	failing := false
	for {
		cpu, ram, err := readLoad(s.proc)
		if err != nil {
			log.Error("cannot read the host load", "err", err)
			return 1
		}
		// Retries of one report stop when the next one is due.
		rctx, cancel := context.WithTimeout(ctx, s.interval)
		err = client.ReportLoad(rctx, s.service, s.node, reporter.Load{Replica: s.replica, Interval: s.interval, CPU: cpu, RAM: ram})
		cancel()
		switch {
		case ctx.Err() != nil:
			return 0
		case reporter.IsFatal(err):
			log.Error("the server refused the report; fix the setup and restart", "err", err)
			return 1
		case err != nil:
			log.Warn("report failed; trying again next interval", "err", err)
			failing = true
		case failing:
			log.Info("reporting again", "cpu", cpu, "ram", ram)
			failing = false
		default:
			log.Debug("reported", "cpu", cpu, "ram", ram)
		}
		if s.once {
			if err != nil {
				return 1
			}
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
}

func parseSettings(args []string, getenv func(string) string, stderr io.Writer) (settings, error) {
	fs := flag.NewFlagSet("overvakt-reporter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	hostname, _ := os.Hostname()
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var s settings
	fs.StringVar(&s.url, "url", env("OVERVAKT_URL", ""), "status page address, e.g. https://status.example.com (env OVERVAKT_URL)")
	fs.StringVar(&s.token, "token", env("OVERVAKT_TOKEN", ""), "the server's reporter_token (env OVERVAKT_TOKEN; prefer it: flags show in ps)")
	fs.StringVar(&s.service, "service", env("OVERVAKT_SERVICE", ""), "service id in the server config (env OVERVAKT_SERVICE)")
	fs.StringVar(&s.node, "node", env("OVERVAKT_NODE", ""), "push node id in that service (env OVERVAKT_NODE)")
	fs.StringVar(&s.replica, "replica", env("OVERVAKT_REPLICA", hostname), "name of this host on the page (env OVERVAKT_REPLICA)")
	interval := fs.String("interval", env("OVERVAKT_INTERVAL", "30"), "seconds between reports (env OVERVAKT_INTERVAL)")
	timeout := fs.String("timeout", env("OVERVAKT_TIMEOUT", "10"), "seconds one request may take (env OVERVAKT_TIMEOUT)")
	fs.StringVar(&s.proc, "proc", env("OVERVAKT_PROC", "/proc"), "where the proc file system is mounted, e.g. the host's /proc inside a container (env OVERVAKT_PROC)")
	fs.BoolVar(&s.once, "once", false, "send one report and exit (status 1 if it failed)")
	fs.BoolVar(&s.flushOnExit, "flush-on-exit", false, "remove this replica from the page when stopped (for hosts that go away for good)")
	logLevel := fs.String("log-level", env("OVERVAKT_LOG_LEVEL", "info"), "debug, info, warn or error (env OVERVAKT_LOG_LEVEL)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if *showVersion {
		fmt.Fprintln(stderr, "overvakt-reporter", version)
		return s, flag.ErrHelp
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	var err error
	if s.interval, err = parseSeconds("interval", *interval); err != nil {
		return s, err
	}
	if s.interval < reporter.MinInterval || s.interval > reporter.MaxInterval {
		return s, fmt.Errorf("-interval %q: the server takes %v to %v seconds", *interval,
			reporter.MinInterval.Seconds(), reporter.MaxInterval.Seconds())
	}
	if s.timeout, err = parseSeconds("timeout", *timeout); err != nil {
		return s, err
	}
	if err := s.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return s, fmt.Errorf("-log-level %q: want debug, info, warn or error", *logLevel)
	}
	missing := []struct{ flag, env, val, example string }{
		{"url", "OVERVAKT_URL", s.url, "https://status.example.com"},
		{"token", "OVERVAKT_TOKEN", s.token, "the server's reporter_token"},
		{"service", "OVERVAKT_SERVICE", s.service, "the [[probe.service]] id"},
		{"node", "OVERVAKT_NODE", s.node, "the id of a node with mode = \"push\""},
		{"replica", "OVERVAKT_REPLICA", s.replica, "this host's name"},
	}
	for _, m := range missing {
		if m.val == "" {
			return s, fmt.Errorf("-%s is required (or set %s): %s", m.flag, m.env, m.example)
		}
	}
	return s, nil
}

// parseSeconds reads a positive number of seconds, fractions allowed.
func parseSeconds(name, v string) (time.Duration, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f > 365*24*3600 {
		return 0, fmt.Errorf("-%s %q: want a positive number of seconds, e.g. 30", name, v)
	}
	return time.Duration(f * float64(time.Second)), nil
}
