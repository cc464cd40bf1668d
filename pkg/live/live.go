// Package live streams the public status over WebSockets (GET /live): a
// snapshot of what the page shows first, then an event for every change
// of a status, of the nodes on the page, of the announcements and of the
// open incidents.
//
// One owner goroutine (Hub.Run) turns registry snapshots into events,
// encodes each once and hands it to every client's bounded queue. A client
// whose queue is full is dropped: a slow reader never holds up the others,
// the registry or the probes. Nothing runs while nobody listens.
package live

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/overvakt/overvakt/pkg/status"
	"github.com/overvakt/overvakt/pkg/store"
)

// Status is the live status (a *status.Registry).
type Status interface {
	Snapshot() *status.Snapshot
	Subscribe() (<-chan struct{}, func())
}

// Options wire a Hub; Status is required. Zero durations and sizes take
// the defaults.
type Options struct {
	Status Status
	// Announcements returns those the page shows and a version that grows
	// with every change; nil: none. It is called a few times a second
	// while clients listen, so it must be cheap.
	Announcements func() ([]store.Announcement, uint64)
	// Incidents returns those the page shows (published and open) and a
	// version that grows with every change of any incident; nil: none.
	// Called as often as Announcements.
	Incidents func() ([]store.Incident, uint64)
	// ClientOf names who asks, for the cap per client; nil is the peer's
	// IP address.
	ClientOf func(*http.Request) string
	// MaxConns caps the connections at once (default 1000); MaxConnsPerIP
	// those of one client (0: no cap).
	MaxConns, MaxConnsPerIP int
	Logger                  *slog.Logger

	// PingEvery is how often an idle connection is pinged, so that proxies
	// keep it and dead peers are found out (default 30 s); a peer gets
	// WriteTimeout (default 10 s) to take a message or answer a ping.
	PingEvery, WriteTimeout time.Duration
	// Gap is the least time between two looks at the registry (default
	// 100 ms): changes within it go out together. PollEvery is how often
	// announcements and incidents are looked at (default 250 ms).
	Gap, PollEvery time.Duration
	// Queue is how many messages a client may fall behind before it is
	// dropped (default 16).
	Queue int
}

// Hub is the live feed: ServeHTTP answers GET /live, Run feeds the
// connections. ServeHTTP needs Run to be running.
type Hub struct {
	o     Options
	log   *slog.Logger
	slots *slots

	join     chan *client
	leave    chan *client
	stopping chan struct{} // closed when Run stops taking clients
}

// Why the owner ends a connection.
var (
	errTooSlow  = errors.New("the client fell too far behind")
	errShutdown = errors.New("the server is shutting down")
)

// client is one connection as the owner sees it.
type client struct {
	queue  chan []byte
	cancel context.CancelCauseFunc // ends the connection; safe from any goroutine
	done   chan struct{}           // closed when its handler is finished with it
	gone   bool                    // dropped, waiting for its handler to leave; owner only
}

