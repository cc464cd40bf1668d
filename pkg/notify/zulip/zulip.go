// Package zulip sends notifications as Zulip channel (stream) messages
// through the "send a message" API (https://zulip.com/api/send-message):
// POST {server}/api/v1/messages, form-encoded, HTTP Basic auth with the
// bot's e-mail and API key. Every message of a page goes to the topic named
// after the page title.
package zulip

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/internal/httpsend"
)

const (
	maxTopic   = 60    // characters; Zulip's topic limit
	maxContent = 10000 // bytes; Zulip's message limit
)

// Notifier posts to one Zulip channel.
type Notifier struct {
	client   *http.Client
	endpoint string // …/api/v1/messages
	where    string // endpoint without userinfo or query
	email    string
	key      string
	channel  string
}

var _ notify.Notifier = (*Notifier)(nil)

// Kind is the Zulip channel, [notify.zulip].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("zulip", func() *Table { return &Table{} }, New)
}

// Table is [notify.zulip].
type Table struct {
	BotEmail  string `toml:"bot_email"`
	BotAPIKey string `toml:"bot_api_key"`
	Channel   string `toml:"channel"`
	APIURL    string `toml:"api_url"` // the server, its /api/v1/ or the messages endpoint
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.Required("bot_email", t.BotEmail)
	c.Required("bot_api_key", t.BotAPIKey)
	c.Required("channel", t.Channel)
	c.RequiredURL("api_url", t.APIURL)
}

// New builds the channel from its checked table.
func New(c *Table, deps notify.Deps) (notify.Notifier, error) {
	endpoint, err := endpointFor(c.APIURL)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(endpoint)
	n := &Notifier{
		client:   httpsend.Client(deps),
		endpoint: endpoint,
		where:    u.Scheme + "://" + u.Host + u.Path,
		email:    c.BotEmail,
		key:      c.BotAPIKey,
		channel:  c.Channel,
	}
	return n, nil
}

// endpointFor turns api_url into the messages endpoint. It takes the server
// ("https://example.zulipchat.com"), the API root as Vigil's configs write it
// ("https://example.zulipchat.com/api/v1/") or the endpoint itself, with or
// without a trailing slash.
func endpointFor(apiURL string) (string, error) {
	u, err := httpsend.URL("notify.zulip.api_url", strings.TrimSpace(apiURL))
	if err != nil {
		return "", err
	}
	path := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(path, "/api/v1/messages"):
	case strings.HasSuffix(path, "/api/v1"):
		path += "/messages"
	default:
		path += "/api/v1/messages"
	}
	u.Path, u.RawPath = path, ""
	return u.String(), nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "zulip" }

// Send posts m as a channel message; Zulip answers {"result":"success",…}.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	form := url.Values{
		"type":    {"stream"}, // "channel" is only understood from Zulip 9 on
		"to":      {n.channel},
		"topic":   {topic(m)},
		"content": {content(m)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("zulip: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(n.email, n.key)
	body, err := httpsend.Do(n.client, req, n.where, "notify.zulip.bot_email and bot_api_key", n.key)
	if err != nil {
		return fmt.Errorf("zulip: %w", err)
	}
	var answer struct{ Result, Msg string }
	if json.Unmarshal(body, &answer) == nil && answer.Result != "" && answer.Result != "success" {
		return fmt.Errorf("zulip: POST %s: result %q: %s", n.where, answer.Result, httpsend.Quote([]byte(answer.Msg), []string{n.key}))
	}
	return nil
}

// topic is the page title, cut to Zulip's topic length.
func topic(m *notify.Message) string {
	t := m.PageTitle
	if t == "" {
		t = "Status page"
	}
	if utf8.RuneCountInString(t) > maxTopic {
		t = string([]rune(t)[:maxTopic-1]) + "…"
	}
	return t
}

// content is the Markdown message, shortened to Zulip's size limit.
func content(m *notify.Message) string {
	short, ok := m.Shorten(func(c *notify.Message) bool { return len(c.Markdown()) <= maxContent })
	s := short.Markdown()
	if !ok {
		s = notify.CutBytes(s, maxContent)
	}
	return s
}
