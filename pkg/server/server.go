// Package server serves Övervakt over HTTP with echo: the status page, the
// status API, badges, assets, and the reporter and manager APIs of pkg/api.
// Every route is in one table (routes). Responses that depend on the status
// are built once per snapshot change and served from memory.
package server

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/connlimit"
	"github.com/overvakt/overvakt/pkg/history"
	"github.com/overvakt/overvakt/pkg/live"
	"github.com/overvakt/overvakt/pkg/page"
	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
	"github.com/overvakt/overvakt/res"
)

// latencyRefresh is how stale latencies on the page may get: a change of
// status re-renders at once, a new latency at most this often.
const latencyRefresh = 5 * time.Second

// shutdownGrace is how long Serve waits for requests in flight on shutdown.
const shutdownGrace = 5 * time.Second

// Options wires a Server.
type Options struct {
	Config   *config.Config
	Registry *status.Registry
	Logger   *slog.Logger // nil discards
	Version  string       // the program's version, for logs
	// Now is the clock pages are drawn with (what "today" and "since"
	// are); nil is time.Now. The caches keep to real time.
	Now func() time.Time

	// Announcements feeds the page; nil shows none.
	Announcements AnnouncementSource
	// API answers the reporter and manager routes; nil leaves them out (404).
	API API
	// Health says what is wrong with the server's own parts (the store);
	// nil: nothing can be.
	Health Health
	// History draws the page's bars, uptime and sparklines, and answers
	// /history, /feed.atom, /api/v1/history/… and /badge/uptime/…; nil
	// leaves them out of the page, and the routes answer 404.
	History HistorySource
	// Retracted lists the announcements taken down, for /history and the
	// feed; nil: none.
	Retracted RetractedSource
	// Incidents feeds the page, /history and the feed; nil shows none.
	Incidents IncidentSource
	// Maintenance is the schedule of windows; nil: none.
	Maintenance MaintenanceSource
	// Subscriptions answers /subscribe and /unsubscribe; nil: those
	// routes say subscriptions by e-mail are off.
	Subscriptions Subscriptions
	// MCP answers /mcp/probes ([server] mcp_server, pkg/mcpserver); nil
	// leaves the path out (404).
	MCP http.Handler
	// Meter counts the documents rendered and those served from memory
	// (the metrics); nil: nobody.
	Meter PageMeter
}

// PageMeter counts renders and cache hits of the page, the JSON report,
// /history and the feed (a *metrics.Metrics).
type PageMeter interface {
	Rendered(doc string)
	Hit(doc string)
}

// IncidentSource is the incident desk (a *notice.Desk).
type IncidentSource interface {
	// Incidents returns every incident, drafts included, and a version
	// that grows with every change. It is called on every page request,
	// so it must be cheap (an atomic load); the caller does not modify
	// the list.
	Incidents() ([]page.Incident, uint64)
}

// MaintenanceSource is the maintenance schedule (a *notice.Schedule).
type MaintenanceSource interface {
	// Windows returns every window overlapping [from, to).
	Windows(from, to time.Time) []page.Window
	// NextChange is the next start or end of a window after t; zero
	// when there is none soon.
	NextChange(t time.Time) time.Time
	// Version grows when windows are added or removed; it is called on
	// every page request, so it must be cheap.
	Version() uint64
}

// Subscriptions are the visitors' subscriptions by e-mail (a
// *notice.Subscriptions).
type Subscriptions interface {
	MailOn() bool
	Subscribe(ctx context.Context, address string, components []string, client string) error
	CanConfirm(token string) bool
	Confirm(ctx context.Context, token string) (bool, error)
	CanUnsubscribe(token string) bool
	Unsubscribe(ctx context.Context, token string) (bool, error)
}

