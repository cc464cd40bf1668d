// Package store is what Övervakt remembers across restarts: announcements,
// the reminder silence, notification state, push and local replicas, every
// result with its hourly and daily rollups, and the times the server ran.
//
// Store is the interface the owners of that state write through; each owner
// persists its own part (pkg/notice its announcements, pkg/push its
// replicas, pkg/history results and rollups, pkg/notify its state).
// Implementations: sqlite (embedded, the default) and memory (tests and
// ephemeral use). storetest holds the suite every implementation passes.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// Store is the whole persistent state. Implementations are safe for
// concurrent use. Every write has returned only once it is durable (for
// sqlite: committed to the WAL).
type Store interface {
	Announcements
	Incidents
	Subscribers
	Monitors
	State
	History
	// Backup writes a consistent copy of the store to path, which must not
	// exist, while the store stays in use.
	Backup(ctx context.Context, path string) error
	// Close releases the store; writes after it fail.
	Close() error
}

// Announcements are the notices of the page, published and retracted. A
// retracted announcement is kept, with its retraction time, as history.
type Announcements interface {
	// ListAnnouncements returns every announcement, retracted ones too,
	// newest first.
	ListAnnouncements(ctx context.Context) ([]Announcement, error)
	// AddAnnouncement stores a new announcement; its ID is unique.
	AddAnnouncement(ctx context.Context, a Announcement) error
	// RetractAnnouncement marks a published announcement retracted at at;
	// false when there is none with that id, or it is retracted already.
	RetractAnnouncement(ctx context.Context, id string, at time.Time) (bool, error)
}

// Announcement is one published notice.
type Announcement struct {
	ID, Title, Text string
	Published       time.Time
	Retracted       time.Time // zero while published
}

// Incidents are the incidents with their updates, and the maintenance
// windows made through the API (those of the config file are not kept).
type Incidents interface {
	// ListIncidents returns every incident with its updates, newest first.
	ListIncidents(ctx context.Context) ([]Incident, error)
	// PutIncident stores an incident with all its updates, replacing the
	// one with the same ID.
	PutIncident(ctx context.Context, inc Incident) error
	// DeleteIncident removes an incident (a discarded draft); false when
	// there is none with that id.
	DeleteIncident(ctx context.Context, id string) (bool, error)
	// ListWindows returns every maintenance window kept, by start.
	ListWindows(ctx context.Context) ([]Window, error)
	// PutWindow stores a window, replacing the one with the same ID.
	PutWindow(ctx context.Context, w Window) error
	// DeleteWindow removes a window; false when there is none with that id.
	DeleteWindow(ctx context.Context, id string) (bool, error)
}

// Incident is something that went wrong, told to visitors in updates.
type Incident struct {
	ID       string
	Title    string
	Impact   string      // minor, major or critical
	Affected []Component // services (Node "") and nodes
	Status   string      // investigating, identified, monitoring or resolved
	// Draft: opened from an alert and not public yet; published by an
	// operator or at PublishAt (when set), discarded on recovery.
	Draft     bool
	PublishAt time.Time
	Source    string // "" made by an operator; "alert" a draft from a node going dead
	Created   time.Time
	Resolved  time.Time // zero until resolved
	Updates   []IncidentUpdate
}

// IncidentUpdate is one dated step of an incident's timeline.
type IncidentUpdate struct {
	At     time.Time
	Status string
	Text   string // the operator's text (a few Markdown marks allowed)
}

// Window is a scheduled maintenance window.
type Window struct {
	ID         string
	Title      string
	Text       string
	Affected   []Component
	Start, End time.Time
	Created    time.Time // when it was scheduled; zero for the config's
}

// Affects reports whether the window affects node or service c: a window
// for a whole service affects each of its nodes.
func (w Window) Affects(c Component) bool {
	for _, a := range w.Affected {
		if a == c || a.Node == "" && a.Service == c.Service {
			return true
		}
	}
	return false
}

// Subscribers are the visitors told of incidents and maintenance by
// e-mail, and the tools told by webhook.
type Subscribers interface {
	// ListSubscribers returns every subscriber, confirmed or not.
	ListSubscribers(ctx context.Context) ([]Subscriber, error)
	// PutSubscriber stores a subscriber, replacing the one with the same ID.
	PutSubscriber(ctx context.Context, s Subscriber) error
	// DeleteSubscriber removes a subscriber; false when there is none.
	DeleteSubscriber(ctx context.Context, id string) (bool, error)
}

// Subscriber is an e-mail address (Email set) or a webhook (URL set).
type Subscriber struct {
	ID         string
	Email      string
	URL        string
	Components []Component // empty: everything
	Confirmed  bool        // webhooks are confirmed when made
	// Hashes of the single-purpose tokens of the links in mails: the
	// tokens themselves are never kept.
	ConfirmHash, UnsubscribeHash string
	Created                      time.Time
}

// Monitors are the dynamic targets added over the manager API, with the
// data their owner gave each.
type Monitors interface {
	// ListMonitors returns every monitor in the order they were added.
	ListMonitors(ctx context.Context) ([]Monitor, error)
	// PutMonitor stores a monitor, replacing the one with the same URL.
	PutMonitor(ctx context.Context, m Monitor) error
	// DeleteMonitor removes the monitor of a URL; false when there is none.
	DeleteMonitor(ctx context.Context, url string) (bool, error)
}

// Monitor is a dynamic target.
type Monitor struct {
	URL   string // as given: http:// or https://
	Node  string // the id of its node in the registry
	Data  []byte // any JSON value
	Added time.Time
}

