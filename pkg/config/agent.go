package config

import (
	"fmt"
	"os"
)

// Agent is overvakt-local.toml, the file of the local-mode agent. Its
// [[probe.service]] tree and probe keys are the server's, read and checked by
// the same code; only the modes differ (the agent probes "poll" and
// "script" nodes, which are "local" nodes on the server).
type Agent struct {
	Server  AgentServer  `toml:"server"`
	Report  AgentReport  `toml:"report"`
	Metrics AgentMetrics `toml:"metrics"`
	Plugins Plugins      `toml:"plugins"`
	Probe   Probe        `toml:"probe"`

	// File is the path the config was read from (for messages).
	File string `toml:"-"`
}

// AgentServer is the agent's [server]: only its log level.
type AgentServer struct {
	LogLevel string `toml:"log_level"`
}

// AgentReport says where and how often the agent reports.
type AgentReport struct {
	URL      string  `toml:"url"`      // the status page, e.g. https://status.example.com
	Token    string  `toml:"token"`    // the server's reporter_token
	Interval Seconds `toml:"interval"` // between two probes and reports of a replica
	Timeout  Seconds `toml:"timeout"`  // of one report
}

// AgentMetrics are the server's [metrics] keys that apply to probing.
type AgentMetrics struct {
	PollRetry                  Seconds `toml:"poll_retry"`
	PollHTTPStatusHealthyAbove int     `toml:"poll_http_status_healthy_above"`
	PollHTTPStatusHealthyBelow int     `toml:"poll_http_status_healthy_below"`
	PollDelayDead              Seconds `toml:"poll_delay_dead"`
	PollDelaySick              Seconds `toml:"poll_delay_sick"`
	PollParallelism            int     `toml:"poll_parallelism"`
	PollAttempts               int     `toml:"poll_attempts"`
	ScriptParallelism          int     `toml:"script_parallelism"`
}

// DefaultAgent returns the agent's configuration with every default.
func DefaultAgent() Agent {
	m := Default().Metrics
	return Agent{
		Server: AgentServer{LogLevel: "info"},
		Report: AgentReport{Interval: 30, Timeout: 10},
		Metrics: AgentMetrics{
			PollRetry:                  m.PollRetry,
			PollHTTPStatusHealthyAbove: m.PollHTTPStatusHealthyAbove,
			PollHTTPStatusHealthyBelow: m.PollHTTPStatusHealthyBelow,
			PollDelayDead:              m.PollDelayDead,
			PollDelaySick:              m.PollDelaySick,
			PollParallelism:            m.PollParallelism,
			PollAttempts:               m.PollAttempts,
			ScriptParallelism:          m.ScriptParallelism,
		},
	}
}

// LoadAgent reads and checks an agent's file. ${VAR} values come from the
// process environment; report.url and report.token, when not in the file,
// from OVERVAKT_URL and OVERVAKT_TOKEN.
func LoadAgent(path string, kinds Kinds) (*Agent, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseAgent(path, data, os.LookupEnv, kinds)
}

// ParseAgent checks an agent's file text, as Parse does for the server's.
func ParseAgent(file string, data []byte, lookupEnv func(string) (string, bool), kinds Kinds) (*Agent, error) {
	a := DefaultAgent()
	err := parseInto(file, data, lookupEnv, &kinds, &a, func(c *Check) {
		c.plugins = a.Plugins
		if a.Report.URL == "" && lookupEnv != nil {
			a.Report.URL, _ = lookupEnv("OVERVAKT_URL")
		}
		if a.Report.Token == "" && lookupEnv != nil {
			a.Report.Token, _ = lookupEnv("OVERVAKT_TOKEN")
		}
		completeKinds(&kinds, a.Probe.Services, nil)
		checkAgent(c, &kinds, &a)
	})
	if err != nil {
		return nil, err
	}
	a.File = file
	for i := range a.Probe.Services {
		svc := &a.Probe.Services[i]
		svc.Label = svc.ID
		for j := range svc.Nodes {
			svc.Nodes[j].Label = svc.Nodes[j].ID
		}
	}
	return &a, nil
}

func checkAgent(c *Check, kinds *Kinds, a *Agent) {
	c.sub("server", "").OneOf("log_level", a.Server.LogLevel, "log level", "debug", "info", "warn", "error")
	rc := c.sub("report", "[report]")
	switch {
	case a.Report.URL == "":
		rc.Fail("url", "required (or set OVERVAKT_URL): the status page's address, e.g. https://status.example.com")
	case !IsHTTPURL(a.Report.URL):
		rc.Fail("url", "%q: want the status page's absolute http:// or https:// address, e.g. https://status.example.com", a.Report.URL)
	}
	if a.Report.Token == "" {
		rc.Fail("token", "required (or set OVERVAKT_TOKEN): the server's reporter_token")
	}
	rc.Interval("interval", a.Report.Interval)
	rc.Positive("timeout", float64(a.Report.Timeout))

	mc := c.sub("metrics", "")
	m := a.ServerMetrics()
	mc.NotNegative("poll_retry", float64(m.PollRetry))
	checkPollRules(mc, &m)
	mc.Positive("poll_parallelism", float64(m.PollParallelism))
	checkAttempts(mc, "poll_attempts", m.PollAttempts)
	mc.Positive("script_parallelism", float64(m.ScriptParallelism))
	checkPlugins(c, a.Plugins)

	if len(a.Probe.Services) == 0 {
		c.Fail("probe.service", "nothing to probe; add a [[probe.service]] with [[probe.service.node]] tables")
	}
	checkProbe(c, kinds, a.Probe.Services, true)
}

// ServerMetrics is the agent's probe settings as the server's [metrics]:
// both probe and report every report interval.
func (a *Agent) ServerMetrics() Metrics {
	m := Default().Metrics
	m.PollInterval, m.ScriptInterval = a.Report.Interval, a.Report.Interval
	m.PollRetry = a.Metrics.PollRetry
	m.PollHTTPStatusHealthyAbove, m.PollHTTPStatusHealthyBelow = a.Metrics.PollHTTPStatusHealthyAbove, a.Metrics.PollHTTPStatusHealthyBelow
	m.PollDelayDead, m.PollDelaySick = a.Metrics.PollDelayDead, a.Metrics.PollDelaySick
	m.PollParallelism, m.ScriptParallelism = a.Metrics.PollParallelism, a.Metrics.ScriptParallelism
	m.PollAttempts = a.Metrics.PollAttempts
	return m
}

// ProbeConfig is the server-shaped config the probe scheduler runs with.
func (a *Agent) ProbeConfig() *Config {
	cfg := Default()
	cfg.File = a.File
	cfg.Metrics = a.ServerMetrics()
	cfg.Plugins = a.Plugins
	cfg.Probe = a.Probe
	return &cfg
}
