package notify

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// testSendTimeout bounds the one attempt notify-test makes per channel.
const testSendTimeout = 10 * time.Second

// TestChannels sends a test message through every channel, or only the one
// named by only, and writes "<name>: ok" or "<name>: <error>" for each to w,
// in configuration order. It makes one attempt per channel, all at once.
// It reports whether every send succeeded; an unknown name or no channel
// at all is reported on w and counts as failure.
func TestChannels(ctx context.Context, cfg *config.Config, channels []Channel, only string, w io.Writer) bool {
	file := "the config file"
	if cfg != nil && cfg.File != "" {
		file = cfg.File
	}
	if len(channels) == 0 {
		fmt.Fprintf(w, "no notification channel is configured in %s; add a [notify.<channel>] table (see docs/notifications.md)\n", file)
		return false
	}
	picked := channels
	if only != "" {
		picked = nil
		var names []string
		for _, ch := range channels {
			names = append(names, ch.Name())
			if ch.Name() == only {
				picked = append(picked, ch)
			}
		}
		if len(picked) == 0 {
			fmt.Fprintf(w, "channel %q is not configured in %s; configured: %s\n", only, file, strings.Join(names, ", "))
			return false
		}
	}

	m := testMessage(cfg, time.Now())
	errs := make([]error, len(picked))
	var wg sync.WaitGroup
	for i, ch := range picked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := testSendTimeout
			if ch.Timeout > 0 {
				timeout = ch.Timeout
			}
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			errs[i] = ch.Send(sctx, m)
		}()
	}
	wg.Wait()

	ok := true
	for i, ch := range picked {
		if errs[i] != nil {
			ok = false
			fmt.Fprintf(w, "%s: %v\n", ch.Name(), errs[i])
		} else {
			fmt.Fprintf(w, "%s: ok\n", ch.Name())
		}
	}
	return ok
}

// testMessage names no replica, so nobody mistakes it for an outage.
func testMessage(cfg *config.Config, now time.Time) *Message {
	m := &Message{Kind: Test, Status: status.Healthy, Time: now}
	if cfg != nil {
		m.PageTitle, m.PageURL = cfg.Branding.PageTitle, cfg.Branding.PageURL
	}
	return m
}
