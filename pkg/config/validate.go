package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/dlclark/regexp2"
)

// validator checks a decoded config and collects every problem with the
// line it comes from.
type validator struct {
	file  string
	lines lineIndex
	errs  Errors
}

func (v *validator) fail(key, format string, args ...any) {
	v.errs = append(v.errs, Error{File: v.file, Line: v.lines.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func validate(file string, lines lineIndex, c *Config) Errors {
	v := &validator{file: file, lines: lines}
	v.server(&c.Server)
	v.branding(&c.Branding)
	v.metrics(&c.Metrics)
	v.plugins(&c.Plugins)
	v.notify(&c.Notify)
	v.probe(c)
	return v.errs
}

func (v *validator) server(s *Server) {
	v.oneOf("server.log_level", s.LogLevel, "log level", "debug", "info", "warn", "error")
	if host, port, err := net.SplitHostPort(s.Inet); err != nil || !isPort(port, true) || strings.ContainsAny(host, "[]") {
		v.fail("server.inet", "%q: want host:port, like [::1]:8080 or 127.0.0.1:8080 (a numeric port)", s.Inet)
	}
	v.positive("server.workers", float64(s.Workers))
	tokens := []struct{ name, val string }{{"manager_token", s.ManagerToken}, {"reporter_token", s.ReporterToken}}
	for _, t := range tokens {
		if t.val == "" {
			v.fail("server."+t.name, "required: set a long random secret, e.g. %s = \"${OVERVAKT_%s}\" to read it from the environment",
				t.name, strings.ToUpper(t.name))
		}
	}
}

func (v *validator) branding(b *Branding) {
	urls := []struct {
		key, val string
	}{
		{"branding.page_url", b.PageURL},
		{"branding.icon_url", b.IconURL},
		{"branding.logo_url", b.LogoURL},
		{"branding.website_url", b.WebsiteURL},
	}
	for _, u := range urls {
		v.optionalURL(u.key, u.val)
	}
	if b.SupportURL != "" && !isMailto(b.SupportURL) {
		v.optionalURL("branding.support_url", b.SupportURL)
	}
	v.colour("branding.icon_color", b.IconColor)
	v.colour("branding.logo_color", b.LogoColor)
}

func (v *validator) metrics(m *Metrics) {
	v.positive("metrics.poll_interval", float64(m.PollInterval))
	v.notNegative("metrics.poll_retry", float64(m.PollRetry))
	if m.PollHTTPStatusHealthyAbove >= m.PollHTTPStatusHealthyBelow {
		v.fail("metrics.poll_http_status_healthy_above",
			"%d must be lower than poll_http_status_healthy_below (%d), or no status code counts as healthy",
			m.PollHTTPStatusHealthyAbove, m.PollHTTPStatusHealthyBelow)
	}
	v.positive("metrics.poll_delay_dead", float64(m.PollDelayDead))
	v.positive("metrics.poll_delay_sick", float64(m.PollDelaySick))
	if m.PollDelaySick > 0 && m.PollDelaySick >= m.PollDelayDead {
		v.fail("metrics.poll_delay_sick",
			"%v must be lower than poll_delay_dead (%v): a probe slower than poll_delay_dead has already timed out",
			float64(m.PollDelaySick), float64(m.PollDelayDead))
	}
	v.positive("metrics.poll_parallelism", float64(m.PollParallelism))
	v.notNegative("metrics.push_delay_dead", float64(m.PushDelayDead))
	v.notNegative("metrics.push_system_cpu_sick_above", m.PushSystemCPUSickAbove)
	if m.PushSystemRAMSickAbove < 0 || m.PushSystemRAMSickAbove > 1 {
		v.fail("metrics.push_system_ram_sick_above", "%v: want a fraction between 0 and 1 (0.9 means 90%% of RAM used)",
			m.PushSystemRAMSickAbove)
	}
	v.positive("metrics.script_interval", float64(m.ScriptInterval))
	v.positive("metrics.script_parallelism", float64(m.ScriptParallelism))
	v.notNegative("metrics.local_delay_dead", float64(m.LocalDelayDead))
}

func (v *validator) plugins(p *Plugins) {
	v.oneOf("plugins.icmp.socket", p.ICMP.Socket, "ICMP socket kind", "auto", "raw", "dgram")
	r := p.RabbitMQ
	if r == nil {
		return
	}
	const t = "plugins.rabbitmq."
	v.requiredURL(t+"api_url", r.APIURL, "[plugins.rabbitmq]")
	v.required(t+"auth_username", r.AuthUsername, "[plugins.rabbitmq]")
	v.required(t+"auth_password", r.AuthPassword, "[plugins.rabbitmq]")
	v.required(t+"virtualhost", r.VirtualHost, "[plugins.rabbitmq]")
	v.positive(t+"queue_ready_healthy_below", float64(r.QueueReadyHealthyBelow))
	v.positive(t+"queue_nack_healthy_below", float64(r.QueueNackHealthyBelow))
	v.positive(t+"queue_ready_dead_above", float64(r.QueueReadyDeadAbove))
	v.positive(t+"queue_nack_dead_above", float64(r.QueueNackDeadAbove))
	if r.QueueReadyDeadAbove > 0 && r.QueueReadyDeadAbove < r.QueueReadyHealthyBelow {
		v.fail(t+"queue_ready_dead_above", "%d must not be lower than queue_ready_healthy_below (%d)",
			r.QueueReadyDeadAbove, r.QueueReadyHealthyBelow)
	}
	if r.QueueNackDeadAbove > 0 && r.QueueNackDeadAbove < r.QueueNackHealthyBelow {
		v.fail(t+"queue_nack_dead_above", "%d must not be lower than queue_nack_healthy_below (%d)",
			r.QueueNackDeadAbove, r.QueueNackHealthyBelow)
	}
	v.notNegative(t+"queue_loaded_retry_delay", float64(r.QueueLoadedRetryDelay))
}

func (v *validator) notify(n *Notify) {
	v.notNegative("notify.reminder_interval", float64(n.ReminderInterval))
	v.oneOf("notify.reminder_backoff_function", n.ReminderBackoffFunction, "backoff function",
		"none", "linear", "square", "cubic")
	v.positive("notify.reminder_backoff_limit", float64(n.ReminderBackoffLimit))
	if n.AlertAfter < 1 {
		v.fail("notify.alert_after", "%d: must be at least 1 (1 sends a change to dead on the first dead observation)", n.AlertAfter)
	}

	if e := n.Email; e != nil {
		const t, tbl = "notify.email.", "[notify.email]"
		v.required(t+"to", e.To, tbl)
		v.required(t+"from", e.From, tbl)
		v.required(t+"smtp_host", e.SMTPHost, tbl)
		if e.SMTPPort < 1 || e.SMTPPort > 65535 {
			v.fail(t+"smtp_port", "%d: want a TCP port between 1 and 65535 (587 is usual)", e.SMTPPort)
		}
	}
	if tw := n.Twilio; tw != nil {
		const t, tbl = "notify.twilio.", "[notify.twilio]"
		v.requiredList(t+"to", tw.To, tbl, `to = ["+15551234567"]`)
		v.required(t+"service_sid", tw.ServiceSID, tbl)
		v.required(t+"account_sid", tw.AccountSID, tbl)
		v.required(t+"auth_token", tw.AuthToken, tbl)
		v.optionalURL(t+"api_url", tw.APIURL)
	}
	if s := n.Slack; s != nil {
		v.requiredURL("notify.slack.hook_url", s.HookURL, "[notify.slack]")
	}
	if z := n.Zulip; z != nil {
		const t, tbl = "notify.zulip.", "[notify.zulip]"
		v.required(t+"bot_email", z.BotEmail, tbl)
		v.required(t+"bot_api_key", z.BotAPIKey, tbl)
		v.required(t+"channel", z.Channel, tbl)
		v.requiredURL(t+"api_url", z.APIURL, tbl)
	}
	if tg := n.Telegram; tg != nil {
		const t, tbl = "notify.telegram.", "[notify.telegram]"
		v.required(t+"bot_token", tg.BotToken, tbl)
		v.required(t+"chat_id", tg.ChatID, tbl)
		v.optionalURL(t+"api_url", tg.APIURL)
	}
	if p := n.Pushover; p != nil {
		const t, tbl = "notify.pushover.", "[notify.pushover]"
		v.required(t+"app_token", p.AppToken, tbl)
		v.requiredList(t+"user_keys", p.UserKeys, tbl, `user_keys = ["..."]`)
		v.optionalURL(t+"api_url", p.APIURL)
	}
	if g := n.Gotify; g != nil {
		const t, tbl = "notify.gotify.", "[notify.gotify]"
		v.requiredURL(t+"app_url", g.AppURL, tbl)
		v.required(t+"app_token", g.AppToken, tbl)
	}
	if x := n.XMPP; x != nil {
		const t, tbl = "notify.xmpp.", "[notify.xmpp]"
		v.required(t+"to", x.To, tbl)
		v.required(t+"from", x.From, tbl)
		v.required(t+"xmpp_password", x.XMPPPassword, tbl)
		if x.Server != "" {
			if host, port, err := net.SplitHostPort(x.Server); err != nil || host == "" || !isPort(port, false) {
				v.fail(t+"server", "%q: want host:port, like xmpp.example.com:5222, or leave it out to use the domain of from", x.Server)
			}
		}
	}
	if m := n.Matrix; m != nil {
		const t, tbl = "notify.matrix.", "[notify.matrix]"
		v.requiredURL(t+"homeserver_url", m.HomeserverURL, tbl)
		v.required(t+"access_token", m.AccessToken, tbl)
		v.required(t+"room_id", m.RoomID, tbl)
	}
	if w := n.Webex; w != nil {
		const t, tbl = "notify.webex.", "[notify.webex]"
		v.optionalURL(t+"endpoint_url", w.EndpointURL)
		v.required(t+"token", w.Token, tbl)
		v.required(t+"room_id", w.RoomID, tbl)
	}
	if w := n.Webhook; w != nil {
		v.requiredURL("notify.webhook.hook_url", w.HookURL, "[notify.webhook]")
	}
	if c := n.Command; c != nil {
		const t, tbl = "notify.command.", "[notify.command]"
		v.required(t+"path", c.Path, tbl)
		for i, a := range c.Args {
			if _, err := template.New("").Parse(a); err != nil {
				v.fail(indexKey(t+"args", i), "%q: bad template: %v (see docs/notifications.md for the fields)", a, err)
			}
		}
		v.notNegative(t+"timeout", float64(c.Timeout))
	}
}

func (v *validator) probe(c *Config) {
	serviceAt := map[string]int{} // id -> index of first use
	for i := range c.Probe.Services {
		svc := &c.Probe.Services[i]
		path := indexKey("probe.service", i)
		if v.id(path+".id", svc.ID, "service") {
			if first, dup := serviceAt[svc.ID]; dup {
				v.fail(path+".id", "duplicate service id %q (also probe.service[%d], line %d); ids must be unique",
					svc.ID, first, v.lines.line(indexKey("probe.service", first)+".id"))
			} else {
				serviceAt[svc.ID] = i
			}
		}
		if len(svc.Nodes) == 0 {
			v.fail(path+".node", "a service needs at least one node; add a [[probe.service.node]] table after this service")
		}
		nodeAt := map[string]int{}
		for j := range svc.Nodes {
			n := &svc.Nodes[j]
			npath := indexKey(path+".node", j)
			if v.id(npath+".id", n.ID, "node") {
				if first, dup := nodeAt[n.ID]; dup {
					v.fail(npath+".id", "duplicate node id %q in service %q (also node[%d], line %d); node ids must be unique within a service",
						n.ID, svc.ID, first, v.lines.line(indexKey(path+".node", first)+".id"))
				} else {
					nodeAt[n.ID] = j
				}
			}
			v.node(npath, n, c.Plugins.RabbitMQ != nil)
		}
	}
}

func (v *validator) node(path string, n *Node, haveRabbitMQ bool) {
	switch n.Mode {
	case "poll":
		if len(n.Replicas) == 0 {
			v.fail(path+".replicas", `mode "poll" needs replicas, e.g. replicas = ["https://example.com/health"]`)
		}
		seen := map[string]int{}
		for k, r := range n.Replicas {
			key := indexKey(path+".replicas", k)
			if problem := replicaProblem(r); problem != "" {
				v.fail(key, "%q: %s", MaskPassword(r), problem)
			} else if first, dup := seen[r]; dup {
				v.fail(key, "%q: duplicate of replicas[%d]; list each replica once", MaskPassword(r), first)
			} else {
				seen[r] = k
			}
		}
	case "script":
		if len(n.Scripts) == 0 {
			v.fail(path+".scripts", `mode "script" needs scripts, e.g. scripts = ["exit 0"]`)
		}
		for k, s := range n.Scripts {
			if strings.TrimSpace(s) == "" {
				v.fail(indexKey(path+".scripts", k), "empty script; write the shell code to run")
			}
		}
	case "push", "local":
	case "":
		v.fail(path+".mode", `required: set mode = "poll", "push", "script" or "local"`)
	default:
		v.fail(path+".mode", "unknown mode %q (want poll, push, script or local)", n.Mode)
	}
	if n.Mode != "poll" && n.Mode != "" && len(n.Replicas) > 0 {
		v.fail(path+".replicas", `replicas are only for mode "poll" (this node is %q); remove them or change the mode`, n.Mode)
	}
	if n.Mode != "script" && n.Mode != "" && len(n.Scripts) > 0 {
		v.fail(path+".scripts", `scripts are only for mode "script" (this node is %q); remove them or change the mode`, n.Mode)
	}

	for _, name := range sortedNames(n.HTTPHeaders) {
		key := joinKey(path+".http_headers", name)
		if !isHeaderName(name) {
			v.fail(key, "%q is not a valid HTTP header name", name)
		}
		if strings.ContainsAny(n.HTTPHeaders[name], "\r\n") {
			v.fail(key, "header values cannot hold line breaks")
		}
	}
	method := n.HTTPMethod
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH":
	case "":
		method = "HEAD"
		if n.HTTPBodyHealthyMatch != "" {
			method = "GET"
		}
	default:
		v.fail(path+".http_method", "unknown HTTP method %q (want GET, HEAD, POST, PUT or PATCH)", n.HTTPMethod)
	}
	if n.HTTPBody != "" && (method == "GET" || method == "HEAD") {
		v.fail(path+".http_body", "a body is sent only with http_method POST, PUT or PATCH (this node uses %s); set http_method or remove http_body", method)
	}
	if n.HTTPBodyHealthyMatch != "" && method == "HEAD" {
		v.fail(path+".http_method", "HEAD responses have no body for http_body_healthy_match to match; use GET or remove http_method")
	}
	if n.HTTPBodyHealthyMatch != "" {
		if _, err := regexp2.Compile(n.HTTPBodyHealthyMatch, regexp2.None); err != nil {
			v.fail(path+".http_body_healthy_match", "%q: bad regular expression: %v", n.HTTPBodyHealthyMatch, err)
		}
	}

	if n.RabbitMQQueue != "" && !haveRabbitMQ {
		v.fail(path+".rabbitmq_queue", "needs a [plugins.rabbitmq] table to reach RabbitMQ; add one or remove rabbitmq_queue")
	}
	if n.RabbitMQQueue == "" {
		if n.RabbitMQQueueNackHealthyBelow != 0 {
			v.fail(path+".rabbitmq_queue_nack_healthy_below", "has no effect without rabbitmq_queue; set rabbitmq_queue or remove it")
		}
		if n.RabbitMQQueueNackDeadAbove != 0 {
			v.fail(path+".rabbitmq_queue_nack_dead_above", "has no effect without rabbitmq_queue; set rabbitmq_queue or remove it")
		}
	}
	v.notNegative(path+".rabbitmq_queue_nack_healthy_below", float64(n.RabbitMQQueueNackHealthyBelow))
	v.notNegative(path+".rabbitmq_queue_nack_dead_above", float64(n.RabbitMQQueueNackDeadAbove))

	v.optionalURL(path+".link_url", n.LinkURL)
	if n.LinkLabel != "" && n.LinkURL == "" {
		v.fail(path+".link_label", "a link label needs link_url; set link_url or remove link_label")
	}
}

// id checks a service or node id and reports whether it is usable.
func (v *validator) id(key, id, what string) bool {
	if id == "" {
		v.fail(key, "required: every %s needs an id (lowercase letters, digits, '-' and '_')", what)
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			v.fail(key, "%q: ids may hold only lowercase letters, digits, '-' and '_' (they appear in URLs)", id)
			return false
		}
	}
	return true
}

func (v *validator) oneOf(key, val, what string, allowed ...string) {
	if slices.Contains(allowed, val) {
		return
	}
	if val == "" {
		v.fail(key, "required: set one of %s", strings.Join(allowed, ", "))
		return
	}
	v.fail(key, "unknown %s %q (want %s)", what, val, strings.Join(allowed, ", "))
}

func (v *validator) positive(key string, n float64) {
	if n <= 0 {
		v.fail(key, "%v: must be greater than 0", n)
	}
}

func (v *validator) notNegative(key string, n float64) {
	if n < 0 {
		v.fail(key, "%v: must not be negative", n)
	}
}

func (v *validator) required(key, val, table string) {
	if val == "" {
		v.fail(key, "required in %s; set it, or remove the table", table)
	}
}

func (v *validator) requiredList(key string, vals []string, table, example string) {
	if len(vals) == 0 {
		v.fail(key, "required in %s: list at least one, e.g. %s", table, example)
	}
	for i, s := range vals {
		if s == "" {
			v.fail(indexKey(key, i), "empty entry; remove it or fill it in")
		}
	}
}

func (v *validator) requiredURL(key, val, table string) {
	if val == "" {
		v.required(key, val, table)
		return
	}
	v.optionalURL(key, val)
}

func (v *validator) optionalURL(key, val string) {
	if val == "" {
		return
	}
	if u, err := url.Parse(val); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail(key, "%q: want an absolute http:// or https:// URL, like https://example.com/", val)
	}
}