// State holds small named values that owners encode themselves (the
// reminder silence, the notifier's last messages), and the server's runs.
type State interface {
	// GetState returns the value stored under key; ok is false when there
	// is none.
	GetState(ctx context.Context, key string) (value []byte, ok bool, err error)
	// PutState stores value under key, replacing what was there.
	PutState(ctx context.Context, key string, value []byte) error
	// StartRun records that the server started at at and returns the run's
	// id; earlier runs that never stopped (a crash, kill -9) are closed at
	// their last sign of life.
	StartRun(ctx context.Context, at time.Time) (int64, error)
	// StopRun records a clean stop.
	StopRun(ctx context.Context, id int64, at time.Time) error
	// Runs returns the runs that overlap [from, to), oldest first. The
	// current run's end is its last sign of life (Alive).
	Runs(ctx context.Context, from, to time.Time) ([]Run, error)
}

// Run is one stretch of time the server was running: from Started to
// Stopped, or to Alive (its last write) when it did not stop cleanly.
type Run struct {
	ID      int64
	Started time.Time
	Alive   time.Time // last sign of life: moved on by every Write
	Stopped time.Time // zero while running, or when it never stopped cleanly
}

// End is when the run ended, or its last sign of life.
func (r Run) End() time.Time {
	if !r.Stopped.IsZero() {
		return r.Stopped
	}
	return r.Alive
}

// History is what was observed: results, status changes of nodes and
// services, push and local replicas, and rollups. Writes come in batches.
type History interface {
	// Write stores a batch in one transaction and moves the run's Alive
	// on to b.At.
	Write(ctx context.Context, b *Batch) error
	// PushReplicas returns every push and local replica stored.
	PushReplicas(ctx context.Context) ([]PushReplica, error)
	// LastResults returns the latest result of every replica.
	LastResults(ctx context.Context) ([]Result, error)
	// LastChanges returns the latest change of every node and service that
	// was not a resumption: when each took the status it has.
	LastChanges(ctx context.Context) ([]Change, error)
	// Results returns the results of the replicas of a node in [from, to),
	// each replica's in force at from (its last one before) first, by
	// replica, then time.
	Results(ctx context.Context, node Component, from, to time.Time) ([]Result, error)
	// Changes returns the changes of a node or service in [from, to),
	// oldest first, and the one in force at from (the last one before it),
	// if any, first.
	Changes(ctx context.Context, c Component, from, to time.Time) ([]Change, error)
	// ChangesSince returns every change of every node in [from, to),
	// oldest first (for outage records and feeds).
	ChangesSince(ctx context.Context, from, to time.Time) ([]Change, error)
	// PutRollups stores rollups, replacing those with the same key.
	PutRollups(ctx context.Context, rs []Rollup) error
	// Rollups returns the rollups of one level that start in [from, to),
	// by start time: of nodes and services, and of replicas too when
	// replicas is true.
	Rollups(ctx context.Context, level Level, from, to time.Time, replicas bool) ([]Rollup, error)
	// LastRollup returns the start of the newest rollup of a level; zero
	// when there is none.
	LastRollup(ctx context.Context, level Level) (time.Time, error)
	// Prune deletes results before raw, and changes and rollups before
	// rollups (runs too), and returns how many rows went.
	Prune(ctx context.Context, raw, rollups time.Time) (int64, error)
}

// Component is a node (Node set) or a whole service (Node empty).
type Component struct {
	Service, Node string
}

// ReplicaKey names a replica.
type ReplicaKey struct {
	Service, Node, Replica string
}

// NodeOf is the node of a replica.
func (k ReplicaKey) NodeOf() Component { return Component{Service: k.Service, Node: k.Node} }

// Result is one probe or report result.
type Result struct {
	Key     ReplicaKey
	At      time.Time
	Status  status.Status
	Latency time.Duration
	Reason  string // why it was not healthy
}

// Change is a node or service taking a new status, or, Resumed, its first
// result after the server started, with the status it had.
type Change struct {
	Of      Component
	At      time.Time
	Status  status.Status
	Reason  string // the first dead (or sick) replica's reason
	Resumed bool   // data again from At; the status did not change
}

// PushReplica is what is kept of a push or local replica: its last report.
type PushReplica struct {
	Key        ReplicaKey
	Interval   time.Duration
	LastReport time.Time
	Status     status.Status
	HasLoad    bool // push: the load below; local: the status is its own report
	CPU, RAM   float64
}

// Batch is what Write stores at once.
type Batch struct {
	Run          int64     // the run writing, whose Alive moves to At
	At           time.Time // when the batch was cut
	Results      []Result
	Changes      []Change
	PushReplicas []PushReplica // stored or replaced
	Flushed      []ReplicaKey  // push and local replicas deleted
}

// Empty reports whether the batch holds nothing but the sign of life.
func (b *Batch) Empty() bool {
	return len(b.Results) == 0 && len(b.Changes) == 0 && len(b.PushReplicas) == 0 && len(b.Flushed) == 0
}

// Level of a rollup.
type Level uint8

const (
	Hourly Level = iota + 1
	Daily
)

// Rollup sums the time of one replica, node or service over an hour or a
// day: how long it was in each status, how long it was under maintenance,
// how long there was no data, and its latency.
type Rollup struct {
	Level Level
	// Of is the node or service; Replica is set for a replica's rollup.
	Of      Component
	Replica string
	Start   time.Time // of the hour or day (UTC)

	Healthy, Sick, Dead, NoData time.Duration
	// Maintenance is time with data inside a maintenance window affecting
	// it: counted there instead of in its status, so it is neither up nor
	// down.
	Maintenance time.Duration

	LatencySum   time.Duration
	LatencyCount int64
	LatencyMax   time.Duration
	LatencyP95   time.Duration // daily: the highest hourly p95 (an upper bound)
}

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")
