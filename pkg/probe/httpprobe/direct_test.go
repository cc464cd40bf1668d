package httpprobe

import (
	"bufio"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/overvakt/overvakt/pkg/status"
)

// rawServer answers every connection on loopback with a fixed reply after
// reading the request header, and records the requests as sent.
type rawServer struct {
	addr string
	mu   sync.Mutex
	reqs []string
}

func newRawServer(t *testing.T, reply string) *rawServer {
	t.Helper()
	return newScriptedServer(t, "127.0.0.1:0", func(c net.Conn, _ <-chan struct{}) { io.WriteString(c, reply) })
}

// newScriptedServer listens on addr and, for every connection, reads and
// records the request header and then lets answer write what it likes. The
// connection is closed when answer returns, or when the test ends (quit is
// closed then too).
func newScriptedServer(t *testing.T, addr string, answer func(c net.Conn, quit <-chan struct{})) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{addr: ln.Addr().String()}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(quit); ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				done := make(chan struct{})
				defer close(done)
				go func() {
					select {
					case <-quit:
						c.Close()
					case <-done:
					}
				}()
				var req strings.Builder
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					req.WriteString(line)
					if err != nil || line == "\r\n" {
						break
					}
				}
				s.mu.Lock()
				s.reqs = append(s.reqs, req.String())
				s.mu.Unlock()
				answer(c, quit)
			})
		}
	})
	return s
}

func (s *rawServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

func TestHTTPAnswersOnTheWire(t *testing.T) {
	scenarios := []struct {
		name    string
		reply   string
		match   string
		want    status.Status
		wantErr string
	}{
		{name: "informational answers are skipped",
			reply: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
			want:  status.Healthy},
		{name: "chunked body is matched",
			reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nall g\r\n4\r\nood!\r\n0\r\n\r\n",
			match: "all good", want: status.Healthy},
		{name: "content-length body is matched",
			reply: "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nall good and more", match: "good$", want: status.Healthy},
		{name: "body until close is matched",
			reply: "HTTP/1.0 200 OK\r\n\r\nall good", match: "^all good$", want: status.Healthy},
		{name: "closed without an answer is dead",
			want: status.Dead, wantErr: "the server closed the connection without answering"},
		{name: "cut-off header is dead",
			reply: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", want: status.Dead, wantErr: "in the middle of the answer header"},
		{name: "garbage is dead",
			reply: "SSH-2.0-OpenSSH_9.6\r\n", want: status.Dead, wantErr: "reading the answer: malformed HTTP response"},
		{name: "huge header is dead",
			reply: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 70<<10) + "\r\n\r\n",
			want:  status.Dead, wantErr: "answer header larger than 64 KiB"},
		{name: "many informational answers are skipped",
			reply: strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 8) + "HTTP/1.1 200 OK\r\n\r\n",
			want:  status.Healthy},
		{name: "endless informational answers are dead",
			reply: strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 3000) + "HTTP/1.1 200 OK\r\n\r\n",
			want:  status.Dead, wantErr: "answer header larger than 64 KiB"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			srv := newRawServer(t, sc.reply)
			node := pollNode("http://" + srv.addr + "/")
			keys(&node).HealthyMatch = sc.match
			cfg := testConfig(node)
			cfg.Metrics.PollRetry = 0
			rep := firstResult(t, cfg)
			if rep.Status != sc.want || !strings.Contains(rep.Error, sc.wantErr) || (sc.wantErr == "" && rep.Error != "") {
				t.Errorf("got %s %q, want %s with %q", rep.Status, rep.Error, sc.want, sc.wantErr)
			}
		})
	}
}

func TestHTTPRequestOnTheWire(t *testing.T) {
	srv := newRawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	node := pollNode("http://probe:s3cret@" + srv.addr + "/health?full=1")
	keys(&node).Method = "post"
	keys(&node).Body = `{"ping":1}`
	keys(&node).Headers = map[string]string{"x-token": " abc ", "Host": "status.internal"}
	rep := firstResult(t, testConfig(node))
	if rep.Status != status.Healthy {
		t.Fatalf("status = %s (%s), want healthy", rep.Status, rep.Error)
	}
	want := "POST /health?full=1 HTTP/1.1\r\n" +
		"Host: status.internal\r\n" +
		"Authorization: Basic cHJvYmU6czNjcmV0\r\n" +
		"User-Agent: overvakt/1.2.3\r\n" +
		"Content-Length: 10\r\n" +
		"X-Token: abc\r\n" +
		"Connection: close\r\n\r\n" // the body follows; TestHTTPRequest checks it
	if got := srv.requests(); len(got) != 1 || got[0] != want {
		t.Errorf("requests = %q, want one %q", got, want)
	}
}

func TestHTTPHeaderInjectionIsRefused(t *testing.T) {
	srv := newServer(t, nil)
	node := pollNode(srv.URL + "/")
	keys(&node).Headers = map[string]string{"X-Note": "a\r\nX-Injected: 1"}
	rep := firstResult(t, testConfig(node))
	if rep.Status != status.Dead || !strings.Contains(rep.Error, "invalid header field value") {
		t.Errorf("got %s %q, want dead: the header value holds a line break", rep.Status, rep.Error)
	}
	for _, h := range srv.Seen() {
		if h.Header.Get("X-Injected") != "" {
			t.Errorf("the server got an injected header: %v", h.Header)
		}
	}
}

func TestHTTPSSendsServerName(t *testing.T) {
	names := make(chan string, 4)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshake is expected
	srv.TLS = &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		names <- hello.ServerName
		return nil, nil
	}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	rep := firstResult(t, testConfig(pollNode("https://localhost:"+port+"/")))
	if rep.Status != status.Dead || !strings.Contains(rep.Error, "certificate") {
		t.Errorf("got %s %q, want dead: the test server's certificate is not trusted", rep.Status, rep.Error)
	}
	if got := <-names; got != "localhost" {
		t.Errorf("server name in the TLS hello = %q, want localhost", got)
	}
}

func TestHTTPOverIPv6Loopback(t *testing.T) {
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
	if rep := firstResult(t, testConfig(pollNode(srv.URL+"/"))); rep.Status != status.Healthy {
		t.Errorf("got %s %q, want healthy", rep.Status, rep.Error)
	}
}