// New builds a hub; nothing runs until Run.
func New(o Options) *Hub {
	if o.MaxConns <= 0 {
		o.MaxConns = 1000
	}
	if o.PingEvery <= 0 {
		o.PingEvery = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Gap <= 0 {
		o.Gap = 100 * time.Millisecond
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 250 * time.Millisecond
	}
	if o.Queue <= 0 {
		o.Queue = 16
	}
	if o.ClientOf == nil {
		o.ClientOf = peerIP
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{o: o, log: log, slots: newSlots(o.MaxConns, o.MaxConnsPerIP),
		join: make(chan *client), leave: make(chan *client), stopping: make(chan struct{})}
}

// Clients is the number of connections open now.
func (h *Hub) Clients() int { return h.slots.count() }

// Limit lowers the cap on connections to n: the server leaves part of its
// connections to everything else, since these are never idle.
func (h *Hub) Limit(n int) { h.slots.lower(n) }

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ServeHTTP upgrades GET /live to a WebSocket and sends it the feed until
// the client leaves, falls too far behind, or Run stops. Over a cap it
// answers 503 with Retry-After, before the upgrade.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := h.o.ClientOf(r)
	if err := h.slots.take(ip); err != nil {
		h.refused(ip, err)
		w.Header().Set("Retry-After", "30")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"` + err.Error() + `"}` + "\n"))
		return
	}
	defer h.slots.give(ip)
	// Any origin may read the feed, as any may read /status/report: it is
	// public, read-only and takes no cookies.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the request
	}
	// The request's context ends with this handler; the connection's is
	// ended by the owner (cause errTooSlow or errShutdown) or by the peer.
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	defer cancel(nil)
	c := &client{queue: make(chan []byte, h.o.Queue), cancel: cancel, done: make(chan struct{})}
	defer close(c.done)
	select {
	case h.join <- c:
	case <-h.stopping:
		_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	// Reading answers pings and the peer's close; its context ends when
	// the peer goes. It must not end with ctx, which would close the
	// connection before the close frame is sent.
	peer := conn.CloseRead(context.Background())
	err = h.send(ctx, peer, conn, c)
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errShutdown):
		_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
	case errors.Is(cause, errTooSlow):
		h.log.Debug("live: dropped a client that fell behind", "client", ip)
		_ = conn.CloseNow()
	default:
		h.log.Debug("live: connection ended", "client", ip, "err", err)
		_ = conn.CloseNow()
	}
	select {
	case h.leave <- c:
	case <-h.stopping:
	}
}

// send writes what the owner queues for c, and pings when nothing was
// sent for a while, until ctx or peer ends or a write fails.
func (h *Hub) send(ctx, peer context.Context, conn *websocket.Conn, c *client) error {
	idle := time.NewTimer(h.o.PingEvery)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-peer.Done():
			return errors.New("the client left")
		case msg := <-c.queue:
			wctx, cancel := context.WithTimeout(ctx, h.o.WriteTimeout)
			err := conn.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				return err
			}
		case <-idle.C:
			pctx, cancel := context.WithTimeout(ctx, h.o.WriteTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		}
		idle.Reset(h.o.PingEvery)
	}
}

// refused logs, at most once a minute, that clients were turned away.
func (h *Hub) refused(ip string, why error) {
	if ok, open, total, perIP := h.slots.warn(time.Now()); ok {
		h.log.Warn("live: turned clients away; their pages check for changes every 15 s instead",
			"why", why.Error(), "client", ip, "open", open, "live_max_connections", total, "live_max_connections_per_ip", perIP)
	}
}

// Run feeds the connections until ctx ends; then it closes them and
// returns once their handlers are done with them.
func (h *Hub) Run(ctx context.Context) {
	changed, unsubscribe := h.o.Status.Subscribe()
	defer unsubscribe()
	poll := time.NewTicker(h.o.PollEvery)
	poll.Stop() // runs only while clients listen
	defer poll.Stop()
	wait := time.NewTimer(time.Hour) // the end of the gap after a look
	wait.Stop()
	defer wait.Stop()

	clients := map[*client]bool{}
	var st *state // nil while nobody listens
	var last time.Time
	waiting := false
	look := func() {
		for _, msg := range st.step() {
			h.fan(clients, msg)
		}
		last = time.Now()
	}
	for {
		select {
		case <-ctx.Done():
			close(h.stopping)
			for c := range clients {
				c.cancel(errShutdown)
			}
			for c := range clients {
				<-c.done
			}
			return
		case c := <-h.join:
			if st == nil {
				st = newState(h.o)
				poll.Reset(h.o.PollEvery)
			}
			c.queue <- st.snapshotMessage() // an empty queue has room
			clients[c] = true
		case c := <-h.leave:
			delete(clients, c)
			if len(clients) == 0 {
				st = nil // forget it all; the next client starts afresh
				poll.Stop()
			}
		case <-changed:
			if st == nil || waiting {
				continue
			}
			if d := h.o.Gap - time.Since(last); d > 0 {
				wait.Reset(d)
				waiting = true
				continue
			}
			look()
		case <-wait.C:
			waiting = false
			if st != nil {
				look()
			}
		case <-poll.C:
			if st != nil && !waiting {
				look()
			}
		}
	}
}

// fan hands msg to every client; a client whose queue is full is told to
// go (its handler closes the connection and leaves).
func (h *Hub) fan(clients map[*client]bool, msg []byte) {
	for c := range clients {
		if c.gone {
			continue
		}
		select {
		case c.queue <- msg:
		default:
			c.gone = true
			c.cancel(errTooSlow)
		}
	}
}
