package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/names"
)

// tokens is a valid config on its own (lines 1-3); cases add from line 4.
const tokens = "[server]\nmanager_token = \"manager-token-0123456789\"\nreporter_token = \"reporter-token-0123456789\"\n"

// pollNode is a valid poll service (lines 4-9) to vary.
const pollNode = tokens + `[[probe.service]]
id = "web"
[[probe.service.node]]
id = "core"
mode = "poll"
replicas = ["https://example.com/"]
`

func noEnv(string) (string, bool) { return "", false }

// parseErrs parses text and returns its problems, failing on other errors.
func parseErrs(t *testing.T, text string) config.Errors {
	t.Helper()
	_, err := parse("overvakt.toml", []byte(text), noEnv)
	if err == nil {
		return nil
	}
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want config.Errors: %v", err, err)
	}
	return errs
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		key  string
		msg  string // must be contained in the message
	}{
		{"unknown key", tokens + "wokers = 3\n",
			4, "server.wokers", `unknown key; did you mean "workers"?`},
		{"unknown table", tokens + "[sever]\n",
			4, "sever", `unknown key; did you mean "server"?`},
		{"unknown key without a close match", tokens + "[branding]\ncolour_scheme = 1\n",
			5, "branding.colour_scheme", "unknown key; remove it or use one of: company_name, custom_html, icon_color"},
		{"unknown key in a node", pollNode + "replica = \"x\"\n",
			10, "probe.service[0].node[0].replica", `did you mean "replicas"?`},
		{"wrong type", tokens + "workers = \"four\"\n",
			4, "server.workers", `want an integer, got string "four"`},
		{"wrong type in an array", pollNode + "[[probe.service.node]]\nid = \"s\"\nmode = \"script\"\nscripts = [\"exit 0\", 1]\n",
			13, "probe.service[0].node[1].scripts[1]", "want a string, got integer 1"},
		{"a string where an array belongs is reported once", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = \"tcp://[::1]:1\"\n",
			13, "probe.service[0].node[1].replicas", `want an array, got string "tcp://[::1]:1"`},
		{"wrong type in a map", pollNode + "http_headers = { X-Token = 1 }\n",
			10, "probe.service[0].node[0].http_headers.X-Token", "want a string, got integer 1"},
		{"a word where a boolean belongs", tokens + "mcp_server = \"yes\"\n",
			4, "server.mcp_server", `want true or false, got string "yes"`},
		{"wrong type for a table", "branding = 1\n" + tokens,
			1, "branding", "want a table, got integer 1"},
		{"seconds as a string", tokens + "[metrics]\npoll_interval = \"2m\"\n",
			5, "metrics.poll_interval", `want a number of seconds (like 10 or 0.5), got string "2m"`},
		{"duplicate service id", pollNode + "[[probe.service]]\nid = \"web\"\n[[probe.service.node]]\nid = \"n\"\nmode = \"push\"\n",
			11, "probe.service[1].id", `duplicate service id "web" (also probe.service[0], line 5)`},
		{"duplicate node id", pollNode + "[[probe.service.node]]\nid = \"core\"\nmode = \"push\"\n",
			11, "probe.service[0].node[1].id", `duplicate node id "core" in service "web" (also node[0], line 7)`},
		{"same node id in two services is fine, bad service id is not",
			pollNode + "[[probe.service]]\nid = \"Api\"\n[[probe.service.node]]\nid = \"core\"\nmode = \"push\"\n",
			11, "probe.service[1].id", `"Api": ids may hold only lowercase letters, digits, '-' and '_' (they appear in URLs)`},
		{"missing service id points at its header", tokens + "[[probe.service]]\nlabel = \"Web\"\n[[probe.service.node]]\nid = \"n\"\nmode = \"push\"\n",
			4, "probe.service[0].id", "required: every service needs an id"},
		{"service without nodes", tokens + "[[probe.service]]\nid = \"web\"\n",
			4, "probe.service[0].node", "a service needs at least one node"},
		{"unknown replica scheme", tokens + `[[probe.service]]
id = "web"
[[probe.service.node]]
id = "core"
mode = "poll"
replicas = [
  "https://example.com/",
  "tcp://[::1]:80",
  "htp://x",
]
`, 12, "probe.service[0].node[0].replicas[2]", `"htp://x": unknown scheme "htp" (want http, https, tcp, icmp, dns)`},
		{"replica without scheme", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"example.com\"]\n",
			13, "probe.service[0].node[1].replicas[0]", `"example.com": missing scheme (want http, https, tcp, icmp, dns)`},
		{"replica that is no URL", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"http://[::1\"]\n",
			13, "probe.service[0].node[1].replicas[0]", `"http://[::1": not a URL`},
		{"tcp replica without port", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"tcp://127.0.0.1\"]\n",
			13, "probe.service[0].node[1].replicas[0]", `"tcp://127.0.0.1": missing port; write tcp://host:port`},
		{"tcp replica with bad port", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"tcp://127.0.0.1:99999\"]\n",
			13, "probe.service[0].node[1].replicas[0]", `bad port "99999"`},
		{"icmp replica with port", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"icmp://127.0.0.1:80\"]\n",
			13, "probe.service[0].node[1].replicas[0]", "icmp replicas take only a host"},
		{"dns replica without a name", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"dns://127.0.0.1:53\"]\n",
			13, "probe.service[0].node[1].replicas[0]", `"dns://127.0.0.1:53": missing name to look up; write dns://resolver[:port]/name?type=A`},
		{"dns replica of an unknown type", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"dns://[::1]/example.com?type=SRV\"]\n",
			13, "probe.service[0].node[1].replicas[0]", `unknown record type "SRV" (want A, AAAA, CNAME, MX, TXT or NS)`},
		{"dns_expect that no answer could be", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"dns://[::1]/example.com?type=AAAA\"]\ndns_expect = \"192.0.2.1\"\n",
			14, "probe.service[0].node[1].dns_expect", `"192.0.2.1": not an IPv6 address, which replicas[0] (type AAAA) answers`},
		{"http replica without host", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"http:///health\"]\n",
			13, "probe.service[0].node[1].replicas[0]", "missing host"},
		{"duplicate replica", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"tcp://[::1]:80\", \"tcp://[::1]:80\"]\n",
			13, "probe.service[0].node[1].replicas[1]", "duplicate of replicas[0]"},
		{"replicas that differ only in the password", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"https://u:one@example.com/\", \"https://u:two@example.com/\"]\n",
			13, "probe.service[0].node[1].replicas[1]", "the same as replicas[0] but for the password"},
		{"replicas on a push node", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"push\"\nreplicas = [\"tcp://[::1]:80\"]\n",
			13, "probe.service[0].node[1].replicas", `replicas are only for mode "poll" (this node is "push")`},
		{"scripts on a poll node", pollNode + "scripts = [\"exit 0\"]\n",
			10, "probe.service[0].node[0].scripts", `scripts are only for mode "script" (this node is "poll")`},
		{"poll node without replicas points at its header", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\n",
			10, "probe.service[0].node[1].replicas", `mode "poll" needs replicas`},
		{"script node without scripts", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"script\"\n",
			10, "probe.service[0].node[1].scripts", `mode "script" needs scripts`},
		{"empty script", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"script\"\nscripts = [\"  \"]\n",
			13, "probe.service[0].node[1].scripts[0]", "empty script"},
		{"unknown mode", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"pull\"\n",
			12, "probe.service[0].node[1].mode", `unknown mode "pull" (want poll, push, script or local)`},
		{"missing mode", pollNode + "[[probe.service.node]]\nid = \"b\"\n",
			10, "probe.service[0].node[1].mode", `required: set mode = "poll", "push", "script" or "local"`},
		{"bad regex", pollNode + "http_body_healthy_match = \"(ok\"\n",
			10, "probe.service[0].node[0].http_body_healthy_match", `"(ok": bad regular expression`},
		{"unknown http method", pollNode + "http_method = \"FETCH\"\n",
			10, "probe.service[0].node[0].http_method", `unknown HTTP method "FETCH" (want GET, HEAD, POST, PUT or PATCH)`},
		{"body on GET", pollNode + "http_method = \"GET\"\nhttp_body = \"{}\"\n",
			11, "probe.service[0].node[0].http_body", "a body is sent only with http_method POST, PUT or PATCH (this node uses GET)"},
		{"body with the default method", pollNode + "http_body = \"{}\"\n",
			10, "probe.service[0].node[0].http_body", "(this node uses HEAD)"},
		{"body match on HEAD", pollNode + "http_method = \"HEAD\"\nhttp_body_healthy_match = \"ok\"\n",
			10, "probe.service[0].node[0].http_method", "HEAD responses have no body"},
		{"bad header name", pollNode + "http_headers = { \"X Token\" = \"1\" }\n",
			10, `probe.service[0].node[0].http_headers."X Token"`, `"X Token" is not a valid HTTP header name`},
		{"tls_expiry_dead_days above tls_expiry_sick_days", pollNode + "tls_expiry_dead_days = 30\n",
			10, "probe.service[0].node[0].tls_expiry_dead_days", "30 must not be above tls_expiry_sick_days (14)"},
		{"negative tls_expiry_sick_days", pollNode + "tls_expiry_sick_days = -1\n",
			10, "probe.service[0].node[0].tls_expiry_sick_days", "-1: must not be negative"},
		{"negative tls_expiry_dead_days", pollNode + "tls_expiry_dead_days = -1\n",
			10, "probe.service[0].node[0].tls_expiry_dead_days", "-1: must not be negative"},
		{"rabbitmq_queue without the plugin", pollNode + "rabbitmq_queue = \"jobs\"\n",
			10, "probe.service[0].node[0].rabbitmq_queue", "needs a [plugins.rabbitmq] table"},
		{"link label without link", pollNode + "link_label = \"Docs\"\n",
			10, "probe.service[0].node[0].link_label", "a link label needs link_url"},
		{"bad link url", pollNode + "link_url = \"/docs\"\n",
			10, "probe.service[0].node[0].link_url", `"/docs": want an absolute http:// or https:// URL`},
		{"poll_delay_sick not below poll_delay_dead", tokens + "[metrics]\npoll_delay_dead = 5\npoll_delay_sick = 5\n",
			6, "metrics.poll_delay_sick", "5 must be lower than poll_delay_dead (5)"},
		{"missing manager token points at [server]", "\n[server]\nreporter_token = \"reporter-token-0123456789\"\n",
			2, "server.manager_token", `required: set a long random secret, e.g. manager_token = "${OVERVAKT_MANAGER_TOKEN}"`},
		{"missing reporter token", "[server]\nmanager_token = \"manager-token-0123456789\"\n",
			1, "server.reporter_token", "required: set a long random secret"},
		{"short manager token", "[server]\nmanager_token = \"m\"\nreporter_token = \"reporter-token-0123456789\"\n",
			2, "server.manager_token", "1 characters is too short to resist guessing: use at least 16"},
		{"reporter token of 15 characters", "[server]\nmanager_token = \"manager-token-0123456789\"\nreporter_token = \"0123456789abcdé\"\n",
			3, "server.reporter_token", "15 characters is too short"},
		{"the same token twice", "[server]\nmanager_token = \"one-token-for-everything\"\nreporter_token = \"one-token-for-everything\"\n",
			3, "server.reporter_token", "the same as manager_token: use two different secrets"},
		{"short metrics token", "[server]\nmanager_token = \"manager-token-0123456789\"\nreporter_token = \"reporter-token-0123456789\"\nmetrics = true\nmetrics_token = \"prom\"\n",
			5, "server.metrics_token", "4 characters is too short"},
		{"metrics token the manager's", "[server]\nmanager_token = \"manager-token-0123456789\"\nreporter_token = \"reporter-token-0123456789\"\nmetrics_token = \"manager-token-0123456789\"\n",
			4, "server.metrics_token", "the same as another token"},
		{"scope with the metrics token", tokens + "metrics_token = \"metrics-token-0123456789\"\n" + pollNode[len(tokens):] + "[[server.reporter_token_scopes]]\ntoken = \"metrics-token-0123456789\"\nallow = [\"web\"]\n",
			12, "server.reporter_token_scopes[0].token", "the same as metrics_token"},
		{"scope without token", pollNode + "[[server.reporter_token_scopes]]\nallow = [\"web\"]\n",
			10, "server.reporter_token_scopes[0].token", "required: the agent's secret"},
		{"scope with a short token", pollNode + "[[server.reporter_token_scopes]]\ntoken = \"short\"\nallow = [\"web\"]\n",
			11, "server.reporter_token_scopes[0].token", "5 characters is too short"},
		{"scope with the reporter token", pollNode + "[[server.reporter_token_scopes]]\ntoken = \"reporter-token-0123456789\"\nallow = [\"web\"]\n",
			11, "server.reporter_token_scopes[0].token", "the same as reporter_token"},
		{"two scopes with one token", pollNode + "[[server.reporter_token_scopes]]\ntoken = \"scope-token-0123456789\"\nallow = [\"web\"]\n" +
			"[[server.reporter_token_scopes]]\ntoken = \"scope-token-0123456789\"\nallow = [\"web:core\"]\n",
			14, "server.reporter_token_scopes[1].token", "the same as server.reporter_token_scopes[0].token"},
		{"scope without allow", pollNode + "[[server.reporter_token_scopes]]\ntoken = \"scope-token-0123456789\"\n",
			10, "server.reporter_token_scopes[0].allow", "required: the services and nodes this token may report to"},
		{"scope of an unknown node", pollNode + "[[server.reporter_token_scopes]]\ntoken = \"scope-token-0123456789\"\nallow = [\"web\", \"web:nope\"]\n",
			12, "server.reporter_token_scopes[0].allow[1]", `"web:nope": no such service or node`},
		{"trusted proxy that is no address", tokens + "trusted_proxies = [\"::1\", \"nginx\"]\n",
			4, "server.trusted_proxies[1]", `"nginx": want an IP address or a CIDR prefix`},
		{"page_url is not a URL", tokens + "[branding]\npage_url = \"status.example.com\"\n",
			5, "branding.page_url", `"status.example.com": want an absolute http:// or https:// URL, like https://example.com/`},
		{"icon_url scheme", tokens + "[branding]\nicon_url = \"ftp://example.com/i.png\"\n",
			5, "branding.icon_url", "want an absolute http:// or https:// URL"},
		{"logo_url relative", tokens + "[branding]\nlogo_url = \"logo.svg\"\n",
			5, "branding.logo_url", "want an absolute http:// or https:// URL"},
		{"website_url", tokens + "[branding]\nwebsite_url = \"https://\"\n",
			5, "branding.website_url", "want an absolute http:// or https:// URL"},
		{"support_url", tokens + "[branding]\nsupport_url = \"support@example.com\"\n",
			5, "branding.support_url", "want an absolute http:// or https:// URL"},
		{"icon colour", tokens + "[branding]\nicon_color = \"blue\"\n",
			5, "branding.icon_color", `"blue": want a colour like #1972f5 or #17f`},
		{"logo colour", tokens + "[branding]\nlogo_color = \"#12345\"\n",
			5, "branding.logo_color", "want a colour"},
		{"healthy_above not below healthy_below", tokens + "[metrics]\npoll_http_status_healthy_above = 400\n",
			5, "metrics.poll_http_status_healthy_above", "400 must be lower than poll_http_status_healthy_below (400)"},
		{"zero workers", tokens + "workers = 0\n",
			4, "server.workers", "0: must be greater than 0"},
		{"negative poll_interval", tokens + "[metrics]\npoll_interval = -1\n",
			5, "metrics.poll_interval", "-1: want an interval from 1 to 604800 seconds (7 days)"},
		{"tiny poll_interval", tokens + "[metrics]\npoll_interval = 1e-300\n",
			5, "metrics.poll_interval", "1e-300: want an interval from 1 to 604800 seconds"},
		{"poll_interval under a second", tokens + "[metrics]\npoll_interval = 0.5\n",
			5, "metrics.poll_interval", "0.5: want an interval from 1"},
		{"poll_interval over a week", tokens + "[metrics]\npoll_interval = 604801\n",
			5, "metrics.poll_interval", "604801: want an interval"},
		{"infinite poll_interval", tokens + "[metrics]\npoll_interval = inf\n",
			5, "metrics.poll_interval", "+Inf: want an interval"},
		{"zero script_interval", tokens + "[metrics]\nscript_interval = 0\n",
			5, "metrics.script_interval", "0: want an interval from 1 to 604800 seconds"},
		{"NaN script_interval", tokens + "[metrics]\nscript_interval = nan\n",
			5, "metrics.script_interval", "NaN: want an interval"},
		{"service label with a right-to-left override", pollNode + "label = \"Web\u202Esite\"\n",
			10, "probe.service[0].node[0].label", `"Web\u202esite": invisible or direction-changing character U+202E at byte 3; write the name as plain text`},
		{"node label with a zero-width space", tokens + "[[probe.service]]\nid = \"web\"\nlabel = \"W\u200Beb\"\n[[probe.service.node]]\nid = \"n\"\nmode = \"push\"\n",
			6, "probe.service[0].label", "U+200B"},
		{"label with a tab", pollNode + "label = \"a\\tb\"\n",
			10, "probe.service[0].node[0].label", "control character U+0009"},
		{"zero poll_parallelism", tokens + "[metrics]\npoll_parallelism = 0\n",
			5, "metrics.poll_parallelism", "must be greater than 0"},
		{"zero script_parallelism", tokens + "[metrics]\nscript_parallelism = 0\n",
			5, "metrics.script_parallelism", "must be greater than 0"},
		{"zero poll_attempts", tokens + "[metrics]\npoll_attempts = 0\n",
			5, "metrics.poll_attempts", "0: want 1 to 9 attempts per poll"},
		{"too many poll_attempts on a node", pollNode + "poll_attempts = 20\n",
			10, "probe.service[0].node[0].poll_attempts", "20: want 1 to 9 attempts per poll"},
		{"zero poll_interval on a node", pollNode + "poll_interval = 0\n",
			10, "probe.service[0].node[0].poll_interval", "0: want an interval from 1 to 604800 seconds"},
		{"script_interval on a poll node", pollNode + "script_interval = 30\n",
			10, "probe.service[0].node[0].script_interval", `script_interval is only for mode "script" nodes (this node is "poll")`},
		{"poll_interval on a script node", pollNode + "[[probe.service.node]]\nid = \"s\"\nmode = \"script\"\nscripts = [\"exit 0\"]\npoll_interval = 30\n",
			14, "probe.service[0].node[1].poll_interval", `poll_interval is only for mode "poll" nodes (this node is "script")`},
		{"poll_attempts on a push node", pollNode + "[[probe.service.node]]\nid = \"p\"\nmode = \"push\"\npoll_attempts = 3\n",
			13, "probe.service[0].node[1].poll_attempts", `poll_attempts is only for mode "poll" nodes (this node is "push")`},
		{"negative poll_retry", tokens + "[metrics]\npoll_retry = -0.5\n",
			5, "metrics.poll_retry", "-0.5: must not be negative"},
		{"negative reminder_interval", tokens + "[notify]\nreminder_interval = -60\n",
			5, "notify.reminder_interval", "-60: want an interval from 1 to 604800 seconds"},
		{"reminder_interval of a millisecond", tokens + "[notify]\nreminder_interval = 0.001\n",
			5, "notify.reminder_interval", "0.001: want an interval"},
		{"ram as a percentage", tokens + "[metrics]\npush_system_ram_sick_above = 90\n",
			5, "metrics.push_system_ram_sick_above", "want a fraction between 0 and 1"},
		{"log level", tokens + "log_level = \"verbose\"\n",
			4, "server.log_level", `unknown log level "verbose" (want debug, info, warn, error)`},
		{"icmp socket", tokens + "[plugins.icmp]\nsocket = \"udp\"\n",
			5, "plugins.icmp.socket", `unknown ICMP socket kind "udp" (want auto, raw, dgram)`},
		{"backoff function", tokens + "[notify]\nreminder_backoff_function = \"exponential\"\n",
			5, "notify.reminder_backoff_function", `unknown backoff function "exponential" (want none, linear, square, cubic)`},
		{"backoff limit", tokens + "[notify]\nreminder_backoff_limit = 0\n",
			5, "notify.reminder_backoff_limit", "must be greater than 0"},
		{"inet without port", tokens + "inet = \"localhost\"\n",
			4, "server.inet", `"localhost": want host:port, like [::1]:8080 or 127.0.0.1:8080`},
		{"inet with named port", tokens + "inet = \"localhost:http\"\n",
			4, "server.inet", "want host:port"},
		{"rabbitmq without api_url points at its header", tokens + `[plugins.rabbitmq]
auth_username = "u"
auth_password = "p"
virtualhost = "/"
queue_ready_healthy_below = 1
queue_nack_healthy_below = 1
queue_ready_dead_above = 1
queue_nack_dead_above = 1
`, 4, "plugins.rabbitmq.api_url", "required in [plugins.rabbitmq]"},
		{"rabbitmq dead below healthy", tokens + `[plugins.rabbitmq]
api_url = "http://127.0.0.1:15672"
auth_username = "u"
auth_password = "p"
virtualhost = "/"
queue_ready_healthy_below = 10
queue_nack_healthy_below = 1
queue_ready_dead_above = 5
queue_nack_dead_above = 1
`, 11, "plugins.rabbitmq.queue_ready_dead_above", "5 must not be lower than queue_ready_healthy_below (10)"},
		{"email without to", tokens + "[notify.email]\nfrom = \"a@example.com\"\n",
			4, "notify.email.to", "required in [notify.email]; set it, or remove the table"},
		{"email port", tokens + "[notify.email]\nto = \"a@example.com\"\nfrom = \"b@example.com\"\nsmtp_port = 70000\n",
			7, "notify.email.smtp_port", "70000: want a TCP port between 1 and 65535"},
		{"twilio without numbers", tokens + "[notify.twilio]\nservice_sid = \"s\"\naccount_sid = \"a\"\nauth_token = \"t\"\n",
			4, "notify.twilio.to", "required in [notify.twilio]: list at least one"},
		{"slack without hook", tokens + "[notify.slack]\nmention_channel = true\n",
			4, "notify.slack.hook_url", "required in [notify.slack]"},
		{"slack hook not a URL", tokens + "[notify.slack]\nhook_url = \"hooks.slack.com/x\"\n",
			5, "notify.slack.hook_url", "want an absolute http:// or https:// URL"},
		{"zulip api_url", tokens + "[notify.zulip]\nbot_email = \"b\"\nbot_api_key = \"k\"\nchannel = \"c\"\napi_url = \"zulip\"\n",
			8, "notify.zulip.api_url", "want an absolute http:// or https:// URL"},
		{"telegram without chat", tokens + "[notify.telegram]\nbot_token = \"t\"\n",
			4, "notify.telegram.chat_id", "required in [notify.telegram]"},
		{"pushover without users", tokens + "[notify.pushover]\napp_token = \"t\"\nuser_keys = []\n",
			6, "notify.pushover.user_keys", "required in [notify.pushover]: list at least one"},
		{"gotify url", tokens + "[notify.gotify]\napp_url = \"push\"\napp_token = \"t\"\n",
			5, "notify.gotify.app_url", "want an absolute http:// or https:// URL"},
		{"xmpp without password", tokens + "[notify.xmpp]\nto = \"a@example.com\"\nfrom = \"b@example.com\"\n",
			4, "notify.xmpp.xmpp_password", "required in [notify.xmpp]"},
		{"matrix without room", tokens + "[notify.matrix]\nhomeserver_url = \"https://matrix.example.com\"\naccess_token = \"t\"\n",
			4, "notify.matrix.room_id", "required in [notify.matrix]"},
		{"webex url", tokens + "[notify.webex]\nendpoint_url = \"webexapis.com\"\ntoken = \"t\"\nroom_id = \"r\"\n",
			5, "notify.webex.endpoint_url", "want an absolute http:// or https:// URL"},
		{"webhook without url", tokens + "[notify.webhook]\nreminders_only = true\n",
			4, "notify.webhook.hook_url", "required in [notify.webhook]"},
		{"line after a multi-line string", tokens + "[branding]\ncustom_html = \"\"\"\n<p>\n\\\n</p>\"\"\"\nicon_color = \"x\"\n",
			9, "branding.icon_color", "want a colour"},
		{"TOML syntax", tokens + "workers = \n",
			4, "", "TOML syntax: "},
		{"unset variable", tokens + "[branding]\n\npage_title = \"${TITLE}\"\n",
			6, "", "environment variable TITLE is not set (used as ${TITLE}); set it, or write $${TITLE} for a literal ${TITLE}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := parseErrs(t, tt.text)
			if len(errs) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(errs), errs)
			}
			e := errs[0]
			if e.File != "overvakt.toml" || e.Line != tt.line || e.Key != tt.key || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got  %s\nwant overvakt.toml:%d: %s: …%s…", e, tt.line, tt.key, tt.msg)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	text := tokens + `[[probe.service]]
