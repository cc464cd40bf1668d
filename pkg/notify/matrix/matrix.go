// Package matrix sends notifications as m.room.message events through the
// client-server API (https://spec.matrix.org/latest/client-server-api/,
// PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}) with a
// plain body and an HTML formatted_body.
package matrix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/internal/httpsend"
)

// Notifier sends to one room.
type Notifier struct {
	client *http.Client
	room   string // …/_matrix/client/v3/rooms/{roomId}/send/m.room.message/
	token  string
}

var _ notify.Notifier = (*Notifier)(nil)

// Kind is the Matrix channel, [notify.matrix].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("matrix", func() *Table { return &Table{} }, New)
}

// Table is [notify.matrix].
type Table struct {
	HomeserverURL string `toml:"homeserver_url"`
	AccessToken   string `toml:"access_token"`
	RoomID        string `toml:"room_id"`
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.RequiredURL("homeserver_url", t.HomeserverURL)
	c.Required("access_token", t.AccessToken)
	c.Required("room_id", t.RoomID)
}

// New builds the channel from its checked table.
func New(c *Table, deps notify.Deps) (notify.Notifier, error) {
	u, err := httpsend.URL("notify.matrix.homeserver_url", c.HomeserverURL)
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")
	n := &Notifier{
		client: httpsend.Client(deps),
		room:   base + "/_matrix/client/v3/rooms/" + escapeSegment(c.RoomID) + "/send/m.room.message/",
		token:  c.AccessToken,
	}
	return n, nil
}

// escapeSegment escapes a room ID ("!abc:example.com") for one path segment,
// as the spec's examples do.
func escapeSegment(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "matrix" }

type event struct {
	MsgType       string `json:"msgtype"`
	Body          string `json:"body"`
	Format        string `json:"format"`
	FormattedBody string `json:"formatted_body"`
}

// Send puts m into the room. The transaction ID comes from the message
// itself, so the dispatcher's retries of one message are deduplicated by
// the homeserver instead of posted twice.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	body, err := json.Marshal(event{
		MsgType:       "m.text",
		Body:          m.Text(),
		Format:        "org.matrix.custom.html",
		FormattedBody: formatted(m),
	})
	if err != nil {
		return fmt.Errorf("matrix: encode event: %w", err)
	}
	endpoint := n.room + txnID(m)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("matrix: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+n.token)
	if _, err := httpsend.Do(n.client, req, endpoint, "notify.matrix.access_token", n.token); err != nil {
		return fmt.Errorf("matrix: %w", err)
	}
	return nil
}

// txnID is the same for the same message and differs between messages.
func txnID(m *notify.Message) string {
	h := sha256.New()
	for _, part := range []string{string(m.Kind), m.Status.String(), strconv.FormatInt(m.Time.UnixNano(), 10),
		strings.Join(m.Replicas, "\n"), strconv.Itoa(m.More),
		strings.Join(m.Recovered, "\n"), strconv.Itoa(m.RecoveredMore), m.PageTitle, m.PageURL} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "overvakt-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// formatted is the message in the HTML subset Matrix clients render.
func formatted(m *notify.Message) string {
	var b strings.Builder
	b.WriteString("<p><strong>")
	b.WriteString(html.EscapeString(m.Headline()))
	b.WriteString("</strong></p>")
	if len(m.Changes) > 0 {
		b.WriteString("<p>What changed:</p><ul>")
		for _, line := range m.ChangeLines() {
			b.WriteString("<li>" + html.EscapeString(line) + "</li>")
		}
		b.WriteString("</ul>")
	}
	writeList(&b, "Affected replicas", m.Replicas, m.More)
	writeList(&b, "Recovered", m.Recovered, m.RecoveredMore)
	writeList(&b, "Notes", m.Notes, 0)
	b.WriteString("<p>Time: ")
	b.WriteString(html.EscapeString(m.TimeText()))
	if m.PageURL != "" {
		u := html.EscapeString(m.PageURL)
		b.WriteString(`<br>Page: <a href="` + u + `">` + u + "</a>")
	}
	b.WriteString("</p>")
	return b.String()
}

func writeList(b *strings.Builder, title string, items []string, more int) {
	if len(items) == 0 {
		return
	}
	b.WriteString("<p>" + title + ":</p><ul>")
	for _, it := range items {
		b.WriteString("<li><code>" + html.EscapeString(it) + "</code></li>")
	}
	if more > 0 {
		b.WriteString("<li>and " + strconv.Itoa(more) + " more</li>")
	}
	b.WriteString("</ul>")
}
