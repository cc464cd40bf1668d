// Package apptest runs the server's HTTP side in tests: the app built from
// a config text exactly as the overvakt command builds it, its routes on a
// loopback listener.
package apptest

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/app"
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/pkg/store/memory"
)

// Options tune Start; the zero value runs on real time.
type Options struct {
	// Now is the app's clock. With one, the silence sweep does not run on
	// its own: the test calls App.Agents.Sweep.
	Now func() time.Time
	// SweepEvery is the period of the silence sweep; default 20 ms.
	SweepEvery time.Duration
	// Listener to serve on; nil is a new one on 127.0.0.1.
	Listener net.Listener
	// Store is the app's store; nil is a new memory store.
	Store store.Store
	// Logger receives the app's log; nil discards it.
	Logger *slog.Logger
}

// Server is a running app.
type Server struct {
	*app.App
	URL string // http://127.0.0.1:port
}

// Config parses config text with every kind, failing the test on errors.
func Config(t testing.TB, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(text), func(string) (string, bool) { return "", false }, kinds.All().Config())
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

// Start serves the app of config text until the test ends. Only HTTP and
// the silence sweep run: nothing is probed and nothing notified.
func Start(t testing.TB, text string, opts Options) *Server {
	t.Helper()
	if opts.SweepEvery == 0 {
		opts.SweepEvery = 20 * time.Millisecond
	}
	if opts.Store == nil {
		opts.Store = memory.New()
	}
	a, err := app.New(context.Background(), app.Options{Config: Config(t, text), Kinds: kinds.All(), Now: opts.Now,
		SweepEvery: opts.SweepEvery, Store: opts.Store, Logger: opts.Logger})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(a.Handler())
	if opts.Listener != nil {
		ts.Listener.Close()
		ts.Listener = opts.Listener
	}
	ts.Start()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if opts.Now == nil {
		wg.Go(func() { _ = a.Agents.Run(ctx) })
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		ts.Close()
	})
	return &Server{App: a, URL: ts.URL}
}
