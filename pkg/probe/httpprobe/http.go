// Package httpprobe probes http:// and https:// replicas: healthy when the
// status code is within [metrics] poll_http_status_healthy_above..below and,
// when the node sets http_body_healthy_match, the body matches. Its node
// keys are the http_* and tls_expiry_* keys. Redirects are not followed;
// certificates are verified, and a healthy https answer whose certificate
// expires within tls_expiry_sick_days is sick, within tls_expiry_dead_days
// dead.
package httpprobe

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/status"
)

// Kind is the HTTP probe kind.
func Kind() probe.Kind {
	return probe.Kind{
		ProbeKind: config.ProbeKind{Name: "http", Schemes: []string{"http", "https"},
			CheckURL: checkURL, Node: func() config.NodeTable { return &Node{TLSExpirySickDays: 14} }},
		Prepare: prepare,
	}
}

// Node is the HTTP probe's keys on a node.
type Node struct {
	Headers      map[string]string `toml:"http_headers"`
	Method       string            `toml:"http_method"` // default GET with a body match, else HEAD
	Body         string            `toml:"http_body"`   // sent with POST, PUT and PATCH only
	HealthyMatch string            `toml:"http_body_healthy_match"`
	// StatusAbove and StatusBelow replace [metrics]
	// poll_http_status_healthy_above and _below for this node; 0 keeps them.
	StatusAbove int `toml:"http_status_healthy_above"`
	StatusBelow int `toml:"http_status_healthy_below"`

	// A healthy https answer is sick when the certificate expires within
	// TLSExpirySickDays days, dead within TLSExpiryDeadDays (0: once it
	// has expired, which the handshake refuses anyway).
	TLSExpirySickDays int `toml:"tls_expiry_sick_days"`
	TLSExpiryDeadDays int `toml:"tls_expiry_dead_days"`
}

// method is the method the node's probes use.
func (n *Node) method() string {
	m := strings.ToUpper(strings.TrimSpace(n.Method))
	if m == "" {
		m = http.MethodHead
		if n.HealthyMatch != "" {
			m = http.MethodGet
		}
	}
	return m
}

// CheckNode implements config.NodeTable.
func (n *Node) CheckNode(c *config.Check, _ *config.Node) {
	for _, name := range slices.Sorted(maps.Keys(n.Headers)) {
		key := config.JoinKey("http_headers", name)
		if !config.IsHeaderName(name) {
			c.Fail(key, "%q is not a valid HTTP header name", name)
		}
		if strings.ContainsAny(n.Headers[name], "\r\n") {
			c.Fail(key, "header values cannot hold line breaks")
		}
	}
	method := n.method()
	switch n.Method {
	case "", "GET", "HEAD", "POST", "PUT", "PATCH":
	default:
		c.Fail("http_method", "unknown HTTP method %q (want GET, HEAD, POST, PUT or PATCH)", n.Method)
	}
	if n.Body != "" && (method == http.MethodGet || method == http.MethodHead) {
		c.Fail("http_body", "a body is sent only with http_method POST, PUT or PATCH (this node uses %s); set http_method or remove http_body", method)
	}
	if n.HealthyMatch != "" && method == http.MethodHead {
		c.Fail("http_method", "HEAD responses have no body for http_body_healthy_match to match; use GET or remove http_method")
	}
	if n.HealthyMatch != "" {
		if _, err := regexp2.Compile(n.HealthyMatch, regexp2.None); err != nil {
			c.Fail("http_body_healthy_match", "%q: bad regular expression: %v", n.HealthyMatch, err)
		}
	}
	for _, k := range []struct {
		key string
		v   int
	}{{"http_status_healthy_above", n.StatusAbove}, {"http_status_healthy_below", n.StatusBelow}} {
		if k.v != 0 && (k.v < 100 || k.v > 600) {
			c.Fail(k.key, "%d: want an HTTP status code from 100 to 600", k.v)
		}
	}
	if n.StatusAbove != 0 && n.StatusBelow != 0 && n.StatusAbove >= n.StatusBelow {
		c.Fail("http_status_healthy_below", "%d must be above http_status_healthy_above (%d)", n.StatusBelow, n.StatusAbove)
	}
	c.NotNegative("tls_expiry_sick_days", float64(n.TLSExpirySickDays))
	c.NotNegative("tls_expiry_dead_days", float64(n.TLSExpiryDeadDays))
	if n.TLSExpiryDeadDays > n.TLSExpirySickDays && n.TLSExpirySickDays >= 0 {
		c.Fail("tls_expiry_dead_days", "%d must not be above tls_expiry_sick_days (%d): a certificate is sick before it is dead",
			n.TLSExpiryDeadDays, n.TLSExpirySickDays)
	}
}

