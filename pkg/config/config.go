// Package config reads overvakt.toml: schema, defaults, ${ENV} substitution
// and validation with errors that name the file, line and key.
package config

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the whole file. Field tags are the TOML keys; see docs/configuration.md.
type Config struct {
	Server   Server   `toml:"server"`
	Assets   Assets   `toml:"assets"`
	Branding Branding `toml:"branding"`
	Metrics  Metrics  `toml:"metrics"`
	Plugins  Plugins  `toml:"plugins"`
	Notify   Notify   `toml:"notify"`
	Probe    Probe    `toml:"probe"`
	Storage  Storage  `toml:"storage"`

	Incidents   Incidents     `toml:"incidents"`
	Maintenance []Maintenance `toml:"maintenance"`
	// Dynamic is the service of targets added over the manager API; nil
	// (no [dynamic] table) leaves the feature off.
	Dynamic *Dynamic `toml:"dynamic"`

	// File is the path the config was read from (for messages).
	File string `toml:"-"`
}

type Server struct {
	LogLevel string `toml:"log_level"` // debug, info, warn, error
	Inet     string `toml:"inet"`      // listen address, host:port
	Workers  int    `toml:"workers"`   // web requests handled at once
	// MaxConnections caps the inbound connections at once; 0: as many as
	// the descriptor limit allows after a reserve for probes and the store.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerIP caps those from one address; 0: no cap.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	// LiveMaxConnections caps the live feed's WebSockets (/live) at once:
	// they stay open for as long as a page is, so they get their own cap.
	LiveMaxConnections int `toml:"live_max_connections"`
	// LiveMaxConnectionsPerIP caps those from one client; 0: no cap.
	LiveMaxConnectionsPerIP int `toml:"live_max_connections_per_ip"`
	// MCPServer serves the public status to AI agents over MCP at
	// /mcp/probes (Vigil's key); off by default, as in Vigil.
	MCPServer bool `toml:"mcp_server"`
	// Metrics serves Prometheus metrics at /metrics; off by default.
	Metrics bool `toml:"metrics"`
	// MetricsToken, when set, is needed to read /metrics (as a bearer
	// token or the password of Basic auth).
	MetricsToken  string `toml:"metrics_token"`
	ManagerToken  string `toml:"manager_token"`
	ReporterToken string `toml:"reporter_token"`
	// ReporterTokenScopes are more reporter tokens, each limited to some
	// services and nodes; reporter_token keeps reaching every one.
	ReporterTokenScopes []TokenScope `toml:"reporter_token_scopes"`
	// TrustedProxies are the addresses (IPs or CIDR prefixes) whose
	// X-Forwarded-For and X-Real-IP headers name the client, for the
	// limits on failed authentication.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// MinTokenLength is the shortest token accepted, in characters.
const MinTokenLength = 16

// Intervals (between polls, scripts, reminders and agent reports) must lie
// between MinInterval and MaxInterval: shorter ones would flood the server
// or the targets, longer ones hide an outage for good.
const (
	MinInterval = time.Second
	MaxInterval = 7 * 24 * time.Hour
)

// TokenScope is a [[server.reporter_token_scopes]] table: a reporter token
// that may report to and flush only the services and nodes in Allow.
type TokenScope struct {
	Name  string   `toml:"name"`  // who uses it, for logs; default "scope N"
	Token string   `toml:"token"` // at least MinTokenLength characters
	Allow []string `toml:"allow"` // "service" or "service:node"
}

// Allows reports whether the scope covers node nodeID of service serviceID.
func (s *TokenScope) Allows(serviceID, nodeID string) bool {
	for _, a := range s.Allow {
		svc, node, hasNode := strings.Cut(a, ":")
		if svc == serviceID && (!hasNode || node == nodeID) {
			return true
		}
	}
	return false
}

// Incidents configures incidents opened by the server itself.
type Incidents struct {
	// DraftOnDead opens a draft incident when a node goes dead; it stays
	// private until an operator publishes it (or PublishAfter passes) and
	// is discarded if the node recovers first.
	DraftOnDead bool `toml:"draft_on_dead"`
	// PublishAfter publishes a draft still open after this long; 0 never.
	PublishAfter Duration `toml:"publish_after"`
}

// Maintenance is a [[maintenance]] window: once (Start to End) or again
// and again (Every, at At for Duration).
type Maintenance struct {
	Title    string   `toml:"title"`
	Text     string   `toml:"text"`
	Affected []string `toml:"affected"` // "service" or "service:node"
	// Once: from Start to End (TOML date-times with an offset).
	Start time.Time `toml:"start"`
	End   time.Time `toml:"end"`
	// Again: Every "daily" or "weekly" (on Day), at At ("22:00") in
	// Timezone (default the server's), for Duration.
	Every    string   `toml:"every"`
	Day      string   `toml:"day"`
	At       string   `toml:"at"`
	Duration Duration `toml:"duration"`
	Timezone string   `toml:"timezone"`
}

// Storage is where the server keeps what it must remember.
type Storage struct {
	Driver string `toml:"driver"` // sqlite (the default) or memory
	// Path of the SQLite file; relative paths are beside the config file.
	Path string `toml:"path"`
	// RawRetention is how long every single result is kept.
	RawRetention Duration `toml:"raw_retention"`
	// RollupRetention is how long hourly and daily rollups, status changes
	// and run times are kept.
	RollupRetention Duration `toml:"rollup_retention"`
}

type Assets struct {
	// Path to a folder whose files override the embedded assets file by file.
	Path string `toml:"path"`
}

type Branding struct {
	PageTitle   string `toml:"page_title"`
	PageURL     string `toml:"page_url"`
	CompanyName string `toml:"company_name"`
	IconColor   string `toml:"icon_color"`
	IconURL     string `toml:"icon_url"`
	LogoColor   string `toml:"logo_color"`
	LogoURL     string `toml:"logo_url"`
	WebsiteURL  string `toml:"website_url"`
	SupportURL  string `toml:"support_url"`
	CustomHTML  string `toml:"custom_html"`
}

type Metrics struct {
	PollInterval               Seconds `toml:"poll_interval"`
	PollRetry                  Seconds `toml:"poll_retry"`
	PollHTTPStatusHealthyAbove int     `toml:"poll_http_status_healthy_above"`
	PollHTTPStatusHealthyBelow int     `toml:"poll_http_status_healthy_below"`
	PollDelayDead              Seconds `toml:"poll_delay_dead"`
	PollDelaySick              Seconds `toml:"poll_delay_sick"`
	PollParallelism            int     `toml:"poll_parallelism"`
	// PollAttempts is how many attempts one poll of a replica makes, one
	// after the other; it is dead when most of them failed.
	PollAttempts           int     `toml:"poll_attempts"`
	PushDelayDead          Seconds `toml:"push_delay_dead"`
	PushSystemCPUSickAbove float64 `toml:"push_system_cpu_sick_above"`
	PushSystemRAMSickAbove float64 `toml:"push_system_ram_sick_above"`
	ScriptInterval         Seconds `toml:"script_interval"`
	ScriptParallelism      int     `toml:"script_parallelism"`
	LocalDelayDead         Seconds `toml:"local_delay_dead"`
}

// Plugins are the [plugins.<name>] tables of probe kinds, by kind name;
// a table is here only when the file has it.
type Plugins map[string]Table

// Notify is [notify]: the dispatcher's settings and, below them, one table
// per configured channel.
type Notify struct {
	StartupNotification     bool    `toml:"startup_notification"`
	ReminderInterval        Seconds `toml:"reminder_interval"`
	ReminderBackoffFunction string  `toml:"reminder_backoff_function"` // none, linear, square, cubic
	ReminderBackoffLimit    int     `toml:"reminder_backoff_limit"`
	// NotifySick also sends changed events to and from sick.
	NotifySick bool `toml:"notify_sick"`
	// AlertAfter is how many consecutive dead results of a replica it takes
	// before it counts as dead for notifications (flap protection).
	AlertAfter int `toml:"alert_after"`
	// ReminderEscalate: the Nth reminder reaches only the first N targets
	// of channels that have several (Twilio, Pushover, e-mail).
	ReminderEscalate bool `toml:"reminder_escalate"`

	// Channels are the [notify.<name>] tables present, in the order of the
	// kinds the file was loaded with.
	Channels []Channel `toml:"-"`
}

// Channel is one configured [notify.<name>] table.
type Channel struct {
	Name  string
	Table ChannelTable
}

type Probe struct {
	Services []Service `toml:"service"`
}

type Service struct {
	ID    string `toml:"id"`
	Label string `toml:"label"`
	// Notify names the channels that hear this service's nodes; nil:
	// every channel. A node's own notify replaces it.
	Notify []string `toml:"notify"`
	Nodes  []Node   `toml:"node"`
}

// Node is a [[probe.service.node]]: the keys every node has. The keys of
// a probe kind (http_method, rabbitmq_queue, …) are in Tables.
// NodeAlerts are a node's own alert rules; zero values (nil for
// ReminderInterval, whose 0 turns reminders off) keep [notify]'s.
type NodeAlerts struct {
	Notify                  []string `toml:"notify"` // channel names; nil: the service's
	AlertAfter              int      `toml:"alert_after"`
	ReminderInterval        *Seconds `toml:"reminder_interval"`
	ReminderBackoffFunction string   `toml:"reminder_backoff_function"`
	ReminderBackoffLimit    int      `toml:"reminder_backoff_limit"`
	// DependsOn lists "service:node" parents: while one is dead, this
	// node's alerts are held (its outage is the parent's).
	DependsOn []string `toml:"depends_on"`
}

type Node struct {
	ID                string   `toml:"id"`
	Label             string   `toml:"label"`
	Mode              string   `toml:"mode"` // poll, push, script, local
	Replicas          []string `toml:"replicas"`
	Scripts           []string `toml:"scripts"`
	RevealReplicaName bool     `toml:"reveal_replica_name"`
	LinkURL           string   `toml:"link_url"`
	LinkLabel         string   `toml:"link_label"`

	// PollInterval, ScriptInterval and PollAttempts replace the [metrics]
	// keys of the same names for this node's replicas; 0 (unset) keeps them.
	PollInterval   Seconds `toml:"poll_interval"`
	ScriptInterval Seconds `toml:"script_interval"`
	PollAttempts   int     `toml:"poll_attempts"`

	// NodeAlerts replace the [notify] keys of the same names for this node.
	NodeAlerts

	// Tables hold the node keys of the probe kinds, by kind name: one per
	// kind that has node keys, defaults where the file is silent.
	Tables map[string]NodeTable `toml:"-"`
}

// Interval is the time between two probes of each of the node's
// replicas: its own poll_interval or script_interval, else m's.
func (n *Node) Interval(m *Metrics) Seconds {
	own, all := n.PollInterval, m.PollInterval
	if n.Mode == "script" {
		own, all = n.ScriptInterval, m.ScriptInterval
	}
	if own != 0 {
		return own
	}
	return all
}

// Attempts is how many attempts one poll of the node's replicas makes:
// its own poll_attempts, else m's.
func (n *Node) Attempts(m *Metrics) int {
	if n.PollAttempts != 0 {
		return n.PollAttempts
	}
	return m.PollAttempts
}

// Seconds is a duration written in the file as a number of seconds; a
// fraction is allowed (0.5), which keeps tests fast.
type Seconds float64

// Duration converts to time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// UnmarshalTOML accepts an integer or a float.
func (s *Seconds) UnmarshalTOML(v any) error {
	switch n := v.(type) {
	case int64:
		*s = Seconds(n)
	case float64:
		*s = Seconds(n)
	default:
		return fmt.Errorf("want a number of seconds, got %T", v)
	}
	return nil
}

// Duration is a span of time written as a string with a unit ("48h",
// "400d", "90m", "1h30m"; d is 24 hours) or a number of seconds.
type Duration time.Duration

// ParseDuration reads a Duration's text form.
func ParseDuration(s string) (Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 || math.IsInf(n, 0) || n > 1e5 {
			return 0, fmt.Errorf("%q: want a number of days like 400d", s)
		}
		return Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration like 48h, 90m or 400d", s)
	}
	return Duration(d), nil
}

