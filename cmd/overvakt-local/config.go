package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/overvakt/overvakt/pkg/config"
)

// fileConfig is overvakt-local.toml.
type fileConfig struct {
	Server  fileServer  `toml:"server"`
	Report  fileReport  `toml:"report"`
	Metrics fileMetrics `toml:"metrics"`
	Plugins struct {
		ICMP config.ICMP `toml:"icmp"`
	} `toml:"plugins"`
	Probe struct {
		Services []fileService `toml:"service"`
	} `toml:"probe"`
}

type fileServer struct {
	LogLevel string `toml:"log_level"`
}

type fileReport struct {
	URL      string         `toml:"url"`
	Token    string         `toml:"token"`
	Interval config.Seconds `toml:"interval"`
	Timeout  config.Seconds `toml:"timeout"`
}

// fileMetrics are the server's [metrics] keys that apply to probing here.
type fileMetrics struct {
	PollRetry                  config.Seconds `toml:"poll_retry"`
	PollHTTPStatusHealthyAbove int            `toml:"poll_http_status_healthy_above"`
	PollHTTPStatusHealthyBelow int            `toml:"poll_http_status_healthy_below"`
	PollDelayDead              config.Seconds `toml:"poll_delay_dead"`
	PollDelaySick              config.Seconds `toml:"poll_delay_sick"`
	PollParallelism            int            `toml:"poll_parallelism"`
	ScriptParallelism          int            `toml:"script_parallelism"`
}

type fileService struct {
	ID    string     `toml:"id"`
	Nodes []fileNode `toml:"node"`
}

// fileNode is a node of the server config (mode "local" there), with how
// this agent probes its replicas.
type fileNode struct {
	ID                   string            `toml:"id"`
	Mode                 string            `toml:"mode"` // poll or script
	Replicas             []string          `toml:"replicas"`
	Scripts              []string          `toml:"scripts"`
	HTTPHeaders          map[string]string `toml:"http_headers"`
	HTTPMethod           string            `toml:"http_method"`
	HTTPBody             string            `toml:"http_body"`
	HTTPBodyHealthyMatch string            `toml:"http_body_healthy_match"`
}

// settings is what the agent runs with.
type settings struct {
	url, token string
	logLevel   string
	timeout    config.Seconds
	probe      config.Config // for the probe scheduler
	interval   config.Seconds
	entries    int // replicas and scripts to probe
}

