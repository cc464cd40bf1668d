package xmpp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mellium.im/sasl"
	mellium "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/notifytest"
	"github.com/overvakt/overvakt/pkg/notify/xmpp"
	"github.com/overvakt/overvakt/pkg/status"
)

const (
	domain       = "localhost"
	senderPass   = "sender-Pa55"
	receiverPass = "receiver-Pa55"
)

// prosody is a Prosody server started for one test.
type prosody struct {
	addr string      // 127.0.0.1:port of c2s
	tls  *tls.Config // trusts the server's certificate
	stop func()      // stops the server; safe to call more than once
}

// startProsody runs Prosody from the Debian package with its own config,
// data and certificate in a temporary directory, with the accounts
// sender@localhost and receiver@localhost. It is stopped when the test ends.
func startProsody(t *testing.T) *prosody {
	t.Helper()
	bin, err := exec.LookPath("prosody")
	ctl, ctlErr := exec.LookPath("prosodyctl")
	if err != nil || ctlErr != nil {
		msg := "prosody is not installed (Debian package prosody); the XMPP channel test needs it"
		if os.Getenv("OVERVAKT_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	dir := t.TempDir()
	certDir := filepath.Join(dir, "certs")
	dataDir := filepath.Join(dir, "data")
	for _, d := range []string{certDir, dataDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	certFile := filepath.Join(certDir, domain+".crt")
	keyFile := filepath.Join(certDir, domain+".key")
	clientTLS := writeSelfSigned(t, certFile, keyFile)
	port := freePort(t)
	logFile := filepath.Join(dir, "prosody.log")
	cfgFile := filepath.Join(dir, "prosody.cfg.lua")
	cfg := fmt.Sprintf(`-- Prosody for one test: loopback only, client connections only.
run_as_root = true -- containers run tests as root; Prosody refuses that otherwise
daemonize = false
pidfile = %[1]q
data_path = %[2]q
certificates = %[3]q
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { %[4]d }
c2s_direct_tls_ports = {}
s2s_ports = {}
s2s_direct_tls_ports = {}
http_ports = {}
https_ports = {}
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping" }
modules_disabled = { "s2s", "s2s_auth_certs" }
c2s_require_encryption = true
authentication = "internal_plain"
storage = "internal"
log = { info = %[5]q }
ssl = { certificate = %[6]q, key = %[7]q }
VirtualHost %[8]q
`, filepath.Join(dir, "prosody.pid"), dataDir, certDir, port, logFile, certFile, keyFile, domain)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for user, pass := range map[string]string{"sender": senderPass, "receiver": receiverPass} {
		out, err := exec.CommandContext(t.Context(), ctl, "--config", cfgFile, "register", user, domain, pass).CombinedOutput()
		if err != nil {
			t.Fatalf("prosodyctl register %s: %v\n%s", user, err, out)
		}
	}

	out, err := os.Create(filepath.Join(dir, "prosody.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "--config", cfgFile, "-F")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prosody: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := sync.OnceFunc(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	t.Cleanup(stop)

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("prosody exited early: %v\n%s", err, prosodyLogs(dir))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prosody does not listen on %s after 15s\n%s", addr, prosodyLogs(dir))
		}
	}
	return &prosody{addr: addr, tls: clientTLS, stop: stop}
}

func prosodyLogs(dir string) string {
	var b strings.Builder
	for _, name := range []string{"prosody.out", "prosody.log"} {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		fmt.Fprintf(&b, "--- %s ---\n%s\n", name, data)
	}
	return b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeSelfSigned writes a certificate for localhost and its key as PEM
// files and returns a client config that trusts it.
func writeSelfSigned(t *testing.T, certFile, keyFile string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: domain},
		DNSNames:              []string{domain},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{RootCAs: roots}
}

// receiver is an XMPP client logged in as receiver@localhost/test that
// hands every message and presence it gets to a channel, as a chat or a
// presence.
type receiver struct {
	jid      string
	stanzas  chan any
	stop     chan struct{}
	recvDone chan struct{}
}

// chat is a message stanza the receiver got.
type chat struct {
	From, Type, Body string
}

// presence is a presence stanza the receiver got.
type presence struct {
	From, Type string
}

func startReceiver(t *testing.T, p *prosody) *receiver {
	t.Helper()
	tlsConfig := p.tls.Clone()
	tlsConfig.ServerName = domain
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		t.Fatalf("receiver dial: %v", err)
	}
	session, err := mellium.NewClientSession(ctx, jid.MustParse("receiver@"+domain+"/test"), conn,
		mellium.StartTLS(tlsConfig),
		mellium.SASL("", receiverPass, sasl.ScramSha256, sasl.ScramSha1, sasl.Plain),
		mellium.BindResource(),
	)
	if err != nil {
		conn.Close()
		t.Fatalf("receiver login: %v", err)
	}
	r := &receiver{
		jid:      session.LocalAddr().String(),
		stanzas:  make(chan any, 16),
		stop:     make(chan struct{}),
		recvDone: make(chan struct{}),
	}
	go r.read(session)
	t.Cleanup(func() {
		close(r.stop)
		conn.Close()
		<-r.recvDone
	})
	// Initial presence makes us available; the server echoes it, so
	// messages sent after the echo reach us.
	if err := session.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatalf("receiver presence: %v", err)
	}
	r.await(t, func(s any) bool {
		p, ok := s.(presence)
		return ok && p.From == r.jid && p.Type == ""
	})
	return r
}

// read decodes incoming stanzas until the connection ends.
func (r *receiver) read(session *mellium.Session) {
	defer close(r.recvDone)
	tr := session.TokenReader()
	defer tr.Close()
	d := xml.NewTokenDecoder(tr)
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var v any
		switch start.Name.Local {
		case "message":
			var m struct {
				From string `xml:"from,attr"`
				Type string `xml:"type,attr"`
				Body string `xml:"body"`
			}
			err = d.DecodeElement(&m, &start)
			v = chat{From: m.From, Type: m.Type, Body: m.Body}
		case "presence":
			var p struct {
				From string `xml:"from,attr"`
				Type string `xml:"type,attr"`
			}
			err = d.DecodeElement(&p, &start)
			v = presence{From: p.From, Type: p.Type}
		default:
			err = d.Skip()
		}
		if err != nil {
			return
		}
		if v == nil {
			continue
		}
		select {
		case r.stanzas <- v:
		case <-r.stop:
			return
		}
	}
}

