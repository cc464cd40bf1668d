// Package app wires the server's parts together: the status registry and
// the owners of state around it (push replicas, announcements, incidents,
// maintenance, subscribers, the reminder silence), the APIs and the HTTP
// server, the prober and the notifier. The
// overvakt command runs it; tests build it the same way, so they serve
// exactly what production serves.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/api"
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/dynamic"
	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/mcpserver"
	"github.com/overvakt/overvakt/pkg/metrics"
	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/push"
	"github.com/overvakt/overvakt/pkg/server"
	"github.com/overvakt/overvakt/pkg/silence"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
	"github.com/overvakt/overvakt/pkg/store/sqlite"
)

// Options are what an App is built from; Config and Kinds are required.
type Options struct {
	Config  *config.Config // loaded with Kinds
	Kinds   kinds.Set
	Logger  *slog.Logger // nil discards
	Version string

	// Now is the clock of reports and announcements; nil is time.Now.
	Now func() time.Time
	// SweepEvery is how often silent push and local replicas are looked
	// for; 0 is push.DefaultSweepEvery.
	SweepEvery time.Duration
	// HTTP is the client of the notification channels; nil is one with a
	// 30 s timeout (the dispatcher's per-send timeout normally ends a send
	// first).
	HTTP *http.Client
	// Store replaces the one [storage] names (tests, and reloads, which
	// keep the store open); the app does not close it.
	Store store.Store

	// A reload builds a new App from the new config in place of the one
	// running: RunID continues that app's run in the store (0 starts a
	// run), and Adopt is its registry's last snapshot, whose statuses the
	// new registry takes over.
	RunID int64
	Adopt *status.Snapshot
	// Reload re-reads the config and replaces the running app, answering
	// the config's errors when it cannot (POST /manager/reload); nil: that
	// route says reloading is not available.
	Reload func(ctx context.Context) error
	// Metrics keeps counting across reloads; nil: the app makes its own
	// when [server] metrics is on.
	Metrics *metrics.Metrics
}

// App is the server, built and ready to Run.
type App struct {
	Config     *config.Config
	Store      store.Store
	RunID      int64 // this run's id in the store
	History    *history.Writer
	Views      *history.Reader // the page's history, rebuilt every minute
	Health     *history.Health
	Registry   *status.Registry
	Agents     *push.Agents
	Board      *notice.Board
	Desk       *notice.Desk     // incidents
	Schedule   *notice.Schedule // maintenance windows
	Drafter    *notice.Drafter  // nil unless [incidents] draft_on_dead
	Subs       *notice.Subscriptions
	Silence    *silence.Silence
	API        *api.API
	Server     *server.Server
	Scheduler  *probe.Scheduler
	Dynamic    *dynamic.Targets // nil unless [dynamic]
	Dispatcher *notify.Dispatcher
	Metrics    *metrics.Metrics // nil unless [server] metrics

	log      *slog.Logger
	ownStore bool // opened by New, closed by Serve
	now      func() time.Time
	rollups  *history.Rollups
}

