// Package xmpp sends notifications as XMPP chat messages.
//
// Behaviour of the [notify.xmpp] keys:
//   - from logs in with xmpp_password (SASL: SCRAM-SHA-256 or SCRAM-SHA-1
//     when the server offers them, else PLAIN; always inside TLS) and sends
//     one message of type chat to to. A resource in from is requested when
//     binding; otherwise the server picks one.
//   - server is host:port of the server; empty means the domain of from on
//     port 5222 (DNS SRV records are not looked up).
//   - STARTTLS is always required, and the server's certificate must be
//     valid for the domain of from.
//
// A send dials the server itself, directly: proxy variables such as
// HTTP_PROXY are not used, since XMPP is not HTTP. Nothing listens on a
// local port. Everything, the dial included, ends when the send's context
// does.
//
// A send waits until the server has processed the message, so a recipient
// the server rejects at once (for example an unknown local user) is an
// error, a permanent one (notify.Permanent) like a refused login. Delivery
// to other servers is not confirmed.
package xmpp

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
)

var _ notify.Notifier = (*Notifier)(nil)

// defaultTimeout bounds a send when the caller's context has no deadline.
const defaultTimeout = 30 * time.Second

// nsDiscoInfo is the namespace of the service discovery query that Send
// uses to learn that the server has processed its message.
const nsDiscoInfo = "http://jabber.org/protocol/disco#info"

// Notifier sends messages from one XMPP account.
type Notifier struct {
	from      string  // bare JID, user@domain, for error messages
	origin    jid.JID // from as configured, with its resource if it named one
	to        jid.JID
	password  string
	server    string // host:port
	tlsConfig *tls.Config
}

// Kind is the XMPP channel, [notify.xmpp].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("xmpp", func() *Table { return &Table{} }, New)
}

// Table is [notify.xmpp].
type Table struct {
	To           string `toml:"to"`   // the recipient's JID
	From         string `toml:"from"` // the sender's JID, which logs in
	XMPPPassword string `toml:"xmpp_password"`
	// Server is host:port of the XMPP server; empty = the domain of from, port 5222.
	Server string `toml:"server"`
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.Required("to", t.To)
	if _, err := parseJID(t.To); t.To != "" && err != nil {
		c.Fail("to", "%q: %v; want a JID like ops@example.com", t.To, err)
	}
	c.Required("from", t.From)
	if _, err := parseJID(t.From); t.From != "" && err != nil {
		c.Fail("from", "%q: %v; want a JID like status@example.com", t.From, err)
	}
	c.Required("xmpp_password", t.XMPPPassword)
	c.HostPort("server", t.Server, "xmpp.example.com:5222, or leave it out to use the domain of from")
}

// parseJID reads an account's JID, which needs a local part and a domain.
func parseJID(s string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, err
	}
	if j.Localpart() == "" {
		return jid.JID{}, errors.New("no user before the @")
	}
	return j, nil
}

// New builds the channel from its checked table.
func New(t *Table, _ notify.Deps) (notify.Notifier, error) { return NewNotifier(t, nil) }

// NewNotifier builds a notifier from a checked table. tlsConfig is nil in
// production (system roots); tests pass one that trusts their own
// certificate authority. The certificate is checked against the domain of
// from either way.
func NewNotifier(cfg *Table, tlsConfig *tls.Config) (*Notifier, error) {
	origin, err := parseJID(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("notify.xmpp.from %q: %v", cfg.From, err)
	}
	to, err := parseJID(cfg.To)
	if err != nil {
		return nil, fmt.Errorf("notify.xmpp.to %q: %v", cfg.To, err)
	}
	bare, _, _ := strings.Cut(cfg.From, "/")
	server := cfg.Server
	if server == "" {
		server = net.JoinHostPort(origin.Domainpart(), "5222")
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		return nil, fmt.Errorf("notify.xmpp.server %q: %v; want host:port, e.g. xmpp.example.com:5222", cfg.Server, err)
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	tlsConfig.ServerName = origin.Domainpart()
	return &Notifier{
		from:      bare,
		origin:    origin,
		to:        to,
		password:  cfg.XMPPPassword,
		server:    server,
		tlsConfig: tlsConfig,
	}, nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "xmpp" }

// Send dials the server, logs in, sends m.Text() as a chat message, waits
// for the server to have processed it and closes the stream. Everything
// ends when ctx does.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	var cancel context.CancelFunc
	if _, ok := ctx.Deadline(); ok {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
	}
	defer cancel()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", n.server)
	if err != nil {
		return n.fail(ctx, err)
	}
	defer conn.Close()
	// Closing the connection cuts off every read and write, TLS and XMPP
	// included, wherever they wait.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if err := n.deliver(ctx, conn, m.Text()); err != nil {
		return n.fail(ctx, err)
	}
	return nil
}