// await returns the first stanza for which match is true.
func (r *receiver) await(t *testing.T, match func(any) bool) any {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s := <-r.stanzas:
			if match(s) {
				return s
			}
		case <-timeout:
			t.Fatal("receiver got nothing matching within 10s")
			return nil
		}
	}
}

func sampleMessage() *notify.Message {
	return &notify.Message{
		Kind:      notify.Changed,
		Status:    status.Dead,
		Time:      time.Date(2026, 3, 14, 8, 58, 28, 0, time.FixedZone("CEST", 2*3600)),
		Replicas:  []string{"web:core:https://edge-3.example.net/health?a=1&b=<2>", "web:core:tcp://edge-4.example.net:80"},
		Recovered: []string{"api:eu:tcp://10.0.0.5:443"},
		PageTitle: "Acme Status",
		PageURL:   "https://status.example.com/",
	}
}

func TestSendThroughProsody(t *testing.T) {
	p := startProsody(t)
	r := startReceiver(t, p)

	tests := []struct {
		name      string
		from      string
		to        string
		password  string
		trust     bool
		wantErr   []string
		permanent bool // the error is not worth a retry
	}{
		{name: "delivers a chat message", from: "sender@localhost", to: "receiver@localhost", password: senderPass, trust: true},
		{name: "from with a resource", from: "sender@localhost/overvakt", to: "receiver@localhost", password: senderPass, trust: true},
		{name: "wrong password", from: "sender@localhost", to: "receiver@localhost", password: "wrong-Pa55", trust: true,
			wantErr: []string{"auth failure", "xmpp_password", "sender@localhost"}, permanent: true},
		{name: "unknown recipient", from: "sender@localhost", to: "nobody@localhost", password: senderPass, trust: true,
			wantErr: []string{"rejected the message to nobody@localhost", "service-unavailable"}, permanent: true},
		{name: "untrusted certificate", from: "sender@localhost", to: "receiver@localhost", password: senderPass,
			wantErr: []string{"certificate", `"localhost"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var trust *tls.Config
			if tt.trust {
				trust = p.tls
			}
			n, err := xmpp.NewNotifier(&xmpp.Table{
				From: tt.from, To: tt.to, XMPPPassword: tt.password, Server: p.addr,
			}, trust)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			m := sampleMessage()
			err = n.Send(ctx, m)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("Send succeeded, want an error")
				}
				t.Logf("error: %v", err)
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
				if strings.Contains(err.Error(), tt.password) {
					t.Errorf("error %q reveals the password", err)
				}
				if got := notify.IsPermanent(err); got != tt.permanent {
					t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := r.await(t, func(s any) bool {
				c, ok := s.(chat)
				return ok && c.Body != ""
			}).(chat)
			if bare, _, _ := strings.Cut(got.From, "/"); bare != "sender@localhost" {
				t.Errorf("message from %q, want sender@localhost", got.From)
			}
			if got.Type != "chat" {
				t.Errorf("message type %q, want chat", got.Type)
			}
			if got.Body != m.Text() {
				t.Errorf("message text = %q, want %q", got.Body, m.Text())
			}
			for _, want := range []string{"dead", "web:core:https://edge-3.example.net/health?a=1&b=<2>", "08:58:28 UTC+0200", "https://status.example.com/"} {
				if !strings.Contains(got.Body, want) {
					t.Errorf("message text does not contain %q", want)
				}
			}
		})
	}
}

// A server that accepts the connection and never answers must not hold
// Send past its context.
func TestSendHonoursContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		defer close(accepted)
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	defer func() {
		for c := range accepted {
			c.Close()
		}
	}()

	n, err := xmpp.NewNotifier(&xmpp.Table{
		From: "sender@localhost", To: "receiver@localhost", XMPPPassword: senderPass, Server: ln.Addr().String(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = n.Send(ctx, sampleMessage())
	elapsed := time.Since(start)
	t.Logf("error after %v: %v", elapsed, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want a deadline error", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Send returned after %v, want about 300ms", elapsed)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		table   *xmpp.Table
		wantErr string
	}{
		{name: "configured", table: &xmpp.Table{
			From: "status@example.com", To: "ops@example.com", XMPPPassword: "x",
			ChannelOptions: config.ChannelOptions{RemindersOnly: true}}},
		{name: "bad from", wantErr: "notify.xmpp.from", table: &xmpp.Table{
			From: "status", To: "ops@example.com", XMPPPassword: "x"}},
		{name: "bad to", wantErr: "notify.xmpp.to", table: &xmpp.Table{
			From: "status@example.com", To: "ops", XMPPPassword: "x"}},
		{name: "bad server", wantErr: "notify.xmpp.server", table: &xmpp.Table{
			From: "status@example.com", To: "ops@example.com", XMPPPassword: "x", Server: "xmpp.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := notifytest.TryBuild(xmpp.Kind(), tt.table, notify.Deps{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if ch.Name() != "xmpp" || !ch.RemindersOnly {
				t.Errorf("channel = %q reminders_only %v, want xmpp true", ch.Name(), ch.RemindersOnly)
			}
		})
	}
}

// The channel connects directly: proxy variables, which name HTTP (or
// SOCKS) proxies, play no part. The "proxy" here drops every connection and
// counts them; the message must still arrive, and the proxy see nothing.
func TestSendIgnoresProxyEnv(t *testing.T) {
	proxy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var contacted atomic.Int32
	go func() {
		for {
			c, err := proxy.Accept()
			if err != nil {
				return
			}
			contacted.Add(1)
			c.Close()
		}
	}()
	proxyURL := "http://" + proxy.Addr().String()
	for _, name := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(name, proxyURL)
	}
	t.Setenv("ALL_PROXY", "socks5://"+proxy.Addr().String())
	t.Setenv("all_proxy", "socks5://"+proxy.Addr().String())
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	p := startProsody(t)
	r := startReceiver(t, p)
	n, err := xmpp.NewNotifier(&xmpp.Table{
		From: "sender@localhost", To: "receiver@localhost", XMPPPassword: senderPass, Server: p.addr,
	}, p.tls)
	if err != nil {
		t.Fatalf("NewNotifier with HTTP_PROXY set: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m := sampleMessage()
	if err := n.Send(ctx, m); err != nil {
		t.Fatalf("Send with HTTP_PROXY set: %v", err)
	}
	got := r.await(t, func(s any) bool {
		c, ok := s.(chat)
		return ok && c.Body != ""
	}).(chat)
	if got.Body != m.Text() {
		t.Errorf("message text = %q, want %q", got.Body, m.Text())
	}
	if c := contacted.Load(); c != 0 {
		t.Errorf("the proxy was contacted %d times, want none", c)
	}
}

// A send opens no listening socket and relays nothing: while it is under
// way, the only TCP sockets this process has beyond those it had before
// are the two ends of the connection to the server. The server here reads
// the client's stream header and then stays silent, holding the send in
// the middle of its conversation until the context is cancelled.
func TestSendOpensNoListenerOrRelay(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc/net/tcp to list sockets: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverPort := ln.Addr().(*net.TCPAddr).Port
	headerRead := make(chan struct{})
	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var seen []byte
		var signalled bool
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			seen = append(seen, buf[:n]...)
			if !signalled && strings.Contains(string(seen), "<stream:stream") {
				signalled = true
				close(headerRead)
			}
			if err != nil {
				return
			}
		}
	}()

	before := tcpSockets(t)
	n, err := xmpp.NewNotifier(&xmpp.Table{
		From: "sender@localhost", To: "receiver@localhost", XMPPPassword: senderPass, Server: ln.Addr().String(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	sent := make(chan error, 1)
	go func() { sent <- n.Send(ctx, sampleMessage()) }()

	select {
	case <-headerRead:
	case err := <-sent:
		t.Fatalf("Send returned before the server read a stream header: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the server read no stream header within 5s")
	}
	during := tcpSockets(t)
	for inode, s := range during {
		if _, ok := before[inode]; ok {
			continue
		}
		switch {
		case s.listening:
			t.Errorf("Send listens on port %d", s.localPort)
		case s.localPort != serverPort && s.remotePort != serverPort:
			t.Errorf("Send has a TCP connection %d -> %d that is not to the server (port %d)", s.localPort, s.remotePort, serverPort)
		}
	}

	cancel()
	select {
	case err := <-sent:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want a cancellation error", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Send did not return within 2s of cancellation")
	}
	<-serverDone
	for inode, s := range tcpSockets(t) {
		if _, ok := before[inode]; !ok && s.listening {
			t.Errorf("after Send, a socket listens on port %d", s.localPort)
		}
	}
}

// tcpSocket is one TCP socket of this process, from /proc/net/tcp{,6}.
type tcpSocket struct {
	localPort, remotePort int
	listening             bool
}

// tcpSockets lists this process's TCP sockets (over IPv4 and IPv6) by
// inode: the sockets among its open files, looked up in /proc/net/tcp and
// /proc/net/tcp6, which list every socket of the network namespace.
func tcpSockets(t *testing.T) map[string]tcpSocket {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			mine[strings.TrimSuffix(inode, "]")] = true
		}
	}
	port := func(addr string) int {
		_, hex, _ := strings.Cut(addr, ":")
		p, err := strconv.ParseUint(hex, 16, 16)
		if err != nil {
			t.Fatalf("bad address %q in /proc/net/tcp", addr)
		}
		return int(p)
	}
	sockets := map[string]tcpSocket{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if errors.Is(err, os.ErrNotExist) && table == "/proc/net/tcp6" {
			continue // no IPv6
		}
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		for _, line := range lines[1:] {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
			f := strings.Fields(line)
			if len(f) < 10 || !mine[f[9]] {
				continue
			}
			sockets[f[9]] = tcpSocket{localPort: port(f[1]), remotePort: port(f[2]), listening: f[3] == "0A"}
		}
	}
	return sockets
}

// A server that does not offer STARTTLS, and refuses it when asked, gets
// no login: the send fails with the STARTTLS hint and neither a SASL
// exchange nor the password ever goes out in the clear.
func TestSendRequiresStartTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan string, 1)
	go func() {
		var seen []byte
		defer func() { received <- string(seen) }()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		var greeted, refused bool
		for {
			n, err := c.Read(buf)
			seen = append(seen, buf[:n]...)
			if !greeted && strings.Contains(string(seen), "<stream:stream") {
				greeted = true
				// PLAIN is offered, and STARTTLS is not.
				fmt.Fprint(c, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "+
					"xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>"+
					"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"+
					"<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
			}
			if greeted && !refused && strings.Contains(string(seen), "starttls") {
				refused = true
				fmt.Fprint(c, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>")
			}
			if err != nil {
				return
			}
		}
	}()

	n, err := xmpp.NewNotifier(&xmpp.Table{
		From: "sender@localhost", To: "receiver@localhost", XMPPPassword: senderPass, Server: ln.Addr().String(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = n.Send(ctx, sampleMessage())
	t.Logf("error: %v", err)
	if err == nil || !strings.Contains(err.Error(), "the server must offer STARTTLS") {
		t.Errorf("Send = %v, want an error with the STARTTLS hint", err)
	}
	var seen string
	select {
	case seen = <-received:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not finish within 5s")
	}
	t.Logf("the server received: %s", seen)
	if strings.Contains(seen, "<auth") || strings.Contains(seen, "xmpp-sasl") {
		t.Errorf("the client started SASL without TLS: %s", seen)
	}
	if strings.Contains(seen, senderPass) || strings.Contains(seen, base64.StdEncoding.EncodeToString([]byte("\x00sender\x00"+senderPass))) {
		t.Errorf("the password went out in the clear: %s", seen)
	}
}