// New opens the store, takes back what it kept and builds every part;
// nothing runs yet. On error nothing is left open.
func New(ctx context.Context, opts Options) (a *App, err error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("app: Options.Config is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	a = &App{Config: cfg, Store: opts.Store, Health: &history.Health{}, log: log, now: now}
	if a.Store == nil {
		if a.Store, err = OpenStore(ctx, cfg.Storage); err != nil {
			return nil, err
		}
		a.ownStore = true
		defer func() {
			if err != nil {
				a.Store.Close()
			}
		}()
	}
	start := now()
	if a.RunID = opts.RunID; a.RunID == 0 {
		if a.RunID, err = a.Store.StartRun(ctx, start); err != nil {
			return nil, fmt.Errorf("store: record the start: %w", err)
		}
	}

	a.Registry = status.NewRegistry(cfg.StatusSpecs(), start)
	if cfg.Dynamic != nil {
		// Before the restore, so the targets' last results come back too.
		if a.Dynamic, err = dynamic.New(ctx, dynamic.Options{Config: cfg.Dynamic, Store: a.Store, Registry: a.Registry,
			Now: opts.Now, Logger: log}); err != nil {
			return nil, err
		}
	}
	if a.Agents, err = push.New(push.Options{Registry: a.Registry, Metrics: cfg.Metrics, Logger: log,
		Now: opts.Now, SweepEvery: opts.SweepEvery}); err != nil {
		return nil, err
	}
	if err := a.restore(ctx, start); err != nil {
		return nil, err
	}
	// A reload: what the running app knew is newer than the store.
	a.Registry.Adopt(opts.Adopt)
	wopts := history.WriterOptions{Store: a.Store, Run: a.RunID, Push: a.Agents, Logger: log, Health: a.Health}
	if cfg.Server.Metrics {
		if a.Metrics = opts.Metrics; a.Metrics == nil {
			a.Metrics = metrics.New(opts.Version)
		}
		wopts.OnWrite = a.Metrics.StoreWrite
	}
	a.History = history.NewWriter(wopts)
	var rec status.Recorder = a.History
	if a.Metrics != nil {
		rec = a.Metrics.Recorder(rec)
	}
	a.Registry.SetRecorder(rec)
	tree := func() []*status.Service { return a.Registry.Snapshot().Services }
	a.rollups = history.NewRollups(a.Store, cfg.Storage, tree, log)
	a.Views = history.NewReader(a.Store, a.rollups, tree, log)

	if a.Board, err = notice.NewBoard(ctx, a.Store, opts.Now, log); err != nil {
		return nil, fmt.Errorf("announcements: %w", err)
	}
	if a.Silence, err = silence.New(ctx, a.Store); err != nil {
		return nil, err
	}
	components := componentsOf{services: cfg.Probe.Services, reg: a.Registry}
	if cfg.Dynamic != nil {
		components.dynamic = cfg.Dynamic.ServiceID
	}
	client := opts.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	chans, err := notify.Build(opts.Kinds.Channels, &cfg.Notify, notify.Deps{HTTP: client, Logger: log})
	if err != nil {
		return nil, err
	}
	// Subscribers are mailed through [notify.email]; their links need the
	// page's address.
	mail := mailerOf(chans)
	if mail != nil && cfg.Branding.PageURL == "" {
		log.Warn("e-mail subscriptions are off: set [branding] page_url, the address the links in their mails start with")
		mail = nil
	}
	if a.Subs, err = notice.NewSubscriptions(ctx, notice.SubscriptionOptions{Store: a.Store, State: a.Store, Mailer: mail,
		HTTP: client, PageURL: cfg.Branding.PageURL, PageTitle: cfg.Branding.PageTitle, Components: components,
		Now: opts.Now, Logger: log}); err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	if a.Desk, err = notice.NewDesk(ctx, notice.DeskOptions{Store: a.Store, Components: components, Now: opts.Now, Logger: log,
		Events: a.Subs.Incident}); err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	if cfg.Incidents.DraftOnDead {
		a.Drafter = notice.NewDrafter(a.Desk, a.Registry, time.Duration(cfg.Incidents.PublishAfter), log)
	}
	if a.Schedule, err = notice.NewSchedule(ctx, notice.ScheduleOptions{Config: cfg.Maintenance, Store: a.Store,
		Components: components, Now: opts.Now, Logger: log}); err != nil {
		return nil, fmt.Errorf("maintenance: %w", err)
	}
	a.rollups.SetMaintenance(a.Schedule)
	dopts := notify.DispatcherOptions{
		Config: cfg, Registry: a.Registry, Channels: chans, Logger: log, Silence: a.Silence.Active, State: a.Store,
		Maintenance: a.Schedule,
		// Within the 10 s a stop may take, with the HTTP server's 5 s.
		DrainTimeout: 3 * time.Second,
	}
	// The API notes flushes of dead replicas in the dispatcher's next message.
	aopts := api.Options{Config: cfg, Registry: a.Registry, Agents: a.Agents, Board: a.Board,
		Desk: a.Desk, Schedule: a.Schedule, Subs: a.Subs, Silence: a.Silence, Dynamic: a.Dynamic, Logger: log, Now: opts.Now,
		Reload: opts.Reload}
	sopts := server.Options{Config: cfg, Registry: a.Registry, Logger: log, Version: opts.Version,
		Announcements: a.Board, Health: a.Health, History: a.Views, Retracted: a.Board,
		Incidents: a.Desk, Maintenance: a.Schedule, Subscriptions: a.Subs}
	if m := a.Metrics; m != nil {
		dopts.Count = m.Notification
		for _, ch := range chans {
			m.Channel(ch.Name(), notify.Outcomes()...)
		}
		aopts.Metrics, aopts.CountReport = m.Handler(), m.Report
		sopts.Meter = m
	}
	a.Dispatcher = notify.NewDispatcher(dopts)
	aopts.Notes = a.Dispatcher
	if a.API, err = api.New(aopts); err != nil {
		return nil, err
	}
	var agents http.Handler // MCP, for AI agents
	if cfg.Server.MCPServer {
		if agents, err = mcpserver.New(mcpserver.Options{Status: a.Registry, Incidents: a.Desk, PageTitle: cfg.Branding.PageTitle,
			PageURL: cfg.Branding.PageURL, Version: opts.Version, Logger: log}); err != nil {
			return nil, err
		}
	}
	sopts.API, sopts.MCP = a.API, agents
	if a.Server, err = server.New(sopts); err != nil {
		return nil, err
	}
	if a.Scheduler, err = probe.NewScheduler(probe.Options{Config: cfg, Registry: a.Registry, Kinds: opts.Kinds.Probes,
		Logger: log, Version: opts.Version}); err != nil {
		return nil, err
	}
	if a.Dynamic != nil {
		if err := a.Dynamic.Attach(a.Scheduler); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// OpenStore opens the store [storage] names.
func OpenStore(ctx context.Context, s config.Storage) (store.Store, error) {
	switch s.Driver {
	case "memory":
		return memory.New(), nil
	case "sqlite", "":
		return sqlite.Open(ctx, s.Path)
	}
	return nil, fmt.Errorf("storage.driver: unknown driver %q (want sqlite or memory)", s.Driver)
}

// restore shows what the store kept from before the start: the last
// result of each replica and when each node and service took its status,
// and the push and local replicas with their deadlines.
func (a *App) restore(ctx context.Context, start time.Time) error {
	results, err := a.Store.LastResults(ctx)
	if err != nil {
		return fmt.Errorf("store: read the last results: %w", err)
	}
	changes, err := a.Store.LastChanges(ctx)
	if err != nil {
		return fmt.Errorf("store: read the last changes: %w", err)
	}
	saved, err := a.Store.PushReplicas(ctx)
	if err != nil {
		return fmt.Errorf("store: read the push and local replicas: %w", err)
	}
	rs := status.Restored{Results: map[[3]string]status.Result{}, Changed: map[[2]string]time.Time{}}
	snap := a.Registry.Snapshot()
	for _, r := range results {
		// Push and local replicas come back from their own records below
		// or not at all: a flushed one still has results in the history,
		// and must not return as a replica nobody can flush.
		if si, ni, ok := snap.FindNode(r.Key.Service, r.Key.Node); ok {
			if m := snap.Services[si].Nodes.At(ni).Mode; m == status.ModePush || m == status.ModeLocal {
				continue
			}
		}
		rs.Results[[3]string{r.Key.Service, r.Key.Node, r.Key.Replica}] = status.Result{
			Status: r.Status, Latency: r.Latency, Err: r.Reason, At: r.At}
	}
	// A push replica shows its last report, with its load, not its last
	// stored result.
	for k, res := range a.Agents.Restore(saved, start) {
		rs.Results[k] = res
	}
	for _, c := range changes {
		rs.Changed[[2]string{c.Of.Service, c.Of.Node}] = c.At
	}
	a.Registry.Restore(rs)
	return nil
}

// Handler is every route the server answers.
func (a *App) Handler() http.Handler { return a.Server.Handler() }

// Serve serves HTTP on ln and runs the app (Run) until ctx ends or a part
// fails; then it stops taking requests and lets those under way finish,
// stops the app, and Finishes. It returns the first failure.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	appCtx, stopApp := context.WithCancel(context.WithoutCancel(ctx))
	defer stopApp()
	ran := make(chan error, 1)
	go func() {
		err := a.Run(appCtx)
		stopListening() // a part failed: stop serving too
		ran <- err
	}()
	a.log.Info("serving the status page", "address", ln.Addr().String())
	httpErr := server.Listen(listenCtx, ln, a.Handler(), a.log)
	// Requests under way have finished: what they wrote is recorded below.
	stopApp()
	err := <-ran
	a.Finish()
	if err == nil && httpErr != nil && ctx.Err() == nil {
		err = fmt.Errorf("http server: %w", httpErr)
	}
	return err
}

// Run runs the prober, the notifier, the silence sweep, the history writer,
// the rollups, the page builders and the subscriptions until ctx ends or
// one of them fails; then it stops every part, waits for it and writes
// what is left. It returns the first failure. It does not close the store:
// a reload runs the next app on it.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if a.Metrics != nil {
		a.Metrics.Attach(metrics.Sources{Status: a.Registry.Snapshot, Queues: a.Dispatcher.Queues, LiveClients: a.Server.LiveClients})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	start := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		})
	}
	start("page builders", func(ctx context.Context) error { a.Server.Run(ctx); return nil })
	start("prober", a.Scheduler.Run)
	start("notifier", a.Dispatcher.Run)
	start("reporter expiry", a.Agents.Run)
	start("rollups", a.rollups.Run)
	start("history", a.History.Run)
	start("history view", a.Views.Run)
	if a.Drafter != nil {
		start("incident drafts", a.Drafter.Run)
	}
	start("subscriptions", func(ctx context.Context) error { return a.Subs.Run(ctx, a.Schedule) })
	wg.Wait()
	// Everything that writes has stopped: the writer's last flush holds all.
	a.History.Flush(context.WithoutCancel(ctx))
	close(errs)
	return <-errs
}

// Finish marks the run stopped in the store and closes the store New
// opened; after it the app is done.
func (a *App) Finish() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Store.StopRun(ctx, a.RunID, a.now()); err != nil {
		a.log.Error("store: record the stop", "err", err)
	}
	if a.ownStore {
		if err := a.Store.Close(); err != nil {
			a.log.Error("store: close", "err", err)
		}
	}
}

// Close releases what New opened, for an app that is never served.
func (a *App) Close() error {
	if a.ownStore {
		return a.Store.Close()
	}
	return nil
}

// componentsOf says which services and nodes there are: those of the
// config, and the dynamic service with the targets it has now.
type componentsOf struct {
	services []config.Service
	dynamic  string // the dynamic service's id; "" without one
	reg      *status.Registry
}

func (c componentsOf) Known(name string) bool {
	if config.KnownComponent(c.services, name) {
		return true
	}
	svc, node, hasNode := strings.Cut(name, ":")
	if c.dynamic == "" || svc != c.dynamic {
		return false
	}
	if !hasNode {
		return true
	}
	_, ni, ok := c.reg.Snapshot().FindNode(svc, node)
	return ok && ni >= 0
}