// HistorySource is the page's history (a *history.Reader).
type HistorySource interface {
	// Current is the last view built, nil before the first. It is called
	// on every page request, so it must be cheap (an atomic load).
	Current() *history.View
	// NodeRange is one node's history over the last span (a key of
	// history.Ranges); errors for which history.IsUnknown holds are the
	// request's fault.
	NodeRange(ctx context.Context, c store.Component, span string, now time.Time) (*history.Range, error)
}

// RetractedSource lists retracted announcements (a *notice.Board).
type RetractedSource interface {
	// Retracted returns them newest first; the caller does not modify it.
	Retracted() []page.Announcement
}

// Health is what /health reports beside "ok".
type Health interface {
	// Problem is what is wrong, or "" when nothing is.
	Problem() string
}

// API is the reporter and manager API (pkg/api) as the route table mounts
// it: one handler per route.
type API interface {
	Report(echo.Context) error              // POST /reporter/{service}/{node}
	Flush(echo.Context) error               // DELETE /reporter/{service}/{node}/{replica}
	ListAnnouncements(echo.Context) error   // GET /manager/announcements
	PublishAnnouncement(echo.Context) error // POST /manager/announcement
	RetractAnnouncement(echo.Context) error // DELETE /manager/announcement/{id}
	Alerts(echo.Context) error              // GET /manager/prober/alerts
	Silence(echo.Context) error             // GET /manager/prober/alerts/ignored
	SetSilence(echo.Context) error          // PUT /manager/prober/alerts/ignored

	ListIncidents(echo.Context) error       // GET /manager/incidents
	OpenIncident(echo.Context) error        // POST /manager/incident
	GetIncident(echo.Context) error         // GET /manager/incident/{id}
	EditIncident(echo.Context) error        // PATCH /manager/incident/{id}
	DiscardIncident(echo.Context) error     // DELETE /manager/incident/{id} (drafts)
	AddIncidentUpdate(echo.Context) error   // POST /manager/incident/{id}/update
	ResolveIncident(echo.Context) error     // POST /manager/incident/{id}/resolve
	PublishIncident(echo.Context) error     // POST /manager/incident/{id}/publish (drafts)
	ListMaintenance(echo.Context) error     // GET /manager/maintenance
	ScheduleMaintenance(echo.Context) error // POST /manager/maintenance
	CancelMaintenance(echo.Context) error   // DELETE /manager/maintenance/{id}
	ListWebhooks(echo.Context) error        // GET /manager/subscribers
	AddWebhook(echo.Context) error          // POST /manager/subscribers
	RemoveWebhook(echo.Context) error       // DELETE /manager/subscriber/{id}
	PutMonitor(echo.Context) error          // PUT /manager/monitor?url=…
	GetMonitor(echo.Context) error          // GET /manager/monitor?url=…
	DeleteMonitor(echo.Context) error       // DELETE /manager/monitor?url=…
	ListMonitors(echo.Context) error        // GET /manager/monitors
	Reload(echo.Context) error              // POST /manager/reload
	Metrics(echo.Context) error             // GET /metrics, with metrics_token when set
	HasMetrics() bool                       // whether /metrics is on ([server] metrics)
}

// AnnouncementSource supplies the announcements shown on the page.
type AnnouncementSource interface {
	// Announcements returns the current list and a number that grows
	// whenever the list changes. It is called on every page request, so it
	// must be cheap (an atomic load) and must not modify the returned slice later.
	Announcements() (list []page.Announcement, version uint64)
}

