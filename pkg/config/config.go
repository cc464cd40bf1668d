// Package config reads overvakt.toml: schema, defaults, ${ENV} substitution
// and validation with errors that name the file, line and key.
package config

import (
	"fmt"
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

	// File is the path the config was read from (for messages).
	File string `toml:"-"`
}

type Server struct {
	LogLevel      string `toml:"log_level"` // debug, info, warn, error
	Inet          string `toml:"inet"`      // listen address, host:port
	Workers       int    `toml:"workers"`   // web requests handled at once
	ManagerToken  string `toml:"manager_token"`
	ReporterToken string `toml:"reporter_token"`
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
	PushDelayDead              Seconds `toml:"push_delay_dead"`
	PushSystemCPUSickAbove     float64 `toml:"push_system_cpu_sick_above"`
	PushSystemRAMSickAbove     float64 `toml:"push_system_ram_sick_above"`
	ScriptInterval             Seconds `toml:"script_interval"`
	ScriptParallelism          int     `toml:"script_parallelism"`
	LocalDelayDead             Seconds `toml:"local_delay_dead"`
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
	Nodes []Node `toml:"node"`
}

// Node is a [[probe.service.node]]: the keys every node has. The keys of
// a probe kind (http_method, rabbitmq_queue, …) are in Tables.
type Node struct {
	ID                string   `toml:"id"`
	Label             string   `toml:"label"`
	Mode              string   `toml:"mode"` // poll, push, script, local
	Replicas          []string `toml:"replicas"`
	Scripts           []string `toml:"scripts"`
	RevealReplicaName bool     `toml:"reveal_replica_name"`
	LinkURL           string   `toml:"link_url"`
	LinkLabel         string   `toml:"link_label"`

	// Tables hold the node keys of the probe kinds, by kind name: one per
	// kind that has node keys, defaults where the file is silent.
	Tables map[string]NodeTable `toml:"-"`
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

// Default returns the configuration with every default filled in; Load
// decodes the file over it.
func Default() Config {
	return Config{
		Server:   Server{LogLevel: "error", Inet: "[::1]:8080", Workers: 4},
		Branding: Branding{PageTitle: "Status Page"},
		Metrics: Metrics{
			PollInterval:               120,
			PollRetry:                  2,
			PollHTTPStatusHealthyAbove: 200,
			PollHTTPStatusHealthyBelow: 400,
			PollDelayDead:              10,
			PollDelaySick:              5,
			PollParallelism:            4,
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
	}
}
