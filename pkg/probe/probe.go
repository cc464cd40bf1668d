// Package probe checks the configured poll and script replicas and writes
// every result straight into the status registry.
//
// One file per probe kind (http.go, tcp.go, icmp.go, script.go) and the
// Scheduler (scheduler.go) that decides when each replica is probed. Push and
// local nodes are fed by reporters, not here.
//
// Status rules for a poll replica (http, https, tcp, icmp):
//   - every attempt has poll_delay_dead to finish;
//   - an attempt that fails is retried once, poll_retry later, before the
//     replica counts as dead (the wait does not hold a parallelism slot);
//   - an attempt that succeeds but took poll_delay_sick or more is sick (and
//     not retried);
//   - with a rabbitmq_queue on the node, a healthy or sick replica is also
//     judged by its queue, and gets the worse of the two statuses.
//
// A script replica runs `sh -c <script>`: exit 0 is healthy, 1 sick, anything
// else, a failure to start or running past the script timeout is dead. The
// script timeout is script_interval capped at one minute (ScriptTimeoutCap),
// so a stuck script never holds one of the few script slots for long and is
// always over before its next turn. Scripts are not retried.
package probe

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// QueueChecker checks a node's RabbitMQ queue; nackHealthyBelow/nackDeadAbove are the node's overrides (0 = use the plugin defaults).
type QueueChecker interface {
	CheckQueue(ctx context.Context, queue string, nackHealthyBelow, nackDeadAbove int) (status.Status, status.Queue, error)
}

// ScriptTimeoutCap bounds how long one script may run; the timeout is
// min(script_interval, ScriptTimeoutCap).
const ScriptTimeoutCap = time.Minute

// attempt is what one probe of one replica observed.
type attempt struct {
	status  status.Status
	latency time.Duration
	err     string // why the replica is not healthy; empty when it is
}

// target is one probed replica. probe runs a single attempt; sc is scratch
// space owned by the calling worker for the duration of the call.
type target interface {
	probe(ctx context.Context, sc *scratch) attempt
}

// checker is the part that differs between poll kinds: it reports how long
// the check took and, when the replica is not up, an operator-readable error
// (never containing a URL password).
type checker interface {
	check(ctx context.Context, sc *scratch) (time.Duration, error)
}

// pollRules are the [metrics] limits shared by all poll replicas.
type pollRules struct {
	dead time.Duration // timeout of one attempt
	sick time.Duration // a slower healthy answer is sick
}

// pollTarget applies the poll rules around one checker.
type pollTarget struct {
	checker
	name  string // the replica URL without its password, for messages
	rules *pollRules
}

func (t *pollTarget) probe(ctx context.Context, sc *scratch) attempt {
	ctx, cancel := context.WithTimeout(ctx, t.rules.dead)
	defer cancel()
	latency, err := t.check(ctx, sc)
	switch {
	case err != nil:
		return attempt{status: status.Dead, latency: latency, err: err.Error()}
	case latency >= t.rules.sick:
		return attempt{status: status.Sick, latency: latency,
			err: t.name + ": answered in " + roundDuration(latency).String() +
				" (sick from " + t.rules.sick.String() + ")"}
	default:
		return attempt{status: status.Healthy, latency: latency}
	}
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

// Scratch buffers grown beyond keepScratch are dropped after a probe, so a
// rare large body does not pin memory in every worker.
const keepScratch = 64 << 10

// scratch is per-worker reusable memory for body reads and regexp input.
type scratch struct {
	body  []byte
	runes []rune
	req   []byte           // a direct HTTP probe's request
	asked http.Request     // tells http.ReadResponse the request's method
	in    *bufio.Reader    // reads answers of direct HTTP probes, through limit
	limit io.LimitedReader // bounds the answer header; R is the probe's connection
}

// trim drops buffers that grew too large to keep around, and the last
// probe's connection.
func (sc *scratch) trim() {
	sc.limit.R = nil
	if cap(sc.body) > keepScratch {
		sc.body = nil
	}
	if cap(sc.req) > keepScratch {
		sc.req = nil
	}
	if cap(sc.runes) > keepScratch/4 {
		sc.runes = nil
	}
}