// Server is the HTTP side. It is safe for concurrent use.
type Server struct {
	now      func() time.Time // see Options.Now
	reg      *status.Registry
	log      *slog.Logger
	version  string
	anns     AnnouncementSource
	api      API               // may be nil
	health   Health            // may be nil
	hist     HistorySource     // may be nil
	retired  RetractedSource   // may be nil
	incs     IncidentSource    // may be nil
	maint    MaintenanceSource // may be nil
	subs     Subscriptions     // may be nil
	mcp      http.Handler      // may be nil
	live     *live.Hub         // GET /live
	liveCap  int               // [server] live_max_connections
	renderer *page.Renderer
	assets   map[string]*asset // by path below /assets/
	echo     *echo.Echo

	csp []string

	// slots bounds the requests handled at once to server.workers; a
	// request waits for a free slot.
	slots chan struct{}

	page   *docCache
	report *docCache
	past   *docCache // /history
	feed   *docCache // /feed.atom
	// viewDocs: answers of the history API and uptime badges, per view.
	viewDocs viewDocs
	// edges counts the window starts and ends the page was rendered
	// again for, so browsers reload then too.
	edges atomic.Uint64

	pageURL string    // branding.page_url ending in "/", or ""
	started time.Time // the feed's time while it has no entry
	gzip    gzipPool  // shared by the page, the report and the assets

	notFoundHTML *doc
}

// New builds the server, loads the assets (embedded, overridden by files in
// [assets] path) and renders the page once, so template mistakes show at start.
func New(opts Options) (*Server, error) {
	if opts.Config == nil || opts.Registry == nil {
		return nil, errors.New("server: Options.Config and Options.Registry are required")
	}
	s := &Server{reg: opts.Registry, log: opts.Logger, version: opts.Version, anns: opts.Announcements,
		api: opts.API, health: opts.Health, hist: opts.History, retired: opts.Retracted, incs: opts.Incidents, maint: opts.Maintenance,
		subs: opts.Subscriptions, mcp: opts.MCP, slots: make(chan struct{}, max(opts.Config.Server.Workers, 1))}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	var disk fs.FS
	if dir := opts.Config.Assets.Path; dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("server: [assets] path: %w (point it at a folder laid out like res/, or remove it)", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("server: [assets] path %q is not a folder (point it at a folder laid out like res/)", dir)
		}
		disk = os.DirFS(dir)
	}
	files := page.Overlay(disk, res.FS())

	var err error
	if s.renderer, err = page.New(opts.Config.Branding, files); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.assets, err = loadAssets(res.FS(), disk, &s.gzip); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.csp = []string{s.renderer.ContentSecurityPolicy()}

	s.page = newDocCache("page", opts.Meter, hdrHTML[0], hdrNoCache[0], &s.gzip, s.buildPage)
	s.report = newDocCache("report", opts.Meter, hdrJSON[0], hdrNoCache[0], &s.gzip, s.buildReport)
	s.past = newDocCache("history", opts.Meter, hdrHTML[0], hdrNoCache[0], &s.gzip, s.buildPast)
	s.feed = newDocCache("feed", opts.Meter, hdrAtom[0], hdrNoCache[0], &s.gzip, s.buildFeed)
	s.now = opts.Now
	if s.now == nil {
		s.now = time.Now
	}
	s.started = s.now()
	if u := opts.Config.Branding.PageURL; u != "" {
		s.pageURL = strings.TrimRight(u, "/") + "/"
	}
	// A trial render, thrown away: the first request renders the page
	// again and compresses it, so an idle server holds no copy of it.
	if _, _, err := s.buildPage(new(bytes.Buffer), docKey{}); err != nil {
		return nil, fmt.Errorf("server: first render of the page: %w", err)
	}
	if s.notFoundHTML, err = s.errorDoc(http.StatusNotFound, "Page not found"); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}

	s.liveCap = opts.Config.Server.LiveMaxConnections
	s.live = live.New(live.Options{Status: s.reg, Announcements: s.announcements,
		Incidents: func() ([]page.Incident, uint64) {
			all, v := s.incidents()
			return open(all), v
		},
		ClientOf: clientOf, MaxConns: opts.Config.Server.LiveMaxConnections,
		MaxConnsPerIP: opts.Config.Server.LiveMaxConnectionsPerIP, Logger: s.log})

	s.echo = s.routes()
	return s, nil
}

