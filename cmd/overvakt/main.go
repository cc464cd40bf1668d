// Command overvakt is the status page and monitoring server.
//
//	overvakt [-c overvakt.toml] [-storage DB]   run the server
//	overvakt check-config -c FILE        validate a config file
//	overvakt notify-test -c FILE [--channel NAME]   send a test notification
//	overvakt backup -c FILE OUT          copy the store while the server runs
//	overvakt version (or --version)      print the version
//	overvakt help                        print the usage
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
	"syscall"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/connlimit"
	"github.com/overvakt/overvakt/pkg/kinds"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/store/sqlite"
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
  overvakt [-c FILE] [-storage DB] run the server (default FILE: overvakt.toml)
  overvakt check-config -c FILE    check a config file; prints "ok" or every error
  overvakt notify-test -c FILE [--channel NAME]
                                   send a test message through every configured
                                   channel (or one); prints "ok" or the error each
  overvakt backup -c FILE [-storage DB] OUT
                                   write a consistent copy of the server's store
                                   to OUT, while it runs or not
  overvakt version                 print the version (also --version)
  overvakt help                    print this

-storage DB replaces [storage] path (the systemd unit keeps the file in
/var/lib/overvakt this way). Docs: README.md and docs/ in the source.
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
	showVersion := fs.Bool("version", false, "print the version and exit")
	var channel, storagePath *string
	if cmd == "notify-test" {
		channel = fs.String("channel", "", "send through this channel only (email, slack, …)")
	}
	if cmd == "serve" || cmd == "backup" {
		storagePath = fs.String("storage", "", "the SQLite file, instead of [storage] path")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		cmd = "version"
	}
	if cmd == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	wantArgs := 0
	if cmd == "backup" {
		wantArgs = 1
	}
	if fs.NArg() != wantArgs && cmd != "version" {
		if fs.NArg() > wantArgs {
			fmt.Fprintf(stderr, "overvakt %s: unexpected argument %q\n%s", cmd, fs.Arg(wantArgs), usage)
		} else {
			fmt.Fprintf(stderr, "overvakt %s: name the file to write\n%s", cmd, usage)
		}
		return 2
	}
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "overvakt %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "check-config":
		if _, err := kinds.All().Load(*path); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, "ok")
		return 0
	case "notify-test":
		set := kinds.All()
		cfg, err := set.Load(*path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		chans, err := notify.Build(set.Channels, &cfg.Notify, notifyDeps(nil))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if !notify.TestChannels(ctx, cfg, chans, *channel, stdout) {
			return 1
		}
		return 0
	case "backup":
		cfg, err := kinds.All().Load(*path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if *storagePath != "" {
			cfg.Storage.Path = *storagePath
		}
		if cfg.Storage.Driver != "sqlite" {
			fmt.Fprintf(stderr, "overvakt backup: [storage] driver is %q: there is no file to copy\n", cfg.Storage.Driver)
			return 1
		}
		if err := sqlite.BackupFile(ctx, cfg.Storage.Path, fs.Arg(0)); err != nil {
			fmt.Fprintln(stderr, "overvakt", err)
			return 1
		}
		fmt.Fprintf(stdout, "ok: %s copied to %s\n", cfg.Storage.Path, fs.Arg(0))
		return 0
	case "serve":
		set := kinds.All()
		load := func() (*config.Config, error) {
			cfg, err := set.Load(*path)
			if err == nil && *storagePath != "" {
				cfg.Storage.Path = *storagePath
			}
			return cfg, err
		}
		cfg, err := load()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := serve(ctx, set, cfg, load, stderr); err != nil {
			fmt.Fprintln(stderr, "overvakt:", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "overvakt: unknown command %q\n%s", cmd, usage)
		return 2
	}
}

// notifyDeps is what notify-test sends with: one HTTP client whose timeout
// is a backstop behind each send's own.
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

// limitConnections caps the inbound connections so that a flood of idle
// clients cannot take the descriptors probes and the store need: the
// soft limit on open files is raised to the hard one, and the cap leaves
// a reserve below it.
func limitConnections(ln net.Listener, cfg *config.Config, logger *slog.Logger) net.Listener {
	soft, hard, err := connlimit.RaiseDescriptorLimit()
	if err != nil {
		logger.Warn("cannot read the open-file limit; connections capped by max_connections alone", "err", err)
	}
	m := &cfg.Metrics
	reserve := m.PollParallelism + 4*m.ScriptParallelism + 64
	limits := connlimit.Limits{
		Total: connlimit.Budget(soft, reserve, cfg.Server.MaxConnections),
		PerIP: cfg.Server.MaxConnectionsPerIP,
	}
	if limits.PerIP == 0 {
		limits.PerIP = -1
	}
	wrapped := connlimit.Wrap(ln, limits, logger)
	limits = wrapped.Limits()
	logger.Info("open files and connections", "open_files_soft", soft, "open_files_hard", hard,
		"reserved_for_probes", reserve, "max_connections", limits.Total, "max_connections_per_ip", max(limits.PerIP, 0))
	return wrapped
}