// deliver runs the XMPP conversation over conn.
func (n *Notifier) deliver(ctx context.Context, conn net.Conn, text string) error {
	session, err := xmpp.NewClientSession(ctx, n.origin, conn,
		n.startTLS(),
		n.auth(),
		xmpp.BindResource(),
	)
	if err != nil {
		return err
	}
	if session.State()&xmpp.Secure == 0 {
		// The library always negotiates STARTTLS first; this guards
		// against a change there ever letting the message out in the clear.
		return &noStartTLSError{errors.New("the stream was not secured")}
	}
	msg := stanza.Message{To: n.to, Type: stanza.ChatMessage}.Wrap(
		xmlstream.Wrap(xmlstream.Token(xml.CharData(text)), xml.StartElement{Name: xml.Name{Local: "body"}}),
	)
	if err := session.Send(ctx, msg); err != nil {
		return err
	}
	if err := awaitProcessed(ctx, session, n.origin.Domain(), n.to); err != nil {
		return err
	}
	// The server has the message; a failed close would only cause a
	// duplicate on retry.
	session.Close()
	return nil
}

// startTLS is the STARTTLS feature, required: if the server does not offer
// it, it is tried anyway, and a refusal ends the send. The handshake is
// done here rather than on the first write, so that a certificate error
// is told apart from other failures.
func (n *Notifier) startTLS() xmpp.StreamFeature {
	f := xmpp.StartTLS(n.tlsConfig)
	negotiate := f.Negotiate
	f.Negotiate = func(ctx context.Context, s *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		mask, rw, err := negotiate(ctx, s, data)
		if err != nil {
			return mask, rw, &noStartTLSError{err}
		}
		if tc, ok := rw.(*tls.Conn); ok {
			if err := tc.HandshakeContext(ctx); err != nil {
				return 0, nil, err
			}
		}
		return mask, rw, nil
	}
	return f
}

// auth is SASL with the mechanisms in order of preference. The feature is
// offered only on a secured stream, so PLAIN never goes out in the clear.
func (n *Notifier) auth() xmpp.StreamFeature {
	f := xmpp.SASL("", n.password, sasl.ScramSha256, sasl.ScramSha1, sasl.Plain)
	negotiate := f.Negotiate
	f.Negotiate = func(ctx context.Context, s *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		mask, rw, err := negotiate(ctx, s, data)
		if err != nil && isAuthFailure(err) {
			err = &authError{err}
		}
		return mask, rw, err
	}
	return f
}

// isAuthFailure tells whether err from the SASL exchange means the server
// refused the credentials (a SASL <failure/>, which mellium returns as an
// unexported type that writes itself as XML) or could not prove that it
// knows the password (SCRAM's server signature), rather than a broken
// connection or a stream error.
func isAuthFailure(err error) bool {
	if errors.Is(err, sasl.ErrAuthn) {
		return true
	}
	var streamErr stream.Error
	if errors.As(err, &streamErr) {
		return false
	}
	var failure interface{ TokenReader() xml.TokenReader }
	return errors.As(err, &failure)
}

// authError is a refused login.
type authError struct{ err error }

// permanent tells whether the refusal will come back on every attempt:
// it will, unless the server said temporary-auth-failure (RFC 6120
// 6.5.12, e.g. its user database is down).
func (e *authError) permanent() bool {
	var failure interface{ TokenReader() xml.TokenReader }
	if !errors.As(e.err, &failure) {
		return true // sasl.ErrAuthn: the server could not prove it knows the password
	}
	d := xml.NewTokenDecoder(failure.TokenReader())
	for {
		tok, err := d.Token()
		if err != nil {
			return true
		}
		if start, ok := tok.(xml.StartElement); ok && start.Name.Local == "temporary-auth-failure" {
			return false
		}
	}
}

