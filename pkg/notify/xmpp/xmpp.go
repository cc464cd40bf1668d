// Package xmpp sends notifications as XMPP chat messages.
//
// Behaviour of the [notify.xmpp] keys:
//   - from logs in with xmpp_password (SASL: SCRAM when the server offers
//     it, else PLAIN) and sends one message of type chat to to.
//   - server is host:port of the server; empty means the domain of from on
//     port 5222 (DNS SRV records are not looked up).
//   - STARTTLS is always required, and the server's certificate must be
//     valid for the domain of from.
//
// A send waits until the server has processed the message, so a recipient
// the server rejects at once (for example an unknown local user) is an
// error. Delivery to other servers is not confirmed.
package xmpp

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
)

var _ notify.Notifier = (*Notifier)(nil)

// defaultTimeout bounds a send when the caller's context has no deadline.
const defaultTimeout = 30 * time.Second

// Notifier sends messages from one XMPP account.
type Notifier struct {
	from      string // bare JID, user@domain
	domain    string // from's domain
	resource  string // from's resource, if it named one
	to        string
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
	if _, d, ok := strings.Cut(t.To, "@"); t.To != "" && (!ok || d == "") {
		c.Fail("to", "%q: want a JID like ops@example.com", t.To)
	}
	c.Required("from", t.From)
	if _, _, ok := splitJID(t.From); t.From != "" && !ok {
		c.Fail("from", "%q: want a JID like status@example.com", t.From)
	}
	c.Required("xmpp_password", t.XMPPPassword)
	c.HostPort("server", t.Server, "xmpp.example.com:5222, or leave it out to use the domain of from")
}

// splitJID cuts a JID into its bare part, domain and resource.
func splitJID(jid string) (bare, domain string, ok bool) {
	bare, _, _ = strings.Cut(jid, "/")
	local, domain, ok := strings.Cut(bare, "@")
	return bare, domain, ok && local != "" && domain != ""
}

// New builds the channel from its checked table.
func New(t *Table, _ notify.Deps) (notify.Notifier, error) { return NewNotifier(t, nil) }

// NewNotifier builds a notifier from a checked table. tlsConfig is nil in
// production (system roots); tests pass one that trusts their own
// certificate authority. The certificate is checked against the domain of
// from either way.
func NewNotifier(cfg *Table, tlsConfig *tls.Config) (*Notifier, error) {
	bare, domain, ok := splitJID(cfg.From)
	if !ok {
		return nil, fmt.Errorf("notify.xmpp.from %q is not a JID", cfg.From)
	}
	_, resource, _ := strings.Cut(cfg.From, "/")
	server := cfg.Server
	if server == "" {
		server = net.JoinHostPort(domain, "5222")
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		return nil, fmt.Errorf("notify.xmpp.server %q: %v; want host:port, e.g. xmpp.example.com:5222", cfg.Server, err)
	}
	if err := checkProxyEnv(); err != nil {
		return nil, err
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	tlsConfig.ServerName = domain
	return &Notifier{
		from:      bare,
		domain:    domain,
		resource:  resource,
		to:        cfg.To,
		password:  cfg.XMPPPassword,
		server:    server,
		tlsConfig: tlsConfig,
	}, nil
}

// checkProxyEnv refuses what go-xmpp would do with HTTP_PROXY: it tunnels
// every connection, including the loopback relay Send hands it, through
// the proxy, which cannot reach our loopback.
func checkProxyEnv() error {
	proxy := os.Getenv("HTTP_PROXY")
	if proxy == "" {
		proxy = os.Getenv("http_proxy")
	}
	if proxy == "" {
		return nil
	}
	noProxy := os.Getenv("NO_PROXY")
	if noProxy == "" {
		noProxy = os.Getenv("no_proxy")
	}
	for _, s := range strings.Split(noProxy, ",") {
		if s = strings.TrimSpace(s); s != "" && strings.Contains("127.0.0.1", s) {
			return nil
		}
	}
	return errors.New("notify.xmpp: HTTP_PROXY is set and NO_PROXY does not list 127.0.0.1; " +
		"the XMPP channel connects directly, add 127.0.0.1 to NO_PROXY")
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "xmpp" }

// Send logs in, sends m.Text() as a chat message, waits for the server to
// have processed it and closes the stream. Everything ends when ctx does.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	var cancel context.CancelFunc
	if _, ok := ctx.Deadline(); ok {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
	}
	defer cancel()

	var d net.Dialer
	upstream, err := d.DialContext(ctx, "tcp", n.server)
	if err != nil {
		return n.fail(ctx, err)
	}
	// go-xmpp dials by address and takes no context, so it is given a
	// loopback relay to the connection dialled here; closing that
	// connection when ctx ends cuts go-xmpp off wherever it waits.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		upstream.Close()
		return n.fail(ctx, err)
	}
	stop := context.AfterFunc(ctx, func() {
		upstream.Close()
		ln.Close()
	})
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { relay(ln, upstream) })

	err = n.deliver(ln.Addr().String(), m.Text())
	upstream.Close()
	ln.Close()
	wg.Wait()
	if err != nil {
		return n.fail(ctx, err)
	}
	return nil
}