// routes is the route table: every path the server answers. Trailing
// slashes are optional everywhere (ServeHTTP drops them).
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Logger.SetOutput(io.Discard)
	e.HTTPErrorHandler = s.handleError

	// Every GET route answers HEAD too (net/http leaves the body out).
	get := func(path string, h echo.HandlerFunc) {
		e.Match([]string{http.MethodGet, http.MethodHead}, path, h)
	}
	get("/", s.handlePage)
	get("/history", s.handlePast)
	get("/feed.atom", s.handleFeed)
	get("/status/text", s.handleText)
	get("/status/report", s.handleReport)
	get("/status/version", s.handleVersion)
	get("/badge/:kind", s.handleBadge)
	get("/badge/uptime/:service/:node", s.handleUptimeBadge)
	get("/api/v1/history/:service/:node", s.handleHistoryAPI)
	get("/robots.txt", s.handleRobots)
	get("/health", s.handleHealth)
	get("/assets/*", s.handleAsset)
	// The live feed, a WebSocket; ServeHTTP lets it past the workers' cap,
	// as it stays open for as long as a page does.
	get("/live", echo.WrapHandler(s.live))
	// Subscriptions by e-mail: a form posts, and a mail's links show a
	// button that posts, so that mail scanners following links change
	// nothing.
	e.POST("/subscribe", s.handleSubscribe)
	get("/subscribe/confirm", s.handleConfirmPage)
	e.POST("/subscribe/confirm", s.handleConfirm)
	get("/unsubscribe", s.handleUnsubscribePage)
	e.POST("/unsubscribe", s.handleUnsubscribe) // also RFC 8058 one-click
	if s.mcp != nil {
		// Every method: the MCP handler answers 405 to those it does not
		// take, as MCP clients expect.
		e.Any("/mcp/probes", echo.WrapHandler(s.mcp))
	}

	if a := s.api; a != nil {
		// reporter_token
		e.POST("/reporter/:service/:node", a.Report)
		e.DELETE("/reporter/:service/:node/:replica", a.Flush)
		// Deeper paths are no route; without this the router answers them
		// 405, having matched the flush route's prefix.
		e.Any("/reporter/:service/:node/:replica/*", func(echo.Context) error { return echo.ErrNotFound })
		// manager_token
		get("/manager/announcements", a.ListAnnouncements)
		e.POST("/manager/announcement", a.PublishAnnouncement)
		e.DELETE("/manager/announcement/:id", a.RetractAnnouncement)
		get("/manager/prober/alerts", a.Alerts)
		get("/manager/prober/alerts/ignored", a.Silence)
		e.PUT("/manager/prober/alerts/ignored", a.SetSilence)
		get("/manager/incidents", a.ListIncidents)
		e.POST("/manager/incident", a.OpenIncident)
		get("/manager/incident/:id", a.GetIncident)
		e.PATCH("/manager/incident/:id", a.EditIncident)
		e.DELETE("/manager/incident/:id", a.DiscardIncident)
		e.POST("/manager/incident/:id/update", a.AddIncidentUpdate)
		e.POST("/manager/incident/:id/resolve", a.ResolveIncident)
		e.POST("/manager/incident/:id/publish", a.PublishIncident)
		get("/manager/maintenance", a.ListMaintenance)
		e.POST("/manager/maintenance", a.ScheduleMaintenance)
		e.DELETE("/manager/maintenance/:id", a.CancelMaintenance)
		e.PUT("/manager/monitor", a.PutMonitor)
		get("/manager/monitor", a.GetMonitor)
		e.DELETE("/manager/monitor", a.DeleteMonitor)
		get("/manager/monitors", a.ListMonitors)
		e.POST("/manager/reload", a.Reload)
		// metrics_token, when set
		if a.HasMetrics() {
			get("/metrics", a.Metrics)
		}
		get("/manager/subscribers", a.ListWebhooks)
		e.POST("/manager/subscribers", a.AddWebhook)
		e.DELETE("/manager/subscriber/:id", a.RemoveWebhook)
	}
	return e
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s }

