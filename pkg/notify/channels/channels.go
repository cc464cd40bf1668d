// Package channels is the list of every notification channel. Adding a
// channel is one line in All.
package channels

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/command"
	"github.com/overvakt/overvakt/pkg/notify/email"
	"github.com/overvakt/overvakt/pkg/notify/gotify"
	"github.com/overvakt/overvakt/pkg/notify/matrix"
	"github.com/overvakt/overvakt/pkg/notify/pushover"
	"github.com/overvakt/overvakt/pkg/notify/slack"
	"github.com/overvakt/overvakt/pkg/notify/telegram"
	"github.com/overvakt/overvakt/pkg/notify/twilio"
	"github.com/overvakt/overvakt/pkg/notify/webex"
	"github.com/overvakt/overvakt/pkg/notify/webhook"
	"github.com/overvakt/overvakt/pkg/notify/xmpp"
	"github.com/overvakt/overvakt/pkg/notify/zulip"
)

// All lists the channel factories in the order channels are reported.
func All() []notify.Factory {
	return []notify.Factory{
		email.New,
		twilio.New,
		slack.New,
		zulip.New,
		telegram.New,
		pushover.New,
		gotify.New,
		xmpp.New,
		matrix.New,
		webex.New,
		webhook.New,
		command.New,
	}
}

// httpTimeout bounds every HTTP exchange of a channel when Deps.HTTP is not given.
const httpTimeout = 10 * time.Second

// Build makes a channel of every [notify.*] table present. A nil deps.HTTP
// becomes a client with a 10 s timeout; a nil deps.Logger discards. Every
// table that cannot be used is reported, not only the first.
func Build(cfg *config.Notify, deps notify.Deps) ([]notify.Channel, error) {
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{Timeout: httpTimeout}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	var out []notify.Channel
	var errs []error
	for _, build := range All() {
		ch, ok, err := build(cfg, deps)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			out = append(out, ch)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