func checkURL(u *url.URL) string {
	if u.Host == "" {
		return "missing host; write like https://example.com/health"
	}
	return ""
}

// builder makes the targets of the HTTP replicas of one scheduler: they
// share one transport and a pool of scratch buffers.
type builder struct {
	env       *probe.Env
	transport *http.Transport   // made for the first replica that needs net/http
	scratch   sync.Pool         // *scratch
	nodes     map[any]*httpNode // by *Node table, or *config.Node without one
}

func prepare(env *probe.Env, _ config.Table) (probe.Builder, error) {
	b := &builder{env: env, nodes: map[any]*httpNode{}}
	b.scratch.New = func() any { return new(scratch) }
	return b, nil
}

// Target builds the check of n.Replicas[i].
func (b *builder) Target(n *config.Node, i int) (probe.Target, error) {
	raw := n.Replicas[i]
	name := config.MaskPassword(raw)
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message would repeat the URL, password included
		}
		return nil, fmt.Errorf("%q: %v", name, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: no host", name)
	}
	// Nodes made from one table (the dynamic targets') share what it
	// builds; a node without a table keeps its own.
	var key any = n
	table, _ := n.Tables["http"].(*Node)
	if table != nil {
		key = table
	}
	hn := b.nodes[key]
	if hn == nil {
		if b.transport == nil {
			b.transport = newTransport()
		}
		if table == nil {
			table = Kind().Node().(*Node)
		}
		if hn, err = newHTTPNode(b, table); err != nil {
			return nil, err
		}
		b.nodes[key] = hn
	}
	return newHTTPTarget(hn, u, name), nil
}

func (b *builder) NodeCheck(*config.Node) probe.NodeCheck { return nil }

// Close drops the idle connections of the transport, if any.
func (b *builder) Close() {
	if b.transport != nil {
		b.transport.CloseIdleConnections()
	}
	b.nodes = nil
}

const (
	// maxBody is how much of a body is read for http_body_healthy_match; the
	// pattern must match within it.
	maxBody = 1 << 20
	// matchTimeout stops a pathological pattern from holding a worker.
	matchTimeout = time.Second
	// maxHeaderBytes bounds the memory one answer's header may take.
	maxHeaderBytes = 64 << 10
)

// newTransport builds the one transport shared by the HTTP probes that
// cannot go direct (see directRequest): through a proxy, or with a request
// net/http must vet. Direct probes follow the same rules.
//
// Keep-alive is off: every probe opens a fresh connection. Targets are many
// distinct hosts probed once per poll_interval (2 minutes by default), longer
// than most servers keep an idle connection, so reuse would rarely happen while
// thousands of idle sockets (each with two goroutines and 8 KiB of buffers)
// would cost more memory than the probes themselves. A fresh connection also
// measures what a new visitor gets — DNS, connect, TLS — and cannot hide a
// listener that stopped accepting. Redirects are never followed because
// probes call RoundTrip directly, below http.Client's redirect handling.
// TLS certificates are verified (Go's defaults); there is no opt-out.
// Compression is not asked for: a probe has no use for it, and a gzip body
// sent anyway is decoded for a body match on either path (see gzipped).
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{KeepAlive: -1}).DialContext,
		DisableKeepAlives:      true,
		DisableCompression:     true, // like direct probes; see gzipped
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
}

