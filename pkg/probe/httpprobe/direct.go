package httpprobe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// directRequest is an http(s) probe written and read by the worker itself
// on a fresh connection, without net/http's Transport.
//
// With keep-alive off, the Transport dials each connection in a goroutine
// of its own and then runs two more, one reading and one writing, handing
// the request and the answer between them over channels. For a probe,
// which is one request on one connection, waking those goroutines and the
// threads under them costs more CPU than the HTTP exchange itself. Here one
// goroutine dials, shakes hands, writes the request (the replica's request
// line and Host, then its node's header block, built once) in one write and
// reads the answer, and the connection is closed after it.
//
// The wire behaviour is net/http's: HTTP/1.1 with "Connection: close",
// Host from http_headers or the URL, no redirects followed, 1xx answers
// skipped, TLS verified with Go's defaults and SNI. Replicas net/http would
// treat differently keep the Transport: a proxy from the environment
// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), a host that is not plain ASCII, or a
// method or header net/http would refuse, rewrite or add to.
type directRequest struct {
	addr  string // host:port to dial; "" when the replica goes through net/http
	uri   string // the request target
	https bool
}

// newDirectRequest returns the request for u, with an empty addr when the
// replica must go through net/http. Its strings are usually the URL's own:
// a replica costs a few words more, not a copy of its request.
func newDirectRequest(n *httpNode, u *url.URL) directRequest {
	if n.block == nil {
		return directRequest{}
	}
	if proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u}); proxy != nil || err != nil {
		return directRequest{}
	}
	if u.User != nil {
		if _, set := n.header["Authorization"]; set {
			return directRequest{} // the URL's userinfo replaces it, a case net/http handles
		}
	}
	d := directRequest{addr: u.Host, uri: u.RequestURI(), https: u.Scheme == "https"}
	if !plainHost(u.Host) || (n.host != "" && !plainHost(n.host)) || !validValue(d.uri) {
		return directRequest{}
	}
	if u.Port() == "" {
		port := "80"
		if d.https {
			port = "443"
		}
		d.addr = net.JoinHostPort(u.Hostname(), port)
	}
	return d
}

// appendRequest appends the request t sends: request line, Host, basic auth
// from the URL, then the node's block.
func (t *httpTarget) appendRequest(b []byte) []byte {
	n := t.node
	host := n.host
	if host == "" {
		host = t.url.Host
	}
	b = append(b, n.method...)
	b = append(b, ' ')
	b = append(b, t.direct.uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if t.url.User != nil {
		b = appendHeader(b, "Authorization", t.header.Get("Authorization")) // base64: always valid
	}
	return append(b, n.block...)
}

// directBlock is the part of a node's direct requests after Host: the
// header lines, "Connection: close", the blank line and the body. It is nil
// when the node's requests must go through net/http.
func directBlock(n *httpNode) []byte {
	if !isToken(n.method) {
		return nil
	}
	b := make([]byte, 0, 128+len(n.body))
	// User-Agent first, as net/http writes it; an empty one is left out.
	if ua := n.header.Get("User-Agent"); ua != "" {
		if !validValue(ua) {
			return nil
		}
		b = appendHeader(b, "User-Agent", ua)
	}
	switch {
	case n.body != nil:
		b = appendHeader(b, "Content-Length", strconv.Itoa(len(n.body)))
	case n.method == http.MethodPost || n.method == http.MethodPut || n.method == http.MethodPatch:
		b = appendHeader(b, "Content-Length", "0") // servers expect one for these
	}
	for _, k := range slices.Sorted(maps.Keys(n.header)) {
		switch k {
		case "User-Agent":
			continue
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer", "Connection":
			return nil // net/http writes these itself
		}
		if !isToken(k) {
			return nil
		}
		for _, v := range n.header[k] {
			if !validValue(v) {
				return nil
			}
			b = appendHeader(b, k, v)
		}
	}
	b = append(b, "Connection: close\r\n\r\n"...)
	return append(b, n.body...)
}

func appendHeader(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, strings.Trim(v, " \t")...)
	return append(b, "\r\n"...)
}

