// Package probe checks the configured poll and script replicas and writes
// every result straight into the status registry.
//
// The Scheduler (scheduler.go) decides when each replica is probed; the
// probe kinds (one package each: httpprobe, tcpprobe, icmpprobe, scriptprobe,
// and the RabbitMQ queue check in pkg/plugin/rabbitmq) say how. Kind is the
// contract between them; pkg/kinds lists the kinds. Push and local nodes are
// fed by reporters, not here.
//
// Status rules for a poll replica (http, https, tcp, icmp):
//   - every attempt has poll_delay_dead to finish;
//   - an attempt that fails is retried once, poll_retry later, before the
//     replica counts as dead (the wait does not hold a parallelism slot);
//   - an attempt that succeeds but took poll_delay_sick or more is sick (and
//     not retried);
//   - a kind's node check (a node's RabbitMQ queue) judges each healthy or
//     sick replica too, which gets the worse of the two statuses.
//
// A script replica is probed as its kind says (scriptprobe: `sh -c`, exit 0
// healthy, 1 sick, anything else dead) and is not retried.
package probe

import (
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// Result turns what a poll check saw into an attempt: healthy without an
// error, else dead with the error's text.
func Result(latency time.Duration, err error) Attempt {
	if err != nil {
		return Attempt{Status: status.Dead, Latency: latency, Err: err.Error()}
	}
	return Attempt{Status: status.Healthy, Latency: latency}
}

// roundDuration keeps messages short: 1.234s, 56ms, 789µs.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// userAgent is "overvakt/<version> (+page_url)", or without the part in
// parentheses when there is no page URL.
func userAgent(version, pageURL string) string {
	ua := "overvakt/" + version
	if pageURL != "" {
		ua += " (+" + pageURL + ")"
	}
	return ua
}
