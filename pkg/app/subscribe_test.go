package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/overvakt/overvakt/pkg/app/apptest"
)

const managerToken = "manager-secret-0123456789"

// inbox is an in-process SMTP server that hands every mail it takes to a
// channel.
type inbox struct{ mails chan []byte }

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{b}, nil }

type smtpSession struct{ b *inbox }

func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *smtpSession) Reset()                               {}
func (s *smtpSession) Logout() error                        { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err == nil {
		s.b.mails <- b
	}
	return err
}

// startSMTP serves an inbox on loopback and returns it with its port.
func startSMTP(t *testing.T) (*inbox, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &inbox{mails: make(chan []byte, 32)}
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return b, ln.Addr().(*net.TCPAddr).Port
}

// received is a mail as its reader sees it.
type received struct {
	header        mail.Header
	subject, body string
}

// next waits for the next mail.
func (b *inbox) next(t *testing.T) received {
	t.Helper()
	select {
	case data := <-b.mails:
		msg, err := mail.ReadMessage(strings.NewReader(string(data)))
		if err != nil {
			t.Fatalf("a mail that does not parse: %v\n%s", err, data)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		var r io.Reader = msg.Body
		if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		body, _ := io.ReadAll(r)
		return received{msg.Header, subject, strings.ReplaceAll(string(body), "\r\n", "\n")}
	case <-time.After(10 * time.Second):
		t.Fatal("no mail came within 10 s")
	}
	return received{}
}

// none checks that no mail came: called once the server has answered
// (a confirmation is sent before the answer) or once a later event has
// reached a webhook (subscribers are told in turn).
func (b *inbox) none(t *testing.T) {
	t.Helper()
	select {
	case data := <-b.mails:
		t.Fatalf("an unexpected mail:\n%s", data)
	default:
	}
}

// hookbox is a webhook subscriber's endpoint.
type hookbox struct{ docs chan map[string]any }

func (h *hookbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var doc map[string]any
	if err := json.NewDecoder(r.Body).Decode(&doc); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	h.docs <- doc
}

func (h *hookbox) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case d := <-h.docs:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook got nothing within 10 s")
	}
	return nil
}

// client is a browser without JavaScript, and a manager tool.
type client struct {
	t    *testing.T
	base string // http://127.0.0.1:port
}

