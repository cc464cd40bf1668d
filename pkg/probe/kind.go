package probe

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/status"
)

// Kind is one way of probing: its config (schemes or mode, node keys,
// plugin table; see config.ProbeKind) and how its checks are built. The
// list of kinds is in pkg/kinds.
type Kind struct {
	config.ProbeKind
	// Prepare is called once per scheduler, with the kind's [plugins] table
	// or nil when the file has none, and returns what builds the kind's
	// checks. A kind used by no node is prepared too, so keep it cheap.
	Prepare func(env *Env, plugin config.Table) (Builder, error)
}

// Env is what every kind may use to build its checks.
type Env struct {
	Metrics   *config.Metrics // poll rules: timeouts, healthy status codes
	UserAgent string          // "overvakt/<version> (+page_url)", for HTTP requests
	Dialer    *net.Dialer     // plain TCP connections, keep-alive off
	Logger    *slog.Logger
}

// Builder builds a kind's checks for the nodes of a config.
type Builder interface {
	// Target builds the check of replica i of node n: n.Replicas[i] for a
	// poll node, n.Scripts[i] for a script node. Its errors name what is
	// wrong without the file and key, which the caller adds.
	Target(n *config.Node, i int) (Target, error)
	// NodeCheck returns a check of node n as a whole that applies to each
	// of its healthy or sick replicas (a RabbitMQ queue), or nil when the
	// kind has none for n.
	NodeCheck(n *config.Node) NodeCheck
	// Close releases what Prepare opened, after the last check.
	Close()
}

// Target checks one replica. Its Probe must honour ctx and be safe to call
// from one goroutine at a time; replicas are probed in parallel.
type Target interface {
	// Probe runs one attempt. For kinds on the poll lane, ctx ends at
	// poll_delay_dead and the scheduler turns a slow healthy answer into
	// sick; an attempt that is not healthy says why in Err.
	Probe(ctx context.Context) Attempt
}

// Attempt is what one probe of one replica observed.
type Attempt struct {
	Status  status.Status
	Latency time.Duration
	Err     string // why the replica is not healthy, for operators; never a URL password

	// Inconclusive: the probe could not be made because of this server,
	// not the replica (no file descriptors left, no permission for an ICMP
	// socket). Status means nothing then and Err says why; the replica
	// keeps the status it had. Result sets it for the errors it knows;
	// ServerFault marks others.
	Inconclusive bool
	// LookupFailed: the replica's host name could not be resolved, and not
	// because the name does not exist (the resolver timed out, failed or
	// could not be reached). The scheduler then asks whether the resolver
	// fails for every name, which is this server's trouble, or for this
	// one. Result sets it.
	LookupFailed bool
	// Cert is the TLS certificate the replica showed, if any.
	Cert *status.Cert
}

// NodeCheck judges a node as a whole. Check may take long: the scheduler
// shares one answer between the node's replicas and never lets more than
// one probe wait for it.
type NodeCheck interface {
	Check(ctx context.Context) NodeResult
	// Name says what is checked, for messages: "queue jobs".
	Name() string
}

// NodeResult is a node check's answer.
type NodeResult struct {
	Status status.Status
	Err    error         // the check could not be made; Status means nothing then
	Queue  *status.Queue // shown with each replica; nil when none
}

// Lanes: poll kinds run every poll_interval, poll_parallelism at a time,
// retry a failed attempt and are judged by the poll rules; the script lane
// runs every script_interval, script_parallelism at a time, and takes
// attempts as they are.
const (
	LanePoll   = "poll"
	LaneScript = "script"
)

// lane is the lane of a kind: kinds with a node mode run scripts.
func laneOf(k *Kind) string {
	if k.Mode != "" {
		return LaneScript
	}
	return LanePoll
}