// String writes the duration the way the file may hold it.
func (d Duration) String() string {
	if d > 0 && time.Duration(d)%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(time.Duration(d)/(24*time.Hour)), 10) + "d"
	}
	return time.Duration(d).String()
}

// Default returns the configuration with every default filled in; Load
// decodes the file over it.
func Default() Config {
	return Config{
		Server: Server{LogLevel: "error", Inet: "[::1]:8080", Workers: 4, MaxConnectionsPerIP: 256,
			TrustedProxies:     []string{"127.0.0.0/8", "::1"},
			LiveMaxConnections: 1000, LiveMaxConnectionsPerIP: 32},
		Branding: Branding{PageTitle: "Status Page"},
		Metrics: Metrics{
			PollInterval:               120,
			PollRetry:                  2,
			PollHTTPStatusHealthyAbove: 200,
			PollHTTPStatusHealthyBelow: 400,
			PollDelayDead:              10,
			PollDelaySick:              5,
			PollParallelism:            4,
			PollAttempts:               1,
			PushDelayDead:              20,
			PushSystemCPUSickAbove:     0.90,
			PushSystemRAMSickAbove:     0.90,
			ScriptInterval:             300,
			ScriptParallelism:          2,
			LocalDelayDead:             40,
		},
		Notify: Notify{
			ReminderBackoffFunction: "none",
			ReminderBackoffLimit:    3,
			AlertAfter:              1,
		},
		Storage: Storage{
			Driver:          "sqlite",
			Path:            filepath.Join("data", "overvakt.db"),
			RawRetention:    Duration(48 * time.Hour),
			RollupRetention: Duration(400 * 24 * time.Hour),
		},
	}
}

