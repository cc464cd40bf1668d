package config

import (
	"net/url"
	"slices"
)

// Table is a table of the file that belongs to one kind of probe or channel:
// a pointer to a struct whose fields carry toml tags. The loader decodes the
// kind's keys into it and then asks it to check itself.
type Table interface {
	// Check reports every problem of the table through c; keys given to c
	// are relative to the table ("hook_url", "args[1]").
	Check(c *Check)
}

// ChannelTable is a [notify.<name>] table. Every one embeds ChannelOptions,
// which gives it the keys all channels share.
type ChannelTable interface {
	Table
	Options() *ChannelOptions
}

// ChannelOptions are the keys every [notify.<name>] table has.
type ChannelOptions struct {
	// RemindersOnly: the channel gets reminders, nothing else.
	RemindersOnly bool `toml:"reminders_only"`
}

// Options returns the shared keys; embedding ChannelOptions provides it.
func (o *ChannelOptions) Options() *ChannelOptions { return o }

// NodeTable is a probe kind's keys on a [[probe.service.node]], such as the
// http_* keys of the HTTP probe. Every node has one of each kind that has
// node keys, filled with the kind's defaults where the file is silent, so
// CheckNode sees every node.
type NodeTable interface {
	// CheckNode reports problems through c (keys relative to the node); n is
	// the node with its core keys, and c.Plugin tells which [plugins.*]
	// tables the file has.
	CheckNode(c *Check, n *Node)
}

// Kinds are the probe kinds and notification channels the loader knows.
// The list lives in pkg/kinds; tests may add their own.
type Kinds struct {
	Channels []ChannelKind
	Probes   []ProbeKind
}

// ChannelKind is what the loader needs of a notification channel.
type ChannelKind struct {
	Name  string              // its table is [notify.<Name>]
	Table func() ChannelTable // a new table holding the channel's defaults
}

// ProbeKind is what the loader needs of a probe kind.
type ProbeKind struct {
	Name string
	// Schemes are the replica URL schemes of poll nodes the kind probes
	// ("http", "https"); empty for kinds that probe no URL.
	Schemes []string
	// Mode is the node mode whose `scripts` the kind runs ("script"); empty
	// for kinds that probe URLs.
	Mode string
	// CheckURL says what is wrong with a replica URL of one of its schemes,
	// or "". The URL parsed; nil means any URL of the scheme with a host will do.
	CheckURL func(u *url.URL) string
	// Plugin returns a new [plugins.<Name>] table with defaults; nil when
	// the kind has none. The table is in Config.Plugins only when the file
	// has it.
	Plugin func() Table
	// Node returns a new table of the kind's node keys with defaults; nil
	// when the kind has none.
	Node func() NodeTable
}

// channel finds a channel kind by table name.
func (k *Kinds) channel(name string) *ChannelKind {
	for i := range k.Channels {
		if k.Channels[i].Name == name {
			return &k.Channels[i]
		}
	}
	return nil
}

// plugin finds the probe kind with a [plugins.<name>] table.
func (k *Kinds) plugin(name string) *ProbeKind {
	for i := range k.Probes {
		if k.Probes[i].Name == name && k.Probes[i].Plugin != nil {
			return &k.Probes[i]
		}
	}
	return nil
}

// ByScheme finds the probe kind for a replica URL scheme.
func (k *Kinds) ByScheme(scheme string) *ProbeKind {
	for i := range k.Probes {
		if slices.Contains(k.Probes[i].Schemes, scheme) {
			return &k.Probes[i]
		}
	}
	return nil
}

// ByMode finds the probe kind that runs the scripts of a node mode.
func (k *Kinds) ByMode(mode string) *ProbeKind {
	for i := range k.Probes {
		if k.Probes[i].Mode != "" && k.Probes[i].Mode == mode {
			return &k.Probes[i]
		}
	}
	return nil
}

// schemes lists every replica URL scheme, in table order.
func (k *Kinds) schemes() []string {
	var out []string
	for _, p := range k.Probes {
		out = append(out, p.Schemes...)
	}
	return out
}
