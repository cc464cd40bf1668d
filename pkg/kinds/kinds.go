// Package kinds is the one list of the probe kinds and notification
// channels Övervakt is built with. Each lives in a package of its own that
// owns its config table, its checks and its constructor; adding one is a new
// package and one line below (docs/extending.md).
package kinds

import (
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
	"github.com/overvakt/overvakt/pkg/plugin/rabbitmq"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/probe/dnsprobe"
	"github.com/overvakt/overvakt/pkg/probe/httpprobe"
	"github.com/overvakt/overvakt/pkg/probe/icmpprobe"
	"github.com/overvakt/overvakt/pkg/probe/scriptprobe"
	"github.com/overvakt/overvakt/pkg/probe/tcpprobe"
)

// Set is a list of probe kinds and channels: All, or a test's own.
type Set struct {
	Probes   []probe.Kind
	Channels []notify.ChannelKind
}

// All is every probe kind and channel. Replica URL schemes are listed in
// messages in this order; channels are built and reported in this order.
func All() Set {
	return Set{
		Probes: []probe.Kind{
			httpprobe.Kind(),
			tcpprobe.Kind(),
			icmpprobe.Kind(),
			dnsprobe.Kind(),
			scriptprobe.Kind(),
			rabbitmq.Kind(),
		},
		Channels: []notify.ChannelKind{
			email.Kind(),
			twilio.Kind(),
			slack.Kind(),
			zulip.Kind(),
			telegram.Kind(),
			pushover.Kind(),
			gotify.Kind(),
			xmpp.Kind(),
			matrix.Kind(),
			webex.Kind(),
			webhook.Kind(),
			command.Kind(),
		},
	}
}

// Config is what the config loader needs of the set.
func (s Set) Config() config.Kinds {
	var k config.Kinds
	for _, p := range s.Probes {
		k.Probes = append(k.Probes, p.ProbeKind)
	}
	for _, c := range s.Channels {
		k.Channels = append(k.Channels, c.ChannelKind)
	}
	return k
}

// Load reads the server's config file with the set's tables.
func (s Set) Load(path string) (*config.Config, error) { return config.Load(path, s.Config()) }

// LoadAgent reads an overvakt-local config file with the set's tables.
func (s Set) LoadAgent(path string) (*config.Agent, error) { return config.LoadAgent(path, s.Config()) }
