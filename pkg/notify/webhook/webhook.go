// Package webhook posts every notification as JSON to a URL:
//
//	{"type":"changed","status":"dead","time":"08:58:28 UTC+0200",
//	 "replicas":["web:core:tcp://edge-3.example.net:80"],
//	 "page":{"title":"Acme Status","url":"https://status.example.com/"},
//	 "timestamp":"2026-03-14T08:58:28+02:00","recovered":[],
//	 "changes":{"web:core:tcp://edge-3.example.net:80":
//	   {"old":"healthy","new":"dead","reason":"dial tcp: connection refused"}}}
//
// type is startup, changed, reminder or test; replicas, recovered and
// changes hold at most notify.MaxListed entries each, and "more",
// "recovered_more" and "changes_more" (only present when above zero)
// count the ones left out.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/internal/httpsend"
)

// Notifier posts to one hook URL.
type Notifier struct {
	url    string
	shown  string // the URL without path and query, for error texts
	client *http.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// Kind is the webhook channel, [notify.webhook].
func Kind() notify.ChannelKind {
	return notify.NewChannelKind("webhook", func() *Table { return &Table{} }, New)
}

// Table is [notify.webhook].
type Table struct {
	HookURL string `toml:"hook_url"` // may hold a token; not quoted in messages
	config.ChannelOptions
}

// Check implements config.Table.
func (t *Table) Check(c *config.Check) {
	c.SecretURL("hook_url", t.HookURL, "the address that takes the JSON POST")
}

// New builds the channel from its checked table.
func New(c *Table, deps notify.Deps) (notify.Notifier, error) {
	u, err := httpsend.URL("notify.webhook.hook_url", c.HookURL)
	if err != nil {
		return nil, err
	}
	client := deps.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	n := &Notifier{url: c.HookURL, shown: u.Scheme + "://" + u.Host + "/…", client: client}
	return n, nil
}

// Name is the channel's config name.
func (n *Notifier) Name() string { return "webhook" }

// Payload is the JSON body; its fields are a public contract. The first
// six are Vigil's; the others were added after them, so a consumer of
// Vigil's payload reads this one unchanged.
type Payload struct {
	Type     string   `json:"type"`
	Status   string   `json:"status"`
	Time     string   `json:"time"`
	Replicas []string `json:"replicas"`
	More     int      `json:"more,omitempty"`
	Page     Page     `json:"page"`

	Timestamp     string            `json:"timestamp"` // RFC 3339, with the server's offset
	Recovered     []string          `json:"recovered"` // replicas named before that are not any more
	RecoveredMore int               `json:"recovered_more,omitempty"`
	Changes       map[string]Change `json:"changes"` // by replica: what changed since the last message
	ChangesMore   int               `json:"changes_more,omitempty"`
	// Notes: what people should know beside the status (a dead replica
	// flushed by an agent); left out when there are none.
	Notes []string `json:"notes,omitempty"`
}

// Change is one replica's change: its status before and now ("removed"
// when it left the page), and why, as the probe said.
type Change struct {
	Old    string `json:"old"`
	New    string `json:"new"`
	Reason string `json:"reason,omitempty"`
}

// Page says which status page sent the notification.
type Page struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Body is the JSON that Send posts for m, without a trailing newline.
func Body(m *notify.Message) []byte {
	p := Payload{
		Type:     string(m.Kind),
		Status:   m.Status.String(),
		Time:     m.TimeText(),
		Replicas: m.Replicas,
		More:     m.More,
		Page:     Page{Title: m.PageTitle, URL: m.PageURL},

		Timestamp:     m.Time.Format(time.RFC3339),
		Recovered:     m.Recovered,
		RecoveredMore: m.RecoveredMore,
		Changes:       make(map[string]Change, len(m.Changes)),
		ChangesMore:   m.ChangesMore,
		Notes:         m.Notes,
	}
	if p.Replicas == nil {
		p.Replicas = []string{}
	}
	if p.Recovered == nil {
		p.Recovered = []string{}
	}
	for _, c := range m.Changes {
		ch := Change{Old: c.Old.String(), New: c.New.String(), Reason: c.Reason}
		if c.Gone {
			ch.New, ch.Reason = "removed", ""
		}
		p.Changes[c.Replica] = ch
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs with & stay readable
	_ = enc.Encode(p)        // cannot fail: strings and ints only
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// maxQuoted is how much of an error answer is quoted.
const maxQuoted = 300

// Send posts m; an answer outside 2xx is an error quoting status and body,
// permanent or temporary as httpsend.Classify says.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(Body(m)))
	if err != nil {
		return fmt.Errorf("webhook: POST %s: %w", n.shown, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "overvakt")
	resp, err := n.client.Do(req)
	if err != nil {
		// url.Error repeats the whole URL, which may hold a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook: POST %s: %w", n.shown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxQuoted+1))
	text := strings.TrimSpace(string(body))
	if len(body) > maxQuoted {
		text = strings.TrimSpace(string(body[:maxQuoted])) + "…"
	}
	return httpsend.Classify(fmt.Errorf("webhook: POST %s: answered %s: %q", n.shown, resp.Status, text), resp)
}
