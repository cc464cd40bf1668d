package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/names"
)

// validate checks a decoded server config. It first completes what the
// decoder left to the kinds: the node tables the file does not mention, and
// the channels in the kinds' order.
func validate(c *Check, kinds *Kinds, cfg *Config) {
	completeKinds(kinds, cfg.Probe.Services, &cfg.Notify)
	checkServer(c.sub("server", ""), &cfg.Server)
	checkTokenScopes(c, &cfg.Server, cfg.Probe.Services)
	checkBranding(c.sub("branding", ""), &cfg.Branding)
	checkMetrics(c.sub("metrics", ""), &cfg.Metrics)
	checkPlugins(c, cfg.Plugins)
	checkNotify(c.sub("notify", ""), &cfg.Notify)
	checkProbe(c, kinds, cfg.Probe.Services, false)
	if cfg.Dynamic != nil {
		completeNode(kinds, &cfg.Dynamic.Node)
		checkDynamic(c.sub("dynamic", "[dynamic]"), kinds, cfg.Dynamic, cfg.Probe.Services)
	}
	checkAlerts(c, cfg)
	checkStorage(c.sub("storage", ""), &cfg.Storage)
	c.sub("incidents", "").NotNegative("publish_after", float64(cfg.Incidents.PublishAfter))
	for i := range cfg.Maintenance {
		checkMaintenance(c.sub(indexKey("maintenance", i), "[[maintenance]]"), &cfg.Maintenance[i], cfg.Probe.Services)
	}
}

// Weekdays are the days a weekly window may name.
var Weekdays = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

func checkMaintenance(c *Check, m *Maintenance, services []Service) {
	c.Required("title", m.Title)
	if len(m.Affected) == 0 {
		c.Fail("affected", `required: the services and nodes it affects, e.g. affected = ["db", "web:api"]`)
	}
	for i, a := range m.Affected {
		if !KnownComponent(services, a) {
			c.Fail(indexKey("affected", i), "%q: no such service or node; write \"service\" or \"service:node\" with ids from [[probe.service]]", a)
		}
	}
	once := !m.Start.IsZero() || !m.End.IsZero()
	again := m.Every != ""
	switch {
	case once && again:
		c.Fail("every", "a window is either once (start and end) or again and again (every, at, duration), not both")
	case once:
		if m.Start.IsZero() {
			c.Fail("start", "required with end: when the window begins, e.g. start = 2026-12-05T22:00:00Z")
		}
		if m.End.IsZero() {
			c.Fail("end", "required with start: when the window ends, e.g. end = 2026-12-05T23:00:00Z")
		}
		if !m.Start.IsZero() && !m.End.IsZero() && !m.End.After(m.Start) {
			c.Fail("end", "%s is not after start (%s)", m.End.Format(time.RFC3339), m.Start.Format(time.RFC3339))
		}
	case again:
		c.OneOf("every", m.Every, "repetition", "daily", "weekly")
		if m.Every == "weekly" {
			c.OneOf("day", strings.ToLower(m.Day), "day", Weekdays...)
		} else if m.Day != "" {
			c.Fail("day", `only weekly windows have a day; remove it or set every = "weekly"`)
		}
		if _, _, ok := ClockTime(m.At); !ok {
			c.Fail("at", "%q: want the time of day the window begins, like \"22:00\"", m.At)
		}
		period := 24 * time.Hour
		if m.Every == "weekly" {
			period *= 7
		}
		if m.Duration <= 0 || time.Duration(m.Duration) >= period {
			c.Fail("duration", "%s: want how long each window lasts, more than 0 and less than its period, e.g. duration = \"1h\"", m.Duration)
		}
		if m.Timezone != "" {
			if _, err := time.LoadLocation(m.Timezone); err != nil {
				c.Fail("timezone", "%q: unknown time zone; use a name like \"Europe/Stockholm\" or \"UTC\"", m.Timezone)
			}
		}
	default:
		c.Fail("start", "required: start and end, or every, at and duration for a window that repeats")
	}
}

