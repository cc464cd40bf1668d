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
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/dynamic"
	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/push"
	"github.com/overvakt/overvakt/pkg/silence"
	"github.com/overvakt/overvakt/pkg/status"
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
	Logger   *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
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
	log      *slog.Logger
	now      func() time.Time

	reporterAuth auth
	managerAuth  auth

	bufs sync.Pool // *[]byte request body buffers
}

// New builds the API.
func New(opts Options) (*API, error) {
	if opts.Config == nil || opts.Registry == nil || opts.Agents == nil || opts.Board == nil || opts.Silence == nil ||
		opts.Desk == nil || opts.Schedule == nil || opts.Subs == nil {
		return nil, errors.New("api: Options.Config, Registry, Agents, Board, Desk, Schedule, Subs and Silence are required")
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
		log:          opts.Logger,
		now:          opts.Now,
		reporterAuth: newAuth(opts.Config.Server.ReporterToken, "Overvakt reporter", "server.reporter_token"),
		managerAuth:  newAuth(opts.Config.Server.ManagerToken, "Overvakt manager", "server.manager_token"),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
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
