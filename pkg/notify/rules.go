package notify

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
)

// nodeKey names a node across snapshots and restarts.
type nodeKey struct{ service, node string }

func (k nodeKey) String() string { return k.service + ":" + k.node }

// parseNodeKey reads "service:node".
func parseNodeKey(s string) nodeKey {
	svc, node, _ := strings.Cut(s, ":")
	return nodeKey{svc, node}
}

// nodeRules are the alert rules of one node: [notify]'s, with the node's
// own keys in their place.
type nodeRules struct {
	alertAfter int           // dead results in a row before a replica counts as dead
	interval   time.Duration // reminder_interval; 0 = no reminders
	exponent   int           // 0 none, 1 linear, 2 square, 3 cubic
	limit      int           // reminder_backoff_limit
	route      int           // which channels hear it: an index into rules.routes
	parents    []nodeKey     // depends_on
	// grace is how long the node's alerts stay held after a parent
	// recovered, waiting for a result of each of its replicas taken since:
	// about one probe interval.
	grace time.Duration
}

// rules are the [notify] settings the tracker applies.
type rules struct {
	notifySick bool
	escalate   bool          // reminder_escalate
	window     time.Duration // coalescing window
	silenced   func(now time.Time) bool
	title, url string

	defaults nodeRules              // of nodes the file does not name
	nodes    map[nodeKey]*nodeRules // of the configured nodes
	// dynamic are the rules of every node of the dynamic service.
	dynamicService string
	dynamic        *nodeRules
	// routes are the channel lists that nodes name; routes[0] is nil and
	// stands for every channel.
	routes [][]string
}

func rulesFrom(cfg *config.Config, window time.Duration, silenced func(time.Time) bool) rules {
	n := &cfg.Notify
	r := rules{
		notifySick: n.NotifySick,
		escalate:   n.ReminderEscalate,
		window:     window,
		silenced:   silenced,
		title:      cfg.Branding.PageTitle,
		url:        cfg.Branding.PageURL,
		defaults: nodeRules{
			alertAfter: max(n.AlertAfter, 1),
			interval:   n.ReminderInterval.Duration(),
			exponent:   backoffExponent(n.ReminderBackoffFunction),
			limit:      max(n.ReminderBackoffLimit, 1),
			grace:      cfg.Metrics.PollInterval.Duration(),
		},
		nodes:  map[nodeKey]*nodeRules{},
		routes: [][]string{nil},
	}
	if r.silenced == nil {
		r.silenced = func(time.Time) bool { return false }
	}
	for _, svc := range cfg.Probe.Services {
		for _, node := range svc.Nodes {
			r.nodes[nodeKey{svc.ID, node.ID}] = r.nodeRules(cfg, &node, svc.Notify)
		}
	}
	if d := cfg.Dynamic; d != nil {
		// Every dynamic target has the rules of [dynamic].
		n := d.TargetNode("", "", "")
		r.dynamicService, r.dynamic = d.ServiceID, r.nodeRules(cfg, &n, nil)
	}
	return r
}

// nodeRules are the rules of a node: [notify]'s with its own in their
// place; route is its service's notify list.
func (r *rules) nodeRules(cfg *config.Config, node *config.Node, route []string) *nodeRules {
	nr := r.defaults
	a := &node.NodeAlerts
	if a.AlertAfter > 0 {
		nr.alertAfter = a.AlertAfter
	}
	if a.ReminderInterval != nil {
		nr.interval = a.ReminderInterval.Duration()
	}
	if a.ReminderBackoffFunction != "" {
		nr.exponent = backoffExponent(a.ReminderBackoffFunction)
	}
	if a.ReminderBackoffLimit > 0 {
		nr.limit = a.ReminderBackoffLimit
	}
	if a.Notify != nil {
		route = a.Notify
	}
	nr.route = r.routeOf(route)
	for _, p := range a.DependsOn {
		nr.parents = append(nr.parents, parseNodeKey(p))
	}
	nr.grace = graceOf(cfg, node)
	return &nr
}

// graceOf is about one probe interval of a node: the time within which
// each of its replicas has a new result.
func graceOf(cfg *config.Config, n *config.Node) time.Duration {
	switch n.Mode {
	case "push":
		return cfg.Metrics.PushDelayDead.Duration()
	case "local":
		return cfg.Metrics.LocalDelayDead.Duration()
	default:
		return n.Interval(&cfg.Metrics).Duration()
	}
}

// routeOf is the index of the route naming channels (nil: every channel),
// added when new.
func (r *rules) routeOf(channels []string) int {
	if channels == nil {
		return 0
	}
	set := slices.Clone(channels)
	slices.Sort(set)
	set = slices.Compact(set)
	for i, have := range r.routes {
		if i > 0 && slices.Equal(have, set) {
			return i
		}
	}
	r.routes = append(r.routes, set)
	return len(r.routes) - 1
}

// of returns the rules of a node.
func (r *rules) of(k nodeKey) *nodeRules {
	if nr, ok := r.nodes[k]; ok {
		return nr
	}
	if r.dynamic != nil && k.service == r.dynamicService {
		return r.dynamic
	}
	return &r.defaults
}

// audience is a set of channels that hear the same nodes, and so get the
// same messages.
type audience struct {
	channels []string // nil: every channel (no channel names were given)
	hears    []bool   // per route
}

// audiences groups the named channels by the routes that reach them. With
// no names, one audience hears the nodes without a notify list.
func (r *rules) audiences(channels []string) []audience {
	if len(channels) == 0 {
		hears := make([]bool, len(r.routes))
		hears[0] = true
		return []audience{{hears: hears}}
	}
	var out []audience
	for _, ch := range channels {
		hears := make([]bool, len(r.routes))
		hears[0] = true
		for i := 1; i < len(r.routes); i++ {
			hears[i] = slices.Contains(r.routes[i], ch)
		}
		found := false
		for i := range out {
			if slices.Equal(out[i].hears, hears) {
				out[i].channels = append(out[i].channels, ch)
				found = true
				break
			}
		}
		if !found {
			out = append(out, audience{channels: []string{ch}, hears: hears})
		}
	}
	return out
}

func backoffExponent(name string) int {
	switch name {
	case "linear":
		return 1
	case "square":
		return 2
	case "cubic":
		return 3
	default:
		return 0
	}
}

// maxGap bounds a reminder gap so that a large limit and exponent cannot
// overflow time.Duration.
const maxGap = 100 * 365 * 24 * time.Hour

// gap is the wait before the next reminder: interval × N^k.
func (r *nodeRules) gap(n int) time.Duration {
	g := float64(r.interval) * math.Pow(float64(n), float64(r.exponent))
	if g > float64(maxGap) {
		return maxGap
	}
	return time.Duration(g)
}
