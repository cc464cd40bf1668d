// Package gotify pushes notifications to a Gotify server
// (https://gotify.net/api-docs, POST /message): JSON with title, message and
// priority, authenticated by the application token in the X-Gotify-Key
// header.
//
// Priority follows the page status so Gotify clients can ring for outages
// only: dead 8 (high), sick 5 (normal), healthy 2 (low); test messages are
// always 2.
package gotify

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
	"github.com/overvakt/overvakt/pkg/status"
)

// Priorities by page status (Gotify: 0 silent … 10 highest).
const (
	priorityHealthy = 2
	prioritySick    = 5
	priorityDead    = 8
)

// Notifier pushes to one Gotify application.
type Notifier struct {
	client   *http.Client
	endpoint string
	where    string
	token    string
}

var _ notify.Notifier = (*Notifier)(nil)

// Kind is the Gotify channel, [notify.gotify].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("gotify", func() *Table { return &Table{} }, New)
}

// Table is [notify.gotify].
type Table struct {
	AppURL   string `toml:"app_url"`
	AppToken string `toml:"app_token"`
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.RequiredURL("app_url", t.AppURL)
	c.Required("app_token", t.AppToken)
}

// New builds the channel from its checked table.
func New(c *Table, deps notify.Deps) (notify.Notifier, error) {
	u, err := httpsend.URL("notify.gotify.app_url", c.AppURL)
	if err != nil {
		return nil, err
	}
	path := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(path, "/message") {
		path += "/message"
	}
	// The token goes in a header; any ?token= in app_url is dropped so it
	// cannot leak into error texts.
	endpoint := u.Scheme + "://" + u.Host + path
	n := &Notifier{client: httpsend.Client(deps), endpoint: endpoint, where: endpoint, token: c.AppToken}
	return n, nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "gotify" }

type message struct {
	Title    string         `json:"title"`
	Message  string         `json:"message"`
	Priority int            `json:"priority"`
	Extras   map[string]any `json:"extras,omitempty"`
}

// Send pushes m; Gotify answers 200 with the stored message.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	body, err := json.Marshal(messageFor(m))
	if err != nil {
		return fmt.Errorf("gotify: encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("gotify: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gotify-Key", n.token)
	if _, err := httpsend.Do(n.client, req, n.where, "notify.gotify.app_token", n.token); err != nil {
		return fmt.Errorf("gotify: %w", err)
	}
	return nil
}

func messageFor(m *notify.Message) message {
	g := message{
		Title: m.Headline(),
		// Plain text, as Gotify advises for text from outside (replica
		// names come from reporters); the headline is the title.
		Message:  strings.TrimLeft(strings.TrimPrefix(m.Text(), m.Headline()+"\n"), "\n"),
		Priority: priority(m),
	}
	if m.PageURL != "" {
		g.Extras = map[string]any{"client::notification": map[string]any{"click": map[string]string{"url": m.PageURL}}}
	}
	return g
}

func priority(m *notify.Message) int {
	if m.Kind == notify.Test {
		return priorityHealthy
	}
	switch m.Status {
	case status.Healthy:
		return priorityHealthy
	case status.Sick:
		return prioritySick
	default:
		return priorityDead
	}
}
