// Package app wires the server's parts together: the status registry and
// the owners of state around it (push replicas, announcements, the reminder
// silence), the APIs and the HTTP server, the prober and the notifier. The
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
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/api"
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/push"
	"github.com/overvakt/overvakt/pkg/server"
	"github.com/overvakt/overvakt/pkg/silence"
	"github.com/overvakt/overvakt/pkg/status"
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
}

// App is the server, built and ready to Run.
type App struct {
	Config     *config.Config
	Registry   *status.Registry
	Agents     *push.Agents
	Board      *notice.Board
	Silence    *silence.Silence
	API        *api.API
	Server     *server.Server
	Scheduler  *probe.Scheduler
	Dispatcher *notify.Dispatcher

	log *slog.Logger
}

// New builds every part; nothing runs yet.
func New(opts Options) (*App, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("app: Options.Config is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{Config: cfg, Silence: &silence.Silence{}, log: log}
	a.Registry = status.NewRegistry(cfg.StatusSpecs(), time.Now())
	var err error
	if a.Agents, err = push.New(push.Options{Registry: a.Registry, Metrics: cfg.Metrics, Logger: log,
		Now: opts.Now, SweepEvery: opts.SweepEvery}); err != nil {
		return nil, err
	}
	if a.Board, err = notice.NewBoard(nil, opts.Now, log); err != nil {
		return nil, err
	}
	if a.API, err = api.New(api.Options{Config: cfg, Registry: a.Registry, Agents: a.Agents, Board: a.Board,
		Silence: a.Silence, Logger: log, Now: opts.Now}); err != nil {
		return nil, err
	}
	if a.Server, err = server.New(server.Options{Config: cfg, Registry: a.Registry, Logger: log, Version: opts.Version,
		Announcements: a.Board, API: a.API}); err != nil {
		return nil, err
	}
	if a.Scheduler, err = probe.NewScheduler(probe.Options{Config: cfg, Registry: a.Registry, Kinds: opts.Kinds.Probes,
		Logger: log, Version: opts.Version}); err != nil {
		return nil, err
	}
	client := opts.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	chans, err := notify.Build(opts.Kinds.Channels, &cfg.Notify, notify.Deps{HTTP: client, Logger: log})
	if err != nil {
		return nil, err
	}
	a.Dispatcher = notify.NewDispatcher(notify.DispatcherOptions{
		Config: cfg, Registry: a.Registry, Channels: chans, Logger: log, Silence: a.Silence.Active,
	})
	return a, nil
}

// Handler is every route the server answers.
func (a *App) Handler() http.Handler { return a.Server.Handler() }

// Run serves HTTP on ln and runs the prober, the notifier and the silence
// sweep until ctx ends or one of them fails; then it stops every part,
// waits for it and returns the first failure.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	start := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		})
	}
	start("http server", func(ctx context.Context) error { return a.Server.Serve(ctx, ln) })
	start("prober", a.Scheduler.Run)
	start("notifier", a.Dispatcher.Run)
	start("reporter expiry", a.Agents.Run)
	wg.Wait()
	close(errs)
	return <-errs
}
