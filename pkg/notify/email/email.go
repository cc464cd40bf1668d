// Package email sends notifications as plain-text e-mail through an SMTP
// server.
//
// Behaviour of the [notify.email] keys:
//   - to: one address or several separated by commas ("Ops <ops@example.com>,
//     oncall@example.com"); one message is sent with all of them in To.
//   - smtp_encrypt = true (the default): STARTTLS is required; a server that
//     does not offer it, or whose certificate does not verify for smtp_host,
//     is an error and nothing is sent.
//   - smtp_encrypt = false: STARTTLS is used when the server offers it and
//     skipped when it does not (plain text on the wire). A certificate that
//     does not verify is still an error.
//   - smtp_username set: SMTP AUTH with the strongest mechanism the server
//     offers (SCRAM, CRAM-MD5, PLAIN, LOGIN). PLAIN and LOGIN are only used
//     over TLS, so a password is never sent in clear text.
//
// A refusal with an SMTP 5xx reply (wrong password, unknown mailbox,
// rejected mail) is a permanent error (notify.Permanent); a 4xx reply, a
// lost connection or a timeout is retried.
//
// The subject is the message headline; the body is the message text.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
)

var _ notify.Notifier = (*Notifier)(nil)

// defaultTimeout bounds a send when the caller's context has no deadline.
const defaultTimeout = 30 * time.Second

// Notifier sends messages through one SMTP server.
type Notifier struct {
	from      string
	to        []string
	host      string
	port      int
	username  string
	password  string
	encrypt   bool
	tlsConfig *tls.Config
}

// Kind is the e-mail channel, [notify.email].
func Kind() notify.ChannelKind { return notify.NewChannelKind("email", defaults, New) }

// Table is [notify.email].
type Table struct {
	To           string `toml:"to"`   // one address, or several separated by commas
	From         string `toml:"from"` // the sender address
	SMTPHost     string `toml:"smtp_host"`
	SMTPPort     int    `toml:"smtp_port"`
	SMTPUsername string `toml:"smtp_username"`
	SMTPPassword string `toml:"smtp_password"`
	SMTPEncrypt  bool   `toml:"smtp_encrypt"` // require STARTTLS
	config.ChannelOptions
}

func defaults() *Table { return &Table{SMTPHost: "localhost", SMTPPort: 587, SMTPEncrypt: true} }

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.Required("to", t.To)
	if t.To != "" {
		if _, err := mail.ParseAddressList(t.To); err != nil {
			c.Fail("to", "%q: %v; want addresses separated by commas", t.To, err)
		}
	}
	c.Required("from", t.From)
	if t.From != "" {
		if _, err := mail.ParseAddress(t.From); err != nil {
			c.Fail("from", "%q: %v; want an address like status@example.com", t.From, err)
		}
	}
	c.Required("smtp_host", t.SMTPHost)
	c.Port("smtp_port", t.SMTPPort, "587")
}

// New builds the e-mail channel from its checked table.
func New(t *Table, _ notify.Deps) (notify.Notifier, error) { return NewNotifier(t, nil) }

// NewNotifier builds a notifier from a checked table. tlsConfig is nil in
// production (system roots, server name smtp_host); tests pass one that
// trusts their own certificate authority.
func NewNotifier(cfg *Table, tlsConfig *tls.Config) (*Notifier, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("notify.email.from %q: %v", cfg.From, err)
	}
	list, err := mail.ParseAddressList(cfg.To)
	if err != nil {
		return nil, fmt.Errorf("notify.email.to %q: %v", cfg.To, err)
	}
	to := make([]string, len(list))
	for i, a := range list {
		to[i] = a.String()
	}
	port := cfg.SMTPPort
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = cfg.SMTPHost
	}
	return &Notifier{
		from:      from.String(),
		to:        to,
		host:      cfg.SMTPHost,
		port:      port,
		username:  cfg.SMTPUsername,
		password:  cfg.SMTPPassword,
		encrypt:   cfg.SMTPEncrypt,
		tlsConfig: tlsConfig,
	}, nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "email" }

// Send delivers m as one e-mail to the table's addresses. The SMTP
// conversation ends when ctx does.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	return n.Mail(ctx, Mail{To: m.Targets(n.to), Subject: m.Headline(), Text: m.Text()})
}

// Mail is one e-mail of another kind than a notification (a subscriber's).
type Mail struct {
	To      []string // addresses; empty: the table's
	Subject string
	Text    string            // plain text
	Headers map[string]string // more header fields, e.g. List-Unsubscribe
}

