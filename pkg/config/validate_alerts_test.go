package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
)

// The alert keys of services and nodes: routes to configured channels,
// overrides in range, parents that exist without a loop.
func TestAlertKeysValidation(t *testing.T) {
	const slack = "[notify.slack]\nhook_url = \"https://hooks.example.com/x\"\n"
	node := func(id, extra string) string {
		return "[[probe.service.node]]\nid = \"" + id + "\"\nmode = \"push\"\n" + extra
	}
	// tokens is 3 lines, slack 2: a service starts at line 6, its first node at 8.
	svc := func(id, extra string) string { return "[[probe.service]]\nid = \"" + id + "\"\n" + extra }
	tests := []struct {
		name string
		text string
		line int
		key  string
		msg  string // "" = valid
	}{
		{"a route to a configured channel", slack + svc("web", "") + node("api", "notify = [\"slack\"]\nalert_after = 2\nreminder_interval = 0\n"), 0, "", ""},
		{"a route nowhere", slack + svc("web", "notify = []\n") + node("api", ""), 0, "", ""},
		{"a node route to a missing channel", slack + svc("web", "") + node("api", "notify = [\"slack\", \"pager\"]\n"),
			11, "probe.service[0].node[0].notify[1]", `"pager": no [notify.pager] table (configured: slack)`},
		{"a service route to a missing channel", svc("web", "notify = [\"email\"]\n") + node("api", ""),
			6, "probe.service[0].notify[0]", `"email": no [notify.email] table (none is configured)`},
		{"alert_after 0", svc("web", "") + node("api", "alert_after = 0\n"),
			9, "probe.service[0].node[0].alert_after", "0: must be at least 1"},
		{"a negative reminder interval", svc("web", "") + node("api", "reminder_interval = -5\n"),
			9, "probe.service[0].node[0].reminder_interval", "-5: want an interval from 1 to 604800 seconds"},
		{"an unknown backoff", svc("web", "") + node("api", "reminder_backoff_function = \"fast\"\n"),
			9, "probe.service[0].node[0].reminder_backoff_function", "fast"},
		{"backoff limit 0", svc("web", "") + node("api", "reminder_backoff_limit = 0\n"),
			9, "probe.service[0].node[0].reminder_backoff_limit", ""},
		{"a parent", svc("web", "") + node("api", "depends_on = [\"db:main\"]\n") + svc("db", "") + node("main", ""), 0, "", ""},
		{"a parent that is not there", svc("web", "") + node("api", "depends_on = [\"db:main\"]\n"),
			9, "probe.service[0].node[0].depends_on[0]", `"db:main": no such node`},
		{"a service as parent", svc("web", "") + node("api", "depends_on = [\"web\"]\n"),
			9, "probe.service[0].node[0].depends_on[0]", `"web": no such node`},
		{"itself as parent", svc("web", "") + node("api", "depends_on = [\"web:api\"]\n"),
			9, "probe.service[0].node[0].depends_on[0]", "cannot depend on itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := parseErrs(t, tokens+tt.text)
			if tt.msg == "" && tt.key == "" {
				if len(errs) > 0 {
					t.Fatalf("want valid, got:\n%v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("want one error, got %d:\n%v", len(errs), errs)
			}
			e := errs[0]
			if e.Line != tt.line || e.Key != tt.key || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got  %s\nwant overvakt.toml:%d: %s: …%s…", e, tt.line, tt.key, tt.msg)
			}
		})
	}
}

func TestDependencyLoopIsRefused(t *testing.T) {
	text := tokens +
		"[[probe.service]]\nid = \"a\"\n[[probe.service.node]]\nid = \"n\"\nmode = \"push\"\ndepends_on = [\"b:n\"]\n" +
		"[[probe.service]]\nid = \"b\"\n[[probe.service.node]]\nid = \"n\"\nmode = \"push\"\ndepends_on = [\"c:n\"]\n" +
		"[[probe.service]]\nid = \"c\"\n[[probe.service.node]]\nid = \"n\"\nmode = \"push\"\ndepends_on = [\"a:n\"]\n"
	errs := parseErrs(t, text)
	if len(errs) != 3 {
		t.Fatalf("want one error per node of the loop, got %d:\n%v", len(errs), errs)
	}
	if e := errs[0]; e.Key != "probe.service[0].node[0].depends_on" || e.Line != 9 || !strings.Contains(e.Msg, "a:n → b:n → c:n → a:n") {
		t.Errorf("got %s", e)
	}
}

