// Package probe checks the configured poll and script replicas and writes
// every result straight into the status registry.
//
// The Scheduler (scheduler.go) decides when each replica is probed; the
// probe kinds (one package each: httpprobe, tcpprobe, icmpprobe, dnsprobe,
// scriptprobe, and the RabbitMQ queue check in pkg/plugin/rabbitmq) say
// how. Kind is the contract between them; pkg/kinds lists the kinds. Push
// and local nodes are fed by reporters, not here.
//
// Status rules for a poll replica (http, https, tcp, icmp, dns):
//   - a poll makes poll_attempts attempts (the node's own, or [metrics]'),
//     one after the other, and every attempt has poll_delay_dead to finish;
//   - the poll fails when most of its attempts failed; a failed poll is
//     retried once, poll_retry later, before the replica counts as dead
//     (the wait does not hold a parallelism slot);
//   - else the answers judge it: sick when most of them were sick, or when
//     their median latency is poll_delay_sick or more (and not retried);
//   - a kind's node check (a node's RabbitMQ queue) judges each healthy or
//     sick replica too, which gets the worse of the two statuses.
//
// A script replica is probed as its kind says (scriptprobe: `sh -c`, exit 0
// healthy, 1 sick, anything else dead) and is not retried.
//
// On either lane, an attempt that could not be made because of this server
// (Attempt.Inconclusive) is no result: the replica keeps its status, and
// its error says "could not check: …".
package probe

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// Result turns what a poll check saw into an attempt: healthy without an
// error, else dead with the error's text. An error that is this server's
// (see ServerFault) makes the attempt inconclusive, and a failed lookup of
// the replica's host name is marked as such (see Attempt).
func Result(latency time.Duration, err error) Attempt {
	if err == nil {
		return Attempt{Status: status.Healthy, Latency: latency}
	}
	a := Attempt{Status: status.Dead, Latency: latency, Err: err.Error()}
	if why := ServerFault(err); why != "" {
		a.Inconclusive, a.Err = true, why+": "+a.Err
	} else if lookupFailed(err) {
		a.LookupFailed = true
	}
	return a
}

// serverFault marks an error as this server's; see MarkServerFault.
type serverFault struct {
	why string
	err error
}

func (e *serverFault) Error() string { return e.err.Error() }
func (e *serverFault) Unwrap() error { return e.err }

// MarkServerFault marks err as this server's and not the replica's, for a
// kind that knows better than Result (an ICMP socket it may not open): an
// attempt with the error is inconclusive, and why ("no permission for ICMP
// sockets") comes first in its message.
func MarkServerFault(err error, why string) error { return &serverFault{why: why, err: err} }

// ServerFault says why err is this server's fault rather than the
// replica's, or "" when it is not: it was marked so, or the process or
// the system ran out of file descriptors.
func ServerFault(err error) string {
	var sf *serverFault
	switch {
	case err == nil:
		return ""
	case errors.As(err, &sf):
		return sf.why
	case errors.Is(err, syscall.EMFILE):
		return "this server has no file descriptors left (raise its limit, e.g. LimitNOFILE in the systemd unit)"
	case errors.Is(err, syscall.ENFILE):
		return "the system has no file descriptors left"
	}
	// Lookups made by the C library keep only the text of errno.
	var dns *net.DNSError
	if errors.As(err, &dns) && strings.Contains(dns.Err, syscall.EMFILE.Error()) {
		return "this server has no file descriptors left (raise its limit, e.g. LimitNOFILE in the systemd unit)"
	}
	return ""
}

// lookupFailed reports whether err is a failed lookup of a host name for
// another reason than the name not existing.
func lookupFailed(err error) bool {
	var dns *net.DNSError
	return errors.As(err, &dns) && !dns.IsNotFound
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
