package clientip

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestOf(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	proxies := append(loopback, netip.MustParsePrefix("10.0.0.0/8"))
	cases := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		realIP  string
		want    string
	}{
		{"direct client", loopback, "203.0.113.5:4000", nil, "", "203.0.113.5"},
		{"an untrusted peer's headers are ignored", loopback, "203.0.113.5:4000", []string{"192.0.2.1"}, "192.0.2.2", "203.0.113.5"},
		{"nginx on loopback", loopback, "[::1]:4000", []string{"198.51.100.7"}, "198.51.100.7", "198.51.100.7"},
		{"a made-up hop left of the real one", loopback, "127.0.0.1:4000", []string{"6.6.6.6, 198.51.100.7"}, "", "198.51.100.7"},
		{"two trusted proxies", proxies, "127.0.0.1:4000", []string{"198.51.100.7, 10.1.2.3"}, "", "198.51.100.7"},
		{"hops over several headers", proxies, "127.0.0.1:4000", []string{"6.6.6.6", "198.51.100.7", "10.1.2.3"}, "", "198.51.100.7"},
		{"only trusted hops", proxies, "127.0.0.1:4000", []string{"10.9.9.9, 10.1.2.3"}, "", "10.9.9.9"},
		{"garbage stops the walk", proxies, "127.0.0.1:4000", []string{"198.51.100.7, nonsense, 10.1.2.3"}, "", "10.1.2.3"},
		{"IPv6 client with a port and a zone", loopback, "[::1]:4000", []string{"[2001:db8::1%eth0]:5555"}, "", "2001:db8::1"},
		{"X-Real-IP without X-Forwarded-For", loopback, "127.0.0.1:4000", nil, "198.51.100.9", "198.51.100.9"},
		{"bad X-Real-IP", loopback, "127.0.0.1:4000", nil, "somebody", "127.0.0.1"},
		{"IPv4-mapped peer", nil, "[::ffff:192.0.2.4]:80", nil, "", "192.0.2.4"},
		{"no trust", nil, "127.0.0.1:4000", []string{"198.51.100.7"}, "", "127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tc.realIP != "" {
				r.Header.Set("X-Real-IP", tc.realIP)
			}
			got, ok := New(tc.trusted).Of(r)
			if !ok || got != netip.MustParseAddr(tc.want) {
				t.Fatalf("Of = %v, %v; want %s", got, ok, tc.want)
			}
		})
	}
	if _, ok := New(nil).Of(&http.Request{RemoteAddr: "@", Header: http.Header{}}); ok {
		t.Error("a peer without an IP address gave one")
	}
}