// deliver runs the XMPP conversation through the relay at addr.
func (n *Notifier) deliver(addr, text string) error {
	client, err := goxmpp.Options{
		Host:     addr,
		User:     n.from,
		Password: n.password,
		Resource: n.resource,
		NoTLS:    true, // no direct TLS: the plain stream is upgraded with STARTTLS
		StartTLS: true, // required
		// The server name is the XMPP domain, not the relay's address.
		TLSConfig: n.tlsConfig,
	}.NewClient()
	if err != nil {
		return err
	}
	if _, err := client.Send(goxmpp.Chat{Remote: n.to, Type: "chat", Text: text}); err != nil {
		client.Close()
		return err
	}
	if err := awaitProcessed(client, n.domain, n.to); err != nil {
		client.Close()
		return err
	}
	// The server has the message; a failed close would only cause a
	// duplicate on retry.
	client.Close()
	return nil
}

// awaitProcessed asks the server for its disco#info and reads until the
// answer: a server handles one stream's stanzas in order, so an immediate
// rejection of the message arrives before it.
func awaitProcessed(client *goxmpp.Client, domain, to string) error {
	const id = "overvakt-sent"
	if _, err := client.RawInformationQuery(client.JID(), domain, id, goxmpp.IQTypeGet, goxmpp.XMPPNS_DISCO_INFO, ""); err != nil {
		return err
	}
	for {
		stanza, err := client.Recv()
		if err != nil {
			return err
		}
		switch v := stanza.(type) {
		case goxmpp.Chat:
			if v.Type == "error" {
				return fmt.Errorf("the server rejected the message to %s: %s", to, errorCondition(v))
			}
		case goxmpp.DiscoResult:
			if v.ID == id {
				return nil
			}
		case goxmpp.IQ:
			if v.ID == id {
				return nil // an error answer still means our message went first
			}
		}
	}
}

// errorCondition names the XMPP error condition of a bounced message,
// e.g. "service-unavailable".
func errorCondition(c goxmpp.Chat) string {
	for _, e := range c.OtherElem {
		if e.XMLName.Local != "error" {
			continue
		}
		d := xml.NewDecoder(strings.NewReader(e.InnerXML))
		for {
			tok, err := d.Token()
			if err != nil {
				break
			}
			if start, ok := tok.(xml.StartElement); ok {
				return start.Name.Local
			}
		}
	}
	return "no reason given"
}

// relay accepts one connection on ln and copies bytes both ways between
// it and upstream until either side closes; then it closes both.
func relay(ln net.Listener, upstream net.Conn) {
	local, err := ln.Accept()
	ln.Close()
	if err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(upstream, local)
		upstream.Close()
	}()
	io.Copy(local, upstream)
	local.Close()
	upstream.Close()
	<-done
}

// fail names the account, the server and what to check; the password
// never appears in go-xmpp's errors.
func (n *Notifier) fail(ctx context.Context, err error) error {
	hint := ""
	text := err.Error()
	var certErr *tls.CertificateVerificationError
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		hint = "; the server did not finish in time"
	case strings.HasPrefix(text, "auth failure"):
		hint = "; check from and xmpp_password"
	case errors.As(err, &certErr), strings.Contains(text, "certificate"):
		hint = fmt.Sprintf("; the server's certificate must be valid for %q", n.tlsConfig.ServerName)
	case strings.Contains(text, "StartTLS"):
		hint = "; the server must offer STARTTLS"
	}
	return fmt.Errorf("xmpp: send from %s to %s through %s: %w%s", n.from, n.to, n.server, err, hint)
}
