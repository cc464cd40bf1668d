package xmpp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
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
	"syscall"
	"testing"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"

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

// receiver is an XMPP client logged in as receiver@localhost that hands
// every stanza it gets to a channel.
type receiver struct {
	jid      string
	stanzas  chan any
	recvDone chan struct{}
}

func startReceiver(t *testing.T, p *prosody) *receiver {
	t.Helper()
	tlsConfig := p.tls.Clone()
	tlsConfig.ServerName = domain
	client, err := goxmpp.Options{
		Host:      p.addr,
		User:      "receiver@" + domain,
		Password:  receiverPass,
		Resource:  "test",
		NoTLS:     true,
		StartTLS:  true,
		TLSConfig: tlsConfig,
	}.NewClient()
	if err != nil {
		t.Fatalf("receiver login: %v", err)
	}
	r := &receiver{jid: client.JID(), stanzas: make(chan any, 16), recvDone: make(chan struct{})}
	go func() {
		defer close(r.recvDone)
		for {
			s, err := client.Recv()
			if err != nil {
				return
			}
			r.stanzas <- s
		}
	}()
	// go-xmpp's Close may not run beside Recv; stopping the server ends Recv.
	t.Cleanup(func() {
		p.stop()
		<-r.recvDone
	})
	// The server echoes our own presence once it has made us available, so
	// messages sent after this reach us.
	r.await(t, func(s any) bool {
		p, ok := s.(goxmpp.Presence)
		return ok && p.From == r.jid
	})
	return r
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
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
	p := startProsody(t)
	r := startReceiver(t, p)

	tests := []struct {
		name     string
		from     string
		to       string
		password string
		trust    bool
		wantErr  []string
	}{
		{name: "delivers a chat message", from: "sender@localhost", to: "receiver@localhost", password: senderPass, trust: true},
		{name: "from with a resource", from: "sender@localhost/overvakt", to: "receiver@localhost", password: senderPass, trust: true},
		{name: "wrong password", from: "sender@localhost", to: "receiver@localhost", password: "wrong-Pa55", trust: true,
			wantErr: []string{"auth failure", "xmpp_password", "sender@localhost"}},
		{name: "unknown recipient", from: "sender@localhost", to: "nobody@localhost", password: senderPass, trust: true,
			wantErr: []string{"rejected the message to nobody@localhost", "service-unavailable"}},
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
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := r.await(t, func(s any) bool {
				c, ok := s.(goxmpp.Chat)
				return ok && c.Text != ""
			}).(goxmpp.Chat)
			if bare, _, _ := strings.Cut(got.Remote, "/"); bare != "sender@localhost" {
				t.Errorf("message from %q, want sender@localhost", got.Remote)
			}
			if got.Type != "chat" {
				t.Errorf("message type %q, want chat", got.Type)
			}
			if got.Text != m.Text() {
				t.Errorf("message text = %q, want %q", got.Text, m.Text())
			}
			for _, want := range []string{"dead", "web:core:https://edge-3.example.net/health?a=1&b=<2>", "08:58:28 UTC+0200", "https://status.example.com/"} {
				if !strings.Contains(got.Text, want) {
					t.Errorf("message text does not contain %q", want)
				}
			}
		})
	}
}

// A server that accepts the connection and never answers must not hold
// Send past its context.
func TestSendHonoursContext(t *testing.T) {
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
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
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
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

func TestNewRefusesProxyWithoutLoopbackException(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://proxy.example.net:3128")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	_, err := xmpp.NewNotifier(&xmpp.Table{From: "a@example.com", To: "b@example.com", XMPPPassword: "x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "NO_PROXY") {
		t.Fatalf("err = %v, want one telling to set NO_PROXY", err)
	}
	t.Setenv("NO_PROXY", "localhost,127.0.0.1")
	if _, err := xmpp.NewNotifier(&xmpp.Table{From: "a@example.com", To: "b@example.com", XMPPPassword: "x"}, nil); err != nil {
		t.Fatalf("with NO_PROXY=127.0.0.1: %v", err)
	}
}
