package email_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/email"
	"github.com/overvakt/overvakt/pkg/notify/notifytest"
	"github.com/overvakt/overvakt/pkg/status"
)

const (
	smtpUser = "status@example.com"
	smtpPass = "s3cret-Pa55"
)

// received is what the test SMTP server saw of one delivered mail.
type received struct {
	tlsAtAuth bool
	user      string
	from      string
	to        []string
	data      []byte
}

// backend is an in-process SMTP server; with auth it offers AUTH PLAIN
// and refuses mail before it.
type backend struct {
	auth bool
	// rcptErr and dataErr, when set, are the server's answer to RCPT TO
	// and to the end of DATA.
	rcptErr, dataErr error
	mu               sync.Mutex
	mail             []received
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, c: c}, nil
}

func (b *backend) delivered() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.mail...)
}

type session struct {
	b   *backend
	c   *smtp.Conn
	cur received
}

func (s *session) AuthMechanisms() []string {
	if !s.b.auth {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != smtpUser || password != smtpPass {
			return smtp.ErrAuthFailed
		}
		_, isTLS := s.c.TLSConnectionState()
		s.cur.tlsAtAuth = isTLS
		s.cur.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.auth && s.cur.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.rcptErr != nil {
		return s.b.rcptErr
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.dataErr != nil {
		return s.b.dataErr
	}
	rec := s.cur
	rec.data = data
	rec.to = append([]string(nil), s.cur.to...)
	s.b.mu.Lock()
	s.b.mail = append(s.b.mail, rec)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset() {
	s.cur.from = ""
	s.cur.to = nil
}

func (s *session) Logout() error { return nil }

// startSMTP serves b on a loopback port; STARTTLS is offered when
// serverTLS is not nil. It returns the port.
func startSMTP(t *testing.T, b *backend, serverTLS *tls.Config) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	srv.TLSConfig = serverTLS
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// selfSigned makes a certificate for 127.0.0.1 and localhost and returns
// the server's TLS config and a client config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
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
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: roots}
}

func sampleMessage() *notify.Message {
	return &notify.Message{
		Kind:      notify.Changed,
		Status:    status.Dead,
		Time:      time.Date(2026, 3, 14, 8, 58, 28, 0, time.FixedZone("CEST", 2*3600)),
		Replicas:  []string{"web:core:https://edge-3.example.net/health?probe=1", "web:core:tcp://edge-4.example.net:80"},
		Recovered: []string{"api:eu:tcp://10.0.0.5:443"},
		PageTitle: "Acme Status",
		PageURL:   "https://status.example.com/",
	}
}

// parseMail splits a delivered mail into its decoded subject and body.
func parseMail(t *testing.T, data []byte) (subject, body string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("delivered mail does not parse: %v\n%s", err, data)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	var r io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return subject, strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestSend(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)

	tests := []struct {
		name     string
		starttls bool   // the server offers STARTTLS
		auth     bool   // the server requires AUTH PLAIN
		encrypt  bool   // smtp_encrypt
		password string // smtp_password; the username is set with it
		trust    bool   // the client trusts the test certificate
		wantErr  []string
	}{
		{name: "STARTTLS then AUTH PLAIN", starttls: true, auth: true, encrypt: true, password: smtpPass, trust: true},
		{name: "smtp_encrypt requires STARTTLS", auth: true, encrypt: true, password: smtpPass, trust: true,
			wantErr: []string{"does not support STARTTLS", "127.0.0.1:"}},
		{name: "wrong password", starttls: true, auth: true, encrypt: true, password: "wrong-Pa55", trust: true,
			wantErr: []string{"535", "Authentication failed", "smtp_password"}},
		{name: "untrusted certificate", starttls: true, auth: true, encrypt: true, password: smtpPass,
			wantErr: []string{"certificate"}},
		{name: "no smtp_encrypt and no STARTTLS sends in clear", trust: true},
		{name: "no smtp_encrypt still uses offered STARTTLS", starttls: true, auth: true, password: smtpPass, trust: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &backend{auth: tt.auth}
			var offer *tls.Config
			if tt.starttls {
				offer = serverTLS
			}
			cfg := &email.Table{
				To:           "Ops <ops@example.com>, oncall@example.com",
				From:         "Acme Status <status@example.com>",
				SMTPHost:     "127.0.0.1",
				SMTPPort:     startSMTP(t, b, offer),
				SMTPPassword: tt.password,
				SMTPEncrypt:  tt.encrypt,
			}
			if tt.password != "" {
				cfg.SMTPUsername = smtpUser
			}
			var trust *tls.Config
			if tt.trust {
				trust = clientTLS
			}
			n, err := email.NewNotifier(cfg, trust)
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
				if got := b.delivered(); len(got) != 0 {
					t.Errorf("server received %d mails, want none", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := b.delivered()
			if len(got) != 1 {
				t.Fatalf("server received %d mails, want 1", len(got))
			}
			r := got[0]
			if tt.auth {
				if r.user != smtpUser {
					t.Errorf("AUTH user = %q, want %q", r.user, smtpUser)
				}
				if !r.tlsAtAuth {
					t.Error("AUTH happened before STARTTLS")
				}
			}
			if r.from != "status@example.com" {
				t.Errorf("MAIL FROM = %q, want status@example.com", r.from)
			}
			if want := []string{"ops@example.com", "oncall@example.com"}; strings.Join(r.to, ",") != strings.Join(want, ",") {
				t.Errorf("RCPT TO = %q, want %q", r.to, want)
			}
			subject, body := parseMail(t, r.data)
			if want := "Acme Status: status changed to dead"; subject != want {
				t.Errorf("Subject = %q, want %q", subject, want)
			}
			for _, want := range []string{
				"dead",
				"web:core:https://edge-3.example.net/health?probe=1",
				"web:core:tcp://edge-4.example.net:80",
				"Recovered:\n- api:eu:tcp://10.0.0.5:443",
				"Time: 08:58:28 UTC+0200",
				"Page: https://status.example.com/",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("body does not contain %q:\n%s", want, body)
				}
			}
			if body != m.Text() {
				t.Errorf("body = %q, want the message text %q", body, m.Text())
			}
		})
	}
}

// SMTP 5xx refusals are permanent, 4xx ones and broken connections are
// retried.
func TestSendRetryClass(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	reply := func(code int, enhanced smtp.EnhancedCode, msg string) error {
		return &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: msg}
	}
	tests := []struct {
		name      string
		backend   *backend
		starttls  bool
		password  string
		gone      bool // nothing listens on the port
		permanent bool
		wantErr   []string
	}{
		{name: "535 authentication failed", backend: &backend{auth: true}, starttls: true, password: "wrong-Pa55",
			permanent: true, wantErr: []string{"535", "Authentication failed"}},
		{name: "550 mailbox unavailable", backend: &backend{rcptErr: reply(550, smtp.EnhancedCode{5, 1, 1}, "Mailbox unavailable")},
			starttls: true, permanent: true, wantErr: []string{"RCPT TO", "550", "Mailbox unavailable"}},
		{name: "554 rejected at DATA", backend: &backend{dataErr: reply(554, smtp.EnhancedCode{5, 7, 1}, "Message rejected as spam")},
			starttls: true, permanent: true, wantErr: []string{"DATA", "554", "rejected as spam"}},
		{name: "smtp_encrypt and no STARTTLS", backend: &backend{}, permanent: true, wantErr: []string{"does not support STARTTLS"}},
		{name: "450 mailbox busy", backend: &backend{rcptErr: reply(450, smtp.EnhancedCode{4, 2, 1}, "Mailbox busy, try later")},
			starttls: true, wantErr: []string{"RCPT TO", "450", "Mailbox busy"}},
		{name: "451 local error at DATA", backend: &backend{dataErr: reply(451, smtp.EnhancedCode{4, 3, 0}, "Local error, try later")},
			starttls: true, wantErr: []string{"DATA", "451", "Local error"}},
		{name: "no server", gone: true, wantErr: []string{"connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var port int
			if tt.gone {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				port = ln.Addr().(*net.TCPAddr).Port
				ln.Close()
			} else {
				var offer *tls.Config
				if tt.starttls {
					offer = serverTLS
				}
				port = startSMTP(t, tt.backend, offer)
			}
			cfg := &email.Table{To: "ops@example.com", From: "status@example.com",
				SMTPHost: "127.0.0.1", SMTPPort: port, SMTPEncrypt: true}
			if tt.password != "" {
				cfg.SMTPUsername, cfg.SMTPPassword = smtpUser, tt.password
			}
			n, err := email.NewNotifier(cfg, clientTLS)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err = n.Send(ctx, sampleMessage())
			t.Logf("error: %v", err)
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if got := notify.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
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
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	defer func() {
		for c := range accepted {
			c.Close()
		}
	}()

	n, err := email.NewNotifier(&email.Table{
		To: "ops@example.com", From: "status@example.com",
		SMTPHost: "127.0.0.1", SMTPPort: ln.Addr().(*net.TCPAddr).Port, SMTPEncrypt: true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = n.Send(ctx, sampleMessage())
	if err == nil {
		t.Fatal("Send succeeded against a silent server")
	}
	t.Logf("error after %v: %v", time.Since(start), err)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Send returned after %v, want about 300ms", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not say the deadline passed", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		table   *email.Table
		wantErr string
	}{
		{name: "configured", table: &email.Table{
			To: "ops@example.com", From: "status@example.com", SMTPHost: "localhost", SMTPPort: 587,
			ChannelOptions: config.ChannelOptions{RemindersOnly: true}}},
		{name: "bad to", wantErr: "notify.email.to", table: &email.Table{
			To: "ops at example", From: "status@example.com", SMTPHost: "localhost", SMTPPort: 587}},
		{name: "bad from", wantErr: "notify.email.from", table: &email.Table{
			To: "ops@example.com", From: "", SMTPHost: "localhost", SMTPPort: 587}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := notifytest.TryBuild(email.Kind(), tt.table, notify.Deps{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if ch.Name() != "email" || !ch.RemindersOnly {
				t.Errorf("channel = %q reminders_only %v, want email true", ch.Name(), ch.RemindersOnly)
			}
		})
	}
}

func TestEscalatingRemindersReachTheFirstAddresses(t *testing.T) {
	for escalation, want := range []string{
		"ops@example.com,oncall@example.com,cto@example.com", // 0: every address
		"ops@example.com",
		"ops@example.com,oncall@example.com",
		"ops@example.com,oncall@example.com,cto@example.com",
	} {
		b := &backend{}
		n, err := email.NewNotifier(&email.Table{
			To:       "ops@example.com, oncall@example.com, cto@example.com",
			From:     "status@example.com",
			SMTPHost: "127.0.0.1",
			SMTPPort: startSMTP(t, b, nil),
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := sampleMessage()
		m.Kind, m.Escalation = notify.Reminder, escalation
		if err := n.Send(t.Context(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := b.delivered(); len(got) != 1 || strings.Join(got[0].to, ",") != want {
			t.Errorf("escalation %d: RCPT TO %v, want %s", escalation, got, want)
		}
	}
}
