package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"

	"github.com/overvakt/overvakt/pkg/config"
)

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
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{KeepAlive: -1}).DialContext,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
}

// httpNode is what all replicas of one node share; read-only after build.
type httpNode struct {
	rt       http.RoundTripper // for replicas net/http must handle (see newDirectRequest)
	dialer   *net.Dialer       // for the others
	block    []byte            // the header block of direct requests; nil when there are none
	method   string
	header   http.Header // includes User-Agent; shared by requests, never modified
	host     string      // Host header override from http_headers, "" for the URL's
	body     []byte      // sent for POST, PUT and PATCH only
	match    *regexp2.Regexp
	codeMin  int // healthy iff codeMin <= code < codeMax
	codeMax  int
	deadline time.Duration // poll_delay_dead, for messages
}

// userAgent is "overvakt/<version> (+page_url)", or without the part in
// parentheses when there is no page URL.
func userAgent(version, pageURL string) string {
	ua := "overvakt/" + version
	if pageURL != "" {
		ua += " (+" + pageURL + ")"
	}
	return ua
}

func newHTTPNode(rt http.RoundTripper, dialer *net.Dialer, n *config.Node, m *config.Metrics, ua string) (*httpNode, error) {
	hn := &httpNode{
		rt:       rt,
		dialer:   dialer,
		method:   strings.ToUpper(strings.TrimSpace(n.HTTPMethod)),
		header:   http.Header{"User-Agent": {ua}},
		codeMin:  m.PollHTTPStatusHealthyAbove,
		codeMax:  m.PollHTTPStatusHealthyBelow,
		deadline: m.PollDelayDead.Duration(),
	}
	if hn.method == "" {
		hn.method = http.MethodHead
		if n.HTTPBodyHealthyMatch != "" {
			hn.method = http.MethodGet
		}
	}
	switch hn.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		if n.HTTPBody != "" {
			hn.body = []byte(n.HTTPBody)
		}
	}
	for k, v := range n.HTTPHeaders {
		if strings.EqualFold(k, "Host") {
			hn.host = v
			continue
		}
		hn.header.Set(k, v)
	}
	if n.HTTPBodyHealthyMatch != "" {
		re, err := regexp2.Compile(n.HTTPBodyHealthyMatch, regexp2.None)
		if err != nil {
			return nil, fmt.Errorf("http_body_healthy_match %q: %v", n.HTTPBodyHealthyMatch, err)
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

func (t *httpTarget) check(ctx context.Context, sc *scratch) (time.Duration, error) {
	n := t.node
	start := time.Now()
	var resp *http.Response
	var err error
	if t.direct.addr != "" {
		resp, err = t.roundTripDirect(ctx, sc)
	} else {
		req := (&http.Request{Method: n.method, URL: t.url, Header: t.header, Host: n.host}).WithContext(ctx)
		if n.body != nil {
			req.Body = io.NopCloser(bytes.NewReader(n.body))
			req.ContentLength = int64(len(n.body))
		}
		resp, err = n.rt.RoundTrip(req)
	}
	if err != nil {
		return time.Since(start), t.fail(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < n.codeMin || resp.StatusCode >= n.codeMax {
		return time.Since(start), errors.New(n.method + " " + t.name + ": status " + strconv.Itoa(resp.StatusCode) +
			" (want " + strconv.Itoa(n.codeMin) + ".." + strconv.Itoa(n.codeMax-1) + ")")
	}
	if n.match == nil {
		return time.Since(start), nil
	}
	body, err := sc.readBody(resp.Body)
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

// fail words a transport error for operators.
func (t *httpTarget) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil || isTimeout(err) {
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