// loadConfig reads and checks the agent's config file. The URL and token
// may instead come from OVERVAKT_URL and OVERVAKT_TOKEN.
func loadConfig(path string, getenv func(string) string) (*settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	def := config.Default().Metrics
	fc := fileConfig{
		Server: fileServer{LogLevel: "info"},
		Report: fileReport{Interval: 30, Timeout: 10},
		Metrics: fileMetrics{
			PollRetry:                  def.PollRetry,
			PollHTTPStatusHealthyAbove: def.PollHTTPStatusHealthyAbove,
			PollHTTPStatusHealthyBelow: def.PollHTTPStatusHealthyBelow,
			PollDelayDead:              def.PollDelayDead,
			PollDelaySick:              def.PollDelaySick,
			PollParallelism:            def.PollParallelism,
			ScriptParallelism:          def.ScriptParallelism,
		},
	}
	fc.Plugins.ICMP.Socket = "auto"
	md, err := toml.Decode(string(data), &fc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, k := range md.Undecoded() {
		fail("%s: unknown key (see docs/agents.md for the keys of overvakt-local.toml)", k)
	}

	if fc.Report.URL == "" {
		fc.Report.URL = getenv("OVERVAKT_URL")
	}
	if fc.Report.Token == "" {
		fc.Report.Token = getenv("OVERVAKT_TOKEN")
	}
	if fc.Report.URL == "" {
		fail("report.url: required (or set OVERVAKT_URL): the status page's address, e.g. https://status.example.com")
	}
	if fc.Report.Token == "" {
		fail("report.token: required (or set OVERVAKT_TOKEN): the server's reporter_token")
	}
	if fc.Report.Interval <= 0 {
		fail("report.interval: %v: want a positive number of seconds", float64(fc.Report.Interval))
	}
	if fc.Report.Timeout <= 0 {
		fail("report.timeout: %v: want a positive number of seconds", float64(fc.Report.Timeout))
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, fc.Server.LogLevel) {
		fail("server.log_level: %q: want debug, info, warn or error", fc.Server.LogLevel)
	}

	s := &settings{url: fc.Report.URL, token: fc.Report.Token, logLevel: fc.Server.LogLevel,
		timeout: fc.Report.Timeout, interval: fc.Report.Interval}
	s.probe = config.Default()
	s.probe.File = path
	s.probe.Plugins.ICMP = fc.Plugins.ICMP
	m := &s.probe.Metrics
	m.PollInterval, m.ScriptInterval = fc.Report.Interval, fc.Report.Interval
	m.PollRetry, m.PollDelayDead, m.PollDelaySick = fc.Metrics.PollRetry, fc.Metrics.PollDelayDead, fc.Metrics.PollDelaySick
	m.PollHTTPStatusHealthyAbove, m.PollHTTPStatusHealthyBelow = fc.Metrics.PollHTTPStatusHealthyAbove, fc.Metrics.PollHTTPStatusHealthyBelow
	m.PollParallelism, m.ScriptParallelism = fc.Metrics.PollParallelism, fc.Metrics.ScriptParallelism
	if m.PollDelaySick >= m.PollDelayDead {
		fail("metrics.poll_delay_sick: %v must be lower than poll_delay_dead (%v)", float64(m.PollDelaySick), float64(m.PollDelayDead))
	}
	if m.PollHTTPStatusHealthyAbove >= m.PollHTTPStatusHealthyBelow {
		fail("metrics.poll_http_status_healthy_above: %d must be lower than poll_http_status_healthy_below (%d)",
			m.PollHTTPStatusHealthyAbove, m.PollHTTPStatusHealthyBelow)
	}

	if len(fc.Probe.Services) == 0 {
		fail("probe.service: nothing to probe; add a [[probe.service]] with [[probe.service.node]] tables")
	}
	seenSvc := map[string]bool{}
	for i, svc := range fc.Probe.Services {
		where := fmt.Sprintf("probe.service[%d]", i)
		switch {
		case svc.ID == "":
			fail("%s.id: required: the id of the service in the server config", where)
		case seenSvc[svc.ID]:
			fail("%s.id: duplicate service id %q", where, svc.ID)
		}
		seenSvc[svc.ID] = true
		if len(svc.Nodes) == 0 {
			fail("%s.node: add a [[probe.service.node]] to probe", where)
		}
		out := config.Service{ID: svc.ID, Label: svc.ID}
		seenNode := map[string]bool{}
		for j, n := range svc.Nodes {
			nwhere := fmt.Sprintf("%s.node[%d]", where, j)
			switch {
			case n.ID == "":
				fail("%s.id: required: the id of a node with mode = \"local\" in the server config", nwhere)
			case seenNode[n.ID]:
				fail("%s.id: duplicate node id %q in service %q", nwhere, n.ID, svc.ID)
			}
			seenNode[n.ID] = true
			switch n.Mode {
			case "poll":
				if len(n.Replicas) == 0 {
					fail(`%s.replicas: mode "poll" needs replicas, e.g. replicas = ["http://10.0.0.3/health", "tcp://10.0.0.4:5432", "icmp://10.0.0.5"]`, nwhere)
				}
				if len(n.Scripts) > 0 {
					fail(`%s.scripts: scripts are for mode "script"`, nwhere)
				}
			case "script":
				if len(n.Scripts) == 0 {
					fail(`%s.scripts: mode "script" needs scripts, e.g. scripts = ["systemctl is-active --quiet worker"]`, nwhere)
				}
				if len(n.Replicas) > 0 {
					fail(`%s.replicas: replicas are for mode "poll"`, nwhere)
				}
			case "":
				fail(`%s.mode: required: "poll" (probe URLs) or "script" (run shell scripts)`, nwhere)
			default:
				fail(`%s.mode: %q: want "poll" or "script" (the node is "local" on the server; this says how to probe it here)`, nwhere, n.Mode)
			}
			out.Nodes = append(out.Nodes, config.Node{ID: n.ID, Label: n.ID, Mode: n.Mode, Replicas: n.Replicas, Scripts: n.Scripts,
				HTTPHeaders: n.HTTPHeaders, HTTPMethod: n.HTTPMethod, HTTPBody: n.HTTPBody, HTTPBodyHealthyMatch: n.HTTPBodyHealthyMatch})
			s.entries += max(len(n.Replicas), len(n.Scripts))
		}
		s.probe.Probe.Services = append(s.probe.Probe.Services, out)
	}
	if len(problems) > 0 {
		return nil, errors.New(path + ":\n  " + strings.Join(problems, "\n  "))
	}
	return s, nil
}
