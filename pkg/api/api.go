// Package api serves the two authenticated parts of the wire protocol:
//
//   - /reporter/…: push agents report their host load and local agents report
//     replica health (reporter_token);
//   - /manager/…: operators publish announcements, open and update
//     incidents, schedule maintenance, register webhook subscribers, read
//     alerts and silence reminders (manager_token).
//
// The protocol is described in docs/protocol.md. Its handlers only decode,
// authenticate and answer: the state they change is owned elsewhere (push
// and local replicas by pkg/push, announcements by pkg/notice, the reminder
// silence by pkg/silence, incidents, windows and subscribers by
// pkg/notice). pkg/server mounts them in its route table. Every error body
// is {"error":"…"}.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/clientip"
	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/dynamic"
	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/push"
	"github.com/overvakt/overvakt/pkg/silence"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/throttle"
)

// MaxBody is the largest request body accepted; larger ones get 413.
const MaxBody = 64 << 10

// Options are the parts an API is built from; all but Logger and Now are
// required.
type Options struct {
	Config   *config.Config   // the tokens
	Registry *status.Registry // read for the alerts
	Agents   *push.Agents
	Board    *notice.Board
	Desk     *notice.Desk     // incidents
	Schedule *notice.Schedule // maintenance windows
	Subs     *notice.Subscriptions
	Silence  *silence.Silence
	Dynamic  *dynamic.Targets // nil: [dynamic] is off, its routes answer 404
	// Reload re-reads the config and applies it (POST /manager/reload);
	// nil: not available here.
	Reload func(ctx context.Context) error
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now

	// Throttle limits failed authentication per client address; nil is
	// one with throttle's defaults on Now.
	Throttle *throttle.Throttle
	// Notes hears what people should be told with the next notification
	// (a dead replica flushed); nil: nobody.
	Notes Notes
	// Metrics answers GET /metrics, behind [server] metrics_token when it
	// is set; nil: no such route.
	Metrics http.Handler
	// CountReport hears every authenticated agent report: accepted or
	// refused (the metrics); nil: nobody.
	CountReport func(accepted bool)
}

// Notes takes a line for the next message to people (a *notify.Dispatcher).
type Notes interface {
	Note(text string)
}

// API is the reporter and manager HTTP API. It is safe for concurrent use.
type API struct {
	reg      *status.Registry
	agents   *push.Agents
	board    *notice.Board
	desk     *notice.Desk
	schedule *notice.Schedule
	subs     *notice.Subscriptions
	silence  *silence.Silence
	dynamic  *dynamic.Targets // nil: off
	reload   func(ctx context.Context) error
	log      *slog.Logger
	now      func() time.Time
	notes    Notes // may be nil

	reporterAuth auth
	managerAuth  auth
	metricsAuth  *auth        // nil: /metrics is open
	metrics      http.Handler // nil: no /metrics
	countReport  func(accepted bool)
	clients      *clientip.Resolver
	throttle     *throttle.Throttle

	bufs sync.Pool // *[]byte request body buffers
}

// New builds the API.
func New(opts Options) (*API, error) {
	if opts.Config == nil || opts.Registry == nil || opts.Agents == nil || opts.Board == nil || opts.Silence == nil ||
		opts.Desk == nil || opts.Schedule == nil || opts.Subs == nil {
		return nil, errors.New("api: Options.Config, Registry, Agents, Board, Desk, Schedule, Subs and Silence are required")
	}
	srv := &opts.Config.Server
	if srv.ReporterToken == "" || srv.ManagerToken == "" {
		// An empty token would let "Basic Og==" in.
		return nil, errors.New("api: server.reporter_token and server.manager_token must be set")
	}
	var trusted []netip.Prefix
	for _, p := range srv.TrustedProxies {
		pre, ok := config.ParsePrefix(p)
		if !ok {
			return nil, fmt.Errorf("api: server.trusted_proxies: %q is no IP address or prefix", p)
		}
		trusted = append(trusted, pre)
	}
	a := &API{
		reg:          opts.Registry,
		agents:       opts.Agents,
		board:        opts.Board,
		desk:         opts.Desk,
		schedule:     opts.Schedule,
		subs:         opts.Subs,
		silence:      opts.Silence,
		dynamic:      opts.Dynamic,
		reload:       opts.Reload,
		log:          opts.Logger,
		now:          opts.Now,
		notes:        opts.Notes,
		reporterAuth: newAuth("reporter", srv.ReporterToken, "Overvakt reporter", "server.reporter_token"),
		managerAuth:  newAuth("manager", srv.ManagerToken, "Overvakt manager", "server.manager_token"),
		clients:      clientip.New(trusted),
		throttle:     opts.Throttle,
		metrics:      opts.Metrics,
		countReport:  opts.CountReport,
	}
	if t := srv.MetricsToken; t != "" {
		au := newAuth("metrics", t, "Overvakt metrics", "server.metrics_token")
		// Prometheus sends a token as a bearer token (authorization:
		// credentials) as readily as in Basic auth (basic_auth: password).
		au.bearer = true
		au.missing = "missing credentials: send the token as a bearer token (Authorization: Bearer <token>) or as the password of HTTP Basic auth"
		a.metricsAuth = &au
	}
	for i := range srv.ReporterTokenScopes {
		sc := &srv.ReporterTokenScopes[i]
		a.reporterAuth.creds = append(a.reporterAuth.creds, newCredential(sc.Token, sc))
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.throttle == nil {
		a.throttle = throttle.New(throttle.Options{Now: a.now})
	}
	a.bufs.New = func() any {
		b := make([]byte, 0, 1024)
		return &b
	}
	return a, nil
}

// param returns a path parameter, unescaped: the router matches the raw
// path when it has escapes, so that an encoded "/" (%2F) stays inside its
// segment. ok is false for a bad escape.
func param(c echo.Context, name string) (string, bool) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, true
	}
	u, err := url.PathUnescape(v)
	return u, err == nil
}
