// Package clientip finds the address of the client behind a request: the
// peer of the connection, or, when the peer is a trusted proxy, the
// address the proxy says it forwards for.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that believes the forwarding headers of peers
// inside trusted.
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// Of returns the client address of r; ok is false when even the peer's
// address cannot be read (a request not from a TCP connection).
//
// X-Forwarded-For is read from the right: each trusted proxy appends the
// address it received the request from, so the first untrusted address
// from the right is the client, and everything left of it may be made up
// by the client. X-Real-IP is used when a trusted peer sends no
// X-Forwarded-For.
func (res *Resolver) Of(r *http.Request) (netip.Addr, bool) {
	peer, ok := parse(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if !res.trusts(peer) {
		return peer, true
	}
	if hops := r.Header.Values("X-Forwarded-For"); len(hops) > 0 {
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			// Walk the list from its end without splitting it, which
			// would allocate on every request.
			for rest := hops[i]; ; {
				j := strings.LastIndexByte(rest, ',')
				a, ok := parse(strings.TrimSpace(rest[j+1:]))
				if !ok {
					return client, true // garbage: stop at the last good hop
				}
				client = a
				if !res.trusts(a) {
					return a, true
				}
				if j < 0 {
					break
				}
				rest = rest[:j]
			}
		}
		return client, true
	}
	if a, ok := parse(strings.TrimSpace(r.Header.Get("X-Real-IP"))); ok {
		return a, true
	}
	return peer, true
}

func (res *Resolver) trusts(a netip.Addr) bool {
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parse reads "1.2.3.4", "1.2.3.4:5678", "::1", "[::1]:5678" or
// "[::1]"; zones are dropped and IPv4-mapped addresses unmapped. It picks
// the parser by the shape of s, as a failed parse allocates its error and
// this runs on every request.
func parse(s string) (netip.Addr, bool) {
	var a netip.Addr
	var err error
	switch {
	case s == "":
		return netip.Addr{}, false
	case s[0] == '[' && s[len(s)-1] == ']':
		a, err = netip.ParseAddr(s[1 : len(s)-1])
	case s[0] == '[' || strings.Count(s, ":") == 1:
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(s)
		a = ap.Addr()
	default:
		a, err = netip.ParseAddr(s)
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
