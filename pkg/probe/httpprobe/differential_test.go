package httpprobe

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/probe/probetest"
	"github.com/overvakt/overvakt/pkg/status"
)

// diffServer is a case's server: the replica to probe, the roots that
// trust its certificate (nil: the system's) and what to check of what it
// saw once both paths have probed it.
type diffServer struct {
	url   string
	roots *x509.CertPool
	after func(t *testing.T)
}

// diffCase is one answer, and the verdict both paths must reach on it.
type diffCase struct {
	name    string
	serve   func(t *testing.T) diffServer
	node    func(*Node)
	metrics func(*config.Metrics)

	want     status.Status
	wantCode int    // the final answer's status code; 0 when there is none
	wantKind string // errKind of the message; "" for none
	wantMsg  string // what both messages say, besides the method and URL
	wantSlow bool   // latency at or past poll_delay_sick

	wantCertDays int // days the certificate has left (status.Cert.DaysLeft); 0: no certificate
}

// TestDirectMatchesNetHTTP holds the direct path (direct.go) against the
// net/http Transport it stands in for: every case is probed through both,
// and both must reach the same verdict — status, status code, latency class
// and kind of error — with a message an operator can read.
//
// The status code is read on a second connection per path (roundTrip), as
// an attempt only reports it when out of range. Neither path asks for
// compression, and a body match sees the decoded content on both: a gzip
// answer (Content-Encoding: gzip, asked for by the node's headers or sent
// unasked) is decompressed before matching.
func TestDirectMatchesNetHTTP(t *testing.T) {
	// The first certificate check of the process loads the system roots,
	// which under -race can take longer than poll_delay_sick: not a
	// difference between the paths.
	if _, err := x509.SystemCertPool(); err != nil {
		t.Logf("no system roots: %v", err)
	}
	match := func(re string) func(*Node) { return func(n *Node) { n.HealthyMatch = re } }
	slowRules := func(m *config.Metrics) { m.PollDelayDead = 1; m.PollDelaySick = 0.5 }
	cases := []diffCase{
		{name: "content-length body",
			serve: raw(reply("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nall good")),
			node:  match("^all good$"), want: status.Healthy, wantCode: 200},
		{name: "chunked body",
			serve: raw(reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nall g\r\n3\r\nood\r\n0\r\n\r\n")),
			node:  match("^all good$"), want: status.Healthy, wantCode: 200},
		{name: "HTTP/1.0 answer read until close",
			serve: raw(reply("HTTP/1.0 200 OK\r\n\r\nall good")),
			node:  match("^all good$"), want: status.Healthy, wantCode: 200},
		{name: "Connection: close, body until close",
			serve: raw(reply("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall good")),
			node:  match("^all good$"), want: status.Healthy, wantCode: 200},
		{name: "100 Continue and 103 Early Hints before the answer",
			serve: raw(reply("HTTP/1.1 100 Continue\r\n\r\n" +
				"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nall good")),
			node: match("^all good$"), want: status.Healthy, wantCode: 200},
		{name: "many informational answers within the header limit",
			serve: raw(reply(strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 8) + "HTTP/1.1 204 No Content\r\n\r\n")),
			want:  status.Healthy, wantCode: 204},
		{name: "101 Switching Protocols unasked is a final answer",
			serve: raw(replyAndHold("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")),
			want:  status.Dead, wantCode: 101, wantKind: "status", wantMsg: ": status 101 (want 200..399)"},
		{name: "204 has no body even on an open connection",
			serve: raw(replyAndHold("HTTP/1.1 204 No Content\r\n\r\n")),
			node:  match("^$"), want: status.Healthy, wantCode: 204},
		{name: "304 has no body whatever its Content-Length",
			serve: raw(replyAndHold("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 20\r\n\r\n")),
			node:  match("^$"), want: status.Healthy, wantCode: 304},
		{name: "gzip body sent unasked is matched decoded",
			serve: raw(reply("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
				strconv.Itoa(len(gzipOf("all good"))) + "\r\n\r\n" + gzipOf("all good"))),
			node: match("^all good$"), want: status.Healthy, wantCode: 200},
		{name: "gzip body is matched decoded when the node asks for it",
			serve: raw(reply("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzipOf("all good"))),
			node: func(n *Node) {
				n.HealthyMatch = "^all good$"
				n.Headers = map[string]string{"Accept-Encoding": "gzip"}
			},
			want: status.Healthy, wantCode: 200},
		{name: "gzip is not asked for", serve: gzipWhenAsked,
			node: match("^all good$"), want: status.Healthy, wantCode: 200},
		{name: "empty gzip body",
			serve: raw(reply("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n")),
			node:  match("^$"), want: status.Healthy, wantCode: 200},
		{name: "corrupt gzip body",
			serve: raw(reply("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 15\r\n\r\nnot gzip at all")),
			node:  match("^all good$"), want: status.Dead, wantCode: 200, wantKind: "encoding", wantMsg: ": reading body: gzip: invalid header"},
		{name: "301 is judged by its code, not followed",
			serve: rawNoFollow("HTTP/1.1 301 Moved Permanently\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"),
			want:  status.Healthy, wantCode: 301},
		{name: "302 outside the healthy range",
			serve:   rawNoFollow("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"),
			metrics: func(m *config.Metrics) { m.PollHTTPStatusHealthyBelow = 300 },
			want:    status.Dead, wantCode: 302, wantKind: "status", wantMsg: ": status 302 (want 200..299)"},
		{name: "500 is out of range",
			serve: raw(reply("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nOK")),
			node:  match("OK"), want: status.Dead, wantCode: 500, wantKind: "status", wantMsg: ": status 500 (want 200..399)"},
		{name: "body that does not match",
			serve: raw(reply("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ndegraded")),
			node:  match("^all good$"), want: status.Dead, wantCode: 200, wantKind: "body", wantMsg: ": body does not match /^all good$/"},
		{name: "header of exactly 64 KiB",
			serve: raw(reply(headerOfSize(maxHeaderBytes))), want: status.Healthy, wantCode: 200},
		{name: "header one byte over 64 KiB",
			serve: raw(reply(headerOfSize(maxHeaderBytes + 1))),
			want:  status.Dead, wantKind: "header too large", wantMsg: "larger than 64 KiB"},
		{name: "huge header",
			serve: raw(reply(headerOfSize(200 << 10))),
			want:  status.Dead, wantKind: "header too large", wantMsg: "larger than 64 KiB"},
		{name: "informational answers count toward the header limit",
			serve: raw(reply(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </"+strings.Repeat("a", 1000)+".css>\r\n\r\n", 70) +
				"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")),
			want: status.Dead, wantKind: "header too large", wantMsg: "larger than 64 KiB"},
		{name: "TLS sends the server name", serve: tlsTrusted,
			node: match("^all good$"), want: status.Healthy, wantCode: 200, wantCertDays: 89},
		{name: "TLS certificate with 90 days left", serve: tlsValidFor(90*24*time.Hour + time.Hour),
			want: status.Healthy, wantCode: 200, wantCertDays: 90},
		{name: "TLS certificate expiring within tls_expiry_sick_days is sick", serve: tlsValidFor(5*24*time.Hour + time.Hour),
			want: status.Sick, wantCode: 200, wantKind: "cert expiry", wantMsg: ": certificate of localhost expires in 5 days (", wantCertDays: 5},
		{name: "TLS certificate expiring within tls_expiry_dead_days is dead", serve: tlsValidFor(5*24*time.Hour + time.Hour),
			node: func(n *Node) { n.TLSExpiryDeadDays = 7 },
			want: status.Dead, wantCode: 200, wantKind: "cert expiry", wantMsg: ": certificate of localhost expires in 5 days (", wantCertDays: 5},
		{name: "expired TLS certificate", serve: tlsValidFor(-2*24*time.Hour - time.Hour),
			want: status.Dead, wantKind: "cert expiry", wantMsg: ": certificate of localhost expired 2 days ago", wantCertDays: -3},
		{name: "TLS certificate that does not verify", serve: tlsUntrusted,
			want: status.Dead, wantKind: "certificate", wantMsg: "certificate signed by unknown authority"},
		{name: "TLS server that closes after the client hello", serve: closeAfterHello,
			want: status.Dead, wantKind: "closed", wantMsg: "the server closed the connection"},
		{name: "IPv6 literal", serve: ipv6, want: status.Healthy, wantCode: 200},
		{name: "slow answer is sick",
			serve: raw(func(c net.Conn, quit <-chan struct{}) {
				select {
				case <-time.After(600 * time.Millisecond):
				case <-quit:
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			}),
			metrics: func(m *config.Metrics) { m.PollDelayDead = 5; m.PollDelaySick = 0.3 },
			want:    status.Sick, wantCode: 200, wantSlow: true},
		{name: "body trickling past poll_delay_dead",
			serve: raw(func(c net.Conn, quit <-chan struct{}) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
				for {
					select {
					case <-time.After(100 * time.Millisecond):
					case <-quit:
						return
					}
					if _, err := io.WriteString(c, "."); err != nil {
						return
					}
				}
			}),
			node: match("done"), metrics: slowRules,
			want: status.Dead, wantCode: 200, wantKind: "timeout", wantMsg: ": no answer within 1s", wantSlow: true},
		{name: "no answer at all within poll_delay_dead",
			serve: raw(func(c net.Conn, quit <-chan struct{}) { <-quit }), metrics: slowRules,
			want: status.Dead, wantKind: "timeout", wantMsg: ": no answer within 1s", wantSlow: true},
		{name: "connection reset in the middle of the body",
			serve: raw(func(c net.Conn, quit <-chan struct{}) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat(".", 100))
				c.(*net.TCPConn).SetLinger(0) // Close sends a reset
			}),
			node: match("done"), want: status.Dead, wantCode: 200, wantKind: "reset", wantMsg: "connection reset by peer"},
		{name: "body cut short by close",
			serve: raw(reply("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat(".", 100))),
			node:  match("done"), want: status.Dead, wantCode: 200, wantKind: "cut body", wantMsg: "unexpected EOF"},
		{name: "closed without answering",
			serve: raw(reply("")),
			want:  status.Dead, wantKind: "closed", wantMsg: "the server closed the connection without answering"},
		{name: "closed in the middle of the header",
			serve: raw(reply("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")),
			want:  status.Dead, wantKind: "cut header", wantMsg: "in the middle of the answer header"},
		{name: "invalid status line",
			serve: raw(reply("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")),
			want:  status.Dead, wantKind: "protocol", wantMsg: `malformed HTTP status code "2x0"`},
		{name: "not HTTP at all",
			serve: raw(reply("SSH-2.0-OpenSSH_9.6\r\n")),
			want:  status.Dead, wantKind: "protocol", wantMsg: "malformed HTTP response"},
		{name: "nothing listening",
			serve: func(t *testing.T) diffServer { return diffServer{url: "http://" + probetest.ClosedPort(t) + "/"} },
			want:  status.Dead, wantKind: "refused", wantMsg: "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := c.serve(t)
			direct, viaNet, m := diffTargets(t, srv, c.node, c.metrics)
			paths := []struct {
				name string
				seen observed
			}{{"direct", observe(direct, m)}, {"net/http", observe(viaNet, m)}}
			for _, p := range paths {
				t.Logf("%-8s %s code=%d latency=%v err=%q", p.name, p.seen.Status, p.seen.code, p.seen.Latency, p.seen.Err)
			}
			d, n := paths[0].seen, paths[1].seen
			if d.Status != n.Status || d.code != n.code || errKind(d.Err) != errKind(n.Err) || d.slow != n.slow {
				t.Errorf("the paths disagree:\n  direct:   %s, code %d, %s, slow %t: %q\n  net/http: %s, code %d, %s, slow %t: %q",
					d.Status, d.code, errKind(d.Err), d.slow, d.Err, n.Status, n.code, errKind(n.Err), n.slow, n.Err)
			}
			if fmt.Sprint(d.Cert) != fmt.Sprint(n.Cert) {
				t.Errorf("the paths saw different certificates: direct %v, net/http %v", d.Cert, n.Cert)
			}
			prefix := direct.node.method + " " + direct.name + ": "
			for _, p := range paths {
				s := p.seen
				if s.Status != c.want || s.code != c.wantCode || errKind(s.Err) != c.wantKind || s.slow != c.wantSlow {
					t.Errorf("%s: got %s, code %d, %s, slow %t; want %s, code %d, %s, slow %t",
						p.name, s.Status, s.code, errKind(s.Err), s.slow, c.want, c.wantCode, c.wantKind, c.wantSlow)
				}
				if s.Err != "" && (!strings.HasPrefix(s.Err, prefix) || !strings.Contains(s.Err, c.wantMsg)) {
					t.Errorf("%s: message %q, want %q and then %q", p.name, s.Err, prefix, c.wantMsg)
				}
				switch {
				case c.wantCertDays == 0 && s.Cert != nil:
					t.Errorf("%s: certificate %v reported, want none", p.name, s.Cert)
				case c.wantCertDays != 0 && (s.Cert == nil || s.Cert.DaysLeft(time.Now()) != c.wantCertDays):
					t.Errorf("%s: certificate %v, want one with %d days left", p.name, s.Cert, c.wantCertDays)
				}
			}
			if srv.after != nil {
				srv.after(t)
			}
		})
	}
}

// diffTargets builds the replica twice: as it is, which must go direct, and
// a copy without its direct request, which goes through the Transport.
func diffTargets(t *testing.T, srv diffServer, node func(*Node), metrics func(*config.Metrics)) (direct, viaNet *httpTarget, m *config.Metrics) {
	t.Helper()
	n := pollNode(srv.url)
	if node != nil {
		node(keys(&n))
	}
	cfg := testConfig(n)
	if metrics != nil {
		metrics(&cfg.Metrics)
	}
	env := &probe.Env{Metrics: &cfg.Metrics, UserAgent: "overvakt/1.2.3",
		Dialer: &net.Dialer{KeepAlive: -1}, Logger: slog.New(slog.DiscardHandler)}
	b, err := prepare(env, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	target, err := b.Target(&cfg.Probe.Services[0].Nodes[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	direct = target.(*httpTarget)
	if direct.direct.addr == "" {
		t.Fatalf("%s does not go direct", srv.url)
	}
	if srv.roots != nil {
		tr := newTransport()
		tr.TLSClientConfig = &tls.Config{RootCAs: srv.roots}
		t.Cleanup(tr.CloseIdleConnections)
		direct.node.roots = srv.roots
		direct.node.rt = tr
	}
	copied := *direct
	copied.direct = directRequest{}
	return direct, &copied, &cfg.Metrics
}

// observed is what one path saw of a case.
type observed struct {
	probe.Attempt
	code int  // status code of the final answer; 0 when there was none
	slow bool // the attempt took poll_delay_sick or more
}

// observe probes tg once under the poll rules, and once more for the
// status code of the final answer.
func observe(tg *httpTarget, m *config.Metrics) observed {
	dead, sick := m.PollDelayDead.Duration(), m.PollDelaySick.Duration()
	ctx, cancel := context.WithTimeout(context.Background(), dead)
	defer cancel()
	o := observed{Attempt: tg.Probe(ctx)}
	o.slow = o.Latency >= sick
	if o.Status == status.Healthy && o.slow {
		o.Status = status.Sick
	}
	ctx, cancel = context.WithTimeout(context.Background(), dead)
	defer cancel()
	if resp, err := tg.roundTrip(ctx, new(scratch)); err == nil {
		o.code = resp.StatusCode
		resp.Body.Close()
	}
	return o
}

var statusOutOfRange = regexp.MustCompile(`: status \d{3} \(want \d{3}\.\.\d{3}\)$`)

// errKind is the kind of error an operator message reports, whatever its
// wording; "unknown" for a message it cannot place.
func errKind(msg string) string {
	switch {
	case msg == "":
		return ""
	case strings.Contains(msg, "no answer within"):
		return "timeout"
	case strings.Contains(msg, "connection refused"):
		return "refused"
	case strings.Contains(msg, "connection reset"):
		return "reset"
	case strings.Contains(msg, ": certificate of "):
		return "cert expiry"
	case strings.Contains(msg, "x509: ") || strings.Contains(msg, "tls: "):
		return "certificate"
	case statusOutOfRange.MatchString(msg):
		return "status"
	case strings.Contains(msg, "body does not match"):
		return "body"
	case strings.Contains(msg, "larger than 64 KiB"), strings.Contains(msg, "exceeded 65536 bytes"):
		return "header too large"
	case strings.Contains(msg, "closed the connection without answering"):
		return "closed"
	case strings.Contains(msg, "in the middle of the answer header"):
		return "cut header"
	case strings.Contains(msg, "reading body") && strings.HasSuffix(msg, "unexpected EOF"):
		return "cut body"
	case strings.Contains(msg, "malformed HTTP"):
		return "protocol"
	case strings.Contains(msg, "reading body: gzip: "), strings.Contains(msg, "reading body: flate: "):
		return "encoding"
	}
	return "unknown"
}

// raw serves a case from a raw TCP server on 127.0.0.1.
func raw(answer func(c net.Conn, quit <-chan struct{})) func(t *testing.T) diffServer {
	return func(t *testing.T) diffServer {
		return diffServer{url: "http://" + newScriptedServer(t, "127.0.0.1:0", answer).addr + "/health"}
	}
}

// reply writes a fixed answer and closes the connection.
func reply(s string) func(c net.Conn, quit <-chan struct{}) {
	return func(c net.Conn, _ <-chan struct{}) { io.WriteString(c, s) }
}

// replyAndHold writes a fixed answer and keeps the connection open until
// the client closes it: a client that waits for more body hangs.
func replyAndHold(s string) func(c net.Conn, quit <-chan struct{}) {
	return func(c net.Conn, _ <-chan struct{}) {
		io.WriteString(c, s)
		io.Copy(io.Discard, c)
	}
}

// rawNoFollow answers every request with a redirect and fails the test if
// a request for anything but /health comes in.
func rawNoFollow(s string) func(t *testing.T) diffServer {
	return func(t *testing.T) diffServer {
		srv := newScriptedServer(t, "127.0.0.1:0", reply(s))
		return diffServer{url: "http://" + srv.addr + "/health", after: func(t *testing.T) {
			for _, r := range srv.requests() {
				if !strings.HasPrefix(r, "HEAD /health HTTP/1.1\r\n") {
					t.Errorf("unexpected request %q: was the redirect followed?", r)
				}
			}
		}}
	}
}

// gzipWhenAsked serves net/http's server, gzipping for a client that asks.
// Neither path asks (see gzipped).
func gzipWhenAsked(t *testing.T) diffServer {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			io.WriteString(w, "all good")
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		io.WriteString(w, gzipOf("all good"))
	})
	return diffServer{url: srv.URL + "/health", after: func(t *testing.T) {
		for _, h := range srv.Seen() {
			if ae := h.Header.Get("Accept-Encoding"); ae != "" {
				t.Errorf("a probe sent Accept-Encoding: %s", ae)
			}
		}
	}}
}

// headerOfSize is a 200 answer whose header, blank line included, takes
// exactly size bytes.
func headerOfSize(size int) string {
	head := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Big: "
	return head + strings.Repeat("x", size-len(head)-len("\r\n\r\n")) + "\r\n\r\n"
}

func gzipOf(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

// tlsTrusted serves https://localhost with a certificate the probes are
// made to trust, valid 90 days, and checks that every handshake named the
// host.
func tlsTrusted(t *testing.T) diffServer { return tlsValidFor(90 * 24 * time.Hour)(t) }

// tlsValidFor is tlsTrusted with a certificate that expires after left
// (before, when left is negative).
func tlsValidFor(left time.Duration) func(t *testing.T) diffServer {
	return func(t *testing.T) diffServer { return tlsServer(t, left) }
}

func tlsServer(t *testing.T, left time.Duration) diffServer {
	cert, roots := localhostCert(t, time.Now().Add(left))
	var mu sync.Mutex
	var names []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "all good")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			names = append(names, hello.ServerName)
			mu.Unlock()
			return nil, nil
		}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return diffServer{url: "https://localhost:" + port + "/health", roots: roots, after: func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		if len(names) < 4 {
			t.Errorf("the server saw %d handshakes, want 4 (2 per path)", len(names))
		}
		for _, name := range names {
			if name != "localhost" {
				t.Errorf("server name in a TLS hello = %q, want localhost", name)
			}
		}
	}}
}

// tlsUntrusted serves https with httptest's certificate, which the probes
// do not trust.
func tlsUntrusted(t *testing.T) diffServer {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return diffServer{url: srv.URL + "/health"}
}

// closeAfterHello reads the TLS client hello and closes the connection
// without an answer. Reading all of it first makes the close a FIN, not a
// reset.
func closeAfterHello(t *testing.T) diffServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				var head [5]byte // record type, version, length
				if _, err := io.ReadFull(c, head[:]); err != nil {
					return
				}
				io.CopyN(io.Discard, c, int64(head[3])<<8|int64(head[4]))
			})
		}
	})
	return diffServer{url: "https://" + ln.Addr().String() + "/health"}
}

// ipv6 serves http://[::1]:port/, answering 400 to a wrong Host header.
func ipv6(t *testing.T) diffServer {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != ln.Addr().String() {
			w.WriteHeader(400)
		}
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return diffServer{url: srv.URL + "/health"}
}

// localhostCert is a self-signed certificate for localhost, valid until
// notAfter, and a pool that trusts it.
func localhostCert(t *testing.T, notAfter time.Time) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    notAfter.Add(-120 * 24 * time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