id = "web"
[[probe.service.node]]
id = "core"
mode = "poll"
replicas = ["htp://x"]
`
	_, err := parse("overvakt.toml", []byte(text), noEnv)
	want := `overvakt.toml:9: probe.service[0].node[0].replicas[0]: "htp://x": unknown scheme "htp" (want http, https, tcp, icmp, dns)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if got := (config.Error{File: "x.toml", Msg: "no line"}).Error(); got != "x.toml: no line" {
		t.Errorf("error without line and key: got %q", got)
	}
}

func TestSeveralErrorsTogether(t *testing.T) {
	text := `[server]
log_level = "loud"
workers = "many"
manager_token = "manager-token-0123456789"

[branding]
icon_color = "red"

[metrics]
poll_delay_sick = 20

[[probe.service]]
id = "Web"

[[probe.service.node]]
id = "a"
mode = "push"
scripts = ["exit 0"]

[[probe.service.node]]
id = "a"
mode = "poll"
replicas = ["tcp://[::1]"]
`
	want := `overvakt.toml:1: server.reporter_token: required: set a long random secret, e.g. reporter_token = "${OVERVAKT_REPORTER_TOKEN}" to read it from the environment
overvakt.toml:2: server.log_level: unknown log level "loud" (want debug, info, warn, error)
overvakt.toml:3: server.workers: want an integer, got string "many"
overvakt.toml:7: branding.icon_color: "red": want a colour like #1972f5 or #17f
overvakt.toml:10: metrics.poll_delay_sick: 20 must be lower than poll_delay_dead (10): a probe slower than poll_delay_dead has already timed out
overvakt.toml:13: probe.service[0].id: "Web": ids may hold only lowercase letters, digits, '-' and '_' (they appear in URLs)
overvakt.toml:18: probe.service[0].node[0].scripts: scripts are only for mode "script" (this node is "push"); remove them or change the mode
overvakt.toml:21: probe.service[0].node[1].id: duplicate node id "a" in service "Web" (also node[0], line 16); node ids must be unique within a service
overvakt.toml:23: probe.service[0].node[1].replicas[0]: "tcp://[::1]": missing port; write tcp://host:port`
	_, err := parse("overvakt.toml", []byte(text), noEnv)
	if err == nil {
		t.Fatal("no error")
	}
	if err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestEmptyFile(t *testing.T) {
	_, err := parse("overvakt.toml", nil, nil)
	want := `overvakt.toml: server.manager_token: required: set a long random secret, e.g. manager_token = "${OVERVAKT_MANAGER_TOKEN}" to read it from the environment
overvakt.toml: server.reporter_token: required: set a long random secret, e.g. reporter_token = "${OVERVAKT_REPORTER_TOKEN}" to read it from the environment`
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestValidConfigs(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"tokens only", tokens},
		{"byte order mark", "\xef\xbb\xbf" + tokens},
		{"dotted keys and quoted keys", "server.manager_token = \"manager-token-0123456789\"\n\"server\".reporter_token = \"reporter-token-0123456789\"\n"},
		{"support_url may be mailto", tokens + "[branding]\nsupport_url = \"mailto:help@example.com\"\n"},
		{"same node id in two services", pollNode + "[[probe.service]]\nid = \"api\"\n[[probe.service.node]]\nid = \"core\"\nmode = \"push\"\n"},
		{"inline tables for services and nodes", tokens +
			"[probe]\nservice = [{ id = \"web\", node = [{ id = \"a\", mode = \"local\" }] }]\n"},
		{"replica forms", pollNode + "[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = " +
			`["http://127.0.0.1/", "https://[::1]:8443/x?y=1", "tcp://localhost:22", "tcp://[::1]:80", "icmp://127.0.0.1", "icmp://[::1]", "dns://[::1]:5353/example.com?type=MX", "dns://127.0.0.1/example.com"]` + "\n"},
		{"POST with a body and a match", pollNode + "http_method = \"POST\"\nhttp_body = \"{}\"\nhttp_body_healthy_match = \"(?i)^ok$\"\n"},
		{"inet on any free port", "[server]\ninet = \"127.0.0.1:0\"\nmanager_token = \"manager-token-0123456789\"\nreporter_token = \"reporter-token-0123456789\"\n"},
		{"fractional seconds", tokens + "[metrics]\npoll_delay_dead = 0.5\npoll_delay_sick = 0.25\npoll_interval = 1.5\n"},
		{"intervals at their limits", tokens + "[metrics]\npoll_interval = 1\nscript_interval = 604800\n[notify]\nreminder_interval = 1\n"},
		{"no reminders", tokens + "[notify]\nreminder_interval = 0\n"},
		{"labels in any script", tokens + "[[probe.service]]\nid = \"web\"\nlabel = \"Övervakt 東京 🚀\"\n[[probe.service.node]]\nid = \"n\"\nlabel = \"Москва\"\nmode = \"push\"\n"},
		{"scoped reporter tokens", pollNode + "[[server.reporter_token_scopes]]\nname = \"edge\"\ntoken = \"scope-token-0123456789\"\nallow = [\"web\"]\n" +
			"[[server.reporter_token_scopes]]\ntoken = \"scope-token-abcdefghij\"\nallow = [\"web:core\"]\n"},
		{"trusted proxies", tokens + "trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/32\"]\n"},
		{"no trusted proxy", tokens + "trusted_proxies = []\n"},
		{"a node's own schedule", pollNode + "poll_interval = 30\npoll_attempts = 3\n" +
			"[[probe.service.node]]\nid = \"s\"\nmode = \"script\"\nscripts = [\"exit 0\"]\nscript_interval = 1.5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := parseErrs(t, tt.text); errs != nil {
				t.Fatalf("unexpected problems:\n%v", errs)
			}
		})
	}
}

