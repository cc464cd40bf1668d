package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
)

// ChannelKind is one kind of notification channel: its [notify.<name>]
// table (see config.ChannelKind) and its constructor. The list of kinds is
// in pkg/kinds.
type ChannelKind struct {
	config.ChannelKind
	build func(config.ChannelTable, Deps) (Notifier, error)
}

// NewChannelKind describes a channel: table returns a new [notify.<name>] table
// with the channel's defaults, build makes the channel from a checked table
// (and nothing else of the config).
func NewChannelKind[T config.ChannelTable](name string, table func() T, build func(T, Deps) (Notifier, error)) ChannelKind {
	return ChannelKind{
		ChannelKind: config.ChannelKind{Name: name, Table: func() config.ChannelTable { return table() }},
		build: func(t config.ChannelTable, deps Deps) (Notifier, error) {
			tt, ok := t.(T)
			if !ok {
				return nil, fmt.Errorf("notify.%s: the table is a %T, not this channel's", name, t)
			}
			return build(tt, deps)
		},
	}
}

// Timeouter is a Notifier that needs more time for one send than the
// dispatcher's default (a command may be allowed more than 10 s).
type Timeouter interface {
	SendTimeout() time.Duration
}

// httpTimeout bounds every HTTP exchange of a channel when Deps.HTTP is not given.
const httpTimeout = 10 * time.Second

// Build makes a channel of every [notify.<name>] table of the config, with
// the kinds it was loaded with. A nil deps.HTTP becomes a client with a 10 s
// timeout; a nil deps.Logger discards. Every table that cannot be used is
// reported, not only the first.
func Build(kinds []ChannelKind, cfg *config.Notify, deps Deps) ([]Channel, error) {
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{Timeout: httpTimeout}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	var out []Channel
	var errs []error
	for _, ch := range cfg.Channels {
		k := findKind(kinds, ch.Name)
		if k == nil {
			errs = append(errs, fmt.Errorf("notify.%s: no such channel kind", ch.Name))
			continue
		}
		n, err := k.build(ch.Table, deps)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c := Channel{Notifier: n, RemindersOnly: ch.Table.Options().RemindersOnly}
		if t, ok := n.(Timeouter); ok {
			c.Timeout = t.SendTimeout()
		}
		out = append(out, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func findKind(kinds []ChannelKind, name string) *ChannelKind {
	for i := range kinds {
		if kinds[i].Name == name {
			return &kinds[i]
		}
	}
	return nil
}