// Errors of an answer that breaks off, worded the same on both paths (see
// transportError).
var (
	errUnanswered = errors.New("the server closed the connection without answering")
	errHeaderCut  = errors.New("the server closed the connection in the middle of the answer header")
	errHeaderSize = errors.New("answer header larger than " + strconv.Itoa(maxHeaderBytes>>10) + " KiB")
)

// roundTripDirect sends the request on a new connection and reads the
// answer's header. The body reads from the connection; closing it closes
// the connection. ctx ending (the probe's timeout, or shutdown) interrupts
// it wherever it is.
func (t *httpTarget) roundTripDirect(ctx context.Context, sc *scratch) (*http.Response, error) {
	n := t.node
	raw, err := n.dialer.DialContext(ctx, "tcp", t.direct.addr)
	if err != nil {
		return nil, err
	}
	// A deadline in the past wakes up whatever the connection is blocked in.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	conn := raw
	if t.direct.https {
		// Made per probe, not kept per replica: next to a handshake it
		// costs nothing.
		tc := tls.Client(raw, &tls.Config{ServerName: t.url.Hostname(), RootCAs: n.roots})
		if err := tc.Handshake(); err != nil {
			stop()
			raw.Close()
			if err == io.EOF { // as the Transport reports it, see transportError
				err = errUnanswered
			}
			return nil, err
		}
		conn = tc
	}
	sc.req = t.appendRequest(sc.req[:0])
	sc.asked.Method = n.method
	resp, err := exchange(conn, sc)
	if err != nil {
		stop()
		conn.Close()
		return nil, err
	}
	if tc, ok := conn.(*tls.Conn); ok {
		state := tc.ConnectionState() // as the Transport reports it
		resp.TLS = &state
	}
	resp.Body = &connBody{body: resp.Body, conn: conn, stop: stop}
	return resp, nil
}

// exchange writes sc.req and reads the final answer's header to sc.asked,
// which may take at most maxHeaderBytes. Informational (1xx) answers before
// it are skipped, however many, and count toward that limit: net/http's
// Transport bounds them by size too, not by number.
func exchange(conn net.Conn, sc *scratch) (*http.Response, error) {
	if _, err := conn.Write(sc.req); err != nil {
		return nil, err
	}
	sc.limit = io.LimitedReader{R: conn, N: maxHeaderBytes}
	if sc.in == nil {
		sc.in = bufio.NewReader(&sc.limit)
	} else {
		sc.in.Reset(&sc.limit)
	}
	for {
		resp, err := http.ReadResponse(sc.in, &sc.asked)
		switch {
		case err != nil && sc.limit.N <= 0:
			return nil, errHeaderSize
		case (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) && sc.limit.N == maxHeaderBytes:
			return nil, errUnanswered
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return nil, errHeaderCut
		case err != nil:
			return nil, fmt.Errorf("reading the answer: %w", err)
		case resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != http.StatusSwitchingProtocols:
			continue // informational: the real answer follows
		}
		sc.limit.N = math.MaxInt64 // the body is bounded by whoever reads it
		return resp, nil
	}
}

// connBody is an answer's body that closes its connection when closed,
// without reading the rest.
type connBody struct {
	body io.Reader
	conn net.Conn
	stop func() bool // unregisters the context callback
}

func (b *connBody) Read(p []byte) (int, error) { return b.body.Read(p) }

func (b *connBody) Close() error {
	b.stop()
	return b.conn.Close()
}

// plainHost reports whether h (host or host:port) can go into a Host header
// and a dial address as it is: printable ASCII without spaces or an IPv6
// zone, which net/http would rewrite.
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c >= 0x7f || c == '%' || c == '/' || c == '?' || c == '#' || c == '@' {
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP token (a method or header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validValue reports whether v may be sent as a header value or request
// target: no control characters but tab.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