// KnownComponent reports whether name is "service" or "service:node" of
// the probe tree.
func KnownComponent(services []Service, name string) bool {
	svc, node, hasNode := strings.Cut(name, ":")
	for _, s := range services {
		if s.ID != svc {
			continue
		}
		if !hasNode {
			return true
		}
		for _, n := range s.Nodes {
			if n.ID == node {
				return true
			}
		}
	}
	return false
}

// ClockTime reads "HH:MM".
func ClockTime(s string) (hour, minute int, ok bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, false
	}
	return t.Hour(), t.Minute(), true
}

func checkStorage(c *Check, s *Storage) {
	c.OneOf("driver", s.Driver, "storage driver", "sqlite", "memory")
	if s.Driver == "sqlite" && s.Path == "" {
		c.Fail("path", `required with driver "sqlite": the database file, e.g. "/var/lib/overvakt/overvakt.db"`)
	}
	if s.RawRetention < Duration(time.Hour) {
		c.Fail("raw_retention", "%s: keep results for at least 1h (the default is 48h; the page's response times show the last 24h)", s.RawRetention)
	}
	if s.RollupRetention < Duration(24*time.Hour) {
		c.Fail("rollup_retention", "%s: keep rollups for at least 1d (the default is 400d; the page's bars show 90 days)", s.RollupRetention)
	}
}

// completeKinds gives every node a table of each probe kind with node
// keys, and sorts the channels into the kinds' order.
// completeNode gives a node the tables of the kinds the file is silent on.
func completeNode(kinds *Kinds, node *Node) {
	for _, pk := range kinds.Probes {
		if pk.Node == nil || node.Tables[pk.Name] != nil {
			continue
		}
		if node.Tables == nil {
			node.Tables = map[string]NodeTable{}
		}
		node.Tables[pk.Name] = pk.Node()
	}
}

func completeKinds(kinds *Kinds, services []Service, n *Notify) {
	for i := range services {
		for j := range services[i].Nodes {
			completeNode(kinds, &services[i].Nodes[j])
		}
	}
	if n == nil {
		return
	}
	order := func(name string) int {
		return slices.IndexFunc(kinds.Channels, func(ck ChannelKind) bool { return ck.Name == name })
	}
	slices.SortStableFunc(n.Channels, func(a, b Channel) int { return order(a.Name) - order(b.Name) })
}

func checkServer(c *Check, s *Server) {
	c.OneOf("log_level", s.LogLevel, "log level", "debug", "info", "warn", "error")
	if host, port, err := net.SplitHostPort(s.Inet); err != nil || !IsPort(port, true) || strings.ContainsAny(host, "[]") {
		c.Fail("inet", "%q: want host:port, like [::1]:8080 or 127.0.0.1:8080 (a numeric port)", s.Inet)
	}
	c.Positive("workers", float64(s.Workers))
	c.NotNegative("max_connections", float64(s.MaxConnections))
	c.NotNegative("max_connections_per_ip", float64(s.MaxConnectionsPerIP))
	c.Positive("live_max_connections", float64(s.LiveMaxConnections))
	c.NotNegative("live_max_connections_per_ip", float64(s.LiveMaxConnectionsPerIP))
	tokens := []struct{ name, val string }{{"manager_token", s.ManagerToken}, {"reporter_token", s.ReporterToken}}
	for _, t := range tokens {
		if t.val == "" {
			c.Fail(t.name, "required: set a long random secret, e.g. %s = \"${OVERVAKT_%s}\" to read it from the environment",
				t.name, strings.ToUpper(t.name))
			continue
		}
		checkTokenLength(c, t.name, t.val)
	}
	if s.ManagerToken != "" && s.ManagerToken == s.ReporterToken {
		c.Fail("reporter_token", "the same as manager_token: use two different secrets, so that an agent's token cannot change the page")
	}
	if t := s.MetricsToken; t != "" {
		checkTokenLength(c, "metrics_token", t)
		if t == s.ManagerToken || t == s.ReporterToken {
			c.Fail("metrics_token", "the same as another token: use its own secret, since Prometheus keeps it in its config")
		}
	}
	for i, p := range s.TrustedProxies {
		if _, ok := ParsePrefix(p); !ok {
			c.Fail(indexKey("trusted_proxies", i), "%q: want an IP address or a CIDR prefix, like \"127.0.0.1\", \"::1\" or \"10.0.0.0/8\"", p)
		}
	}
}