// httpNode is what all replicas of one node share; read-only after build.
type httpNode struct {
	b        *builder
	rt       http.RoundTripper // for replicas net/http must handle (see newDirectRequest)
	dialer   *net.Dialer       // for the others
	roots    *x509.CertPool    // trusted by direct probes; nil: the system's (tests set their own)
	block    []byte            // the header block of direct requests; nil when there are none
	method   string
	header   http.Header // includes User-Agent; shared by requests, never modified
	host     string      // Host header override from http_headers, "" for the URL's
	body     []byte      // sent for POST, PUT and PATCH only
	match    *regexp2.Regexp
	codeMin  int // healthy iff codeMin <= code < codeMax
	codeMax  int
	deadline time.Duration // poll_delay_dead, for messages
	certSick time.Duration // a healthy answer is sick when its certificate has less left
	certDead time.Duration // and dead when it has less than this
}

func newHTTPNode(b *builder, n *Node) (*httpNode, error) {
	m := b.env.Metrics
	hn := &httpNode{
		b:        b,
		rt:       b.transport,
		dialer:   b.env.Dialer,
		method:   n.method(),
		header:   http.Header{"User-Agent": {b.env.UserAgent}},
		codeMin:  cmp.Or(n.StatusAbove, m.PollHTTPStatusHealthyAbove),
		codeMax:  cmp.Or(n.StatusBelow, m.PollHTTPStatusHealthyBelow),
		deadline: m.PollDelayDead.Duration(),
		certSick: time.Duration(n.TLSExpirySickDays) * 24 * time.Hour,
		certDead: time.Duration(n.TLSExpiryDeadDays) * 24 * time.Hour,
	}
	switch hn.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		if n.Body != "" {
			hn.body = []byte(n.Body)
		}
	}
	for k, v := range n.Headers {
		if strings.EqualFold(k, "Host") {
			hn.host = v
			continue
		}
		hn.header.Set(k, v)
	}
	if n.HealthyMatch != "" {
		re, err := regexp2.Compile(n.HealthyMatch, regexp2.None)
		if err != nil {
			return nil, fmt.Errorf("http_body_healthy_match %q: %v", n.HealthyMatch, err)
		}
		re.MatchTimeout = matchTimeout
		hn.match = re
	}
	hn.block = directBlock(hn)
	return hn, nil
}

// httpTarget is one http(s) replica.
type httpTarget struct {
	node   *httpNode
	url    *url.URL
	header http.Header   // the node's, or a copy with basic auth from the URL's userinfo
	name   string        // the URL without its password, for messages
	direct directRequest // addr is "" when the probe goes through net/http
}

func newHTTPTarget(node *httpNode, u *url.URL, name string) *httpTarget {
	t := &httpTarget{node: node, url: u, header: node.header, name: name}
	if u.User != nil {
		pass, _ := u.User.Password()
		t.header = node.header.Clone()
		req := http.Request{Header: t.header}
		req.SetBasicAuth(u.User.Username(), pass)
	}
	t.direct = newDirectRequest(node, u)
	return t
}

// Probe runs one request with a scratch buffer of the pool.
func (t *httpTarget) Probe(ctx context.Context) probe.Attempt {
	sc := t.node.b.scratch.Get().(*scratch)
	latency, cert, err := t.check(ctx, sc)
	a := probe.Result(latency, err)
	sc.trim()
	t.node.b.scratch.Put(sc)
	if cert != nil {
		a.Cert = &status.Cert{NotAfter: cert.NotAfter}
		t.judgeCert(&a, time.Now())
	}
	return a
}

// judgeCert turns a healthy answer sick or dead when its certificate
// expires soon.
func (t *httpTarget) judgeCert(a *probe.Attempt, now time.Time) {
	left := a.Cert.NotAfter.Sub(now)
	switch {
	case a.Status != status.Healthy:
		return
	case left < t.node.certDead || left < 0:
		a.Status = status.Dead
	case left < t.node.certSick:
		a.Status = status.Sick
	default:
		return
	}
	a.Err = t.node.method + " " + t.name + ": " + certExpiry(t.url.Hostname(), a.Cert.NotAfter, now)
}

