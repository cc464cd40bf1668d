// Package telegram sends notifications with the Bot API's sendMessage method
// (https://core.telegram.org/bots/api#sendmessage): POST
// {api_url}/bot{token}/sendMessage with a JSON body. The text is plain (no
// parse_mode), so nothing in replica names needs escaping.
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/internal/httpsend"
)

const (
	defaultAPIURL = "https://api.telegram.org"
	maxText       = 4096 // UTF-16 code units; the Bot API's limit for a message
)

// Notifier sends to one chat. The bot token is part of the URL path, so the
// URL is never shown: errors name where instead.
type Notifier struct {
	client   *http.Client
	endpoint string // holds the token
	where    string // endpoint with the token masked
	token    string
	chatID   any // a number when chat_id is numeric, else "@channelname"
}

var _ notify.Notifier = (*Notifier)(nil)

// Kind is the Telegram channel, [notify.telegram].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("telegram", func() *Table { return &Table{} }, New)
}

// Table is [notify.telegram].
type Table struct {
	APIURL   string `toml:"api_url"` // default https://api.telegram.org
	BotToken string `toml:"bot_token"`
	ChatID   string `toml:"chat_id"`
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.Required("bot_token", t.BotToken)
	c.Required("chat_id", t.ChatID)
	c.URL("api_url", t.APIURL)
}

// New builds the channel from its checked table.
func New(c *Table, deps notify.Deps) (notify.Notifier, error) {
	base, err := httpsend.APIBase("notify.telegram.api_url", c.APIURL, defaultAPIURL)
	if err != nil {
		return nil, err
	}
	var chatID any = c.ChatID
	if id, err := strconv.ParseInt(c.ChatID, 10, 64); err == nil {
		chatID = id
	}
	n := &Notifier{
		client:   httpsend.Client(deps),
		endpoint: base + "/bot" + c.BotToken + "/sendMessage",
		where:    base + "/bot***/sendMessage",
		token:    c.BotToken,
		chatID:   chatID,
	}
	return n, nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "telegram" }

type request struct {
	ChatID any    `json:"chat_id"`
	Text   string `json:"text"`
}

// answer is the Bot API's envelope around every result.
type answer struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
}

// Send posts m to the chat and checks the answer's "ok".
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	body, err := json.Marshal(request{ChatID: n.chatID, Text: text(m)})
	if err != nil {
		return fmt.Errorf("telegram: encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, bytes.NewReader(body))
	if err != nil {
		// The URL parser's error would quote the token.
		return errors.New("telegram: notify.telegram.bot_token makes an invalid URL; check it has no spaces or slashes")
	}
	req.Header.Set("Content-Type", "application/json")
	got, err := httpsend.Do(n.client, req, n.where, "notify.telegram.bot_token", n.token)
	if err != nil {
		return fmt.Errorf("telegram: %w", err)
	}
	var a answer
	if err := json.Unmarshal(got, &a); err != nil {
		return fmt.Errorf("telegram: POST %s: answer is not Bot API JSON: %s", n.where, httpsend.Quote(got, []string{n.token}))
	}
	if !a.OK {
		return fmt.Errorf("telegram: POST %s: ok=false, error_code %d: %s", n.where, a.ErrorCode, httpsend.Quote([]byte(a.Description), []string{n.token}))
	}
	return nil
}

// text is the plain-text message, shortened to the Bot API's limit.
func text(m *notify.Message) string {
	short, ok := m.Shorten(func(c *notify.Message) bool { return utf16Len(c.Text()) <= maxText })
	s := short.Text()
	if !ok {
		s = cutUTF16(s, maxText)
	}
	return s
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++ // a surrogate pair
		}
	}
	return n
}

// cutUTF16 shortens s to at most max UTF-16 code units, ending in "…".
func cutUTF16(s string, max int) string {
	if utf16Len(s) <= max {
		return s
	}
	n := 0
	for i, r := range s {
		w := 1
		if r > 0xFFFF {
			w = 2
		}
		if n+w > max-1 { // room for "…"
			return s[:i] + "…"
		}
		n += w
	}
	return s
}