func (v *validator) colour(key, val string) {
	if val == "" {
		return
	}
	hex := strings.TrimPrefix(val, "#")
	ok := len(hex) != len(val) && (len(hex) == 3 || len(hex) == 6)
	for i := 0; ok && i < len(hex); i++ {
		c := hex[i]
		ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	if !ok {
		v.fail(key, "%q: want a colour like #1972f5 or #17f", val)
	}
}

// replicaProblem says what is wrong with a poll replica URL, or "".
func replicaProblem(raw string) string {
	const want = "(want http, https, tcp, icmp)"
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Sprintf("not a URL (%v); write http(s)://host/path, tcp://host:port or icmp://host", err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return "missing host; write like https://example.com/health"
		}
	case "tcp":
		if u.Hostname() == "" {
			return "missing host; write tcp://host:port"
		}
		if u.Port() == "" {
			return "missing port; write tcp://host:port"
		}
		if !isPort(u.Port(), false) {
			return fmt.Sprintf("bad port %q; want a number from 1 to 65535", u.Port())
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "tcp replicas take only host and port; write tcp://host:port"
		}
	case "icmp":
		if u.Hostname() == "" {
			return "missing host; write icmp://host"
		}
		if u.Port() != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "icmp replicas take only a host; write icmp://host"
		}
	case "":
		return "missing scheme " + want
	default:
		return fmt.Sprintf("unknown scheme %q %s", u.Scheme, want)
	}
	return ""
}

// isPort reports whether s is a decimal TCP port; 0 (any free port) only when zeroOK.
func isPort(s string, zeroOK bool) bool {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(s)
	return n <= 65535 && (n > 0 || zeroOK)
}

func isMailto(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "mailto" && u.Opaque != ""
}

// isHeaderName reports whether s is an HTTP token (RFC 9110).
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
