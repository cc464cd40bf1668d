// Package connlimit caps the inbound connections of a listener, in total
// and per client address, so that idle or slow clients cannot take the
// file descriptors that probes, the store and notifications need.
//
// Under pressure idle connections go first — keep-alive connections
// between requests, and connections that have not sent a request yet:
// past three quarters of the cap, those idle for a while are closed; at
// the cap, the longest idle one makes room for a new client. A client over
// its own cap, or any client when every connection is serving a request,
// gets a short 503 and is closed.
package connlimit

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits are the caps; zero values pick the defaults.
type Limits struct {
	Total int // connections at once; default 1024
	PerIP int // connections at once from one address; default 256; negative: no cap
	// IdleUnderPressure is how long a connection may stay idle between
	// requests once three quarters of Total are in use; default 5 s.
	IdleUnderPressure time.Duration
}

// Listener is a net.Listener with caps. Give its ConnState to the
// http.Server that serves it, so that it knows which connections are idle.
type Listener struct {
	net.Listener
	limits Limits
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	open    int
	perIP   map[string]int
	idle    map[*conn]time.Time // idle since
	refused int                 // since the last warning
	warned  time.Time
}

// Wrap caps ln; log hears of refused clients (at most one line per 10 s).
func Wrap(ln net.Listener, l Limits, log *slog.Logger) *Listener {
	if l.Total <= 0 {
		l.Total = 1024
	}
	if l.PerIP == 0 {
		l.PerIP = 256
	}
	if l.IdleUnderPressure <= 0 {
		l.IdleUnderPressure = 5 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, limits: l, log: log, now: time.Now,
		perIP: map[string]int{}, idle: map[*conn]time.Time{}}
}

// Limits are the caps in force.
func (l *Listener) Limits() Limits { return l.limits }

// Open is the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// busy is the answer to a client that is turned away.
const busy = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n" +
	"Content-Type: application/json\r\nContent-Length: 70\r\n\r\n" +
	`{"error":"too many connections from this address or in total; retry"}` + "\n"

// Accept returns the next connection within the caps; those over them are
// answered 503 and closed without reaching the caller.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr())
		if l.admit(ip) {
			return &conn{Conn: c, l: l, ip: ip}, nil
		}
		l.refuse(c)
	}
}

// admit counts a new connection from ip in, making room by closing idle
// ones when needed; false when it must be turned away.
func (l *Listener) admit(ip string) bool {
	l.mu.Lock()
	var closing []*conn
	ok := false
	switch {
	case l.limits.PerIP > 0 && l.perIP[ip] >= l.limits.PerIP:
	case l.open < l.limits.Total:
		ok = true
	default:
		if c := l.oldestIdle(); c != nil {
			closing = append(closing, c)
			ok = true
		}
	}
	if ok {
		l.open++
		l.perIP[ip]++
		if l.open*4 > l.limits.Total*3 {
			closing = append(closing, l.idleFor(l.limits.IdleUnderPressure)...)
		}
	}
	l.mu.Unlock()
	for _, c := range closing {
		c.Close()
	}
	return ok
}

// oldestIdle takes the connection idle the longest off the idle set; nil
// when none is idle. l.mu is held.
func (l *Listener) oldestIdle() *conn {
	var oldest *conn
	var since time.Time
	for c, at := range l.idle {
		if oldest == nil || at.Before(since) {
			oldest, since = c, at
		}
	}
	if oldest != nil {
		delete(l.idle, oldest)
	}
	return oldest
}

// idleFor takes the connections idle for d or longer off the idle set.
// l.mu is held.
func (l *Listener) idleFor(d time.Duration) []*conn {
	var out []*conn
	cut := l.now().Add(-d)
	for c, at := range l.idle {
		if !at.After(cut) {
			out = append(out, c)
			delete(l.idle, c)
		}
	}
	return out
}

// refuse answers 503 without waiting on the client, and closes.
func (l *Listener) refuse(c net.Conn) {
	_ = c.SetWriteDeadline(l.now().Add(100 * time.Millisecond))
	_, _ = c.Write([]byte(busy))
	_ = c.Close()
	l.mu.Lock()
	l.refused++
	now := l.now()
	var n int
	if now.Sub(l.warned) >= 10*time.Second {
		n, l.refused, l.warned = l.refused, 0, now
	}
	open := l.open
	l.mu.Unlock()
	if n > 0 {
		l.log.Warn("connections refused: over the cap in total or from one address",
			"refused", n, "last_from", hostOf(c.RemoteAddr()), "open", open,
			"max_connections", l.limits.Total, "max_connections_per_ip", l.limits.PerIP)
	}
}

// ConnState keeps the set of idle connections; set it as the
// http.Server's ConnState. A new connection counts as idle until its first
// request arrives: one that holds a descriptor and sends nothing is the
// first to go under pressure.
func (l *Listener) ConnState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if (st == http.StateNew || st == http.StateIdle) && !c.closed {
		l.idle[c] = l.now()
	} else {
		delete(l.idle, c)
	}
}

// release counts a closed connection out.
func (l *Listener) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIP[c.ip]--; l.perIP[c.ip] <= 0 {
		delete(l.perIP, c.ip)
	}
	delete(l.idle, c)
}

func hostOf(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// conn is an admitted connection; closing it counts it out once.
type conn struct {
	net.Conn
	l      *Listener
	ip     string
	once   sync.Once
	closed bool // under l.mu
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.closed = true
		c.l.mu.Unlock()
		c.l.release(c)
	})
	return err
}

// Budget is the connection cap that leaves reserve descriptors of the soft
// limit to everything else: at least 16, at most want when want is above
// zero. A soft limit of 0 (unknown) gives want, or the default.
func Budget(soft uint64, reserve, want int) int {
	if soft == 0 {
		return want
	}
	fit := int(min(soft, 1<<30)) - reserve
	fit = max(fit, 16)
	if want > 0 {
		return min(want, fit)
	}
	return fit
}
