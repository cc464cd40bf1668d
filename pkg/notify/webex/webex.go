// Package webex posts notifications to a Webex room through the Messages
// API (https://developer.webex.com/docs/api/v1/messages/create-a-message):
// POST /v1/messages with a bearer token and JSON {roomId, text, markdown}.
package webex

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/internal/httpsend"
)

const (
	defaultEndpoint = "https://webexapis.com/v1/messages"
	maxMessage      = 7439 // bytes; the API's limit for text and for markdown
)

// Notifier posts to one room.
type Notifier struct {
	client   *http.Client
	endpoint string
	token    string
	roomID   string
}

var _ notify.Notifier = (*Notifier)(nil)

// Kind is the Webex channel, [notify.webex].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("webex", func() *Table { return &Table{} }, New)
}

// Table is [notify.webex].
type Table struct {
	EndpointURL string `toml:"endpoint_url"` // default https://webexapis.com/v1/messages
	Token       string `toml:"token"`
	RoomID      string `toml:"room_id"`
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.URL("endpoint_url", t.EndpointURL)
	c.Required("token", t.Token)
	c.Required("room_id", t.RoomID)
}

// New builds the channel from its checked table.
func New(c *Table, deps notify.Deps) (notify.Notifier, error) {
	endpoint, err := endpointFor(c.EndpointURL)
	if err != nil {
		return nil, err
	}
	n := &Notifier{client: httpsend.Client(deps), endpoint: endpoint, token: c.Token, roomID: c.RoomID}
	return n, nil
}

// endpointFor takes endpoint_url as Vigil's configs write it (the full
// https://webexapis.com/v1/messages), the API root (…/v1) or the server
// alone, with or without a trailing slash; empty means Webex's own.
func endpointFor(raw string) (string, error) {
	if raw == "" {
		return defaultEndpoint, nil
	}
	u, err := httpsend.URL("notify.webex.endpoint_url", raw)
	if err != nil {
		return "", err
	}
	path := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(path, "/messages"):
	case strings.HasSuffix(path, "/v1"):
		path += "/messages"
	default:
		path += "/v1/messages"
	}
	return u.Scheme + "://" + u.Host + path, nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "webex" }

type message struct {
	RoomID   string `json:"roomId"`
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

// Send posts m to the room; Webex answers 200 with the created message.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	body, err := json.Marshal(messageFor(n.roomID, m))
	if err != nil {
		return fmt.Errorf("webex: encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webex: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+n.token)
	if _, err := httpsend.Do(n.client, req, n.endpoint, "notify.webex.token", n.token); err != nil {
		return fmt.Errorf("webex: %w", err)
	}
	return nil
}

// messageFor fits both forms of m within the API's size limit; text is for
// clients that do not show Markdown.
func messageFor(roomID string, m *notify.Message) message {
	short, ok := m.Shorten(func(c *notify.Message) bool {
		return len(c.Markdown()) <= maxMessage && len(c.Text()) <= maxMessage
	})
	w := message{RoomID: roomID, Text: short.Text(), Markdown: short.Markdown()}
	if !ok {
		w.Text, w.Markdown = notify.CutBytes(w.Text, maxMessage), notify.CutBytes(w.Markdown, maxMessage)
	}
	return w
}