// checkTokenLength refuses a token too short to resist guessing. The
// message never quotes the token.
func checkTokenLength(c *Check, key, token string) {
	if n := utf8.RuneCountInString(token); n < MinTokenLength {
		c.Fail(key, "%d characters is too short to resist guessing: use at least %d random ones, e.g. from `openssl rand -hex 24`",
			n, MinTokenLength)
	}
}

// checkTokenScopes checks [[server.reporter_token_scopes]]: every token
// long, distinct from the others and allowed somewhere that exists.
func checkTokenScopes(c *Check, s *Server, services []Service) {
	seen := map[string]string{s.ManagerToken: "manager_token", s.ReporterToken: "reporter_token"}
	if s.MetricsToken != "" {
		seen[s.MetricsToken] = "metrics_token"
	}
	for i := range s.ReporterTokenScopes {
		key := indexKey("server.reporter_token_scopes", i)
		sc := c.sub(key, "[[server.reporter_token_scopes]]")
		scope := &s.ReporterTokenScopes[i]
		switch {
		case scope.Token == "":
			sc.Fail("token", "required: the agent's secret, e.g. token = \"${OVERVAKT_HOSTS_TOKEN}\"")
		case seen[scope.Token] != "":
			sc.Fail("token", "the same as %s: every token must be its own secret", seen[scope.Token])
		default:
			checkTokenLength(sc, "token", scope.Token)
			seen[scope.Token] = key + ".token"
		}
		if len(scope.Allow) == 0 {
			sc.Fail("allow", `required: the services and nodes this token may report to, e.g. allow = ["agents", "web:hosts"]`)
		}
		for j, a := range scope.Allow {
			if !KnownComponent(services, a) {
				sc.Fail(indexKey("allow", j), "%q: no such service or node; write \"service\" or \"service:node\" with ids from [[probe.service]]", a)
			}
		}
	}
}

// ParsePrefix reads an IP address ("::1") or CIDR prefix ("10.0.0.0/8").
func ParsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func checkBranding(c *Check, b *Branding) {
	c.URL("page_url", b.PageURL)
	c.URL("icon_url", b.IconURL)
	c.URL("logo_url", b.LogoURL)
	c.URL("website_url", b.WebsiteURL)
	if b.SupportURL != "" && !isMailto(b.SupportURL) {
		c.URL("support_url", b.SupportURL)
	}
	checkColour(c, "icon_color", b.IconColor)
	checkColour(c, "logo_color", b.LogoColor)
}

func checkMetrics(c *Check, m *Metrics) {
	c.Interval("poll_interval", m.PollInterval)
	c.NotNegative("poll_retry", float64(m.PollRetry))
	checkPollRules(c, m)
	c.Positive("poll_parallelism", float64(m.PollParallelism))
	checkAttempts(c, "poll_attempts", m.PollAttempts)
	c.NotNegative("push_delay_dead", float64(m.PushDelayDead))
	c.NotNegative("push_system_cpu_sick_above", m.PushSystemCPUSickAbove)
	if m.PushSystemRAMSickAbove < 0 || m.PushSystemRAMSickAbove > 1 {
		c.Fail("push_system_ram_sick_above", "%v: want a fraction between 0 and 1 (0.9 means 90%% of RAM used)",
			m.PushSystemRAMSickAbove)
	}
	c.Interval("script_interval", m.ScriptInterval)
	c.Positive("script_parallelism", float64(m.ScriptParallelism))
	c.NotNegative("local_delay_dead", float64(m.LocalDelayDead))
}