func (c client) do(method, path, contentType, body string, header ...string) (int, http.Header, string) {
	c.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = c.base + path
	}
	req, err := http.NewRequest(method, path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// form posts a form, as a browser does.
func (c client) form(path string, values url.Values, header ...string) (int, http.Header, string) {
	c.t.Helper()
	return c.do("POST", path, "application/x-www-form-urlencoded", values.Encode(), header...)
}

func (c client) manager(method, path, body string) string {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.SetBasicAuth("", managerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return string(b)
}

// buttonOf reads the action of the one-button form of a page.
func buttonOf(t *testing.T, html string) string {
	t.Helper()
	m := regexp.MustCompile(`<form method="post" action="([^"]+)">`).FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no button on the page:\n%s", html)
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

// TestSubscriptionByMail goes through a visitor's subscription end to end,
// over the real HTTP server and an in-process SMTP server: subscribe,
// get the confirmation mail, follow its link, get a mail for an incident
// update, unsubscribe by that mail's link, get nothing more. A webhook
// subscriber gets every update and the maintenance events meanwhile.
func TestSubscriptionByMail(t *testing.T) {
	box, smtpPort := startSMTP(t)
	hook := &hookbox{docs: make(chan map[string]any, 16)}
	hooks := httptest.NewServer(hook)
	t.Cleanup(hooks.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	s := apptest.Start(t, fmt.Sprintf(`
[server]
manager_token = %q
reporter_token = "reporter-secret-0123456789"

[branding]
page_title = "Acme Status"
page_url = "%s/"

[notify.email]
to = "ops@example.com"
from = "status@example.com"
smtp_host = "127.0.0.1"
smtp_port = %d
smtp_encrypt = false

[[probe.service]]
id = "web"
label = "Website"
[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["http://127.0.0.1:9/"]

[[probe.service]]
id = "db"
[[probe.service.node]]
id = "main"
mode = "poll"
replicas = ["tcp://127.0.0.1:9"]
`, managerToken, base, smtpPort), apptest.Options{Listener: ln})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Subs.Run(ctx, s.Schedule) }()
	t.Cleanup(func() { cancel(); <-done })
	c := client{t, base}

	c.manager("POST", "/manager/subscribers", `{"url":"`+hooks.URL+`/status"}`)

	// The page offers the form; a bad address gets 400 and no mail.
	if _, _, html := c.do("GET", "/", "", ""); !strings.Contains(html, `<form class="subscribe" method="post" action="/subscribe">`) {
		t.Fatal("the page has no subscribe form")
	}
	if code, _, html := c.form("/subscribe", url.Values{"email": {"not an address"}}); code != 400 || !strings.Contains(html, "Not an e-mail address") {
		t.Fatalf("a bad address: %d\n%s", code, html)
	}
	if code, _, html := c.form("/subscribe", url.Values{"email": {"ada@example.com"}, "component": {"nope"}}); code != 400 || !strings.Contains(html, `Unknown component &#34;nope&#34;`) {
		t.Fatalf("an unknown component: %d\n%s", code, html)
	}
	box.none(t)

	// Subscribe: a page saying to check the inbox, and a mail.
	code, _, html := c.form("/subscribe", url.Values{"email": {"ada@example.com"}, "component": {""}})
	if code != 200 || !strings.Contains(html, "Check your inbox") {
		t.Fatalf("subscribe: %d\n%s", code, html)
	}
	m := box.next(t)
	if m.subject != "[Acme Status] Confirm your subscription" || m.header.Get("To") != "<ada@example.com>" {
		t.Fatalf("confirmation: %q to %q", m.subject, m.header.Get("To"))
	}
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/subscribe/confirm\?token=\S+`).FindString(m.body)
	if link == "" {
		t.Fatalf("no confirmation link in\n%s", m.body)
	}
	// Asking again: the same answer, and no second mail so soon.
	if code, _, again := c.form("/subscribe", url.Values{"email": {"ada@example.com"}}); code != 200 || again != html {
		t.Fatalf("asking again: %d, a different answer:\n%s", code, again)
	}
	box.none(t)

	// Nothing but the confirmation is mailed before it is confirmed.
	var inc struct{ ID string }
	json.Unmarshal([]byte(c.manager("POST", "/manager/incident", `{"title":"Slow API","impact":"major","affected":["web:api"],"text":"We see *slow* answers."}`)), &inc)
	if d := hook.next(t); d["event"] != "opened" {
		t.Fatalf("webhook: %v", d)
	}
	box.none(t)

	// Follow the link: a page with a button, which confirms.
	code, _, html = c.do("GET", link, "", "")
	if code != 200 || !strings.Contains(html, "Confirm your subscription") {
		t.Fatalf("the confirmation link: %d\n%s", code, html)
	}
	if code, _, html = c.form(buttonOf(t, html), nil); code != 200 || !strings.Contains(html, "Subscribed") {
		t.Fatalf("confirm: %d\n%s", code, html)
	}

	// An update arrives, with its unsubscribe link and headers.
	c.manager("POST", "/manager/incident/"+inc.ID+"/update", `{"status":"identified","text":"A bad deploy; rolling back."}`)
	m = box.next(t)
	if m.subject != "[Acme Status] Slow API — Identified" || !strings.Contains(m.body, "A bad deploy; rolling back.") ||
		!strings.Contains(m.body, "Affected: web:api") {
		t.Fatalf("update mail %q:\n%s", m.subject, m.body)
	}
	if d := hook.next(t); d["event"] != "updated" || d["incident"].(map[string]any)["status"] != "identified" {
		t.Fatalf("webhook: %v", d)
	}
	oneClick := strings.Trim(m.header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(oneClick, base+"/unsubscribe?token=") || m.header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("headers %v", m.header)
	}
	inBody := regexp.MustCompile(regexp.QuoteMeta(base) + `/unsubscribe\?token=\S+`).FindString(m.body)
	if inBody != oneClick {
		t.Fatalf("the link in the text %q is not the header's %q", inBody, oneClick)
	}

	// The link shows a button; fetching it unsubscribes nobody.
	if code, _, html = c.do("GET", inBody, "", ""); code != 200 || buttonOf(t, html) != strings.TrimPrefix(inBody, base) {
		t.Fatalf("the unsubscribe link: %d\n%s", code, html)
	}
	// One click in a mail client (RFC 8058): a POST to the header's URL.
	if code, _, html = c.do("POST", oneClick, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); code != 200 || !strings.Contains(html, "Unsubscribed") {
		t.Fatalf("unsubscribe: %d\n%s", code, html)
	}
	if code, _, _ = c.do("GET", inBody, "", ""); code != 404 {
		t.Errorf("the unsubscribe link after unsubscribing: %d, want 404", code)
	}

	// Nothing more arrives: the webhook, told after the mail would have
	// been sent, is the witness.
	c.manager("POST", "/manager/incident/"+inc.ID+"/resolve", `{"text":"Rolled back."}`)
	if d := hook.next(t); d["event"] != "resolved" {
		t.Fatalf("webhook: %v", d)
	}
	box.none(t)

	// Maintenance starting now and removed: the webhook is told of both.
	var w struct{ ID string }
	now := time.Now().UTC()
	json.Unmarshal([]byte(c.manager("POST", "/manager/maintenance", `{"title":"Database upgrade","affected":["db"],"start":"`+
		now.Format(time.RFC3339)+`","end":"`+now.Add(time.Hour).Format(time.RFC3339)+`"}`)), &w)
	if d := hook.next(t); d["type"] != "maintenance" || d["event"] != "started" || d["window"].(map[string]any)["id"] != w.ID {
		t.Fatalf("webhook at the start: %v", d)
	}
	c.manager("DELETE", "/manager/maintenance/"+w.ID, "")
	if d := hook.next(t); d["type"] != "maintenance" || d["event"] != "ended" {
		t.Fatalf("webhook at the end: %v", d)
	}
	box.none(t)

	// Five requests an hour from one client; the sixth waits, unmailed.
	for i := range 5 {
		if code, _, _ := c.form("/subscribe", url.Values{"email": {fmt.Sprintf("user%d@example.com", i)}}, "X-Real-IP", "203.0.113.9"); code != 200 {
			t.Fatalf("request %d: %d", i+1, code)
		}
		box.next(t)
	}
	code, hdr, html := c.form("/subscribe", url.Values{"email": {"late@example.com"}}, "X-Real-IP", "203.0.113.9")
	if code != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(html, "Too many requests") {
		t.Fatalf("the sixth request: %d %v\n%s", code, hdr, html)
	}
	box.none(t)
}
