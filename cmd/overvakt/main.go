// Command overvakt is the status page and monitoring server.
//
//	overvakt [-c overvakt.toml]          run the server
//	overvakt check-config -c FILE        validate a config file
//	overvakt notify-test -c FILE [--channel NAME]   send a test notification
//	overvakt version                     print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/overvakt/overvakt/pkg/api"
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/channels"
	"github.com/overvakt/overvakt/pkg/plugin/rabbitmq"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/server"
	"github.com/overvakt/overvakt/pkg/status"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  overvakt [-c FILE]               run the server (default FILE: overvakt.toml)
  overvakt check-config -c FILE    check a config file; prints "ok" or every error
  overvakt notify-test -c FILE [--channel NAME]
                                   send a test message through every configured
                                   channel (or one); prints "ok" or the error each
  overvakt version                 print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("overvakt "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	path := fs.String("c", "overvakt.toml", "path to the config file")
	var channel *string
	if cmd == "notify-test" {
		channel = fs.String("channel", "", "send through this channel only (email, slack, …)")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "overvakt %s: unexpected argument %q\n%s", cmd, fs.Arg(0), usage)
		return 2
	}
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "overvakt %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "check-config":
		if _, err := config.Load(*path); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, "ok")
		return 0
	case "notify-test":
		cfg, err := config.Load(*path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		chans, err := channels.Build(&cfg.Notify, notifyDeps(nil))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if !notify.TestChannels(ctx, cfg, chans, *channel, stdout) {
			return 1
		}
		return 0
	case "serve":
		cfg, err := config.Load(*path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := serve(ctx, cfg, stderr); err != nil {
			fmt.Fprintln(stderr, "overvakt:", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "overvakt: unknown command %q\n%s", cmd, usage)
		return 2
	}
}

// serve runs the server until ctx is cancelled, then stops every part and
// waits for it.
func serve(ctx context.Context, cfg *config.Config, logOut io.Writer) error {
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: logLevel(cfg.Server.LogLevel)}))
	if cfg.Server.Workers < runtime.NumCPU() {
		runtime.GOMAXPROCS(cfg.Server.Workers)
	}

	reg := status.NewRegistry(cfg.StatusSpecs(), time.Now())

	agents, err := api.New(api.Options{Config: cfg, Registry: reg, Logger: logger})
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{Config: cfg, Registry: reg, Logger: logger, Version: version,
		Announcements: agents, API: agents.Handler()})
	if err != nil {
		return err
	}
	var queues probe.QueueChecker
	if cfg.Plugins.RabbitMQ != nil {
		queues = rabbitmq.New(cfg.Plugins.RabbitMQ, nil)
	}
	sched, err := probe.NewScheduler(probe.Options{Config: cfg, Registry: reg, Logger: logger, Version: version, Queues: queues})
	if err != nil {
		return err
	}

	chans, err := channels.Build(&cfg.Notify, notifyDeps(logger))
	if err != nil {
		return err
	}
	dispatcher := notify.NewDispatcher(notify.DispatcherOptions{
		Config: cfg, Registry: reg, Channels: chans, Logger: logger,
		Silence: agents.Silence().Active,
	})

	ln, err := net.Listen("tcp", cfg.Server.Inet)
	if err != nil {
		return fmt.Errorf("%s: server.inet: %w", cfg.File, err)
	}
	logger.Info("listening", "inet", ln.Addr().String(), "version", version)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	start := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	start("http server", func(ctx context.Context) error { return srv.Serve(ctx, ln) })
	start("prober", sched.Run)
	start("notifier", dispatcher.Run)
	start("reporter expiry", agents.Run)
	wg.Wait()
	close(errs)
	logger.Info("stopped")
	return <-errs
}

// notifyDeps: channels share one HTTP client; its timeout is a backstop,
// the dispatcher's per-send timeout normally ends a send first.
func notifyDeps(logger *slog.Logger) notify.Deps {
	return notify.Deps{HTTP: &http.Client{Timeout: 30 * time.Second}, Logger: logger}
}

func logLevel(name string) slog.Level {
	switch name {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn":
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}