// checkPollRules checks the [metrics] keys that judge a poll result; the
// agent's file has them too.
func checkPollRules(c *Check, m *Metrics) {
	if m.PollHTTPStatusHealthyAbove >= m.PollHTTPStatusHealthyBelow {
		c.Fail("poll_http_status_healthy_above",
			"%d must be lower than poll_http_status_healthy_below (%d), or no status code counts as healthy",
			m.PollHTTPStatusHealthyAbove, m.PollHTTPStatusHealthyBelow)
	}
	c.Positive("poll_delay_dead", float64(m.PollDelayDead))
	c.Positive("poll_delay_sick", float64(m.PollDelaySick))
	if m.PollDelaySick > 0 && m.PollDelaySick >= m.PollDelayDead {
		c.Fail("poll_delay_sick",
			"%v must be lower than poll_delay_dead (%v): a probe slower than poll_delay_dead has already timed out",
			float64(m.PollDelaySick), float64(m.PollDelayDead))
	}
}

// maxAttempts bounds poll_attempts: each attempt may take poll_delay_dead,
// and a poll holds a worker through all of them.
const maxAttempts = 9

// checkAttempts checks a poll_attempts value.
func checkAttempts(c *Check, key string, n int) {
	if n < 1 || n > maxAttempts {
		c.Fail(key, "%d: want 1 to %d attempts per poll (an odd number leaves no ties: 1, 3 or 5)", n, maxAttempts)
	}
}

// checkPlugins lets each [plugins.<name>] table check itself.
func checkPlugins(c *Check, p Plugins) {
	for _, name := range slices.Sorted(maps.Keys(p)) {
		p[name].Check(c.sub(joinKey("plugins", name), "[plugins."+name+"]"))
	}
}

func checkNotify(c *Check, n *Notify) {
	if n.ReminderInterval != 0 {
		c.Interval("reminder_interval", n.ReminderInterval) // 0: no reminders
	}
	c.OneOf("reminder_backoff_function", n.ReminderBackoffFunction, "backoff function",
		"none", "linear", "square", "cubic")
	c.Positive("reminder_backoff_limit", float64(n.ReminderBackoffLimit))
	if n.AlertAfter < 1 {
		c.Fail("alert_after", "%d: must be at least 1 (1 sends a change to dead on the first dead observation)", n.AlertAfter)
	}
	for _, ch := range n.Channels {
		ch.Table.Check(c.sub(joinKey("", ch.Name), "[notify."+ch.Name+"]"))
	}
}

// nodeModes are the modes of a server node; an agent's nodes use agentModes.
var (
	serverModes = []string{"poll", "push", "script", "local"}
	agentModes  = []string{"poll", "script"}
)

// serverNodeKeys are the keys of a node that say how the page shows it,
// which only the server's file may set.
var serverNodeKeys = []string{"label", "reveal_replica_name", "link_url", "link_label",
	"notify", "alert_after", "reminder_interval", "reminder_backoff_function", "reminder_backoff_limit", "depends_on"}

// checkProbe checks the [[probe.service]] tree: ids, modes, replicas and
// scripts, and each probe kind's node keys. An agent's file (agent true)
// allows only the modes it can probe itself.
func checkProbe(c *Check, kinds *Kinds, services []Service, agent bool) {
	modes := serverModes
	if agent {
		modes = agentModes
	}
	serviceAt := map[string]int{} // id -> index of first use
	for i := range services {
		svc := &services[i]
		sc := c.sub(indexKey("probe.service", i), "[[probe.service]]")
		if checkID(sc, svc.ID, "service") {
			if first, dup := serviceAt[svc.ID]; dup {
				sc.Fail("id", "duplicate service id %q (also probe.service[%d], line %d); ids must be unique",
					svc.ID, first, c.Line(indexKey("probe.service", first)+".id"))
			} else {
				serviceAt[svc.ID] = i
			}
		}
		checkLabel(sc, svc.Label)
		if agent && sc.Has("label") {
			sc.Fail("label", "unknown key in an agent's file: the page shows the service as the server's file describes it; set it there")
		}
		if agent && sc.Has("notify") {
			sc.Fail("notify", "unknown key in an agent's file: the server's file says who hears of the service; set it there")
		}
		if len(svc.Nodes) == 0 {
			sc.Fail("node", "a service needs at least one node; add a [[probe.service.node]] table after this service")
		}
		nodeAt := map[string]int{}
		for j := range svc.Nodes {
			n := &svc.Nodes[j]
			nc := sc.sub(indexKey("node", j), "[[probe.service.node]]")
			if checkID(nc, n.ID, "node") {
				if first, dup := nodeAt[n.ID]; dup {
					nc.Fail("id", "duplicate node id %q in service %q (also node[%d], line %d); node ids must be unique within a service",
						n.ID, svc.ID, first, sc.Line(indexKey("node", first)+".id"))
				} else {
					nodeAt[n.ID] = j
				}
			}
			checkLabel(nc, n.Label)
			checkNode(nc, kinds, n, modes)
			if agent {
				for _, key := range serverNodeKeys {
					if nc.Has(key) {
						nc.Fail(key, "unknown key in an agent's file: the page shows the node as the server's file describes it; set it there")
					}
				}
			}
		}
	}
}

