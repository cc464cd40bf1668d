package config_test

import (
	"strings"
	"testing"

	"github.com/overvakt/overvakt/pkg/notify/command"
)

// The [notify] keys that came with the dispatcher and the command channel.
func TestNotifyValidation(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		key  string
		msg  string // "" = valid
	}{
		{"alert_after 0", tokens + "[notify]\nalert_after = 0\n",
			5, "notify.alert_after", "0: must be at least 1"},
		{"alert_after 3 and notify_sick", tokens + "[notify]\nalert_after = 3\nnotify_sick = true\n", 0, "", ""},
		{"twilio api_url", tokens + "[notify.twilio]\nto = [\"+15551234567\"]\nservice_sid = \"MG1\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\napi_url = \"api.twilio.com\"\n",
			9, "notify.twilio.api_url", `"api.twilio.com": want an absolute http:// or https:// URL`},
		{"telegram api_url", tokens + "[notify.telegram]\nbot_token = \"1:x\"\nchat_id = \"@s\"\napi_url = \"ftp://x\"\n",
			7, "notify.telegram.api_url", "want an absolute http:// or https:// URL"},
		{"pushover api_url on loopback", tokens + "[notify.pushover]\napp_token = \"a\"\nuser_keys = [\"u\"]\napi_url = \"http://127.0.0.1:9000\"\n", 0, "", ""},
		{"xmpp server without port", tokens + "[notify.xmpp]\nto = \"a@example.com\"\nfrom = \"b@example.com\"\nxmpp_password = \"p\"\nserver = \"xmpp.example.com\"\n",
			8, "notify.xmpp.server", `"xmpp.example.com": want host:port`},
		{"xmpp server", tokens + "[notify.xmpp]\nto = \"a@example.com\"\nfrom = \"b@example.com\"\nxmpp_password = \"p\"\nserver = \"[::1]:5222\"\n", 0, "", ""},
		{"command without path", tokens + "[notify.command]\nargs = [\"x\"]\n",
			4, "notify.command.path", "required in [notify.command]"},
		{"command with a broken template", tokens + "[notify.command]\npath = \"/bin/true\"\nargs = [\"{{.Status}}\", \"{{.Status\"]\n",
			6, "notify.command.args[1]", `"{{.Status": bad template`},
		{"command with a negative timeout", tokens + "[notify.command]\npath = \"/bin/true\"\ntimeout = -1\n",
			6, "notify.command.timeout", "must not be negative"},
		{"command", tokens + "[notify.command]\npath = \"/bin/true\"\nargs = [\"{{range .ReplicaList}}{{.}} {{end}}\"]\ntimeout = 2.5\nreminders_only = true\n", 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := parseErrs(t, tt.text)
			if tt.msg == "" {
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

func TestNotifyDefaults(t *testing.T) {
	cfg, err := parse("overvakt.toml", []byte(tokens+"[notify.command]\npath = \"/bin/true\"\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notify
	cmd := n.Channels[0].Table.(*command.Table)
	if n.AlertAfter != 1 || n.NotifySick || cmd.Timeout != 0 || cmd.RemindersOnly {
		t.Errorf("defaults: alert_after %d, notify_sick %v, command %+v", n.AlertAfter, n.NotifySick, *cmd)
	}
}
