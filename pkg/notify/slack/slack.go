// Package slack posts notifications to a Slack incoming webhook
// (https://api.slack.com/messaging/webhooks): one JSON message with a
// coloured attachment per notification.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/internal/httpsend"
	"github.com/overvakt/overvakt/pkg/status"
)

// Attachment colours by page status; the words are in the text too, so the
// colour is never the only sign.
const (
	colorHealthy = "#2eb67d"
	colorSick    = "#f2952f"
	colorDead    = "#e01e5a"
)

// Notifier posts to one incoming webhook.
type Notifier struct {
	client  *http.Client
	hookURL string
	where   string   // the hook without its secret path, for error texts
	secrets []string // the hook and its path, masked in error texts
	mention bool
}

var _ notify.Notifier = (*Notifier)(nil)

// Kind is the Slack channel, [notify.slack].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("slack", func() *Table { return &Table{} }, New)
}

// Table is [notify.slack].
type Table struct {
	HookURL        string `toml:"hook_url"` // the incoming webhook; a secret
	MentionChannel bool   `toml:"mention_channel"`
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.SecretURL("hook_url", t.HookURL, "the one Slack shows for the incoming webhook")
}

// New builds the channel from its checked table.
func New(c *Table, deps notify.Deps) (notify.Notifier, error) {
	u, err := httpsend.URL("notify.slack.hook_url", c.HookURL)
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		client:  httpsend.Client(deps),
		hookURL: c.HookURL,
		where:   u.Scheme + "://" + u.Host + "/…",
		secrets: []string{c.HookURL, strings.Trim(u.Path, "/")},
		mention: c.MentionChannel,
	}
	return n, nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "slack" }

// Send posts m to the webhook; Slack answers 200 "ok" or an error word.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	body, err := json.Marshal(payloadFor(m, n.mention))
	if err != nil {
		return fmt.Errorf("slack: encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.hookURL, bytes.NewReader(body))
	if err != nil {
		return errors.New("slack: notify.slack.hook_url is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	if _, err := httpsend.Do(n.client, req, n.where, "notify.slack.hook_url", n.secrets...); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	return nil
}

type payload struct {
	Text        string       `json:"text"`
	Attachments []attachment `json:"attachments"`
}

type attachment struct {
	Fallback  string  `json:"fallback"`
	Color     string  `json:"color"`
	Title     string  `json:"title"`
	TitleLink string  `json:"title_link,omitempty"`
	Fields    []field `json:"fields"`
}

type field struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

func payloadFor(m *notify.Message, mention bool) payload {
	text := escape(m.Headline())
	if mention {
		text = "<!channel> " + text
	}
	a := attachment{
		Fallback:  escape(m.Text()),
		Color:     color(m.Status),
		Title:     escape(pageTitle(m)),
		TitleLink: m.PageURL,
	}
	if len(m.Changes) > 0 {
		a.Fields = append(a.Fields, field{Title: "What changed", Value: escape(strings.Join(m.ChangeLines(), "\n"))})
	}
	if v := list(m.Replicas, m.More); v != "" {
		a.Fields = append(a.Fields, field{Title: "Affected replicas", Value: v})
	}
	if v := list(m.Recovered, m.RecoveredMore); v != "" {
		a.Fields = append(a.Fields, field{Title: "Recovered", Value: v})
	}
	if v := list(m.Notes, 0); v != "" {
		a.Fields = append(a.Fields, field{Title: "Notes", Value: v})
	}
	a.Fields = append(a.Fields,
		field{Title: "Status", Value: m.Status.String(), Short: true},
		field{Title: "Time", Value: m.TimeText(), Short: true})
	if m.PageURL != "" {
		a.Fields = append(a.Fields, field{Title: "Page", Value: "<" + escape(m.PageURL) + "|" + escape(pageTitle(m)) + ">"})
	}
	return payload{Text: text, Attachments: []attachment{a}}
}

// color is the attachment colour for a page status.
func color(s status.Status) string {
	switch s {
	case status.Healthy:
		return colorHealthy
	case status.Sick:
		return colorSick
	default:
		return colorDead
	}
}

func pageTitle(m *notify.Message) string {
	if m.PageTitle == "" {
		return "Status page"
	}
	return m.PageTitle
}

// list is one name per line, then "and N more".
func list(items []string, more int) string {
	if len(items) == 0 {
		return ""
	}
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(escape(it))
	}
	if more > 0 {
		fmt.Fprintf(&b, "\nand %d more", more)
	}
	return b.String()
}

// escape protects the three characters Slack reads as markup.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return escaper.Replace(s) }
