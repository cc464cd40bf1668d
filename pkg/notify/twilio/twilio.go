// Package twilio sends notifications as SMS through Twilio's Messages API
// (https://www.twilio.com/docs/messaging/api/message-resource): one
// form-encoded POST {api_url}/2010-04-01/Accounts/{AccountSid}/Messages.json
// per number, from the messaging service, with HTTP Basic auth
// account_sid:auth_token.
//
// The body is kept short for phones: it aims at 320 characters (two SMS
// segments), naming fewer replicas and counting the rest as "and N more";
// only when the fixed parts alone are longer does it use up to Twilio's
// 1600-character limit.
package twilio

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/internal/fanout"
	"github.com/overvakt/overvakt/pkg/notify/internal/httpsend"
)

const (
	defaultAPIURL = "https://api.twilio.com"
	shortBody     = 320  // characters we aim for
	maxBody       = 1600 // characters Twilio accepts
)

// Notifier texts every configured number.
type Notifier struct {
	client     *http.Client
	endpoint   string
	accountSID string
	authToken  string
	serviceSID string
	to         []string
	sent       fanout.Delivered
}

var _ notify.Notifier = (*Notifier)(nil)

// Kind is the Twilio SMS channel, [notify.twilio].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("twilio", func() *Table { return &Table{} }, New)
}

// Table is [notify.twilio].
type Table struct {
	APIURL     string   `toml:"api_url"` // default https://api.twilio.com
	To         []string `toml:"to"`      // phone numbers, +15551234567
	ServiceSID string   `toml:"service_sid"`
	AccountSID string   `toml:"account_sid"`
	AuthToken  string   `toml:"auth_token"`
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.RequiredList("to", t.To, `to = ["+15551234567"]`)
	c.Required("service_sid", t.ServiceSID)
	c.Required("account_sid", t.AccountSID)
	c.Required("auth_token", t.AuthToken)
	c.URL("api_url", t.APIURL)
}

// New builds the channel from its checked table.
func New(c *Table, deps notify.Deps) (notify.Notifier, error) {
	base, err := httpsend.APIBase("notify.twilio.api_url", c.APIURL, defaultAPIURL)
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		client: httpsend.Client(deps),
		endpoint: base +
			"/2010-04-01/Accounts/" + url.PathEscape(c.AccountSID) + "/Messages.json",
		accountSID: c.AccountSID,
		authToken:  c.AuthToken,
		serviceSID: c.ServiceSID,
		to:         c.To,
	}
	return n, nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "twilio" }

// Send texts m to every number that has not got it yet, and names the
// numbers that failed. A retry of the same message reaches only those.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	form := url.Values{"MessagingServiceSid": {n.serviceSID}, "Body": {body(m)}}
	same := func(to string) string { return to }
	return n.sent.SendEach(m, m.Targets(n.to), "twilio", "numbers", same, func(to string) error {
		form.Set("To", to)
		return n.post(ctx, form.Encode())
	})
}

func (n *Notifier) post(ctx context.Context, form string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, strings.NewReader(form))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(n.accountSID, n.authToken)
	_, err = httpsend.Do(n.client, req, n.endpoint, "notify.twilio.account_sid and auth_token", n.authToken)
	return err
}

// body is the SMS text: short when it can be, never over Twilio's limit.
func body(m *notify.Message) string {
	for _, max := range []int{shortBody, maxBody} {
		short, ok := m.Shorten(func(c *notify.Message) bool { return utf8.RuneCountInString(sms(c)) <= max })
		if ok {
			return sms(short)
		}
	}
	return notify.CutRunes(sms(m), maxBody)
}

// sms is the message on a few lines, names comma-separated.
func sms(m *notify.Message) string {
	var b strings.Builder
	b.WriteString(m.Headline())
	writeList(&b, "Affected", m.Replicas, m.More)
	writeList(&b, "Recovered", m.Recovered, m.RecoveredMore)
	writeList(&b, "Note", m.Notes, 0)
	b.WriteString("\n")
	b.WriteString(m.TimeText())
	if m.PageURL != "" {
		b.WriteString("\n")
		b.WriteString(m.PageURL)
	}
	return b.String()
}

func writeList(b *strings.Builder, title string, items []string, more int) {
	if len(items) == 0 {
		return
	}
	b.WriteString("\n" + title + ": " + strings.Join(items, ", "))
	if more > 0 {
		fmt.Fprintf(b, " and %d more", more)
	}
}