// Route is one method and path of the route table, with :name for a path
// parameter and * for the rest of the path.
type Route struct {
	Method, Path string
}

// Routes lists the route table, sorted by path and method.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.echo.Routes() {
		out = append(out, Route{Method: r.Method, Path: r.Path})
	}
	slices.SortFunc(out, func(a, b Route) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Method, b.Method))
	})
	return out
}

// ServeHTTP waits for a worker slot, adds the security headers, makes
// trailing slashes optional and hands the request to the router.
// Middleware is not used on purpose: echo builds middleware chains per
// request, which allocates.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != "/live" && p != "/live/" {
		select {
		case s.slots <- struct{}{}:
		case <-r.Context().Done():
			return // the client left while waiting
		}
		defer func() { <-s.slots }()
	}

	if !isAPIPath(r.URL.Path) {
		// The API sets its own headers on answers with a body; touching the
		// header map here would make net/http copy it for every push report.
		h := w.Header()
		h["Content-Security-Policy"] = s.csp
		h["X-Content-Type-Options"] = hdrNoSniff
		h["X-Frame-Options"] = hdrDeny
		h["Referrer-Policy"] = hdrNoReferrer
		h["Cross-Origin-Opener-Policy"] = hdrSameOrigin
	}
	if p := r.URL.Path; len(p) > 1 && p[len(p)-1] == '/' {
		r.URL.Path = trimSlash(p)
		if r.URL.RawPath != "" {
			r.URL.RawPath = trimSlash(r.URL.RawPath)
		}
	}
	if strings.Contains(r.URL.Path, "//") || strings.Contains(r.URL.RawPath, "//") {
		// No route has an empty segment; without this a parameter could
		// match one.
		s.handleError(echo.ErrNotFound, s.echo.NewContext(r, w))
		return
	}
	s.echo.ServeHTTP(w, r)
}

func isAPIPath(p string) bool {
	for _, prefix := range [...]string{"/reporter", "/manager"} {
		if strings.HasPrefix(p, prefix) && (len(p) == len(prefix) || p[len(prefix)] == '/') {
			return true
		}
	}
	return false
}

func trimSlash(p string) string {
	if t := strings.TrimRight(p, "/"); t != "" {
		return t
	}
	return "/"
}

// Serve answers HTTP on ln and keeps the page built (Run) until ctx is
// cancelled, then shuts down gracefully and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if l, ok := ln.(interface{ Limits() connlimit.Limits }); ok {
		s.FitLive(l.Limits().Total)
	}
	builders, stopBuilders := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(builders) })
	defer func() {
		stopBuilders()
		wg.Wait()
	}()
	s.log.Info("serving the status page", "address", ln.Addr().String(), "version", s.version)
	return Listen(ctx, ln, s, s.log)
}

// Run keeps the page and the report built in the background while
// statuses flap faster than they can be built, and runs the live feed,
// until ctx ends. Stop it after the HTTP server: live connections are not
// the server's once upgraded, so its Shutdown leaves them to the feed.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range []*docCache{s.page, s.report} {
		wg.Go(func() { c.run(ctx) })
	}
	wg.Go(func() { s.live.Run(ctx) })
	wg.Wait()
}

// LiveClients is the number of browsers connected to the live feed.
func (s *Server) LiveClients() int { return s.live.Clients() }

// FitLive lowers the cap on live connections to half of total, the
// listener's cap on connections (pkg/connlimit), when it is above: live
// connections are never idle, so the listener cannot make room by closing
// them.
func (s *Server) FitLive(total int) {
	if half := total / 2; half < s.liveCap {
		s.log.Warn("live_max_connections is over half of max_connections; lowered", "live_max_connections", half)
		s.live.Limit(half)
	}
}

