package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"syscall"

	"github.com/overvakt/overvakt/pkg/app"
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/connlimit"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/metrics"
	"github.com/overvakt/overvakt/pkg/server"
)

// reload is a request to read the config again; done hears how it went.
type reload struct {
	done chan error // nil: nobody waits (SIGHUP)
}

// serve runs the server until ctx is cancelled: one HTTP listener for the
// process, and the app built from the config, replaced by a new one on
// SIGHUP or POST /manager/reload when the file, read again, is valid. On
// the end it stops taking requests, lets those under way finish, stops the
// app (which writes what is left) and closes the store.
func serve(ctx context.Context, set kinds.Set, cfg *config.Config, load func() (*config.Config, error), logOut io.Writer) error {
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: logLevel(cfg.Server.LogLevel)}))
	// Where it listens and what it read are said whatever log_level is:
	// an operator starting it must see that it is up, and where.
	always := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	file, err := filepath.Abs(cfg.File)
	if err != nil {
		file = cfg.File
	}
	// The store outlives reloads: every app runs on it.
	st, err := app.OpenStore(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer st.Close()

	// Counters keep counting across reloads.
	meter := metrics.New(version)

	reloads := make(chan reload)
	askReload := func(ctx context.Context) error {
		r := reload{done: make(chan error, 1)}
		select {
		case reloads <- r:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case err := <-r.done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	build := func(cfg *config.Config, from *app.App) (*app.App, error) {
		opts := app.Options{Config: cfg, Kinds: set, Logger: logger, Version: version, Store: st, Reload: askReload, Metrics: meter}
		if from != nil {
			opts.RunID, opts.Adopt = from.RunID, from.Registry.Snapshot()
		}
		if !cfg.Server.Metrics {
			meter.Detach() // let the last app that had metrics go
		}
		return app.New(ctx, opts)
	}
	a, err := build(cfg, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Inet)
	if err != nil {
		return fmt.Errorf("%s: server.inet: %w", cfg.File, err)
	}
	ln = limitConnections(ln, cfg, always)
	// Live connections may take half of the listener's at most.
	fitLive := func(a *app.App) {}
	if l, ok := ln.(interface{ Limits() connlimit.Limits }); ok {
		total := l.Limits().Total
		fitLive = func(a *app.App) { a.Server.FitLive(total) }
	}
	fitLive(a)
	always.Info("listening on http://"+ln.Addr().String()+"/", "config", file, "version", version, "log_level", cfg.Server.LogLevel)

	// One listener for the process; its handler follows the running app.
	var current atomic.Pointer[app.App]
	current.Store(a)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { current.Load().Handler().ServeHTTP(w, r) })
	listening := make(chan error, 1)
	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	go func() { listening <- server.Listen(listenCtx, ln, handler, logger) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// run starts an app; stop ends it and says how its run ended.
	run := func(a *app.App) (ran chan error, stop func() error) {
		appCtx, cancel := context.WithCancel(context.Background())
		ran = make(chan error, 1)
		go func() { ran <- a.Run(appCtx) }()
		return ran, func() error { cancel(); return <-ran }
	}
	ran, stop := run(a)
	for {
		var next reload
		select {
		case err := <-ran:
			// A part failed: stop.
			stopListening()
			<-listening
			a.Finish()
			always.Info("stopped", "config", file, "err", err)
			return err
		case <-ctx.Done():
			// Stop taking requests and let those under way finish, then
			// stop the app: what they wrote is written out.
			stopListening()
			httpErr := <-listening
			err := stop()
			a.Finish()
			always.Info("stopped", "config", file)
			if err == nil && httpErr != nil {
				err = httpErr
			}
			return err
		case <-hup:
		case next = <-reloads:
		}
		cfg, err := load()
		if err == nil {
			if why := needsRestart(a.Config, cfg); why != "" {
				err = fmt.Errorf("%s changed: restart the server to use it", why)
			}
		}
		if err != nil {
			logRefused(always, file, err)
			if next.done != nil {
				next.done <- err
			}
			continue
		}
		if err := stop(); err != nil {
			logger.Error("the running app failed while stopping for a reload", "err", err)
		}
		b, err := build(cfg, a)
		if err != nil {
			// The new app could not be built (its store reads): go on with
			// the config that ran, built again.
			always.Error("reload failed; the running config is kept", "config", file, "err", err)
			again, rerr := build(a.Config, a)
			if rerr != nil {
				return errors.Join(err, rerr)
			}
			b = again
		} else {
			always.Info("reloaded", "config", file)
		}
		a = b
		fitLive(a)
		current.Store(a)
		ran, stop = run(a)
		if next.done != nil {
			next.done <- err
		}
	}
}

// logRefused logs why a reload was refused, one line per config error.
func logRefused(log *slog.Logger, file string, err error) {
	var errs config.Errors
	if !errors.As(err, &errs) {
		log.Error("reload refused; the running config is kept", "config", file, "err", err)
		return
	}
	for _, e := range errs {
		log.Error("reload refused: the config has errors; the running config is kept", "error", e.Error())
	}
}

// needsRestart names what changed between two configs that a reload cannot
// apply: the listening address, the connection caps and the store are the
// process's; "" when there is none.
func needsRestart(old, cfg *config.Config) string {
	switch {
	case old.Server.Inet != cfg.Server.Inet:
		return "[server] inet"
	case old.Server.MaxConnections != cfg.Server.MaxConnections || old.Server.MaxConnectionsPerIP != cfg.Server.MaxConnectionsPerIP:
		return "[server] max_connections or max_connections_per_ip"
	case !reflect.DeepEqual(old.Storage, cfg.Storage):
		return "[storage]"
	}
	return ""
}