func checkNode(c *Check, kinds *Kinds, n *Node, modes []string) {
	switch {
	case n.Mode == "":
		c.Fail("mode", "required: set mode = %s", quotedOr(modes))
	case !slices.Contains(modes, n.Mode):
		c.Fail("mode", "unknown mode %q (want %s)", n.Mode, strings.Join(orList(modes), " "))
	case n.Mode == "poll":
		if len(n.Replicas) == 0 {
			c.Fail("replicas", `mode "poll" needs replicas, e.g. replicas = ["https://example.com/health"]`)
		}
		seen := map[string]int{}
		for k, r := range n.Replicas {
			key := indexKey("replicas", k)
			// Replicas are known by their URL without the password (the
			// page, the history, the metrics): two that differ only there
			// would be one.
			masked := MaskPassword(r)
			first, dup := seen[masked]
			switch problem := replicaProblem(kinds, r); {
			case problem != "":
				c.Fail(key, "%q: %s", masked, problem)
			case dup && n.Replicas[first] != r:
				c.Fail(key, "%q: the same as replicas[%d] but for the password, which is hidden wherever a replica is named; list each replica once", masked, first)
			case dup:
				c.Fail(key, "%q: duplicate of replicas[%d]; list each replica once", masked, first)
			default:
				seen[masked] = k
			}
		}
	case n.Mode == "script":
		if len(n.Scripts) == 0 {
			c.Fail("scripts", `mode "script" needs scripts, e.g. scripts = ["exit 0"]`)
		}
		for k, s := range n.Scripts {
			if strings.TrimSpace(s) == "" {
				c.Fail(indexKey("scripts", k), "empty script; write the shell code to run")
			}
		}
	}
	if n.Mode != "poll" && n.Mode != "" && len(n.Replicas) > 0 {
		c.Fail("replicas", `replicas are only for mode "poll" (this node is %q); remove them or change the mode`, n.Mode)
	}
	if n.Mode != "script" && n.Mode != "" && len(n.Scripts) > 0 {
		c.Fail("scripts", `scripts are only for mode "script" (this node is %q); remove them or change the mode`, n.Mode)
	}
	checkNodeSchedule(c, n)
	for _, pk := range kinds.Probes {
		if t := n.Tables[pk.Name]; t != nil {
			t.CheckNode(c, n)
		}
	}
	c.URL("link_url", n.LinkURL)
	if n.LinkLabel != "" && n.LinkURL == "" {
		c.Fail("link_label", "a link label needs link_url; set link_url or remove link_label")
	}
}

// checkNodeSchedule checks a node's own poll_interval, script_interval and
// poll_attempts: set, they must be usable and fit the node's mode.
func checkNodeSchedule(c *Check, n *Node) {
	for _, k := range []struct {
		key, mode string
		set       bool
	}{
		{"poll_interval", "poll", c.Has("poll_interval")},
		{"poll_attempts", "poll", c.Has("poll_attempts")},
		{"script_interval", "script", c.Has("script_interval")},
	} {
		if k.set && n.Mode != k.mode && n.Mode != "" {
			c.Fail(k.key, `%s is only for mode %q nodes (this node is %q); remove it`, k.key, k.mode, n.Mode)
		}
	}
	if c.Has("poll_interval") {
		c.Interval("poll_interval", n.PollInterval)
	}
	if c.Has("script_interval") {
		c.Interval("script_interval", n.ScriptInterval)
	}
	if c.Has("poll_attempts") {
		checkAttempts(c, "poll_attempts", n.PollAttempts)
	}
}