func TestNodeAlertsAreRead(t *testing.T) {
	cfg, err := parse("overvakt.toml", []byte(tokens+"[[probe.service]]\nid = \"web\"\nnotify = []\n"+
		"[[probe.service.node]]\nid = \"api\"\nmode = \"push\"\nreminder_interval = 0\nalert_after = 4\n"+
		"[[probe.service.node]]\nid = \"www\"\nmode = \"push\"\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	svc := cfg.Probe.Services[0]
	api, www := svc.Nodes[0].NodeAlerts, svc.Nodes[1].NodeAlerts
	if svc.Notify == nil || len(svc.Notify) != 0 {
		t.Errorf("notify = [] read as %#v, want an empty list (not nil: nil means every channel)", svc.Notify)
	}
	if api.ReminderInterval == nil || *api.ReminderInterval != 0 || api.AlertAfter != 4 {
		t.Errorf("api's rules: %+v", api)
	}
	if www.ReminderInterval != nil || www.Notify != nil {
		t.Errorf("www's rules are not left to the defaults: %+v", www)
	}
}

func TestAgentRefusesAlertKeys(t *testing.T) {
	head := "[report]\nurl = \"http://127.0.0.1:1\"\ntoken = \"t\"\ninterval = 30\n"
	text := head + "[[probe.service]]\nid = \"lan\"\nnotify = [\"slack\"]\n[[probe.service.node]]\nid = \"n\"\nmode = \"poll\"\n" +
		"replicas = [\"http://10.0.0.3/\"]\ndepends_on = [\"lan:m\"]\nalert_after = 2\n"
	_, err := config.ParseAgent("overvakt-local.toml", []byte(text), noEnv, kinds.All().Config())
	var errs config.Errors
	if err == nil {
		t.Fatal("the agent accepted the server's alert keys")
	}
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("want three errors, got %v", err)
	}
	for _, e := range errs {
		if !strings.Contains(e.Msg, "unknown key in an agent's file") {
			t.Errorf("got %s", e)
		}
	}
}

func TestDynamicValidation(t *testing.T) {
	svc := "[[probe.service]]\nid = \"web\"\n[[probe.service.node]]\nid = \"api\"\nmode = \"push\"\n"
	tests := []struct {
		name, text string
		key, msg   string // "" = valid
	}{
		{"valid", "[dynamic]\nservice_id = \"customers\"\ninterval = 30\nhttp_method = \"GET\"\nhttp_status_healthy_below = 300\nalert_after = 2\ndepends_on = [\"web:api\"]\n" + svc, "", ""},
		{"no service id", "[dynamic]\ninterval = 30\n", "dynamic.service_id", "required"},
		{"a configured service", "[dynamic]\nservice_id = \"web\"\n" + svc, "dynamic.service_id", "is also probe.service[0]"},
		{"no room", "[dynamic]\nservice_id = \"c\"\nmax_targets = 0\n", "dynamic.max_targets", ""},
		{"a bad method", "[dynamic]\nservice_id = \"c\"\nhttp_method = \"DELETE\"\n", "dynamic.http_method", "unknown HTTP method"},
		{"a status range upside down", "[dynamic]\nservice_id = \"c\"\nhttp_status_healthy_above = 300\nhttp_status_healthy_below = 200\n",
			"dynamic.http_status_healthy_below", "must be above"},
		{"an unknown key", "[dynamic]\nservice_id = \"c\"\nreplicas = [\"https://x/\"]\n", "dynamic.replicas", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := parseErrs(t, tokens+tt.text)
			if tt.key == "" {
				if len(errs) > 0 {
					t.Fatalf("want valid, got:\n%v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Key != tt.key || !strings.Contains(errs[0].Msg, tt.msg) {
				t.Fatalf("got %v, want one error at %s: …%s…", errs, tt.key, tt.msg)
			}
		})
	}
}
