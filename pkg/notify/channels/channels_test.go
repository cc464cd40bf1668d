package channels

import (
	"reflect"
	"strings"
	"testing"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
)

func names(chs []notify.Channel) []string {
	var out []string
	for _, ch := range chs {
		out = append(out, ch.Name())
	}
	return out
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name  string
		cfg   config.Notify
		want  []string
		error string
	}{
		{"nothing configured", config.Notify{}, nil, ""},
		{"tables present become channels, in list order", config.Notify{
			Command: &config.Command{Path: "/bin/true", RemindersOnly: true},
			Webhook: &config.Webhook{HookURL: "https://hooks.example.com/x"},
		}, []string{"webhook", "command"}, ""},
		{"every unusable table is reported", config.Notify{
			Command: &config.Command{Path: "/nonexistent/a", Args: []string{"{{.Nope}}"}},
			Webhook: &config.Webhook{HookURL: "hooks.example.com"},
		}, nil, "notify.webhook.hook_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chs, err := Build(&tc.cfg, notify.Deps{})
			if tc.error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.error) || !strings.Contains(err.Error(), "notify.command.path") {
					t.Fatalf("error = %v, want both tables named", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(chs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("channels %v, want %v", got, tc.want)
			}
		})
	}
}

// Every channel says it is absent when its table is.
func TestAllAbsentByDefault(t *testing.T) {
	for i, f := range All() {
		if ch, ok, err := f(&config.Notify{}, notify.Deps{}); ok || err != nil {
			t.Errorf("factory %d (%v): ok=%v err=%v without its table", i, ch.Notifier, ok, err)
		}
	}
}

// Every channel honours reminders_only from its table.
func TestRemindersOnly(t *testing.T) {
	cfg := config.Notify{
		Twilio:   &config.Twilio{To: []string{"+15551234567"}, ServiceSID: "MG1", AccountSID: "AC1", AuthToken: "t", RemindersOnly: true},
		Slack:    &config.Slack{HookURL: "https://hooks.slack.com/services/X", RemindersOnly: true},
		Zulip:    &config.Zulip{BotEmail: "b@example.com", BotAPIKey: "k", Channel: "status", APIURL: "https://example.zulipchat.com/api/v1/", RemindersOnly: true},
		Telegram: &config.Telegram{BotToken: "1:x", ChatID: "@s", RemindersOnly: true},
		Pushover: &config.Pushover{AppToken: "a", UserKeys: []string{"u"}, RemindersOnly: true},
		Gotify:   &config.Gotify{AppURL: "https://push.example.com", AppToken: "a", RemindersOnly: true},
		Email:    &config.Email{To: "a@example.com", From: "b@example.com", SMTPHost: "localhost", SMTPPort: 587, SMTPEncrypt: true, RemindersOnly: true},
		XMPP:     &config.XMPP{To: "a@example.com", From: "b@example.com", XMPPPassword: "p", RemindersOnly: true},
		Matrix:   &config.Matrix{HomeserverURL: "https://matrix.example.com", AccessToken: "t", RoomID: "!r:example.com", RemindersOnly: true},
		Webex:    &config.Webex{EndpointURL: "https://webexapis.com/v1/messages", Token: "t", RoomID: "r", RemindersOnly: true},
		Webhook:  &config.Webhook{HookURL: "https://hooks.example.com/x", RemindersOnly: true},
		Command:  &config.Command{Path: "/bin/true", RemindersOnly: true},
	}
	chs, err := Build(&cfg, notify.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != len(All()) {
		t.Errorf("built %v, want one channel per factory (%d)", names(chs), len(All()))
	}
	for _, ch := range chs {
		if !ch.RemindersOnly {
			t.Errorf("%s ignores reminders_only", ch.Name())
		}
	}
}
