package probe

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// resolverWatch tells a resolver that fails for every name, which is this
// server's trouble, from a name that fails, which is its replica's.
//
// A poll whose host name could not be resolved (Attempt.LookupFailed: a
// timeout or a failure, not "no such host") asks failing. The resolver is
// fine when a replica reached by name has answered since that attempt
// began; else up to maxPeers other host names of the config are looked up
// at once, and the resolver is failing when none of them resolves either
// (a "no such host" answer counts as resolving: the resolver answered).
// One check serves every attempt that began before it, so a resolver
// outage costs one round of lookups, not one per replica. With no other
// host name to try, the name is blamed, as it was before this watch.
type resolverWatch struct {
	lookup  func(ctx context.Context, host string) error
	timeout time.Duration // of one check: poll_delay_dead
	hosts   []string      // distinct host names of the poll replicas, in config order

	okAt atomic.Int64 // UnixNano of the last answer of a replica reached by name

	mu      sync.Mutex // held through a check, so failures at once share it
	checked time.Time  // when the last check ended
	down    bool       // its verdict
	why     string     // what it found, for messages
}

// maxPeers is how many other host names a check looks up.
const maxPeers = 3

// add registers a host name a replica is reached by; "" is ignored.
func (w *resolverWatch) add(host string) {
	if host != "" && !slices.Contains(w.hosts, host) {
		w.hosts = append(w.hosts, host)
	}
}

// answered records that a replica reached by name answered at now.
func (w *resolverWatch) answered(now time.Time) {
	t := now.UnixNano()
	for {
		old := w.okAt.Load()
		if old >= t || w.okAt.CompareAndSwap(old, t) {
			return
		}
	}
}

// failing reports whether the resolver fails for every name, for an
// attempt to reach host that began at since and failed to resolve it; why
// says what the check found.
func (w *resolverWatch) failing(ctx context.Context, host string, since time.Time) (bool, string) {
	if w.okAt.Load() >= since.UnixNano() {
		return false, ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.okAt.Load() >= since.UnixNano() {
		return false, ""
	}
	if !w.checked.IsZero() && !w.checked.Before(since) {
		return w.down, w.why
	}
	var peers []string
	for _, h := range w.hosts {
		if h != host && len(peers) < maxPeers {
			peers = append(peers, h)
		}
	}
	if len(peers) == 0 {
		return false, ""
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	results := make([]error, len(peers))
	var wg sync.WaitGroup
	for i, h := range peers {
		wg.Go(func() { results[i] = w.lookup(ctx, h) })
	}
	wg.Wait()
	w.down, w.why = true, strings.Join(peers, ", ")+" fail too"
	for i, err := range results {
		var dns *net.DNSError
		if err == nil || (errors.As(err, &dns) && dns.IsNotFound) {
			w.down, w.why = false, peers[i]+" resolves"
			break
		}
	}
	w.checked = time.Now()
	return w.down, w.why
}