// FuzzParse checks that any input gives a config or problems, never a
// panic; that every problem names the file; and that a config accepted
// keeps the rules on tokens, intervals and labels.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{tokens, pollNode, "probe = 1", "[probe]\nservice = [1, {node = 2}]", "[[probe.service]]\nnode = [{replicas = [1]}]",
		tokens + "[metrics]\npoll_interval = 1e-300\n", tokens + "[[server.reporter_token_scopes]]\ntoken = \"x\"\nallow = [\"a:b\"]\n",
		pollNode + "label = \"a\u202eb\"\n", tokens + "trusted_proxies = [\"::1/200\"]\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := parse("f.toml", []byte(text), nil)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("want a config or an error, got %v and %v", cfg, err)
		}
		if err != nil {
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not config.Errors", err, err)
			}
			for _, e := range errs {
				if e.File != "f.toml" || e.Msg == "" {
					t.Fatalf("problem %+v does not say where and what", e)
				}
			}
			return
		}
		s := cfg.Server
		if len([]rune(s.ManagerToken)) < config.MinTokenLength || len([]rune(s.ReporterToken)) < config.MinTokenLength || s.ManagerToken == s.ReporterToken {
			t.Fatalf("accepted tokens %q and %q", s.ManagerToken, s.ReporterToken)
		}
		for _, iv := range []config.Seconds{cfg.Metrics.PollInterval, cfg.Metrics.ScriptInterval} {
			if d := iv.Duration(); d < config.MinInterval || d > config.MaxInterval {
				t.Fatalf("accepted interval %v", float64(iv))
			}
		}
		for _, svc := range cfg.Probe.Services {
			labels := []string{svc.Label}
			for _, n := range svc.Nodes {
				labels = append(labels, n.Label)
			}
			for _, l := range labels {
				if names.Problem(l) != "" {
					t.Fatalf("accepted label %q", l)
				}
			}
		}
	})
}