// certExpiry says when the certificate of host expires or expired:
// "certificate of example.com expires in 5 days (Sat 7 Dec)",
// "certificate of example.com expired 2 days ago".
func certExpiry(host string, notAfter, now time.Time) string {
	left := notAfter.Sub(now)
	if left < 0 {
		ago := "less than a day ago"
		switch days := int(-left / (24 * time.Hour)); days {
		case 0:
		case 1:
			ago = "1 day ago"
		default:
			ago = strconv.Itoa(days) + " days ago"
		}
		return "certificate of " + host + " expired " + ago
	}
	in := "less than a day"
	switch days := int(left / (24 * time.Hour)); days {
	case 0:
	case 1:
		in = "1 day"
	default:
		in = strconv.Itoa(days) + " days"
	}
	layout := "Mon 2 Jan"
	if notAfter.UTC().Year() != now.UTC().Year() {
		layout = "Mon 2 Jan 2006"
	}
	return "certificate of " + host + " expires in " + in + " (" + notAfter.UTC().Format(layout) + ")"
}

// check runs the request and judges the answer; cert is the server's
// certificate when it showed one, even one the handshake refused as
// expired.
func (t *httpTarget) check(ctx context.Context, sc *scratch) (latency time.Duration, cert *x509.Certificate, err error) {
	n := t.node
	start := time.Now()
	resp, err := t.roundTrip(ctx, sc)
	if err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert != nil && time.Now().After(invalid.Cert.NotAfter) {
			return time.Since(start), invalid.Cert, errors.New(n.method + " " + t.name + ": " +
				certExpiry(t.url.Hostname(), invalid.Cert.NotAfter, time.Now()))
		}
		return time.Since(start), nil, t.fail(ctx, err)
	}
	defer resp.Body.Close()
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		cert = resp.TLS.PeerCertificates[0]
	}
	latency, err = t.judge(ctx, sc, resp, start)
	return latency, cert, err
}

// judge reads what it needs of an answer, which the probe asked for at
// start, and says what is wrong with it.
func (t *httpTarget) judge(ctx context.Context, sc *scratch, resp *http.Response, start time.Time) (time.Duration, error) {
	n := t.node
	if resp.StatusCode < n.codeMin || resp.StatusCode >= n.codeMax {
		return time.Since(start), errors.New(n.method + " " + t.name + ": status " + strconv.Itoa(resp.StatusCode) +
			" (want " + strconv.Itoa(n.codeMin) + ".." + strconv.Itoa(n.codeMax-1) + ")")
	}
	if n.match == nil {
		return time.Since(start), nil
	}
	var r io.Reader = resp.Body
	var err error
	if gzipped(resp.Header) {
		r, err = sc.gunzip(resp.Body)
	}
	var body []byte
	if err == nil {
		body, err = sc.readBody(r)
	}
	if err != nil {
		return time.Since(start), t.fail(ctx, fmt.Errorf("reading body: %w", err))
	}
	ok, err := n.match.MatchRunes(sc.decode(body))
	latency := time.Since(start)
	switch {
	case err != nil:
		return latency, fmt.Errorf("%s %s: body match /%s/: %v", n.method, t.name, n.match, err)
	case !ok:
		return latency, fmt.Errorf("%s %s: body does not match /%s/", n.method, t.name, n.match)
	}
	return latency, nil
}

// roundTrip sends the request, directly when it can, and returns the final
// answer with its header read.
func (t *httpTarget) roundTrip(ctx context.Context, sc *scratch) (*http.Response, error) {
	if t.direct.addr != "" {
		return t.roundTripDirect(ctx, sc)
	}
	n := t.node
	req := (&http.Request{Method: n.method, URL: t.url, Header: t.header, Host: n.host}).WithContext(ctx)
	if n.body != nil {
		req.Body = io.NopCloser(bytes.NewReader(n.body))
		req.ContentLength = int64(len(n.body))
	}
	resp, err := n.rt.RoundTrip(req)
	if err != nil {
		return nil, transportError(err)
	}
	return resp, nil
}

// transportError words a failure of the Transport as exchange words the
// same failure on the direct path, so a replica reads the same whichever
// path it takes. The Transport's texts ("EOF", "net/http: HTTP/1.x
// transport connection broken: unexpected EOF") say little to operators.
func transportError(err error) error {
	const broken = "net/http: HTTP/1.x transport connection broken: "
	msg := err.Error()
	switch {
	case err == io.EOF: // the Transport unwraps it when nothing was read
		return errUnanswered
	case strings.Contains(msg, "server response headers exceeded"):
		return errHeaderSize
	case strings.HasPrefix(msg, broken):
		inner := errors.Unwrap(err)
		switch {
		case inner == nil:
			return err
		case errors.Is(inner, io.ErrUnexpectedEOF), errors.Is(inner, io.EOF):
			return errHeaderCut
		}
		return fmt.Errorf("reading the answer: %w", inner)
	}
	return err
}

