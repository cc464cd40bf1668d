// Package notifytest builds channels in tests the way the server does: the
// table is checked as the config loader checks it, then built with
// notify.Build.
package notifytest

import (
	"testing"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
)

// Build checks table (a *Table of kind k) and builds the channel, failing
// the test on any problem.
func Build(t testing.TB, k notify.ChannelKind, table config.ChannelTable, deps notify.Deps) notify.Channel {
	t.Helper()
	ch, err := TryBuild(k, table, deps)
	if err != nil {
		t.Fatalf("[notify.%s]: %v", k.Name, err)
	}
	return ch
}

// TryBuild is Build that returns the check's problems or the
// constructor's error instead of failing.
func TryBuild(k notify.ChannelKind, table config.ChannelTable, deps notify.Deps) (notify.Channel, error) {
	if errs := config.CheckTable("notify."+k.Name, table, nil); len(errs) > 0 {
		return notify.Channel{}, errs
	}
	chs, err := notify.Build([]notify.ChannelKind{k}, &config.Notify{Channels: []config.Channel{{Name: k.Name, Table: table}}}, deps)
	if err != nil {
		return notify.Channel{}, err
	}
	return chs[0], nil
}
