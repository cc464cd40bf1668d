// Package throttle counts failed attempts per client address and says when
// a client has failed too often and must wait. The API uses it against
// token guessing; it knows nothing of HTTP.
//
// Memory is bounded: at most Options.Clients addresses are remembered, and
// when a new one comes the one that failed least recently is forgotten. An
// attacker with more addresses than that can make the table forget some of
// them early, but never make it grow.
package throttle

import (
	"container/list"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultFailures = 10
	DefaultWindow   = time.Minute
	DefaultBlock    = time.Minute
	DefaultClients  = 10_000
)

// Options tune a Throttle; zero values take the defaults.
type Options struct {
	// Failures within Window block a client; the failure that reaches
	// Failures starts the block.
	Failures int
	// Window is how long failures are counted together; the count starts
	// over with the first failure after it.
	Window time.Duration
	// Block is how long a blocked client must wait.
	Block time.Duration
	// Clients is how many addresses are remembered at most.
	Clients int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Throttle is safe for concurrent use.
type Throttle struct {
	failures int
	window   time.Duration
	block    time.Duration
	clients  int
	now      func() time.Time

	// blockedUntil is the end of the latest block, in Unix nanoseconds:
	// Wait answers from it alone while no block lasts, so the requests of
	// well-behaved clients never take the lock.
	blockedUntil atomic.Int64

	mu    sync.Mutex
	byKey map[netip.Prefix]*list.Element // of *client
	order *list.List                     // most recently failed first
}

// client is what is remembered of one address.
type client struct {
	key      netip.Prefix
	failures int       // in the window that began at since
	since    time.Time // start of the counting window
	last     time.Time // latest failure
	until    time.Time // blocked until; zero when not blocked
}

// New builds a Throttle.
func New(o Options) *Throttle {
	t := &Throttle{failures: o.Failures, window: o.Window, block: o.Block, clients: o.Clients, now: o.Now,
		byKey: map[netip.Prefix]*list.Element{}, order: list.New()}
	if t.failures <= 0 {
		t.failures = DefaultFailures
	}
	if t.window <= 0 {
		t.window = DefaultWindow
	}
	if t.block <= 0 {
		t.block = DefaultBlock
	}
	if t.clients <= 0 {
		t.clients = DefaultClients
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t
}

// Key is what addresses are counted by: an IPv4 address, or the /64 an
// IPv6 address is in, since one host commonly holds a whole /64.
func Key(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := a.BitLen()
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits) // cannot fail: bits fits the address
	return p
}

// Blocking reports whether any client may be blocked now: while it is
// false, Wait is 0 for everyone and callers need not find the address.
func (t *Throttle) Blocking() bool {
	return t.now().UnixNano() < t.blockedUntil.Load()
}

// Wait is how long the client at a must still wait; 0 when it may try.
func (t *Throttle) Wait(a netip.Addr) time.Duration {
	now := t.now()
	if now.UnixNano() >= t.blockedUntil.Load() {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byKey[Key(a)]
	if !ok {
		return 0
	}
	if c := e.Value.(*client); now.Before(c.until) {
		return c.until.Sub(now)
	}
	return 0
}

// Fail records a failure of the client at a. When it starts a block it
// returns how long the block lasts and the failures that led to it;
// otherwise block is 0.
func (t *Throttle) Fail(a netip.Addr) (block time.Duration, failures int) {
	now := t.now()
	key := Key(a)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetOld(now)
	var c *client
	if e, ok := t.byKey[key]; ok {
		c = e.Value.(*client)
		t.order.MoveToFront(e)
	} else {
		if t.order.Len() >= t.clients {
			oldest := t.order.Back()
			delete(t.byKey, oldest.Value.(*client).key)
			t.order.Remove(oldest)
		}
		c = &client{key: key, since: now}
		t.byKey[key] = t.order.PushFront(c)
	}
	c.last = now
	if now.Before(c.until) {
		return 0, c.failures // already blocked: the block is not stretched
	}
	if now.Sub(c.since) >= t.window {
		c.failures, c.since = 0, now
	}
	c.failures++
	if c.failures < t.failures {
		return 0, c.failures
	}
	n := c.failures
	c.until = now.Add(t.block)
	c.failures, c.since = 0, c.until
	if u := c.until.UnixNano(); u > t.blockedUntil.Load() {
		t.blockedUntil.Store(u) // under t.mu: no other writer
	}
	return t.block, n
}

// forgetOld drops, from the least recently failed end, the clients that
// are neither blocked nor inside a counting window any more. Caller holds
// t.mu.
func (t *Throttle) forgetOld(now time.Time) {
	for e := t.order.Back(); e != nil; e = t.order.Back() {
		c := e.Value.(*client)
		if now.Before(c.until) || now.Sub(c.last) < t.window {
			return
		}
		delete(t.byKey, c.key)
		t.order.Remove(e)
	}
}

// Len is how many addresses are remembered.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}
