// Package pushover sends notifications through the Pushover message API
// (https://pushover.net/api): one form-encoded POST {api_url}/1/messages.json
// per user key. Reminders go out with priority 1 (high), everything else
// with 0 (normal).
package pushover

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/internal/fanout"
	"github.com/overvakt/overvakt/pkg/notify/internal/httpsend"
)

const defaultAPIURL = "https://api.pushover.net"

// Pushover's documented limits, in characters.
const (
	maxTitle    = 250
	maxMessage  = 1024
	maxURL      = 512
	maxURLTitle = 100
)

// Notifier sends to every configured user key.
type Notifier struct {
	client   *http.Client
	endpoint string
	where    string
	token    string
	users    []string
	secrets  []string // app token and user keys, masked in error texts
	sent     fanout.Delivered
}

var _ notify.Notifier = (*Notifier)(nil)

// Kind is the Pushover channel, [notify.pushover].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("pushover", func() *Table { return &Table{} }, New)
}

// Table is [notify.pushover].
type Table struct {
	APIURL   string   `toml:"api_url"` // default https://api.pushover.net
	AppToken string   `toml:"app_token"`
	UserKeys []string `toml:"user_keys"`
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.Required("app_token", t.AppToken)
	c.RequiredList("user_keys", t.UserKeys, `user_keys = ["..."]`)
	c.URL("api_url", t.APIURL)
}

// New builds the channel from its checked table.
func New(c *Table, deps notify.Deps) (notify.Notifier, error) {
	base, err := httpsend.APIBase("notify.pushover.api_url", c.APIURL, defaultAPIURL)
	if err != nil {
		return nil, err
	}
	endpoint := base + "/1/messages.json"
	n := &Notifier{
		client:   httpsend.Client(deps),
		endpoint: endpoint,
		where:    endpoint,
		token:    c.AppToken,
		users:    c.UserKeys,
		secrets:  append([]string{c.AppToken}, c.UserKeys...),
	}
	return n, nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "pushover" }

// Send posts m once per user key that has not got it yet, and names the
// keys that failed. A retry of the same message reaches only those.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	form := formFor(m)
	form.Set("token", n.token)
	label := func(user string) string { return keyLabel(n.users, user) }
	return n.sent.SendEach(m, m.Targets(n.users), "pushover", "user keys", label, func(user string) error {
		form.Set("user", user)
		return n.post(ctx, form.Encode())
	})
}

func (n *Notifier) post(ctx context.Context, form string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, strings.NewReader(form))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	body, err := httpsend.Do(n.client, req, n.where, "notify.pushover.app_token and user_keys", n.secrets...)
	if err != nil {
		return err
	}
	var a struct {
		Status int `json:"status"`
	}
	if json.Unmarshal(body, &a) != nil || a.Status != 1 {
		return fmt.Errorf("POST %s: want status 1, got: %s", n.where, httpsend.Quote(body, n.secrets))
	}
	return nil
}

// formFor holds every field but token and user.
func formFor(m *notify.Message) url.Values {
	priority := "0"
	if m.Kind == notify.Reminder {
		priority = "1"
	}
	f := url.Values{
		"title":     {notify.CutRunes(m.Headline(), maxTitle)},
		"message":   {message(m)},
		"priority":  {priority},
		"timestamp": {strconv.FormatInt(m.Time.Unix(), 10)},
	}
	if m.PageURL != "" && len(m.PageURL) <= maxURL {
		title := m.PageTitle
		if title == "" {
			title = "Status page"
		}
		f.Set("url", m.PageURL)
		f.Set("url_title", notify.CutRunes(title, maxURLTitle))
	}
	return f
}

// message is the text without its headline (that is the title), shortened
// to Pushover's limit.
func message(m *notify.Message) string {
	body := func(c *notify.Message) string {
		return strings.TrimLeft(strings.TrimPrefix(c.Text(), c.Headline()+"\n"), "\n")
	}
	short, ok := m.Shorten(func(c *notify.Message) bool { return utf8.RuneCountInString(body(c)) <= maxMessage })
	s := body(short)
	if !ok {
		s = notify.CutRunes(s, maxMessage)
	}
	return s
}

// keyLabel names a user key in errors by its place in user_keys and its
// first characters, without giving all of it away.
func keyLabel(all []string, key string) string {
	label := "user key #" + strconv.Itoa(slices.Index(all, key)+1)
	if len(key) > 10 {
		label += " (" + key[:5] + "…)"
	}
	return label
}
