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
	Workers       int    `toml:"workers"`   // GOMAXPROCS-style cap on request handling threads
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

type Plugins struct {
	RabbitMQ *RabbitMQ `toml:"rabbitmq"`
	ICMP     ICMP      `toml:"icmp"`
}

type RabbitMQ struct {
	APIURL                 string  `toml:"api_url"`
	AuthUsername           string  `toml:"auth_username"`
	AuthPassword           string  `toml:"auth_password"`
	VirtualHost            string  `toml:"virtualhost"`
	QueueReadyHealthyBelow int     `toml:"queue_ready_healthy_below"`
	QueueNackHealthyBelow  int     `toml:"queue_nack_healthy_below"`
	QueueReadyDeadAbove    int     `toml:"queue_ready_dead_above"`
	QueueNackDeadAbove     int     `toml:"queue_nack_dead_above"`
	QueueLoadedRetryDelay  Seconds `toml:"queue_loaded_retry_delay"`
}

type ICMP struct {
	// Socket is "auto" (unprivileged datagram ICMP, then raw), "raw" or "dgram".
	Socket string `toml:"socket"`
}

type Notify struct {
	StartupNotification     bool    `toml:"startup_notification"`
	ReminderInterval        Seconds `toml:"reminder_interval"`
	ReminderBackoffFunction string  `toml:"reminder_backoff_function"` // none, linear, square, cubic
	ReminderBackoffLimit    int     `toml:"reminder_backoff_limit"`
	// NotifySick also sends changed events to and from sick.
	NotifySick bool `toml:"notify_sick"`
	// AlertAfter is how many consecutive dead observations of the page
	// status it takes before a change to dead is sent (flap protection).
	AlertAfter int `toml:"alert_after"`

	Email    *Email    `toml:"email"`
	Twilio   *Twilio   `toml:"twilio"`
	Slack    *Slack    `toml:"slack"`
	Zulip    *Zulip    `toml:"zulip"`
	Telegram *Telegram `toml:"telegram"`
	Pushover *Pushover `toml:"pushover"`
	Gotify   *Gotify   `toml:"gotify"`
	XMPP     *XMPP     `toml:"xmpp"`
	Matrix   *Matrix   `toml:"matrix"`
	Webex    *Webex    `toml:"webex"`
	Webhook  *Webhook  `toml:"webhook"`
	Command  *Command  `toml:"command"`
}

type Email struct {
	To            string `toml:"to"`
	From          string `toml:"from"`
	SMTPHost      string `toml:"smtp_host"`
	SMTPPort      int    `toml:"smtp_port"`
	SMTPUsername  string `toml:"smtp_username"`
	SMTPPassword  string `toml:"smtp_password"`
	SMTPEncrypt   bool   `toml:"smtp_encrypt"`
	RemindersOnly bool   `toml:"reminders_only"`
}

type Twilio struct {
	APIURL        string   `toml:"api_url"` // default https://api.twilio.com
	To            []string `toml:"to"`
	ServiceSID    string   `toml:"service_sid"`
	AccountSID    string   `toml:"account_sid"`
	AuthToken     string   `toml:"auth_token"`
	RemindersOnly bool     `toml:"reminders_only"`
}

type Slack struct {
	HookURL        string `toml:"hook_url"`
	MentionChannel bool   `toml:"mention_channel"`
	RemindersOnly  bool   `toml:"reminders_only"`
}

type Zulip struct {
	BotEmail      string `toml:"bot_email"`
	BotAPIKey     string `toml:"bot_api_key"`
	Channel       string `toml:"channel"`
	APIURL        string `toml:"api_url"`
	RemindersOnly bool   `toml:"reminders_only"`
}

type Telegram struct {
	APIURL        string `toml:"api_url"` // default https://api.telegram.org
	BotToken      string `toml:"bot_token"`
	ChatID        string `toml:"chat_id"`
	RemindersOnly bool   `toml:"reminders_only"`
}

type Pushover struct {
	APIURL        string   `toml:"api_url"` // default https://api.pushover.net
	AppToken      string   `toml:"app_token"`
	UserKeys      []string `toml:"user_keys"`
	RemindersOnly bool     `toml:"reminders_only"`
}

type Gotify struct {
	AppURL        string `toml:"app_url"`
	AppToken      string `toml:"app_token"`
	RemindersOnly bool   `toml:"reminders_only"`
}

type XMPP struct {
	To           string `toml:"to"`
	From         string `toml:"from"`
	XMPPPassword string `toml:"xmpp_password"`
	// Server is host:port of the XMPP server; empty = the domain of from, port 5222.
	Server        string `toml:"server"`
	RemindersOnly bool   `toml:"reminders_only"`
}

type Matrix struct {
	HomeserverURL string `toml:"homeserver_url"`
	AccessToken   string `toml:"access_token"`
	RoomID        string `toml:"room_id"`
	RemindersOnly bool   `toml:"reminders_only"`
}

type Webex struct {
	EndpointURL   string `toml:"endpoint_url"`
	Token         string `toml:"token"`
	RoomID        string `toml:"room_id"`
	RemindersOnly bool   `toml:"reminders_only"`
}

type Webhook struct {
	HookURL       string `toml:"hook_url"`
	RemindersOnly bool   `toml:"reminders_only"`
}

// Command runs a program for each notification; arguments are templates
// over the message (see docs/notifications.md).
type Command struct {
	Path          string   `toml:"path"`
	Args          []string `toml:"args"`
	Timeout       Seconds  `toml:"timeout"`
	RemindersOnly bool     `toml:"reminders_only"`
}

type Probe struct {
	Services []Service `toml:"service"`
}

type Service struct {
	ID    string `toml:"id"`
	Label string `toml:"label"`
	Nodes []Node `toml:"node"`
}

type Node struct {
	ID                            string            `toml:"id"`
	Label                         string            `toml:"label"`
	Mode                          string            `toml:"mode"` // poll, push, script, local
	Replicas                      []string          `toml:"replicas"`
	Scripts                       []string          `toml:"scripts"`
	HTTPHeaders                   map[string]string `toml:"http_headers"`
	HTTPMethod                    string            `toml:"http_method"`
	HTTPBody                      string            `toml:"http_body"`
	HTTPBodyHealthyMatch          string            `toml:"http_body_healthy_match"`
	RabbitMQQueue                 string            `toml:"rabbitmq_queue"`
	RabbitMQQueueNackHealthyBelow int               `toml:"rabbitmq_queue_nack_healthy_below"`
	RabbitMQQueueNackDeadAbove    int               `toml:"rabbitmq_queue_nack_dead_above"`
	RevealReplicaName             bool              `toml:"reveal_replica_name"`
	LinkURL                       string            `toml:"link_url"`
	LinkLabel                     string            `toml:"link_label"`
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
		Plugins: Plugins{ICMP: ICMP{Socket: "auto"}},
		Notify: Notify{
			ReminderBackoffFunction: "none",
			ReminderBackoffLimit:    3,
			AlertAfter:              1,
		},
	}
}