// quotedOr writes modes as `"poll", "push", "script" or "local"`.
func quotedOr(modes []string) string {
	q := make([]string, len(modes))
	for i, m := range modes {
		q[i] = strconv.Quote(m)
	}
	return strings.Join(orList(q), " ")
}

// orList puts commas and a final "or" between words: [a, b, c] → "a," "b" "or c".
func orList(words []string) []string {
	out := slices.Clone(words)
	for i := range out {
		switch {
		case i == len(out)-1 && i > 0:
			out[i] = "or " + out[i]
		case i < len(out)-2:
			out[i] += ","
		}
	}
	return out
}

// checkID checks a service or node id and reports whether it is usable.
func checkID(c *Check, id, what string) bool { return checkIDAt(c, "id", id, what) }

// checkIDAt checks an id written at key.
func checkIDAt(c *Check, key, id, what string) bool {
	if id == "" {
		c.Fail(key, "required: every %s needs an id (lowercase letters, digits, '-' and '_')", what)
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			c.Fail(key, "%q: ids may hold only lowercase letters, digits, '-' and '_' (they appear in URLs)", id)
			return false
		}
	}
	return true
}

// checkLabel refuses a label with characters that hide or reorder text,
// as the page shows it to everyone.
func checkLabel(c *Check, label string) {
	if problem := names.Problem(label); problem != "" {
		c.Fail("label", "%q: %s; write the name as plain text", label, problem)
	}
}

func checkColour(c *Check, key, val string) {
	if val == "" {
		return
	}
	hex := strings.TrimPrefix(val, "#")
	ok := len(hex) != len(val) && (len(hex) == 3 || len(hex) == 6)
	for i := 0; ok && i < len(hex); i++ {
		ch := hex[i]
		ok = ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F'
	}
	if !ok {
		c.Fail(key, "%q: want a colour like #1972f5 or #17f", val)
	}
}

// replicaProblem says what is wrong with a poll replica URL, or "": its
// scheme must belong to a probe kind, which then checks the rest.
func replicaProblem(kinds *Kinds, raw string) string {
	want := "(want " + strings.Join(kinds.schemes(), ", ") + ")"
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Sprintf("not a URL (%v); write it as scheme://host… %s", err, want)
	}
	if u.Scheme == "" {
		return "missing scheme " + want
	}
	pk := kinds.ByScheme(u.Scheme)
	if pk == nil {
		return fmt.Sprintf("unknown scheme %q %s", u.Scheme, want)
	}
	if pk.CheckURL != nil {
		return pk.CheckURL(u)
	}
	if u.Host == "" {
		return "missing host; write " + u.Scheme + "://host…"
	}
	return ""
}

func isMailto(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "mailto" && u.Opaque != ""
}

// checkAlerts checks the alert rules of services and nodes (and of the
// dynamic targets): channel names that exist, overrides in range, and
// parents that exist without a loop.
func checkAlerts(c *Check, cfg *Config) {
	channels := make([]string, len(cfg.Notify.Channels))
	for i, ch := range cfg.Notify.Channels {
		channels[i] = ch.Name
	}
	parents := map[string][]string{} // "service:node" -> its depends_on
	for i := range cfg.Probe.Services {
		svc := &cfg.Probe.Services[i]
		sc := c.sub(indexKey("probe.service", i), "[[probe.service]]")
		checkRoute(sc, svc.Notify, channels)
		for j := range svc.Nodes {
			n := &svc.Nodes[j]
			nc := sc.sub(indexKey("node", j), "[[probe.service.node]]")
			self := svc.ID + ":" + n.ID
			parents[self] = checkNodeAlerts(nc, &n.NodeAlerts, self, cfg.Probe.Services, channels)
		}
	}
	if d := cfg.Dynamic; d != nil {
		checkNodeAlerts(c.sub("dynamic", "[dynamic]"), &d.NodeAlerts, "", cfg.Probe.Services, channels)
	}
	// A cycle would hold the alerts of every node in it for good.
	for i := range cfg.Probe.Services {
		svc := &cfg.Probe.Services[i]
		for j := range svc.Nodes {
			self := svc.ID + ":" + svc.Nodes[j].ID
			if loop := dependencyLoop(parents, self); loop != nil {
				c.sub(indexKey("probe.service", i), "").sub(indexKey("node", j), "[[probe.service.node]]").
					Fail("depends_on", "a loop: %s; one of them must not depend on the other", strings.Join(loop, " → "))
			}
		}
	}
}