// Dynamic is [dynamic]: the service that holds the targets added and
// removed over the manager API (PUT /manager/monitor), and how they are
// probed and alerted.
type Dynamic struct {
	ServiceID    string  `toml:"service_id"`
	ServiceLabel string  `toml:"service_label"`
	Interval     Seconds `toml:"interval"`    // 0: [metrics] poll_interval
	MaxTargets   int     `toml:"max_targets"` // more are refused
	// NodeAlerts are the alert rules of every target, as on a node.
	NodeAlerts
	// Node is the template every target's node is made from: its probe
	// kinds' keys (http_method, http_body_healthy_match, …) are read from
	// the [dynamic] table as from a node's.
	Node Node `toml:"-"`
}

// DefaultMaxTargets is the cap on dynamic targets when the file sets none.
const DefaultMaxTargets = 10000

func (d *Dynamic) setDefaults() { d.MaxTargets = DefaultMaxTargets }

// TargetNode is the node of a dynamic target: the template with its id,
// label and URL.
func (d *Dynamic) TargetNode(id, label, rawURL string) Node {
	n := d.Node
	n.ID, n.Label, n.Mode, n.Replicas = id, label, "poll", []string{rawURL}
	n.PollInterval = d.Interval
	n.NodeAlerts = d.NodeAlerts
	return n
}
