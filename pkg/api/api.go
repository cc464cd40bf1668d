// Package api serves the two authenticated parts of the wire protocol:
//
//   - /reporter/…: push agents report their host load and local agents report
//     replica health (reporter_token);
//   - /manager/…: operators publish announcements, read alerts and silence
//     reminders (manager_token).
//
// The protocol is described in docs/protocol.md. Every route answers with and
// without a trailing slash, and every error body is {"error":"…"}.
//
// Push and local replicas live in the status registry like every other
// replica; this package also remembers when each one last reported and how
// often it promised to, and its Run loop marks the silent ones dead.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
)

// MaxBody is the largest request body accepted; larger ones get 413.
const MaxBody = 64 << 10

// DefaultSweepEvery is how often Run looks for silent replicas: a replica is
// marked dead at most this long after its deadline.
const DefaultSweepEvery = 250 * time.Millisecond

// Options are the parts an API is built from. Config and Registry are
// required; the rest have working zero values.
type Options struct {
	Config   *config.Config
	Registry *status.Registry
	Logger   *slog.Logger // nil: discard
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Announcements holds the published announcements; nil means a fresh
	// in-memory store (lost on restart).
	Announcements AnnouncementStore
	// SweepEvery is the period of the dead-replica check; 0 means
	// DefaultSweepEvery.
	SweepEvery time.Duration
}

// API is the reporter and manager HTTP API. It is safe for concurrent use.
type API struct {
	reg        *status.Registry
	log        *slog.Logger
	now        func() time.Time
	sweepEvery time.Duration

	reporterAuth auth
	managerAuth  auth

	cpuSickAbove, ramSickAbove float64
	maxReplicas                int // per push or local node

	// nodes finds any configured node by service id, then node id. Built
	// once: the configured tree never changes while the registry lives.
	nodes map[string]map[string]*node
	// reported are the push and local nodes, whose replicas the sweep checks.
	reported []*node

	// mu orders every write of push and local replicas, so a report and the
	// sweeper never overwrite each other's verdict.
	mu sync.Mutex

	announcements AnnouncementStore
	// annView is the published list as the page reads it, swapped after
	// every change so that readers never wait.
	annView atomic.Pointer[annView]
	annMu   sync.Mutex // serializes announcement writes
	silence Silence

	bufs sync.Pool // *[]byte request body buffers
}

// New builds the API from a validated config and the registry built from the
// same config, and reads the announcements already in the store.
func New(opts Options) (*API, error) {
	if opts.Config == nil || opts.Registry == nil {
		return nil, errors.New("api: Options.Config and Options.Registry are required")
	}
	a := &API{
		reg:           opts.Registry,
		log:           opts.Logger,
		now:           opts.Now,
		sweepEvery:    opts.SweepEvery,
		reporterAuth:  newAuth(opts.Config.Server.ReporterToken, "Overvakt reporter", "server.reporter_token"),
		managerAuth:   newAuth(opts.Config.Server.ManagerToken, "Overvakt manager", "server.manager_token"),
		cpuSickAbove:  opts.Config.Metrics.PushSystemCPUSickAbove,
		ramSickAbove:  opts.Config.Metrics.PushSystemRAMSickAbove,
		maxReplicas:   MaxReplicasPerNode,
		announcements: opts.Announcements,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.sweepEvery <= 0 {
		a.sweepEvery = DefaultSweepEvery
	}
	if a.announcements == nil {
		a.announcements = NewAnnouncements()
	}
	a.bufs.New = func() any {
		b := make([]byte, 0, 1024)
		return &b
	}
	a.nodes, a.reported = buildNodes(opts.Registry.Snapshot(), opts.Config.Metrics)
	if err := a.loadAnnouncementsLocked(); err != nil {
		return nil, fmt.Errorf("api: read announcements: %w", err)
	}
	return a, nil
}

// Register mounts every reporter and manager route on e, with and without
// trailing slashes. Paths under /reporter/ and /manager/ that match no route
// get a JSON 404 or 405 from this package.
func (a *API) Register(e *echo.Echo) {
	h := echo.WrapHandler(a)
	e.Any("/reporter/*", h)
	e.Any("/manager/*", h)
}

// Handler returns the API as a plain http.Handler, for mounting without echo.
// It serves paths under /reporter/ and /manager/ and answers 404 elsewhere.
func (a *API) Handler() http.Handler { return a }

// AnnouncementStore returns the store the manager routes write to.
func (a *API) AnnouncementStore() AnnouncementStore { return a.announcements }

// Announcements returns the published announcements, newest first, and a
// version that grows with every change. It is an atomic load, cheap enough
// for every page request (it implements server.AnnouncementSource). The
// caller must not modify the list.
func (a *API) Announcements() (list []page.Announcement, version uint64) {
	v := a.annView.Load()
	return v.list, v.version
}

// LoadAnnouncements reads the store into the list the page shows. New does
// it once; call it again only if the store was changed behind the API's back.
func (a *API) LoadAnnouncements() error {
	a.annMu.Lock()
	defer a.annMu.Unlock()
	return a.loadAnnouncementsLocked()
}

func (a *API) loadAnnouncementsLocked() error {
	list, err := a.announcements.List()
	if err != nil {
		return err
	}
	var version uint64
	if old := a.annView.Load(); old != nil {
		version = old.version
	}
	a.annView.Store(&annView{list: list, version: version + 1})
	return nil
}

// annView is one published list of announcements.
type annView struct {
	list    []page.Announcement
	version uint64
}

// Silence is the reminder silence set through the manager API; the notifier
// asks it before sending a reminder.
func (a *API) Silence() *Silence { return &a.silence }

// Run marks push and local replicas dead once they stay silent past their
// deadline, until ctx ends. It returns ctx.Err().
func (a *API) Run(ctx context.Context) error {
	t := time.NewTicker(a.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			a.sweep(a.now())
		}
	}
}