// Listen answers HTTP on ln with h until ctx is cancelled, then stops
// accepting, closes the connections that have sent nothing yet, lets the
// requests under way finish (those still running after shutdownGrace are
// cut) and returns nil. The overvakt command serves one Listen across reloads,
// with a handler that follows the running app.
func Listen(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	// A capping listener (pkg/connlimit) needs to know which connections
	// are idle between requests.
	var limiter func(net.Conn, http.ConnState)
	if l, ok := ln.(interface {
		ConnState(net.Conn, http.ConnState)
	}); ok {
		limiter = l.ConnState
	}
	// Connections that have not sent a request yet (a browser's preconnect,
	// a client's spare connection) have nothing under way: a stop closes
	// them at once, where net/http would wait 5 s for them to look idle.
	var mu sync.Mutex
	fresh := map[net.Conn]struct{}{}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		mu.Lock()
		if st == http.StateNew {
			fresh[c] = struct{}{}
		} else {
			delete(fresh, c)
		}
		mu.Unlock()
		if limiter != nil {
			if jc, ok := c.(*jsonErrorConn); ok {
				c = jc.Conn // the capping listener's own connection
			}
			limiter(c, st)
		}
	}
	srv.RegisterOnShutdown(func() { // runs once the listener is closed
		mu.Lock()
		silent := make([]net.Conn, 0, len(fresh))
		for c := range fresh {
			silent = append(silent, c)
		}
		mu.Unlock()
		for _, c := range silent {
			c.Close()
		}
	})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(jsonErrors{ln}) }()
	select {
	case err := <-done:
		return fmt.Errorf("server: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A request that is still running after the grace is cut: the stop
		// is bounded, and what was acknowledged before is kept.
		log.Warn("requests still running after the shutdown grace were cut", "grace", shutdownGrace)
		srv.Close()
		err = nil
	}
	<-done
	if err != nil {
		return fmt.Errorf("server: shutdown on %s: %w", ln.Addr(), err)
	}
	return nil
}

// history returns the current history view and its version; nil and 0
// without one.
func (s *Server) history() (*history.View, uint64) {
	if s.hist == nil {
		return nil, 0
	}
	v := s.hist.Current()
	if v == nil {
		return nil, 0
	}
	return v, v.Version
}

// retracted returns the retracted announcements, newest first.
func (s *Server) retracted() []page.Announcement {
	if s.retired == nil {
		return nil
	}
	return s.retired.Retracted()
}

// incidents returns every incident, drafts included, and their version.
func (s *Server) incidents() ([]page.Incident, uint64) {
	if s.incs == nil {
		return nil, 0
	}
	return s.incs.Incidents()
}

// open returns the incidents the page shows: published and not resolved.
func open(all []page.Incident) []page.Incident {
	var out []page.Incident
	for _, inc := range public(all) {
		if inc.Resolved.IsZero() {
			out = append(out, inc)
		}
	}
	return out
}

// public returns the incidents visitors see.
func public(all []page.Incident) []page.Incident {
	out := make([]page.Incident, 0, len(all))
	for _, inc := range all {
		if !inc.Draft {
			out = append(out, inc)
		}
	}
	return out
}

// maintVersion is the version of the windows made through the API.
func (s *Server) maintVersion() uint64 {
	if s.maint == nil {
		return 0
	}
	return s.maint.Version()
}

// windows returns the windows around now the page and the feed show, and
// the next time that changes what they show (zero: none soon).
func (s *Server) windows(now time.Time) ([]page.Window, time.Time) {
	if s.maint == nil {
		return nil, time.Time{}
	}
	return s.maint.Windows(now.Add(-page.FeedWindowsPast), now.Add(page.Ahead)), s.maint.NextChange(now)
}

// mailOn reports whether visitors can subscribe by e-mail.
func (s *Server) mailOn() bool { return s.subs != nil && s.subs.MailOn() }

// announcements returns the page's announcements and their version.
func (s *Server) announcements() ([]page.Announcement, uint64) {
	if s.anns == nil {
		return nil, 0
	}
	return s.anns.Announcements()
}