// checkRoute checks a notify list: every name is a configured channel.
func checkRoute(c *Check, names, channels []string) {
	for k, name := range names {
		if !slices.Contains(channels, name) {
			known := "none is configured"
			if len(channels) > 0 {
				known = "configured: " + strings.Join(channels, ", ")
			}
			c.Fail(indexKey("notify", k), "%q: no [notify.%s] table (%s)", name, name, known)
		}
	}
}

// checkNodeAlerts checks a node's own alert rules and returns its parents
// that exist; self is "service:node" ("" for the dynamic targets' rules).
func checkNodeAlerts(c *Check, a *NodeAlerts, self string, services []Service, channels []string) []string {
	checkRoute(c, a.Notify, channels)
	if c.Has("alert_after") && a.AlertAfter < 1 {
		c.Fail("alert_after", "%d: must be at least 1", a.AlertAfter)
	}
	if a.ReminderInterval != nil && *a.ReminderInterval != 0 { // 0: no reminders
		c.Interval("reminder_interval", *a.ReminderInterval)
	}
	if a.ReminderBackoffFunction != "" {
		c.OneOf("reminder_backoff_function", a.ReminderBackoffFunction, "backoff function",
			"none", "linear", "square", "cubic")
	}
	if c.Has("reminder_backoff_limit") {
		c.Positive("reminder_backoff_limit", float64(a.ReminderBackoffLimit))
	}
	var parents []string
	for k, p := range a.DependsOn {
		key := indexKey("depends_on", k)
		switch {
		case !strings.Contains(p, ":") || !KnownComponent(services, p):
			c.Fail(key, "%q: no such node; write \"service:node\" with ids from [[probe.service]]", p)
		case p == self:
			c.Fail(key, "%q: a node cannot depend on itself", p)
		default:
			parents = append(parents, p)
		}
	}
	return parents
}

// checkDynamic checks [dynamic]: a service id of its own, an interval and
// a cap in range, and the targets' template as a poll node.
func checkDynamic(c *Check, kinds *Kinds, d *Dynamic, services []Service) {
	if checkIDAt(c, "service_id", d.ServiceID, "dynamic service") {
		for i, s := range services {
			if s.ID == d.ServiceID {
				c.Fail("service_id", "%q is also probe.service[%d]; the dynamic targets need a service of their own", d.ServiceID, i)
			}
		}
	}
	if d.Interval != 0 { // 0: [metrics] poll_interval
		c.Interval("interval", d.Interval)
	}
	c.Positive("max_targets", float64(d.MaxTargets))
	n := &d.Node
	n.Mode = "poll"
	for _, pk := range kinds.Probes {
		if t := n.Tables[pk.Name]; t != nil {
			t.CheckNode(c, n)
		}
	}
}

// dependencyLoop returns the path from start back to itself through
// depends_on, or nil when there is none.
func dependencyLoop(parents map[string][]string, start string) []string {
	var path []string
	seen := map[string]bool{}
	var walk func(at string) bool
	walk = func(at string) bool {
		path = append(path, at)
		for _, p := range parents[at] {
			if p == start {
				path = append(path, p)
				return true
			}
			if !seen[p] {
				seen[p] = true
				if walk(p) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if walk(start) {
		return path
	}
	return nil
}
