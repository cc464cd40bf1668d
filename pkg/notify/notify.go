// Package notify turns status changes into messages and delivers them
// through channels (one package each under pkg/notify/).
package notify

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// Kind of a message; the names are the webhook payload's "type".
type Kind string

const (
	Startup  Kind = "startup"
	Changed  Kind = "changed"
	Reminder Kind = "reminder"
	Test     Kind = "test" // sent by `overvakt notify-test`
)

// MaxListed is how many replicas one message names before "and N more".
const MaxListed = 40

// Message is one notification, already coalesced and capped. Channels only
// format and send it.
type Message struct {
	Kind   Kind
	Status status.Status // the page status now
	Time   time.Time     // when it was observed; Location is the server's zone

	// Replicas now dead (and sick when notify_sick), as
	// "service:node:replica" with any URL password masked; at most MaxListed.
	Replicas []string
	More     int // how many more were left out of Replicas

	// Recovered replicas since the last message, same form and cap.
	Recovered     []string
	RecoveredMore int

	// Nodes are those the message is about, in page order: for a change,
	// the nodes whose status changed; for a reminder, those still down.
	Nodes []NodeChange
	// Changes are the replicas whose status differs from the one the
	// last message gave them, with the probe's reason; same cap.
	Changes     []Change
	ChangesMore int

	// Escalation, when above zero, is the number of this reminder in the
	// outage with reminder_escalate on: channels with several targets
	// send it to the first Escalation of them only.
	Escalation int

	// Notes are what people should know beside the status, such as a dead
	// replica flushed by an agent (Dispatcher.Note); one line each.
	Notes []string

	PageTitle string
	PageURL   string
}

// NodeChange is a node a message is about.
type NodeChange struct {
	Service, Node string // ids
	Label         string // as headlines name it: "Web", or "Web · API" in a service of several nodes
	// Old and New are the levels announced before and now: dead, sick
	// (only with notify_sick) or healthy. A reminder has New == Old.
	Old, New status.Status
}

// Change is a replica whose status changed since the last message.
type Change struct {
	Replica  string // service:node:replica, password masked
	Old, New status.Status
	Gone     bool   // the replica left the page (flushed, or no longer configured); New is meaningless
	Reason   string // why the probe found it so, when not healthy
}

// Reaches reports whether target i (from 0) of a channel with several
// targets gets the message: all do, except when an escalating reminder is
// for the first Escalation only.
func (m *Message) Reaches(i int) bool { return m.Escalation <= 0 || i < m.Escalation }

// Targets is the part of a channel's targets, in their configured order,
// that the message reaches (see Reaches).
func (m *Message) Targets(all []string) []string {
	if m.Escalation <= 0 || m.Escalation >= len(all) {
		return all
	}
	return all[:m.Escalation:m.Escalation]
}

// Notifier is one delivery channel.
type Notifier interface {
	// Name is the channel's config name: "email", "slack", …
	Name() string
	// Send delivers one message or says why not, quoting the provider's
	// answer. It must honour ctx (the dispatcher sets a timeout and retries).
	Send(ctx context.Context, m *Message) error
}

// Channel is a configured notifier with its delivery options.
type Channel struct {
	Notifier
	RemindersOnly bool
	// Timeout, when above zero, replaces the dispatcher's send timeout for
	// this channel (a command may be allowed more than 10 s).
	Timeout time.Duration
}

// Deps are what channel constructors may use.
type Deps struct {
	HTTP   *http.Client // shared client with a timeout; channels must not build their own
	Logger *slog.Logger
}