func (e *authError) Error() string { return "auth failure: " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// noStartTLSError is a failed STARTTLS negotiation before any TLS
// handshake: the server did not offer STARTTLS or refused it.
type noStartTLSError struct{ err error }

func (e *noStartTLSError) Error() string { return "STARTTLS failed: " + e.err.Error() }
func (e *noStartTLSError) Unwrap() error { return e.err }

// awaitProcessed asks the server (domain, that of from) for its disco#info and reads until the
// answer: a server handles one stream's stanzas in order, so an immediate
// rejection of the message arrives before it.
func awaitProcessed(ctx context.Context, session *xmpp.Session, domain, to jid.JID) error {
	const id = "overvakt-sent"
	query := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsDiscoInfo, Local: "query"}})
	iq := stanza.IQ{ID: id, To: domain, Type: stanza.GetIQ}.Wrap(query)
	if err := session.Send(ctx, iq); err != nil {
		return err
	}

	r := session.TokenReader()
	defer r.Close()
	d := xml.NewTokenDecoder(r)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return errors.New("the server closed the stream before answering")
		}
		if err != nil {
			return err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case start.Name.Local == "message" && attr(start, "type") == string(stanza.ErrorMessage):
			var bounce struct {
				Err stanza.Error `xml:"error"`
			}
			if err := d.DecodeElement(&bounce, &start); err != nil {
				return err
			}
			return &rejectedError{to: to, err: bounce.Err}
		case start.Name.Local == "iq" && attr(start, "id") == id:
			// An error answer still means our message went first.
			return nil
		}
		if err := d.Skip(); err != nil {
			return err
		}
	}
}

// attr is the value of start's attribute name, or "".
func attr(start xml.StartElement, name string) string {
	for _, a := range start.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// rejectedError is a message the server bounced.
type rejectedError struct {
	to  jid.JID
	err stanza.Error
}

func (e *rejectedError) Error() string {
	return fmt.Sprintf("the server rejected the message to %s: %s", e.to, errorCondition(e.err))
}

// permanent tells whether sending again cannot help. RFC 6120 8.3.2 gives
// every stanza error a type for this: "wait" is temporary; "cancel" (do
// not retry: service-unavailable for an unknown user, item-not-found,
// forbidden…), "modify" (change the data: jid-malformed…) and "auth"
// (provide credentials first) will come back on every attempt. An error
// without a type is retried.
func (e *rejectedError) permanent() bool {
	switch e.err.Type {
	case stanza.Cancel, stanza.Modify, stanza.Auth:
		return true
	default:
		return false
	}
}

// errorCondition names the XMPP error condition of a bounced message,
// e.g. "service-unavailable".
func errorCondition(e stanza.Error) string {
	if e.Condition == "" {
		return "no reason given"
	}
	return string(e.Condition)
}

// fail names the account, the server and what to check; the password
// never appears in the library's errors. A refused login and a recipient
// the server refuses are permanent; everything else (the network, the
// server's certificate, a missing STARTTLS, stream errors) is retried.
func (n *Notifier) fail(ctx context.Context, err error) error {
	hint := ""
	why := ""
	var (
		authErr     *authError
		rejectedErr *rejectedError
		certErr     *tls.CertificateVerificationError
		noTLSError  *noStartTLSError
	)
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		hint = "; the server did not finish in time"
	case errors.As(err, &authErr):
		hint = "; check from and xmpp_password"
		if authErr.permanent() {
			why = "the server refused the login"
		}
	case errors.As(err, &rejectedErr):
		if rejectedErr.permanent() {
			why = "the server refused the recipient (" + errorCondition(rejectedErr.err) + ")"
		}
	case errors.As(err, &certErr):
		hint = fmt.Sprintf("; the server's certificate must be valid for %q", n.tlsConfig.ServerName)
	case errors.As(err, &noTLSError):
		hint = "; the server must offer STARTTLS"
	}
	err = fmt.Errorf("xmpp: send from %s to %s through %s: %w%s", n.from, n.to, n.server, err, hint)
	if why != "" {
		return notify.Permanent(err, why)
	}
	return err
}