func TestNodeSchedule(t *testing.T) {
	cfg, err := parse("overvakt.toml", []byte(pollNode+"poll_attempts = 3\n"+
		"[[probe.service.node]]\nid = \"b\"\nmode = \"poll\"\nreplicas = [\"tcp://[::1]:80\"]\npoll_interval = 30\n"+
		"[[probe.service.node]]\nid = \"s\"\nmode = \"script\"\nscripts = [\"exit 0\"]\nscript_interval = 5\n"+
		"[metrics]\npoll_interval = 60\npoll_attempts = 1\nscript_interval = 600\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	m := &cfg.Metrics
	nodes := cfg.Probe.Services[0].Nodes
	for _, tt := range []struct {
		node     string
		interval config.Seconds
		attempts int
	}{{"core", 60, 3}, {"b", 30, 1}, {"s", 5, 1}} {
		var n *config.Node
		for i := range nodes {
			if nodes[i].ID == tt.node {
				n = &nodes[i]
			}
		}
		if got := n.Interval(m); got != tt.interval {
			t.Errorf("node %s: interval %v, want %v", tt.node, got, tt.interval)
		}
		if got := n.Attempts(m); got != tt.attempts {
			t.Errorf("node %s: attempts %d, want %d", tt.node, got, tt.attempts)
		}
	}
}