// Mail sends one e-mail through the table's SMTP server, from its from.
func (n *Notifier) Mail(ctx context.Context, mail Mail) error {
	to := mail.To
	if len(to) == 0 {
		to = n.to
	}
	// Cancelling on return also releases the connection watch in dialUntilDone.
	var cancel context.CancelFunc
	if _, ok := ctx.Deadline(); ok {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
	}
	defer cancel()
	deadline, _ := ctx.Deadline()
	timeout := time.Until(deadline)
	if timeout <= 0 {
		return n.failTo(to, context.DeadlineExceeded)
	}

	msg := gomail.NewMsg()
	msg.SetUserAgent("Overvakt")
	if err := msg.From(n.from); err != nil {
		return n.failTo(to, err)
	}
	if err := msg.To(to...); err != nil {
		return n.failTo(to, err)
	}
	msg.Subject(mail.Subject)
	for k, v := range mail.Headers {
		msg.SetGenHeader(gomail.Header(k), v)
	}
	msg.SetBodyString(gomail.TypeTextPlain, mail.Text)

	policy := gomail.TLSOpportunistic
	if n.encrypt {
		policy = gomail.TLSMandatory
	}
	opts := []gomail.Option{
		gomail.WithPort(n.port),
		gomail.WithTLSPolicy(policy),
		gomail.WithTLSConfig(n.tlsConfig),
		gomail.WithTimeout(timeout),
		gomail.WithDialContextFunc(dialUntilDone(ctx)),
	}
	if n.username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(n.username),
			gomail.WithPassword(n.password))
	}
	client, err := gomail.NewClient(n.host, opts...)
	if err != nil {
		return n.failTo(to, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		// go-mail's own deadline (the same instant) may fire before ctx's.
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			cause := ctx.Err()
			if cause == nil {
				cause = context.DeadlineExceeded
			}
			return n.failTo(to, fmt.Errorf("%w (%v)", cause, err))
		}
		return n.failTo(to, err)
	}
	return nil
}

// dialUntilDone dials and closes the connection when ctx ends, so a server
// that stops answering mid-conversation cannot hold the send beyond ctx.
// (go-mail only applies its context to the dial itself.)
func dialUntilDone(ctx context.Context) gomail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dialCtx, network, addr)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
}

// fail names the recipients, the server and what to check, and marks the
// failures that sending again cannot cure as permanent. go-mail's errors
// quote the SMTP answer and never the password.
func (n *Notifier) fail(err error) error { return n.failTo(n.to, err) }

func (n *Notifier) failTo(to []string, err error) error {
	wrapped := fmt.Errorf("email: send to %s through %s: %w%s",
		strings.Join(to, ", "), net.JoinHostPort(n.host, strconv.Itoa(n.port)), err, n.hint(err))
	if why := permanentWhy(err); why != "" {
		return notify.Permanent(wrapped, why)
	}
	return wrapped
}

// permanentWhy says why err will come back on every attempt, or "" when
// another attempt may work.
//
// An SMTP reply 5yz is, by RFC 5321, a permanent refusal: 535 wrong
// credentials, 530 authentication or TLS required, 550 no such mailbox,
// 552 too large, 554 rejected. 4yz replies (421 closing, 450 mailbox busy,
// 451 local error, 452 out of storage) are temporary, and so are broken
// connections and timeouts. A server without STARTTLS while smtp_encrypt
// requires it, or without any login mechanism we may use, will not grow
// one between attempts.
func permanentWhy(err error) string {
	text := err.Error()
	switch code := replyCode(err); {
	case code >= 500 && code <= 599 && strings.Contains(text, "SMTP AUTH failed"):
		return fmt.Sprintf("SMTP %d: the server refused the credentials", code)
	case code >= 500 && code <= 599:
		return fmt.Sprintf("SMTP %d: the server refused the mail", code)
	case code != 0:
		return ""
	case strings.Contains(text, "does not support STARTTLS"):
		return "the server does not offer STARTTLS, which smtp_encrypt = true requires"
	case errors.Is(err, gomail.ErrNoSupportedAuthDiscovered):
		return "the server offers no login mechanism that may be used here"
	default:
		return ""
	}
}

// replyCode is the SMTP reply code of a refusal in err, or 0 when the
// server did not answer with one. go-mail reports refusals of a message
// as a *SendError with the code; refusals while connecting and logging in
// come as the *textproto.Error of the reply.
func replyCode(err error) int {
	var sendErr *gomail.SendError
	if errors.As(err, &sendErr) {
		return sendErr.ErrorCode()
	}
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return reply.Code
	}
	return 0
}

// hint says what to change for the failures people can fix in the config.
// go-mail reports these as text only, so they are matched by text.
func (n *Notifier) hint(err error) string {
	var certErr *tls.CertificateVerificationError
	text := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "; the server did not finish in time"
	case strings.Contains(text, "does not support STARTTLS"):
		return "; smtp_encrypt = true requires STARTTLS: use a server that offers it, or set smtp_encrypt = false on a trusted network"
	case errors.As(err, &certErr):
		return fmt.Sprintf("; the server's certificate is not valid for smtp_host %q", n.host)
	case strings.Contains(text, "SMTP AUTH failed"), errors.Is(err, gomail.ErrNoSupportedAuthDiscovered):
		return "; check smtp_username and smtp_password"
	default:
		return ""
	}
}