// fail words a transport error for operators.
func (t *httpTarget) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil || isTimeout(err) {
		var dns *net.DNSError
		if errors.As(err, &dns) {
			// Keep the lookup's error: the scheduler asks whether the
			// resolver fails for every name (probe.Attempt.LookupFailed).
			return fmt.Errorf("%s %s: no answer within %s (%w)", t.node.method, t.name, t.node.deadline, dns)
		}
		return fmt.Errorf("%s %s: no answer within %s", t.node.method, t.name, t.node.deadline)
	}
	return fmt.Errorf("%s %s: %w", t.node.method, t.name, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// readBody reads at most maxBody bytes into the worker's buffer.
func (sc *scratch) readBody(r io.Reader) ([]byte, error) {
	b := sc.body[:0]
	for len(b) < maxBody {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(max(cap(b), 4<<10), maxBody-len(b)))
		}
		n, err := r.Read(b[len(b):min(cap(b), maxBody)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			sc.body = b
			return nil, err
		}
	}
	sc.body = b
	return b, nil
}

// gzipped reports whether an answer's body is gzip-encoded: a body match
// sees the content, decoded, whether the server was asked for gzip or sent
// it unasked (which RFC 9110 allows when a request has no Accept-Encoding;
// pre-compressed files are often served so). Other codings are matched as
// they come.
func gzipped(h http.Header) bool {
	ce := h.Get("Content-Encoding")
	return ce != "" && (strings.EqualFold(ce, "gzip") || strings.EqualFold(ce, "x-gzip"))
}

// gunzip returns the content of the gzip stream r, reusing the worker's
// decompressor; an empty body is empty content.
func (sc *scratch) gunzip(r io.Reader) (io.Reader, error) {
	if sc.zin == nil {
		sc.zin = bufio.NewReader(r)
	} else {
		sc.zin.Reset(r)
	}
	var err error
	if sc.zr == nil {
		sc.zr, err = gzip.NewReader(sc.zin)
	} else {
		err = sc.zr.Reset(sc.zin)
	}
	switch {
	case err == io.EOF:
		return http.NoBody, nil
	case err != nil:
		return nil, err
	}
	return sc.zr, nil
}

// decode turns UTF-8 into the runes regexp2 matches on, reusing the worker's
// buffer; invalid bytes become U+FFFD as in a []rune conversion.
func (sc *scratch) decode(b []byte) []rune {
	r := sc.runes[:0]
	for len(b) > 0 {
		c, size := utf8.DecodeRune(b)
		r = append(r, c)
		b = b[size:]
	}
	sc.runes = r
	return r
}

// Scratch buffers grown beyond keepScratch are dropped after a probe, so a
// rare large body does not pin memory.
const keepScratch = 64 << 10

// scratch is reusable memory for one probe's body reads, regexp input and
// direct request: the builder's pool hands one to each probe.
type scratch struct {
	body  []byte
	runes []rune
	req   []byte           // a direct HTTP probe's request
	asked http.Request     // tells http.ReadResponse the request's method
	in    *bufio.Reader    // reads answers of direct HTTP probes, through limit
	limit io.LimitedReader // bounds the answer header; R is the probe's connection
	zin   *bufio.Reader    // reads a gzip body for zr; nil until one comes
	zr    *gzip.Reader     // decodes gzip bodies for a match; nil until one comes
}

// trim drops buffers that grew too large to keep around, and the last
// probe's connection.
func (sc *scratch) trim() {
	sc.limit.R = nil
	if sc.zin != nil {
		sc.zin.Reset(nil)
	}
	if cap(sc.body) > keepScratch {
		sc.body = nil
	}
	if cap(sc.req) > keepScratch {
		sc.req = nil
	}
	if cap(sc.runes) > keepScratch/4 {
		sc.runes = nil
	}
}
