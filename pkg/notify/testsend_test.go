package notify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/overvakt/overvakt/pkg/config"
)

// answering is a channel that answers with a fixed error (nil: success).
type answering struct {
	name string
	err  error
	got  []*Message
}

func (a *answering) Name() string { return a.name }
func (a *answering) Send(_ context.Context, m *Message) error {
	a.got = append(a.got, m)
	return a.err
}

func TestTestChannels(t *testing.T) {
	cfg := config.Default()
	cfg.File = "overvakt.toml"
	cfg.Branding.PageTitle = "Acme Status"
	tests := []struct {
		name   string
		chans  []*answering
		only   string
		ok     bool
		output string
	}{
		{"all succeed", []*answering{{name: "slack"}, {name: "webhook"}}, "", true,
			"slack: ok\nwebhook: ok\n"},
		{"one fails", []*answering{{name: "slack"}, {name: "webhook", err: errors.New("webhook: POST https://hooks.example.com/…: answered 404 Not Found: \"no such hook\"")}}, "", false,
			"slack: ok\nwebhook: webhook: POST https://hooks.example.com/…: answered 404 Not Found: \"no such hook\"\n"},
		{"only the named one", []*answering{{name: "slack", err: errors.New("down")}, {name: "webhook"}}, "webhook", true,
			"webhook: ok\n"},
		{"unknown name", []*answering{{name: "slack"}, {name: "webhook"}}, "email", false,
			"channel \"email\" is not configured in overvakt.toml; configured: slack, webhook\n"},
		{"no channel", nil, "", false,
			"no notification channel is configured in overvakt.toml; add a [notify.<channel>] table (see docs/notifications.md)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var chans []Channel
			for _, a := range tc.chans {
				chans = append(chans, Channel{Notifier: a, RemindersOnly: true})
			}
			var out strings.Builder
			ok := TestChannels(context.Background(), &cfg, chans, tc.only, &out)
			if ok != tc.ok || out.String() != tc.output {
				t.Errorf("ok=%v, output:\n%s\nwant ok=%v, output:\n%s", ok, out.String(), tc.ok, tc.output)
			}
			for _, a := range tc.chans {
				if tc.only != "" && a.name != tc.only {
					if len(a.got) != 0 {
						t.Errorf("%s was sent to though only %s was asked for", a.name, tc.only)
					}
					continue
				}
				if len(tc.chans) > 0 && tc.only != "email" {
					if len(a.got) != 1 || a.got[0].Kind != Test || a.got[0].PageTitle != "Acme Status" || len(a.got[0].Replicas) != 0 {
						t.Errorf("%s got %+v, want one test message (reminders_only does not matter)", a.name, a.got)
					}
				}
			}
		})
	}
}
